/**
 * Bounded memory: every cap of the stack is configurable through `StackOptions`, holds under
 * a flood, and every packet it turns away is counted in `stats().drops`.
 */
import { once } from 'node:events';
import { expect } from 'chai';
import { IpProtocol } from '@tcp-tun/ip';
import { emitTcp, type TcpRepr } from '@tcp-tun/tcp';
import { ADDR_A, ADDR_B, RawLink, nextError, seededBytes, sleep } from './__tests__/harness.js';
import { PEER, US, ipPacket, sentTcp, tcpPacket } from './__tests__/packets.js';
import { Rng } from './__tests__/fuzz-bytes.js';
import { Stack, type StackOptions } from './stack.js';

const SEED = Number(process.env.SEED ?? 7);

const SYN: TcpRepr = { srcPort: 40000, dstPort: 80, control: 'syn', seq: 1000, ack: undefined, window: 65535, mss: 1460 };

/** A stack over a RawLink with a listener on port 80 whose sockets are handed to `onSocket`. */
async function listening(options: Partial<StackOptions>, onSocket: (s: import('./socket.js').Socket) => void = (s) => s.resume()) {
  const link = new RawLink();
  const stack = new Stack({ link, address: ADDR_A, ...options });
  const server = stack.net.createServer((s) => {
    s.on('error', () => undefined);
    onSocket(s);
  });
  server.listen(80);
  await once(server, 'listening');
  return { link, stack, server };
}

/** Completes a handshake from PEER:port; returns our ISS + 1 (the first octet we send). */
async function handshake(link: RawLink, stack: Stack, server: { once: (e: string, f: () => void) => unknown }, port = 40000): Promise<number> {
  link.sent.length = 0;
  const accepted = new Promise<void>((resolve) => server.once('connection', () => resolve()));
  await link.inject(tcpPacket({ ...SYN, srcPort: port }));
  const synAck = sentTcp(link).find((r) => r.control === 'syn');
  if (synAck === undefined) throw new Error(`no SYN-ACK; drops ${JSON.stringify(stack.stats().drops)}`);
  const ours = (synAck.seq + 1) >>> 0;
  await link.inject(tcpPacket({ ...SYN, srcPort: port, control: 'none', seq: 1001, ack: ours, mss: undefined }));
  await accepted;
  link.sent.length = 0;
  return ours;
}

describe('Stack limits', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('validates maxConnections and the reassembly limits', () => {
    const link = new RawLink();
    expect(() => new Stack({ link, address: ADDR_A, maxConnections: 0 })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => new Stack({ link, address: ADDR_A, maxConnections: 1.5 })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => new Stack({ link, address: ADDR_A, reassembly: { maxDatagrams: 0 } })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    stack = new Stack({ link, address: ADDR_A, reassembly: { maxTotalBytes: 4096 } });
    expect(stack.maxConnections).to.equal(65536);
    const s = stack.stats();
    expect(s.maxConnections).to.equal(65536);
    expect(s.reassembly).to.include({ datagramsHeld: 0, bytesHeld: 0, fragmentsReceived: 0 });
  });

  it('drops SYNs beyond maxConnections (counted) and fails active opens with ENOBUFS', async () => {
    const l = await listening({ maxConnections: 3 });
    stack = l.stack;
    for (let i = 0; i < 10; i++) await l.link.inject(tcpPacket({ ...SYN, srcPort: 41000 + i }));
    expect(sentTcp(l.link).filter((r) => r.control === 'syn')).to.have.length(3);
    expect(stack.stats().connections).to.deep.equal({ 'SYN-RECEIVED': 3 });
    expect(stack.stats().drops['max-connections']).to.equal(7);
    const client = stack.net.connect(5000, ADDR_B);
    const err = await nextError(client);
    expect(err).to.include({ code: 'ENOBUFS', errno: -105, syscall: 'connect' });
    expect(err.message).to.equal('connect ENOBUFS 10.0.0.2:5000');
    expect(stack.stats().drops['max-connections']).to.equal(8);
  });

  it('keeps a flood of overlapping fragments within the reassembly caps, counting every drop', async () => {
    const caps = { maxDatagrams: 4, maxBytesPerDatagram: 4096, maxTotalBytes: 8192, maxFragmentsPerDatagram: 8, timeoutMs: 40 };
    const link = new RawLink();
    let now = 0;
    stack = new Stack({ link, address: ADDR_A, clock: () => now, reassembly: caps });
    const rng = new Rng(SEED);
    const data = seededBytes(8192, SEED);
    let injected = 0;
    for (let i = 0; i < 20_000; i++) {
      // A few idents, so fragments collide and overlap; offsets and lengths in 8-octet units.
      const offset = 8 * rng.int(600);
      const length = 8 * (1 + rng.int(64));
      const more = rng.chance(0.9);
      await link.inject(ipPacket({ protocol: IpProtocol.Tcp, ident: rng.int(12), moreFragments: more, fragmentOffset: offset, dontFragment: false }, data.subarray(0, length)));
      if (more || offset !== 0) injected++; // else not a fragment at all
      const r = stack.stats().reassembly;
      expect(r.bytesHeld, `packet ${i} (SEED=${SEED})`).to.be.at.most(caps.maxTotalBytes);
      expect(r.datagramsHeld).to.be.at.most(caps.maxDatagrams);
      now += 1;
    }
    const s = stack.stats();
    const fragmentDrops = Object.entries(s.drops).filter(([k]) => k.startsWith('fragment-') && k !== 'fragment-timeout').reduce((n, [, v]) => n + v, 0);
    expect(s.reassembly.fragmentsReceived).to.equal(injected);
    // Every fragment dropped is counted by reason (fragment-timeout counts datagrams instead).
    expect(fragmentDrops).to.equal(s.reassembly.fragmentsDropped);
    // Timeouts are rare here: a full table evicts its oldest datagrams first (the next test
    // covers expiry on the stack's timer).
    expect(s.drops['fragment-timeout'] ?? 0).to.equal(s.reassembly.datagramsTimedOut);
    expect(s.drops['fragment-overlap']).to.be.above(100);
    expect(s.reassembly.datagramsEvicted, 'a full table evicts its oldest datagram').to.be.above(100);
    expect((s.drops['fragment-too-big'] ?? 0) + (s.drops['fragment-memory-limit'] ?? 0)).to.be.above(0);
    expect(s.drops['internal-error']).to.equal(undefined);
  });

  it('expires incomplete datagrams on its own timer (no further fragment needed)', async () => {
    const l = await listening({ reassembly: { timeoutMs: 30 } });
    stack = l.stack;
    const seg = new Uint8Array(60);
    const n = emitTcp(SYN, new Uint8Array(0), PEER, US, seg);
    // The first half of a SYN, never the rest.
    await l.link.inject(ipPacket({ protocol: IpProtocol.Tcp, ident: 9, moreFragments: true, dontFragment: false }, seg.subarray(0, 16)));
    expect(stack.stats().reassembly).to.include({ datagramsHeld: 1, bytesHeld: 16 });
    await sleep(80);
    expect(stack.stats().reassembly).to.include({ datagramsHeld: 0, bytesHeld: 0, datagramsTimedOut: 1 });
    expect(stack.stats().drops['fragment-timeout']).to.equal(1);
    // The second half alone is a new incomplete datagram: still no connection.
    await l.link.inject(ipPacket({ protocol: IpProtocol.Tcp, ident: 9, fragmentOffset: 16, dontFragment: false }, seg.subarray(16, n)));
    expect(stack.connections()).to.have.length(0);
  });

  it('keeps a flood of out-of-order segments within maxOutOfOrderBytes and recovers when the hole fills', async () => {
    const maxOutOfOrderBytes = 8 * 1024;
    const received: Buffer[] = [];
    const l = await listening({ tcp: { recvBufferSize: 64 * 1024, maxOutOfOrderBytes } }, (s) => s.on('data', (d: Buffer) => received.push(d)));
    stack = l.stack;
    const ours = await handshake(l.link, stack, l.server);
    const rng = new Rng(SEED + 1);
    const data = seededBytes(64 * 1024, SEED);
    let maxSeen = 0;
    for (let i = 0; i < 5000; i++) {
      // Anywhere past the first 1000 octets of the window: a hole that never fills.
      const off = 1000 + rng.int(60 * 1024);
      const len = 1 + rng.int(1400);
      await l.link.inject(tcpPacket({ ...SYN, control: 'psh', seq: (1001 + off) >>> 0, ack: ours, mss: undefined }, data.subarray(off, Math.min(data.length, off + len))));
      const [row] = stack.connections();
      expect(row?.outOfOrderBytes, `segment ${i} (SEED=${SEED})`).to.be.at.most(maxOutOfOrderBytes);
      expect(row?.readable).to.equal(0);
      maxSeen = Math.max(maxSeen, row?.outOfOrderBytes ?? 0);
    }
    expect(maxSeen).to.be.above(maxOutOfOrderBytes / 2);
    // The hole fills: what was held is delivered in order at once.
    await l.link.inject(tcpPacket({ ...SYN, control: 'psh', seq: 1001, ack: ours, mss: undefined }, data.subarray(0, 1000)));
    await sleep(5);
    const got = Buffer.concat(received);
    expect(got.length).to.be.at.least(1000);
    expect(got.equals(data.subarray(0, got.length))).to.equal(true);
    expect(stack.connections()[0]?.outOfOrderBytes).to.be.at.most(maxOutOfOrderBytes);
  });

  it('holds at most sendBufferSize octets for a peer that acknowledges nothing', async () => {
    const sendBufferSize = 4096;
    let socket: import('./socket.js').Socket | undefined;
    const l = await listening({ tcp: { sendBufferSize } }, (s) => {
      socket = s;
    });
    stack = l.stack;
    expect(stack.tcpConfig.sendBufferSize).to.equal(sendBufferSize);
    await handshake(l.link, stack, l.server);
    let accepted = true;
    for (let i = 0; i < 100 && accepted; i++) accepted = socket?.write(Buffer.alloc(1024)) ?? false;
    expect(accepted).to.equal(false);
    await sleep(5);
    const [row] = stack.connections();
    expect(row?.sendQueued).to.equal(sendBufferSize);
    expect(socket?.writableLength).to.be.above(0);
  });

  it('takes about 2 × cwnd of a large write into the engine (sendBufferAutoSize, as Linux); the rest waits in the stream', async () => {
    let socket: import('./socket.js').Socket | undefined;
    const l = await listening({}, (s) => {
      socket = s;
    });
    stack = l.stack;
    const ours = await handshake(l.link, stack, l.server);
    const data = Buffer.alloc(1 << 20, 0x5a);
    expect(socket?.write(data)).to.equal(false);
    await sleep(5);
    // MSS 1460 (the peer's SYN has no timestamps): 2 × 10 segments after the handshake.
    expect(stack.connections()[0]?.sendQueued).to.equal(2 * 10 * 1460);
    // Node counts a write in writableLength until its callback: the whole 1 MiB.
    expect(socket?.writableLength).to.equal(1 << 20);
    // One ACK for the whole initial window: the initial slow start counts at most 8 segments of
    // it (RFC 9406 §4.3, L = 8 without pacing), so cwnd is 18 segments, and the limit follows at
    // once: 2 × 18 segments.
    await l.link.inject(tcpPacket({ ...SYN, control: 'none', seq: 1001, ack: (ours + 14_600) >>> 0, mss: undefined }));
    await sleep(5);
    expect(stack.connections()[0]?.cwnd).to.equal(18 * 1460);
    expect(stack.connections()[0]?.sendQueued).to.equal(2 * 18 * 1460);
    expect(socket?.writableLength).to.equal(1 << 20);
  });

  it('takes sendBufferSize at once with sendBufferAutoSize off', async () => {
    let socket: import('./socket.js').Socket | undefined;
    const l = await listening({ tcp: { sendBufferAutoSize: false } }, (s) => {
      socket = s;
    });
    stack = l.stack;
    await handshake(l.link, stack, l.server);
    socket?.write(Buffer.alloc(1 << 20));
    await sleep(5);
    expect(stack.connections()[0]?.sendQueued).to.equal(256 * 1024);
  });
});
