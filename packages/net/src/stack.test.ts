import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  IpProtocol,
  emitIcmpv4,
  emitIpv4,
  ipv4FromString,
  makeIpv4Repr,
  parseIcmpv4,
  parseIpv4,
  type Icmpv4Repr,
  type Ipv4ReprInit,
} from '@tcp-tun/ip';
import { emitTcp, parseTcp, type TcpRepr } from '@tcp-tun/tcp';
import { ADDR_A, ADDR_B, RawLink, makePair, nextError, readAll, seededBytes, sleep } from './__tests__/harness.js';
import { createLinkPair } from './link-pair.js';
import { Stack } from './stack.js';

const US = ipv4FromString(ADDR_A);
const PEER = ipv4FromString(ADDR_B);

function ipPacket(init: Partial<Ipv4ReprInit> & { protocol: number }, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + payload.length);
  emitIpv4(makeIpv4Repr({ src: PEER, dst: US, payloadLength: payload.length, ...init }), out);
  out.set(payload, 20);
  return out;
}

function icmpPacket(repr: Icmpv4Repr, src = PEER): Uint8Array {
  const body = new Uint8Array(8 + ('data' in repr ? repr.data.length : repr.quoted.length));
  emitIcmpv4(repr, body);
  return ipPacket({ protocol: IpProtocol.Icmp, src }, body);
}

function flip(bytes: Uint8Array, i: number): void {
  bytes[i] = (bytes[i] as number) ^ 0xff;
}

const SYN: TcpRepr = { srcPort: 40000, dstPort: 80, control: 'syn', seq: 1000, ack: undefined, window: 65535, mss: 1460 };

function tcpPacket(repr: TcpRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const seg = new Uint8Array(60 + payload.length);
  const n = emitTcp(repr, payload, PEER, US, seg);
  return ipPacket({ protocol: IpProtocol.Tcp }, seg.subarray(0, n));
}

function sentTcp(link: RawLink): TcpRepr[] {
  return link.sent.flatMap((p) => {
    const ip = parseIpv4(p);
    if (!ip.ok || ip.repr.protocol !== IpProtocol.Tcp) return [];
    const tcp = parseTcp(ip.payload, ip.repr.src, ip.repr.dst);
    return tcp.ok ? [tcp.repr] : [];
  });
}

describe('Stack', () => {
  let stack: Stack;
  let link: RawLink;
  beforeEach(() => {
    link = new RawLink();
    stack = new Stack({ link, address: ADDR_A });
  });
  afterEach(async () => {
    await stack.close();
  });

  it('answers an ICMP echo request', async () => {
    const data = Uint8Array.from([1, 2, 3, 4, 5]);
    await link.inject(icmpPacket({ type: 'echo-request', ident: 0x1234, seqNo: 7, data }));
    expect(link.sent).to.have.length(1);
    const ip = parseIpv4(link.sent[0] as Uint8Array);
    expect(ip.ok).to.equal(true);
    if (!ip.ok) return;
    expect(ip.repr).to.include({ src: US, dst: PEER, protocol: IpProtocol.Icmp, ttl: 64, dontFragment: true });
    const icmp = parseIcmpv4(ip.payload);
    expect(icmp.ok && icmp.repr).to.deep.include({ type: 'echo-reply', ident: 0x1234, seqNo: 7 });
    expect(icmp.ok && icmp.repr.type === 'echo-reply' && [...icmp.repr.data]).to.deep.equal([1, 2, 3, 4, 5]);
    expect(stack.stats().icmpEchoReplies).to.equal(1);
  });

  it('does not answer echo requests from invalid sources or to other addresses', async () => {
    await link.inject(icmpPacket({ type: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(0) }, 0));
    const other = icmpPacket({ type: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(0) });
    // Rewrite the destination to 10.0.0.3 (and fix the header checksum by re-emitting).
    const toOther = new Uint8Array(other);
    emitIpv4(makeIpv4Repr({ src: PEER, dst: US + 2, protocol: IpProtocol.Icmp, payloadLength: other.length - 20 }), toOther);
    await link.inject(toOther);
    expect(link.sent).to.have.length(0);
    expect(stack.stats().drops).to.include({ 'icmp-bad-source': 1, 'not-for-us': 1 });
  });

  it('counts malformed packets as drops and never throws', async () => {
    const good = tcpPacket(SYN);
    const badIpChecksum = new Uint8Array(good);
    flip(badIpChecksum, 10);
    const badTcpChecksum = new Uint8Array(good);
    flip(badTcpChecksum, good.length - 1);
    const truncatedTcp = ipPacket({ protocol: IpProtocol.Tcp }, new Uint8Array(10));
    const badIcmp = icmpPacket({ type: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(4) });
    flip(badIcmp, badIcmp.length - 1);
    await link.inject(new Uint8Array(0), new Uint8Array(7), good.subarray(0, 30), badIpChecksum, badTcpChecksum, truncatedTcp, badIcmp);
    const v6 = new Uint8Array(40);
    v6[0] = 0x60;
    await link.inject(v6, ipPacket({ protocol: IpProtocol.Udp }, new Uint8Array(8)));
    const stats = stack.stats();
    expect(stats.packetsIn).to.equal(9);
    expect(stats.drops).to.deep.equal({
      'ipv4-truncated': 3,
      'ipv4-bad-checksum': 1,
      'tcp-bad-checksum': 1,
      'tcp-truncated': 1,
      'icmp-bad-checksum': 1,
      'ipv4-bad-version': 1,
      'unsupported-protocol': 1,
    });
    expect(stats.checksumFailures).to.equal(3);
    expect(link.sent).to.have.length(0);
  });

  it('never throws on random bytes (seeded)', () => {
    const seed = Number(process.env.SEED ?? 42);
    const bytes = seededBytes(200_000, seed);
    let offset = 0;
    for (let i = 0; i < 2000; i++) {
      const len = (bytes[offset] as number) % 80;
      const p = new Uint8Array(bytes.subarray(offset, offset + len));
      // Make many of them look like IPv4 so deeper parsers run too.
      if (p.length > 0 && i % 2 === 0) p[0] = 0x45;
      offset = (offset + len + 1) % (bytes.length - 100);
      expect(() => link.inject(p), `seed ${seed} packet ${i}`).not.to.throw();
    }
  });

  it('resets a segment for a closed port but not a RST', async () => {
    await link.inject(tcpPacket(SYN));
    const sent = sentTcp(link);
    expect(sent).to.have.length(1);
    expect(sent[0]).to.include({ srcPort: 80, dstPort: 40000, control: 'rst', seq: 0, ack: 1001 });
    await link.inject(tcpPacket({ ...SYN, control: 'rst' }));
    expect(sentTcp(link)).to.have.length(1);
    expect(stack.stats().resetsSent).to.equal(1);
    expect(stack.stats().drops['no-socket']).to.equal(2);
  });

  it('answers a SYN to a listener with a SYN-ACK carrying MSS = mtu - 40', async () => {
    const server = stack.net.createServer();
    server.listen(80);
    await once(server, 'listening');
    await link.inject(tcpPacket(SYN));
    const [synAck] = sentTcp(link);
    expect(synAck).to.include({ control: 'syn', ack: 1001, srcPort: 80, dstPort: 40000, mss: 1460 });
    expect(stack.connections()).to.have.length(1);
    expect(stack.connections()[0]).to.include({ state: 'SYN-RECEIVED', remoteAddress: ADDR_B, remotePort: 40000, localPort: 80 });
    const ip = parseIpv4(link.sent[0] as Uint8Array);
    expect(ip.ok && ip.repr).to.include({ ttl: 64, dontFragment: true });
  });

  it('accepts a connection whose SYN arrives in IPv4 fragments', async () => {
    const server = stack.net.createServer();
    server.listen(80);
    await once(server, 'listening');
    const seg = new Uint8Array(60);
    const n = emitTcp(SYN, new Uint8Array(0), PEER, US, seg);
    const tcp = seg.subarray(0, n);
    await link.inject(
      ipPacket({ protocol: IpProtocol.Tcp, ident: 9, moreFragments: true, dontFragment: false }, tcp.subarray(0, 16)),
      ipPacket({ protocol: IpProtocol.Tcp, ident: 9, fragmentOffset: 16, dontFragment: false }, tcp.subarray(16)),
    );
    expect(sentTcp(link)[0]).to.include({ control: 'syn', ack: 1001 });
  });

  it('acknowledges a batch of segments with one ACK', async () => {
    const server = stack.net.createServer();
    server.listen(80);
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    await link.inject(tcpPacket(SYN));
    const [synAck] = sentTcp(link);
    const iss = synAck?.seq as number;
    await link.inject(tcpPacket({ ...SYN, control: 'none', seq: 1001, ack: (iss + 1) >>> 0, mss: undefined }));
    await accepted;
    link.sent.length = 0;
    const segs = [0, 1, 2, 3].map((i) =>
      tcpPacket({ ...SYN, control: 'psh', seq: 1001 + i * 100, ack: (iss + 1) >>> 0, mss: undefined }, new Uint8Array(100).fill(i)),
    );
    await link.inject(...segs);
    const acks = sentTcp(link);
    expect(acks).to.have.length(1);
    expect(acks[0]?.ack).to.equal(1401);
  });

  it("sends an application's reply with the ACK of what it answers, and its FIN with the ACK of the peer's FIN", async () => {
    // An echo server that closes when the peer does (allowHalfOpen false): the reply to data
    // and the FIN after 'end' are produced by the application after the segment arrived (the
    // FIN from a process.nextTick chain), yet each must share a segment with our ACK.
    const server = stack.net.createServer((socket) => socket.pipe(socket));
    server.listen(80);
    await once(server, 'listening');
    await link.inject(tcpPacket(SYN));
    const iss = sentTcp(link)[0]?.seq as number;
    const ack = (iss + 1) >>> 0;
    await link.inject(tcpPacket({ ...SYN, control: 'none', seq: 1001, ack, mss: undefined }));
    link.sent.length = 0;
    await link.inject(tcpPacket({ ...SYN, control: 'psh', seq: 1001, ack, mss: undefined }, Buffer.from('ping')));
    await sleep(5);
    const reply = sentTcp(link);
    expect(reply, 'one segment: the echo carrying the ACK').to.have.length(1);
    expect(reply[0]).to.include({ control: 'psh', seq: ack, ack: 1005 });
    link.sent.length = 0;
    await link.inject(tcpPacket({ ...SYN, control: 'fin', seq: 1005, ack: (ack + 4) >>> 0, mss: undefined }));
    await sleep(5);
    const fin = sentTcp(link);
    expect(fin, 'one segment: our FIN carrying the ACK of theirs').to.have.length(1);
    expect(fin[0]).to.include({ control: 'fin', seq: (ack + 4) >>> 0, ack: 1006 });
    expect(stack.connections().map((c) => c.state)).to.deep.equal(['LAST-ACK']);
  });

  it('sends an answer written from a data handler before the batch call returns; a bare ACK never does', async () => {
    const server = stack.net.createServer((socket) => {
      socket.on('data', (b: Buffer) => {
        if (String(b) === 'ping') socket.write('pong');
      });
    });
    server.listen(80);
    await once(server, 'listening');
    await link.inject(tcpPacket(SYN));
    const ack = ((sentTcp(link)[0]?.seq as number) + 1) >>> 0;
    await link.inject(tcpPacket({ ...SYN, control: 'none', seq: 1001, ack, mss: undefined }));
    link.sent.length = 0;
    const settled = link.inject(tcpPacket({ ...SYN, control: 'psh', seq: 1001, ack, mss: undefined }, Buffer.from('ping')));
    expect(sentTcp(link), 'the answer, synchronously').to.have.length(1);
    expect(sentTcp(link)[0]).to.include({ control: 'psh', ack: 1005 });
    await settled;
    expect(sentTcp(link)).to.have.length(1);
    link.sent.length = 0;
    const later = link.inject(tcpPacket({ ...SYN, control: 'psh', seq: 1005, ack: (ack + 4) >>> 0, mss: undefined }, Buffer.from('noop')));
    expect(sentTcp(link), 'no answer: nothing yet').to.have.length(0);
    await later;
    await sleep(60); // a second small segment may wait for the delayed-ACK timer (40 ms)
    const bare = sentTcp(link);
    expect(bare).to.have.length(1);
    expect(bare[0]).to.include({ control: 'none', ack: 1009 });
  });

  it('lists connections and counts them by state', async () => {
    const server = stack.net.createServer();
    server.listen(80);
    await once(server, 'listening');
    await link.inject(tcpPacket(SYN), tcpPacket({ ...SYN, srcPort: 40001 }));
    expect(stack.stats().connections).to.deep.equal({ 'SYN-RECEIVED': 2 });
    expect(stack.stats().listeners).to.equal(1);
    const rows = stack.connections();
    expect(rows.map((r) => r.remotePort).sort()).to.deep.equal([40000, 40001]);
    // Every row is a TcpInfo (the engine's counters, as TCP_INFO) with addresses and queues.
    expect(rows[0]).to.include.keys(['srttMs', 'minRttMs', 'bytesAcked', 'bytesSent', 'busyTimeMs', 'windowScalingEnabled', 'deliveryRateBps', 'recvMss']);
    expect(rows[0]).to.include.keys(['state', 'localAddress', 'localPort', 'remoteAddress', 'remotePort', 'readable', 'sendQueued', 'rttMs', 'rtoMs', 'cwnd', 'ssthresh', 'rttvarMs', 'retransmits', 'rtoCount', 'bytesInFlight', 'persistProbes', 'outOfOrderBytes', 'keepAliveProbes', 'challengeAcks', 'challengeAcksSuppressed', 'icmpErrors', 'softError', 'sendMss', 'owned']);
  });

  it('close() resets connections, closes servers and the link', async () => {
    const server = stack.net.createServer();
    server.listen(80);
    await once(server, 'listening');
    await link.inject(tcpPacket(SYN));
    link.sent.length = 0;
    const closed = once(server, 'close');
    await stack.close();
    await closed;
    expect(sentTcp(link).map((r) => r.control)).to.deep.equal(['rst']);
    expect(stack.connections()).to.have.length(0);
    expect(link.closed).to.equal(true);
    expect(server.listening).to.equal(false);
    expect(() => stack.net.connect(80, ADDR_B)).to.throw().with.property('code', 'ERR_STACK_CLOSED');
  });

  it('rejects bad options at once', () => {
    expect(() => new Stack({ link, address: '10.0.0' })).to.throw(TypeError).with.property('code', 'ERR_INVALID_IP_ADDRESS');
    expect(() => new Stack({ link: { ...link, mtu: 50, start: () => undefined, send: () => undefined, close: () => Promise.resolve() }, address: ADDR_A }))
      .to.throw(RangeError)
      .with.property('code', 'ERR_INVALID_ARG_VALUE');
  });
});

describe('Stack with timers: manual', () => {
  it('arms no Node timer: a SYN is retransmitted only when runTimers() runs after the clock passed the RTO', async () => {
    let now = 1000;
    const link = new RawLink();
    const stack = new Stack({ link, address: ADDR_A, clock: () => now, timers: 'manual' });
    try {
      const socket = stack.net.connect({ port: 80, host: ADDR_B });
      socket.on('error', () => undefined);
      await new Promise((resolve) => setImmediate(resolve));
      expect(sentTcp(link).map((r) => r.control)).to.deep.equal(['syn']);
      expect(stack._timerArmed(), 'no Node timer with timers: manual').to.equal(false);
      stack.runTimers(); // nothing is due yet
      now += 999;
      stack.runTimers(); // the initial RTO is 1 s (RFC 6298 §2.1): still nothing
      await new Promise((resolve) => setImmediate(resolve));
      expect(sentTcp(link)).to.have.length(1);
      now += 2;
      stack.runTimers();
      await new Promise((resolve) => setImmediate(resolve));
      expect(sentTcp(link).map((r) => r.control)).to.deep.equal(['syn', 'syn']);
      expect(stack._timerArmed()).to.equal(false);
      socket.destroy();
    } finally {
      await stack.close();
    }
  });

  it('rejects a timers value other than node or manual', () => {
    const link = new RawLink();
    expect(() => new Stack({ link, address: ADDR_A, timers: 'wall' as 'node' }))
      .to.throw(RangeError, /"options.timers" argument must be 'node' or 'manual'/)
      .with.property('code', 'ERR_INVALID_ARG_VALUE');
  });
});

describe('Stack over a link pair', () => {
  it('close() ends open connections on both sides', async () => {
    const pair = makePair();
    const server = pair.b.net.createServer((s) => s.resume().on('error', () => undefined));
    server.listen(80);
    await once(server, 'listening');
    const client = pair.a.net.connect(80, ADDR_B);
    await once(client, 'connect');
    const clientClosed = new Promise((resolve) => client.once('close', resolve));
    await pair.a.close();
    await clientClosed;
    expect(client.destroyed).to.equal(true);
    // The peer got our RST.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pair.b.connections()).to.have.length(0);
    await pair.close();
  });

  it('keeps working when an event handler throws (the error is re-thrown asynchronously)', async () => {
    const pair = makePair();
    const uncaught: unknown[] = [];
    const original = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (e) => uncaught.push(e));
    try {
      const server = pair.b.net.createServer((s) => {
        s.on('data', (d: Buffer) => s.write(d));
        s.once('data', () => {
          throw new Error('boom');
        });
      });
      server.listen(80);
      await once(server, 'listening');
      const client = pair.a.net.connect(80, ADDR_B);
      client.write('ping');
      const [echo] = (await once(client, 'data')) as [Buffer];
      expect(echo.toString()).to.equal('ping');
      expect(uncaught).to.have.length(1);
      expect((uncaught[0] as Error).message).to.equal('boom');
      client.destroy();
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const l of original) process.on('uncaughtException', l);
      await pair.close();
    }
  });

  it('can be closed from inside an event handler', async () => {
    const pair = makePair();
    const server = pair.b.net.createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', () => void pair.b.close());
    });
    server.listen(80);
    await once(server, 'listening');
    const client = pair.a.net.connect(80, ADDR_B);
    client.on('error', () => undefined);
    // As Node's, the server's 'close' may come before its socket's (and the client's error).
    const serverClosed = once(server, 'close');
    client.write('bye');
    const err = await nextError(client);
    expect(err.code).to.equal('ECONNRESET');
    expect(pair.b.connections()).to.have.length(0);
    await serverClosed;
    await pair.close();
  });

  it('leaves nothing that keeps the process alive after close()', function () {
    this.timeout(30_000);
    const script = fileURLToPath(new URL('./__tests__/exit-check.ts', import.meta.url));
    const started = performance.now();
    const result = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).to.equal('');
    expect(result.stdout.trim()).to.equal('transferred 100000; closed');
    expect(result.status).to.equal(0);
    // It exits by itself right after closing, not after a 60 s TIME-WAIT timer.
    expect(performance.now() - started).to.be.lessThan(15_000);
  });

  it('reports ETIMEDOUT when the peer vanishes mid-connection', async () => {
    const [linkA, linkB] = createLinkPair();
    const tcp = { rtoInitialMs: 20, rtoMinMs: 10, rtoMaxMs: 40, maxRetransmits: 2 };
    const a = new Stack({ link: linkA, address: ADDR_A, tcp });
    const b = new Stack({ link: linkB, address: ADDR_B, tcp });
    try {
      const server = b.net.createServer((s) => s.resume());
      server.listen(80);
      await once(server, 'listening');
      const client = a.net.connect(80, ADDR_B);
      await once(client, 'connect');
      await linkB.close(); // the peer disappears without a word
      client.write(Buffer.alloc(1000));
      const err = await nextError(client);
      expect(err).to.include({ code: 'ETIMEDOUT', syscall: 'read' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

export { readAll };
