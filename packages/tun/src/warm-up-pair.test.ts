/**
 * The socketpair devices of `openWarmUpPair()`: no privilege and no network needed, so these
 * run everywhere the tests run.
 */
import { expect } from 'chai';
import { TunError, type TunDevice } from './index.js';
import { openWarmUpPair } from './warm-up-pair.js';
import { addressBytes, pseudoHeaderSum, readTcp, tcp, TcpFlags, transportChecksumOk, udp } from './__tests__/packets.js';

/** Collects what a device receives; `next(n)` resolves once `n` packets in all have arrived. */
function collect(device: TunDevice): { packets: Uint8Array[]; batches: number; until(n: number): Promise<void> } {
  const state = {
    packets: [] as Uint8Array[],
    batches: 0,
    waiting: [] as { n: number; resolve: () => void }[],
    until(n: number): Promise<void> {
      if (state.packets.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${state.packets.length} of ${n} packets arrived`)), 5000);
        state.waiting.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
  device.start((batch) => {
    state.batches++;
    // Packets are valid only during the call: copy.
    for (const p of batch) state.packets.push(Uint8Array.from(p));
    state.waiting = state.waiting.filter((w) => (state.packets.length >= w.n ? (w.resolve(), false) : true));
  });
  return state;
}

/** A TCP/IPv4 packet whose checksum field holds the partial (pseudo-header) sum, as for sendTso. */
function partialTcp(payload: Uint8Array): Uint8Array {
  const packet = tcp('192.0.2.1', '192.0.2.2', { srcPort: 7, dstPort: 40000, seq: 1, ack: 1, flags: TcpFlags.ACK | TcpFlags.PSH, window: 1000, payload });
  const sum = pseudoHeaderSum(addressBytes('192.0.2.1'), addressBytes('192.0.2.2'), 6, packet.length - 20);
  packet[36] = sum >>> 8;
  packet[37] = sum & 0xff;
  return packet;
}

describe('openWarmUpPair (socketpair devices)', function () {
  this.timeout(20_000);
  const open: TunDevice[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
  });

  function pair(options: Parameters<typeof openWarmUpPair>[0] = {}): [TunDevice, TunDevice] {
    const devices = openWarmUpPair(options);
    open.push(...devices);
    return devices;
  }

  it('carries whole packets each way, one per read, in order', async () => {
    const [a, b] = pair({ mtu: 1500 });
    expect(a.name).to.equal('socketpair/0');
    expect(b.mtu).to.equal(1500);
    expect(a.offload).to.equal(false);
    expect(a.tso).to.equal(undefined);
    const atA = collect(a);
    const atB = collect(b);
    const sizes = [20, 1500, 1, 9000, 64];
    for (const [i, size] of sizes.entries()) a.send(new Uint8Array(size).fill(i + 1));
    b.send(udp('192.0.2.2', '192.0.2.1', 1, 2, Uint8Array.of(1, 2, 3)));
    await atB.until(sizes.length);
    await atA.until(1);
    expect(atB.packets.map((p) => p.length)).to.deep.equal(sizes);
    for (const [i, p] of atB.packets.entries()) expect(p.every((x) => x === i + 1), `packet ${i}`).to.equal(true);
    expect(transportChecksumOk(atA.packets[0]!)).to.equal(true);
    expect(a.stats).to.include({ txPackets: 5, txBytes: 20 + 1500 + 1 + 9000 + 64, txDropped: 0, rxPackets: 1 });
    expect(b.stats).to.include({ rxPackets: 5, txPackets: 1 });
    expect(b.stats.readinessWakeups).to.be.at.least(1);
    expect(b.readTxDropped()).to.equal(undefined);
  });

  it('drains to EAGAIN and re-arms: later packets arrive after quiet periods (no busy polling)', async () => {
    const [a, b] = pair({ busyPollUs: 0 });
    const atB = collect(b);
    for (let i = 1; i <= 5; i++) {
      a.send(Uint8Array.of(i));
      await atB.until(i);
      // A quiet period longer than any drain: the device has met EAGAIN and handed the fd back
      // to its readiness worker, which must wake it again for the next packet.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(atB.packets.map((p) => p[0])).to.deep.equal([1, 2, 3, 4, 5]);
    // One worker wake-up per packet: each drain ended in EAGAIN and re-armed.
    expect(b.stats.readinessWakeups).to.equal(5);
    expect(b.stats.rxBatches).to.equal(5);
  });

  it('with offload: send() passes packets unchanged, sendTso() checksums are completed by the other end', async () => {
    const [a, b] = pair({ offload: true });
    expect(a.offload).to.equal(true);
    expect(a.tso).to.deep.equal({ maxPacket: 65535 });
    expect(a.offloadStatus.state).to.equal('on');
    const atB = collect(b);
    const plain = udp('192.0.2.1', '192.0.2.2', 1, 2, Uint8Array.of(9, 9));
    a.send(plain);
    const payload = new TextEncoder().encode('a partially checksummed segment');
    const partial = partialTcp(payload);
    expect(transportChecksumOk(partial)).to.equal(false);
    a.sendTso(partial, 1460);
    await atB.until(2);
    expect(atB.packets[0]).to.deep.equal(plain);
    const finished = atB.packets[1]!;
    expect(finished.length).to.equal(partial.length);
    expect(transportChecksumOk(finished), 'checksum completed on receipt').to.equal(true);
    expect(Buffer.from(readTcp(finished).payload).toString()).to.equal('a partially checksummed segment');
    expect(a.stats).to.include({ txPackets: 2, txChecksumsOffloaded: 1, txDropped: 0 });
    expect(b.stats).to.include({ rxPackets: 2, checksumsCompleted: 1, rxHeaderErrors: 0 });
  });

  it('close: idempotent, sends after it are counted as dropped, the other end is not harmed', async () => {
    const [a, b] = pair();
    const atB = collect(b);
    collect(a);
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    a.send(Uint8Array.of(1));
    await atB.until(1);
    const closing = a.close();
    expect(a.close()).to.equal(closing);
    await closing;
    expect(a.closed).to.equal(true);
    a.send(Uint8Array.of(2));
    expect(a.stats.txDropped).to.equal(1);
    // The peer's close reads as end of file on b's side: no error, no packet.
    b.send(Uint8Array.of(3));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors).to.deep.equal([]);
    expect(atB.packets).to.have.length(1);
    await b.close();
    expect(b.closed).to.equal(true);
  });

  it("an end closed with packets unread: the other end's reads end quietly (no 'error' crash)", async () => {
    const [a, b] = pair({ busyPollUs: 0 });
    const atB = collect(b);
    await new Promise((resolve) => setTimeout(resolve, 10));
    // a never reads this: it stays in a's queue when a closes, so b's next read after its queue
    // is empty fails with ECONNRESET instead of EAGAIN.
    b.send(Uint8Array.of(1));
    a.send(Uint8Array.of(2)); // rings b: b drains on the next turn, after a's fd is closed
    await a.close();
    await new Promise((resolve) => setTimeout(resolve, 30));
    // The kernel reports the reset (ECONNRESET) before the queued packet; nothing is thrown
    // (an 'error' event without a listener would be, and mocha would fail this test on it) and
    // b still closes cleanly.
    expect(atB.packets.length).to.be.at.most(1);
    expect(b.closed).to.equal(false);
    await b.close();
    expect(b.closed).to.equal(true);
  });

  it('prepareReader() before start(): what became readable meanwhile is read once started', async () => {
    const [a, b] = pair({ busyPollUs: 0 });
    b.prepareReader();
    b.prepareReader(); // idempotent
    a.send(Uint8Array.of(7));
    a.send(Uint8Array.of(8));
    // Readiness is reported before there is a receiver: nothing is read until start().
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(b.stats.rxPackets).to.equal(0);
    const atB = collect(b);
    await atB.until(2);
    expect(atB.packets.map((p) => p[0])).to.deep.equal([7, 8]);
    a.send(Uint8Array.of(9));
    await atB.until(3);
    await b.close();
    expect(() => b.prepareReader()).to.throw(TunError).with.property('code', 'ERR_TUN_CLOSED');
  });

  it('rejects bad options with a TunError', () => {
    expect(() => openWarmUpPair({ mtu: 10 })).to.throw(TunError).with.property('code', 'ERR_INVALID_ARG_VALUE');
  });
});
