/**
 * The engine features the stack and the socket wire up: ECN codepoints on the wire (RFC 3168),
 * the random timestamp offset (RFC 7323 §5.4), Nagle / setNoDelay (RFC 1122 §4.2.3.4),
 * keepalive (RFC 1122 §4.2.3.6) and the user timeout (RFC 9293 §3.10.8, RFC 5482), the last
 * two over two stacks whose link the test cuts, checking that everything is released after.
 */
import { once } from 'node:events';
import { expect } from 'chai';
import { ADDR_A, ADDR_B, RawLink, nextError, sleep } from './__tests__/harness.js';
import { connectByHand, sentTcp, sentTcpPackets, tcpPacket } from './__tests__/packets.js';
import { createLinkPair, type PairedLink } from './link-pair.js';
import type { Link, LinkReceiver } from './link.js';
import type { Socket } from './socket.js';
import { Stack } from './stack.js';
import type { TcpConfig } from '@tcp-tun/tcp';

describe('Socket options and engine features on the wire', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('writes ECT(0) on new data of an ECN connection and Not-ECT on SYN and pure ACKs; CE reaches the engine', async () => {
    const link = new RawLink();
    stack = new Stack({ link, address: ADDR_A });
    const socket = stack.net.connect({ port: 80, host: ADDR_B });
    await sleep(1);
    const [syn] = sentTcpPackets(link);
    expect(syn?.tcp).to.include({ control: 'syn', ece: true, cwr: true });
    expect(syn?.ip.ecn, 'SYN is Not-ECT (RFC 3168 §6.1.1)').to.equal(0);
    const ours = ((syn?.tcp.seq as number) + 1) >>> 0;
    const peer = { srcPort: 80, dstPort: syn?.tcp.srcPort as number, window: 65535 };
    link.sent.length = 0;
    const connected = once(socket, 'connect');
    await link.inject(tcpPacket({ ...peer, control: 'syn', seq: 7000, ack: ours, mss: 1460, ece: true }));
    await connected;
    socket.write('hello');
    await sleep(1);
    const out = sentTcpPackets(link);
    const ack = out.find((p) => p.payloadLength === 0);
    const data = out.find((p) => p.payloadLength === 5);
    expect(ack?.ip.ecn, 'pure ACK is Not-ECT').to.equal(0);
    expect(data?.ip.ecn, 'new data is ECT(0)').to.equal(2);
    // A CE-marked segment (IPv4 ECN = 3): our ACK echoes it with ECE (RFC 3168 §6.1.3).
    link.sent.length = 0;
    const ce = tcpPacket({ ...peer, control: 'psh', seq: 7001, ack: (ours + 5) >>> 0 }, Buffer.from('x'));
    ce[1] = ((ce[1] as number) & 0xfc) | 3;
    // Fix the IPv4 header checksum after changing the TOS octet.
    ce[10] = 0;
    ce[11] = 0;
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += ((ce[i] as number) << 8) | (ce[i + 1] as number);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    ce[10] = (~sum >>> 8) & 0xff;
    ce[11] = ~sum & 0xff;
    await link.inject(ce);
    socket.resume();
    await sleep(60);
    const echoed = sentTcp(link).filter((r) => r.ack === 7002);
    expect(echoed.length).to.be.above(0);
    expect(echoed[0]?.ece, 'ACK of a CE segment carries ECE').to.equal(true);
  });

  it('derives the timestamp offset from the 4-tuple with the secret, as the ISN (RFC 7323 §5.4, RFC 6528 shape)', async () => {
    const secret = new Uint8Array(32).fill(7);
    const tsVals: number[] = [];
    const isns: number[] = [];
    for (let i = 0; i < 2; i++) {
      const link = new RawLink();
      const s = new Stack({ link, address: ADDR_A, secret, clock: () => 1000 });
      s.net.connect({ port: 80, host: ADDR_B }).on('error', () => undefined);
      await sleep(1);
      const [syn] = sentTcp(link);
      tsVals.push(syn?.timestamp?.tsVal as number);
      isns.push(syn?.seq as number);
      await s.close();
    }
    expect(isns[0], 'same secret, clock and ports: same ISN').to.equal(isns[1]);
    expect(tsVals[0], 'and the same TSval: every incarnation of a 4-tuple continues its clock').to.equal(tsVals[1]);
  });

  it('Nagle holds a small write while a small segment is unacknowledged; setNoDelay(true) sends it at once', async () => {
    const link = new RawLink();
    stack = new Stack({ link, address: ADDR_A });
    const { socket } = await connectByHand(stack, link);
    expect(socket.socketOptions.noDelay).to.equal(false);
    socket.write('a');
    await sleep(5);
    socket.write('b');
    await sleep(20);
    const dataLengths = (): number[] => sentTcpPackets(link).filter((p) => p.payloadLength > 0).map((p) => p.payloadLength);
    expect(dataLengths(), 'the second small write waits for the ACK').to.deep.equal([1]);
    socket.setNoDelay(true);
    await sleep(1);
    expect(dataLengths(), 'setNoDelay sends what Nagle held').to.deep.equal([1, 1]);
    expect(socket.socketOptions.noDelay).to.equal(true);
  });

  it('with the noDelay connect option a small write after an unacknowledged one goes out at once', async () => {
    const link = new RawLink();
    stack = new Stack({ link, address: ADDR_A });
    const { socket } = await connectByHand(stack, link, { noDelay: true });
    socket.write('a');
    await sleep(5);
    socket.write('b');
    await sleep(5);
    expect(sentTcpPackets(link).filter((p) => p.payloadLength > 0).map((p) => p.payloadLength)).to.deep.equal([1, 1]);
  });

  it('validates setUserTimeout', () => {
    const link = new RawLink();
    stack = new Stack({ link, address: ADDR_A });
    const socket = new stack.net.Socket();
    expect(() => socket.setUserTimeout(-1)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
    expect(() => socket.setUserTimeout('1' as unknown as number)).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(socket.setUserTimeout(1500).socketOptions.userTimeoutMs).to.equal(1500);
  });
});

/** A link whose sending the test can stop: the path to the peer is cut both ways when both are. */
class CuttableLink implements Link {
  cut = false;
  readonly #inner: PairedLink;
  constructor(inner: PairedLink) {
    this.#inner = inner;
  }
  get mtu(): number {
    return this.#inner.mtu;
  }
  start(receiver: LinkReceiver): void {
    this.#inner.start(receiver);
  }
  send(packet: Uint8Array): void {
    if (!this.cut) this.#inner.send(packet);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

interface CutPair {
  a: Stack;
  b: Stack;
  cut(): void;
  close(): Promise<void>;
}

function cutPair(tcpA: Partial<TcpConfig> = {}, tcpB: Partial<TcpConfig> = {}): CutPair {
  const [la, lb] = createLinkPair();
  const ca = new CuttableLink(la);
  const cb = new CuttableLink(lb);
  const a = new Stack({ link: ca, address: ADDR_A, tcp: tcpA });
  const b = new Stack({ link: cb, address: ADDR_B, tcp: tcpB });
  return {
    a,
    b,
    cut() {
      ca.cut = true;
      cb.cut = true;
    },
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/** Nothing of a failed connection is left in `stack`: no table entry, no armed timer, no listener state. */
function expectReleased(stack: Stack): void {
  expect([...stack._connectionEntries()], 'connection table').to.have.length(0);
  expect(stack._timerArmed(), 'the stack timer').to.equal(false);
  for (const l of stack._listenerEntries()) {
    expect(l.embryos.size, 'embryos of a listener').to.equal(0);
    expect(l.listener.pendingCount + l.listener.queueLength, 'listener queues').to.equal(0);
  }
  expect(stack.stats().connections).to.deep.equal({});
}

async function closed(socket: Socket): Promise<void> {
  if (!socket.destroyed) await once(socket, 'close');
  // The drain that delivered the error re-arms the timer after the event handlers return.
  await sleep(1);
}

describe('Keepalive and user timeout over two stacks', function () {
  this.timeout(20_000);
  let pair: CutPair | undefined;
  afterEach(async () => {
    await pair?.close();
    pair = undefined;
  });

  it('keepalive probes an idle connection; once the peer vanishes it fails with ETIMEDOUT and is released', async () => {
    pair = cutPair({ keepAliveIntervalMs: 40, keepAliveProbes: 3 });
    const { a, b } = pair;
    const server = b.net.createServer((s) => s.on('error', () => undefined).resume()).listen(7);
    await once(server, 'listening');
    const client = a.net.connect({ port: 7, host: ADDR_B, keepAlive: true, keepAliveInitialDelay: 60 });
    await once(client, 'connect');
    expect(client.socketOptions).to.include({ keepAlive: true, keepAliveInitialDelayMs: 60 });
    await sleep(300);
    const [info] = a.connections();
    expect(info?.state, 'answered probes keep it open').to.equal('ESTABLISHED');
    expect(info?.keepAliveProbes).to.be.above(1);
    pair.cut();
    const err = await nextError(client);
    expect(err).to.include({ code: 'ETIMEDOUT', errno: -110 });
    await closed(client);
    expectReleased(a);
  });

  it('setKeepAlive(false) stops the probes', async () => {
    pair = cutPair({ keepAliveIntervalMs: 40, keepAliveProbes: 3 });
    const { a, b } = pair;
    const server = b.net.createServer((s) => s.on('error', () => undefined).resume()).listen(7);
    await once(server, 'listening');
    const client = a.net.connect({ port: 7, host: ADDR_B });
    await once(client, 'connect');
    client.setKeepAlive(true, 50);
    await sleep(120);
    client.setKeepAlive(false);
    const probes = a.connections()[0]?.keepAliveProbes ?? 0;
    expect(probes).to.be.above(0);
    pair.cut();
    await sleep(400);
    expect(a.connections()[0]).to.include({ state: 'ESTABLISHED', keepAliveProbes: probes });
    client.destroy();
  });

  it('the stack default tcp.userTimeoutMs fails a server socket whose peer vanished mid-transfer; all is released', async () => {
    pair = cutPair({}, { userTimeoutMs: 300 });
    const { a, b } = pair;
    const failed = new Promise<Error>((resolve) => {
      b.net
        .createServer((s) => {
          s.on('error', resolve);
          if (s.socketOptions.userTimeoutMs === 300) s.write(Buffer.alloc(4 << 20));
          else resolve(new Error('no user timeout'));
        })
        .listen(7);
    });
    const client = a.net.connect({ port: 7, host: ADDR_B });
    client.on('error', () => undefined);
    // The peer vanishes as soon as data flows.
    await once(client, 'data');
    pair.cut();
    const started = performance.now();
    const err = await failed;
    expect(err).to.include({ code: 'ETIMEDOUT', errno: -110, syscall: 'read' });
    // Without the user timeout, 15 retransmissions with backoff would take minutes.
    expect(performance.now() - started).to.be.below(10_000);
    await sleep(20);
    expectReleased(b);
    expect(b.stats().listeners).to.equal(1);
    client.destroy();
  });

  it('the userTimeout connect option fails a client whose peer vanished mid-transfer; all is released', async () => {
    pair = cutPair();
    const { a, b } = pair;
    b.net.createServer((s) => s.on('error', () => undefined).resume()).listen(7);
    const client = a.net.connect({ port: 7, host: ADDR_B, userTimeout: 250 });
    await once(client, 'connect');
    expect(client.socketOptions.userTimeoutMs).to.equal(250);
    client.write(Buffer.alloc(64 * 1024));
    await sleep(20);
    pair.cut();
    client.write(Buffer.alloc(1 << 20));
    const err = await nextError(client);
    expect(err).to.include({ code: 'ETIMEDOUT', errno: -110 });
    await closed(client);
    expectReleased(a);
  });
});
