/**
 * Scripted attacks against a live stack, played by hand over a RawLink (we are 10.0.0.1, the
 * attacker or peer 10.0.0.2): blind in-window resets and SYNs (RFC 5961), segments outside the
 * window, a burst of resets against the challenge-ACK limit (RFC 5961 §7), reuse of a 4-tuple
 * in TIME-WAIT (RFC 6191) and SYN cookies when a listener is full (RFC 4987 §3.6). The IPv6
 * part (we are fd00::1, the peer fd00::2): blind resets, spoofed and IPv4-mapped sources,
 * forged ICMPv6 packet too big (RFC 5927), SYN floods answered with cookies.
 */
import { once } from 'node:events';
import { expect } from 'chai';
import { emitIcmpv6, emitIpv6, icmpv6Length, ipv6FromString, makeIpv6Repr, parseIpv6 } from '@tcp-tun/ip';
import { emitTcp, parseTcp, type TcpRepr } from '@tcp-tun/tcp';
import { ADDR_A, RawLink, nextError, sleep } from './__tests__/harness.js';
import { connectByHand, sentTcp, tcpPacket } from './__tests__/packets.js';
import { listen, type Conn } from './__tests__/raw6.js';
import type { Socket } from './socket.js';
import { Stack } from './stack.js';

describe('Attacks on an established connection (RFC 5961)', () => {
  let stack: Stack;
  let link: RawLink;
  /** While set, the stack's clock stands still (the rate-limit test's burst is one instant). */
  let frozenAt: number | undefined;
  beforeEach(() => {
    link = new RawLink();
    frozenAt = undefined;
    stack = new Stack({ link, address: ADDR_A, clock: () => frozenAt ?? performance.now() });
  });
  afterEach(async () => {
    await stack.close();
  });

  /** Data from the peer at RCV.NXT reaches the socket: the connection is intact. */
  async function stillCarriesData(socket: Socket, peer: { srcPort: number; dstPort: number; window: number }, ours: number, seq = 7001): Promise<void> {
    let got = '';
    socket.on('data', (b: Buffer) => (got += String(b)));
    await link.inject(tcpPacket({ ...peer, control: 'psh', seq, ack: ours }, Buffer.from('still here')));
    await sleep(5);
    expect(got).to.equal('still here');
    expect(socket.tcpState).to.equal('ESTABLISHED');
  }

  it('an in-window RST that is not exact draws a challenge ACK and the connection survives', async () => {
    const { socket, peer, ours } = await connectByHand(stack, link);
    await link.inject(tcpPacket({ ...peer, control: 'rst', seq: 7001 + 1000, ack: undefined }));
    const sent = sentTcp(link);
    expect(sent).to.have.length(1);
    expect(sent[0]).to.include({ control: 'none', seq: ours, ack: 7001 });
    expect(socket.tcpState).to.equal('ESTABLISHED');
    await stillCarriesData(socket, peer, ours);
    expect(stack.connections()[0]?.challengeAcks).to.equal(1);
  });

  it('an exact RST (SEG.SEQ = RCV.NXT) resets the connection', async () => {
    const { socket, peer } = await connectByHand(stack, link);
    const failed = nextError(socket);
    await link.inject(tcpPacket({ ...peer, control: 'rst', seq: 7001, ack: undefined }));
    expect((await failed).code).to.equal('ECONNRESET');
  });

  it('ignores a RST, data and bad ACKs outside the window; a SYN only draws a challenge ACK', async () => {
    const { socket, peer, ours } = await connectByHand(stack, link);
    let got = 0;
    socket.on('data', (b: Buffer) => (got += b.length));
    await link.inject(tcpPacket({ ...peer, control: 'rst', seq: (7001 + 0x40000000) >>> 0, ack: undefined }));
    await link.inject(tcpPacket({ ...peer, control: 'rst', seq: (7001 - 100_000) >>> 0, ack: undefined }));
    expect(sentTcp(link), 'an out-of-window RST gets no reply at all').to.have.length(0);
    // Data outside the receive window: not delivered (a duplicate ACK at most).
    await link.inject(tcpPacket({ ...peer, control: 'psh', seq: (7001 + 0x40000000) >>> 0, ack: ours }, Buffer.from('junk')));
    // In-window data whose ACK is far too old or acknowledges data never sent (RFC 5961 §5.2).
    await link.inject(tcpPacket({ ...peer, control: 'psh', seq: 7001, ack: (ours - 0x20000000) >>> 0 }, Buffer.from('junk')));
    await link.inject(tcpPacket({ ...peer, control: 'psh', seq: 7001, ack: (ours + 0x100000) >>> 0 }, Buffer.from('junk')));
    // A SYN in a synchronized state, in window or not: a challenge ACK, never a reset (§4).
    await link.inject(tcpPacket({ ...peer, control: 'syn', seq: 7001 + 10, ack: undefined, mss: 1460 }));
    await link.inject(tcpPacket({ ...peer, control: 'syn', seq: 123456789, ack: undefined, mss: 1460 }));
    await sleep(5);
    expect(got, 'no attacker data reached the application').to.equal(0);
    const sent = sentTcp(link);
    expect(sent.every((r) => r.control === 'none' && r.seq === ours && r.ack === 7001), 'only ACKs, nothing moved').to.equal(true);
    expect(stack.connections()[0]).to.include({ state: 'ESTABLISHED', readable: 0, sendQueued: 0 });
    await stillCarriesData(socket, peer, ours);
  });

  it('holds the challenge-ACK rate limit under a burst of 1000 in-window RSTs', async () => {
    const { socket, peer, ours } = await connectByHand(stack, link);
    // The whole burst inside one second of the stack's clock, however slow the machine is (on a
    // loaded one the 1000 injections took over a second of real time and the limit window reset).
    frozenAt = performance.now();
    for (let i = 0; i < 1000; i++) {
      // One packet per batch, so no ACK coalescing hides a missing limit.
      await link.inject(tcpPacket({ ...peer, control: 'rst', seq: (7001 + 1 + ((i * 97) % 60000)) >>> 0, ack: undefined }));
    }
    await sleep(1);
    const acks = sentTcp(link);
    expect(acks.length, 'challenge ACKs in one second').to.be.at.least(1).and.at.most(stack.tcpConfig.challengeAckLimit);
    expect(acks.every((r) => r.control === 'none')).to.equal(true);
    const info = stack.connections()[0];
    expect(info?.challengeAcksSuppressed).to.equal(1000 - acks.length);
    frozenAt = undefined;
    await stillCarriesData(socket, peer, ours);
  });
});

const SYN: TcpRepr = { srcPort: 40000, dstPort: 80, control: 'syn', seq: 1000, ack: undefined, window: 65535, mss: 1460 };

describe('Listener defences', () => {
  let stack: Stack;
  let link: RawLink;
  afterEach(async () => {
    await stack.close();
  });

  async function listening(backlog: number, onSocket: (s: Socket) => void): Promise<void> {
    link = new RawLink();
    stack = new Stack({ link, address: ADDR_A });
    const server = stack.net.createServer((s) => {
      s.on('error', () => undefined);
      onSocket(s);
    });
    server.listen({ port: 80, backlog });
    await once(server, 'listening');
  }

  it('resets a bare ACK to a listening port and counts it as stray while no cookie was sent', async () => {
    await listening(16, () => undefined);
    await link.inject(tcpPacket({ ...SYN, control: 'none', seq: 5000, ack: 777, mss: undefined }));
    const rst = sentTcp(link);
    expect(rst).to.have.length(1);
    expect(rst[0]).to.include({ control: 'rst', seq: 777 });
    expect(stack.stats()).to.include({ strayAcks: 1, synCookiesRejected: 0, synCookiesSent: 0 });
  });

  it('a new SYN with a higher sequence number reopens a 4-tuple in TIME-WAIT (RFC 6191); an old one does not', async () => {
    const accepted: Socket[] = [];
    await listening(16, (s) => {
      accepted.push(s);
      s.resume();
      s.end(); // we close first: our side ends in TIME-WAIT
    });
    await link.inject(tcpPacket(SYN));
    const synAck = sentTcp(link).find((r) => r.control === 'syn');
    const ours = ((synAck?.seq as number) + 1) >>> 0;
    await link.inject(tcpPacket({ ...SYN, control: 'none', seq: 1001, ack: ours, mss: undefined }));
    await sleep(5);
    const fin = sentTcp(link).find((r) => r.control === 'fin');
    expect(fin?.seq).to.equal(ours);
    // The peer acknowledges our FIN and sends its own.
    await link.inject(tcpPacket({ ...SYN, control: 'fin', seq: 1001, ack: (ours + 1) >>> 0, mss: undefined }));
    await sleep(5);
    // TIME-WAIT is a compact record apart from the connection table (issue 10).
    expect(stack.connections()).to.deep.equal([]);
    expect(stack.stats().connections).to.deep.equal({ 'TIME-WAIT': 1 });
    // An old duplicate SYN (below RCV.NXT) must not reopen it.
    link.sent.length = 0;
    await link.inject(tcpPacket({ ...SYN, seq: 500 }));
    expect(stack.stats().connections).to.deep.equal({ 'TIME-WAIT': 1 });
    expect(sentTcp(link).filter((r) => r.control === 'syn')).to.have.length(0);
    // A new incarnation: the listener answers and the old TCB is gone.
    link.sent.length = 0;
    await link.inject(tcpPacket({ ...SYN, seq: 900_000 }));
    const reply = sentTcp(link);
    expect(reply).to.have.length(1);
    expect(reply[0]).to.include({ control: 'syn', ack: 900_001 });
    expect(stack.connections().map((c) => c.state)).to.deep.equal(['SYN-RECEIVED']);
    expect(stack.stats().timeWait).to.include({ held: 0, reused: 1 });
    await link.inject(tcpPacket({ ...SYN, control: 'psh', seq: 900_001, ack: ((reply[0]?.seq as number) + 1) >>> 0, mss: undefined }, Buffer.from('again')));
    await sleep(5);
    expect(accepted).to.have.length(2);
  });

  it('answers SYNs beyond the backlog with stateless SYN cookies; a valid cookie ACK opens a connection, a forged one is reset', async () => {
    const got: string[] = [];
    await listening(2, (s) => {
      s.on('data', (b: Buffer) => got.push(String(b)));
    });
    for (let i = 0; i < 10; i++) await link.inject(tcpPacket({ ...SYN, srcPort: 41000 + i, seq: 1000 + i }));
    const synAcks = sentTcp(link).filter((r) => r.control === 'syn');
    expect(synAcks, 'every SYN is answered').to.have.length(10);
    expect(stack.stats().connections, 'only the backlog keeps state').to.deep.equal({ 'SYN-RECEIVED': 2 });
    expect(stack.stats().synCookiesSent).to.equal(8);
    // Complete the handshake of a cookie with data in the ACK.
    const cookie = synAcks.find((r) => r.dstPort === 41005);
    link.sent.length = 0;
    await link.inject(tcpPacket({ ...SYN, srcPort: 41005, control: 'psh', seq: 1006, ack: ((cookie?.seq as number) + 1) >>> 0, mss: undefined }, Buffer.from('via cookie')));
    await sleep(5);
    expect(got).to.deep.equal(['via cookie']);
    expect(stack.stats().synCookiesAccepted).to.equal(1);
    expect(stack.connections().find((c) => c.remotePort === 41005)?.state).to.equal('ESTABLISHED');
    // A forged cookie (a guessed ISN) is answered with RST and opens nothing.
    link.sent.length = 0;
    await link.inject(tcpPacket({ ...SYN, srcPort: 41006, control: 'none', seq: 1007, ack: ((cookie?.seq as number) + 2) >>> 0, mss: undefined }));
    expect(sentTcp(link).map((r) => r.control)).to.deep.equal(['rst']);
    expect(stack.stats().synCookiesRejected).to.equal(1);
    expect(stack.connections().find((c) => c.remotePort === 41006)).to.equal(undefined);
  });
});

describe('Attacks over IPv6', () => {
  const US6 = ipv6FromString('fd00::1');
  const PEER6 = ipv6FromString('fd00::2');
  let stack: Stack;
  let link: RawLink;
  beforeEach(() => {
    link = new RawLink();
    stack = new Stack({ link, address: ADDR_A, address6: 'fd00::1' });
  });
  afterEach(async () => {
    await stack.close();
  });

  /** An IPv6 TCP packet from the peer to us. */
  function tcp6(repr: TcpRepr, payload: Uint8Array = new Uint8Array(0), src: Uint8Array = PEER6): Uint8Array {
    const out = new Uint8Array(40 + 60 + payload.length);
    const len = emitTcp(repr, payload, src, US6, out.subarray(40));
    emitIpv6(makeIpv6Repr({ src, dst: US6, nextHeader: 6, payloadLength: len }), out);
    return out.subarray(0, 40 + len);
  }

  /** TCP segments the stack sent over IPv6. */
  function sent6(): TcpRepr[] {
    return link.sent.flatMap((p) => {
      const ip = parseIpv6(p);
      if (!ip.ok || ip.repr.nextHeader !== 6) return [];
      const t = parseTcp(ip.payload, ip.repr.src, ip.repr.dst);
      return t.ok ? [t.repr] : [];
    });
  }

  /** A connection to our `::` listener on port 80, by a handshake played by hand; the accepted Conn. */
  async function acceptByHand(): Promise<{ conn: Conn; peer: { srcPort: number; dstPort: number; window: number }; ours: number }> {
    const l = listen(stack, 80, '::');
    const peer = { srcPort: 40000, dstPort: 80, window: 65535 };
    await link.inject(tcp6({ ...peer, control: 'syn', seq: 7000, ack: undefined, mss: 1440 }));
    const synAck = sent6().find((r) => r.control === 'syn');
    if (synAck === undefined) throw new Error('no SYN-ACK');
    const ours = (synAck.seq + 1) >>> 0;
    await link.inject(tcp6({ ...peer, control: 'none', seq: 7001, ack: ours }));
    const conn = l.accepted[0];
    if (conn === undefined) throw new Error('not accepted');
    link.sent.length = 0;
    return { conn, peer, ours };
  }

  it('an in-window RST that is not exact draws a challenge ACK; an exact one resets (RFC 5961 §3.2)', async () => {
    const { conn, peer, ours } = await acceptByHand();
    await link.inject(tcp6({ ...peer, control: 'rst', seq: 7001 + 1000, ack: undefined }));
    expect(sent6()).to.have.length(1);
    expect(sent6()[0]).to.include({ control: 'none', seq: ours, ack: 7001 });
    expect(conn.error).to.equal(undefined);
    await link.inject(tcp6({ ...peer, control: 'rst', seq: 7001, ack: undefined }));
    expect(conn.error).to.equal('ECONNRESET');
  });

  it('the same segment from another IPv6 address (or its IPv4-mapped twin) is not the connection', async () => {
    const { conn, peer } = await acceptByHand();
    await link.inject(tcp6({ ...peer, control: 'rst', seq: 7001, ack: undefined }, new Uint8Array(0), ipv6FromString('fd00::3')));
    await link.inject(tcp6({ ...peer, control: 'rst', seq: 7001, ack: undefined }, new Uint8Array(0), ipv6FromString('::ffff:10.0.0.2')));
    expect(conn.error).to.equal(undefined);
    expect(stack.stats().ipv6?.drops['mapped-address']).to.equal(1);
  });

  it('an ICMPv6 error whose quoted sequence number is outside the window is ignored (RFC 5927 §4.1)', async () => {
    const { conn, ours } = await acceptByHand();
    conn.write(new Uint8Array(3000).fill(1));
    await new Promise((resolve) => setImmediate(resolve));
    const data = link.sent.find((p) => p.length > 100);
    if (data === undefined) throw new Error('no data sent');
    const forged = data.slice(0, 1232);
    // The quoted sequence number one window away from SND.UNA.
    const seq = (ours + 0x40000000) >>> 0;
    forged[44] = seq >>> 24;
    forged[45] = (seq >>> 16) & 0xff;
    forged[46] = (seq >>> 8) & 0xff;
    forged[47] = seq & 0xff;
    const ptb = (quoted: Uint8Array, mtu: number): Uint8Array => {
      const repr = { type: 'packet-too-big' as const, mtu, quoted };
      const out = new Uint8Array(40 + icmpv6Length(repr));
      emitIpv6(makeIpv6Repr({ src: ipv6FromString('fd00::fe'), dst: US6, nextHeader: 58, payloadLength: out.length - 40 }), out);
      emitIcmpv6(repr, ipv6FromString('fd00::fe'), US6, out.subarray(40));
      return out;
    };
    const mssBefore = conn.handle.tcpInfo().sendMss;
    await link.inject(ptb(forged, 1280));
    expect(stack._dropCount('icmpv6-rejected')).to.equal(1);
    expect(conn.handle.tcpInfo().sendMss).to.equal(mssBefore);
    // A genuine one (the quote as sent) is believed; an MTU below 1280 counts as 1280 (RFC 8201 §4).
    await link.inject(ptb(data.slice(0, 1232), 600));
    expect(stack.stats().icmpv6?.errorsReceived).to.equal(1);
    expect(conn.handle.tcpInfo().sendMss).to.be.at.most(1220).and.at.least(1220 - 40);
  });

  it('answers a SYN flood beyond the backlog with SYN cookies; a valid cookie ACK opens the connection', async () => {
    const l = listen(stack, 81, '::', false, 1);
    for (let i = 0; i < 20; i++) {
      await link.inject(tcp6({ srcPort: 30000 + i, dstPort: 81, control: 'syn', seq: 1000 * i, ack: undefined, window: 65535, mss: 1440 }, new Uint8Array(0), ipv6FromString(`fd00::${(i % 9) + 2}`)));
    }
    expect(stack.stats().synCookiesSent).to.be.above(10);
    const cookie = sent6().find((r) => r.control === 'syn' && r.dstPort === 30019);
    if (cookie === undefined) throw new Error('no SYN-ACK for the last SYN');
    await link.inject(tcp6({ srcPort: 30019, dstPort: 81, control: 'none', seq: 19001, ack: (cookie.seq + 1) >>> 0, window: 65535 }, new Uint8Array(0), ipv6FromString(`fd00::${(19 % 9) + 2}`)));
    expect(stack.stats().synCookiesAccepted).to.equal(1);
    expect(l.accepted.length).to.be.at.least(1);
    // A forged cookie ACK (wrong number) is reset.
    await link.inject(tcp6({ srcPort: 30018, dstPort: 81, control: 'none', seq: 18001, ack: 12345, window: 65535 }, new Uint8Array(0), ipv6FromString(`fd00::${(18 % 9) + 2}`)));
    expect(stack.stats().synCookiesRejected).to.equal(1);
  });
});
