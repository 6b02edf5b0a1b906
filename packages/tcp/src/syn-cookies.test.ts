/**
 * Packet traces for SYN cookies that keep TCP options (RFC 4987 §3.6, encoded as Linux's
 * cookie_init_timestamp): the cookie SYN-ACK answers window scale, SACK-permitted, timestamps
 * and ECN setup and carries the choices in the low 6 bits of its TSval; the ACK echoing that
 * TSval opens a connection with them on. Times are explicit.
 */
import { expect } from 'chai';
import { ipv4ToMapped, ipv6FromString, ipv6ToString } from '@tcp-tun/ip';
import type { IpAddress } from './address.js';
import { TcpConnection } from './connection.js';
import { COOKIE_MSS6, TcpListener } from './listener.js';
import { FROM_PEER, IRS, ISS, LOCAL, REMOTE, TRACE_CONFIG, bytes, drain, events, expectSent, readAll, send } from './__tests__/trace.js';
import type { Endpoint, TcpConfig, TcpRepr, Transmit } from './types.js';

const NONE = new Uint8Array(0);
/** The timestamp offset the test hash gives every cookie connection. */
const TS_OFF = 5000;
/** 1 MiB receive buffer: our shift is 5 (RFC 7323 §2.3: the smallest that fits 16 bits). */
const CFG: Partial<TcpConfig> = { ...TRACE_CONFIG, recvBufferSize: 1 << 20, maxOutOfOrderBytes: 1 << 20 };
const OUR_SHIFT = 5;
/** A Linux-like SYN: MSS, SACK-permitted, timestamps, window scale 7, ECN setup (ECE + CWR). */
const SYN = {
  ...FROM_PEER,
  control: 'syn',
  seq: IRS,
  mss: 1460,
  windowScale: 7,
  sackPermitted: true,
  timestamp: { tsVal: 777, tsEcr: 0 },
  ece: true,
  cwr: true,
} as const satisfies TcpRepr;

const peer = (port: number): typeof REMOTE => ({ ...REMOTE, port });

/** A keyed-looking hash whose timestamp-offset call (first word 0xffffffff) returns TS_OFF. */
function testHash(a: number, b: number, c: number, d: number): number {
  if (a === 0xffffffff) return TS_OFF;
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ c;
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f) ^ d;
  return (h ^ (h >>> 15)) >>> 0;
}

/** A listener that answers every SYN with a cookie (maxSynReceived 0). */
function listen(config: Partial<TcpConfig> = CFG, cookieHash: ((a: number, b: number, c: number, d: number) => number) | undefined = testHash): TcpListener {
  return new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 8, maxSynReceived: 0, config, isn: () => ISS, cookieHash });
}

function synAck(l: TcpListener, now: number, port: number, syn: Partial<TcpRepr> = {}): TcpRepr {
  const r = l.handleSegment(now, LOCAL, peer(port), { ...SYN, srcPort: port, ...syn }, NONE);
  if (r.kind !== 'reply') throw new Error(`expected a cookie SYN-ACK, got ${r.kind}`);
  expect(r.transmit.payload.length).to.equal(0);
  return r.transmit.repr;
}

/** The peer's ACK completing the handshake, echoing `sa`'s TSval (RFC 7323 §3.2). */
function ackFor(sa: TcpRepr, tsVal: number, over: Partial<TcpRepr> = {}): TcpRepr {
  return { ...FROM_PEER, srcPort: sa.dstPort, seq: IRS + 1, ack: (sa.seq + 1) >>> 0, window: 1000, timestamp: { tsVal, tsEcr: sa.timestamp?.tsVal ?? 0 }, ...over };
}

function connectionFrom(l: TcpListener, now: number, ack: TcpRepr, payload: Uint8Array = NONE): TcpConnection {
  const r = l.handleSegment(now, LOCAL, peer(ack.srcPort), ack, payload);
  if (r.kind !== 'connection') throw new Error(`expected a connection, got ${JSON.stringify(r)}`);
  return r.connection;
}

function expectRejected(l: TcpListener, now: number, ack: TcpRepr): void {
  const before = l.stats.synCookiesRejected;
  const r = l.handleSegment(now, LOCAL, peer(ack.srcPort), ack, NONE);
  expect(r.kind).to.equal('reply');
  if (r.kind === 'reply') expect(r.transmit.repr).to.deep.include({ control: 'rst', seq: ack.ack, ack: undefined });
  expect(l.stats.synCookiesRejected).to.equal(before + 1);
}

describe('SYN cookies with options (TSval-encoded, as Linux)', () => {
  describe('the cookie SYN-ACK', () => {
    it('answers window scale, SACK-permitted, timestamps and ECN setup; TSval low 6 bits = wscale | sack<<4 | ecn<<5', () => {
      const l = listen();
      const sa = synAck(l, 1000, 1001);
      expect(sa).to.deep.include({ control: 'syn', ack: IRS + 1, window: 65535, mss: 1000, windowScale: OUR_SHIFT, sackPermitted: true, ece: true });
      expect(sa.cwr).to.equal(undefined); // RFC 3168 §6.1.1: ECE without CWR
      // Clock 1000 + 5000 = 6000 = 0b1011101110000; options 7 | 16 | 32 = 55; 5952 | 55 = 6007 is
      // ahead of the clock, so one step of 64 back: 5943 (never ahead of later TSvals).
      expect(sa.timestamp).to.deep.equal({ tsVal: 5943, tsEcr: 777 });
      expect(sa.timestamp!.tsVal & 63).to.equal(7 | 16 | 32);
      expect(l.stats.synCookiesSent).to.equal(1);
    });

    it('encodes only what the SYN offered and the config allows; 0xf = no window scaling', () => {
      const l = listen();
      // Clock 1040 + 5000 = 6040: 6016 | bits stays at or below it.
      const plain = synAck(l, 1040, 1001, { windowScale: undefined, sackPermitted: undefined, ece: undefined, cwr: undefined });
      expect(plain).to.deep.include({ windowScale: undefined, sackPermitted: undefined, ece: undefined });
      expect(plain.timestamp).to.deep.equal({ tsVal: 6016 | 0xf, tsEcr: 777 });
      // ECE alone is not an ECN-setup SYN (RFC 3168 §6.1.1); a shift above 14 is used as 14 (RFC 7323 §2.3).
      const big = synAck(l, 1040, 1002, { windowScale: 20, cwr: undefined });
      expect(big).to.deep.include({ windowScale: OUR_SHIFT, sackPermitted: true, ece: undefined });
      expect(big.timestamp!.tsVal & 63).to.equal(14 | 16);
      // The config decides too: no SACK, no ECN, no window scaling here.
      const off = listen({ ...CFG, sack: false, ecn: false, windowScaling: false });
      const o = synAck(off, 1040, 1003);
      expect(o).to.deep.include({ windowScale: undefined, sackPermitted: undefined, ece: undefined });
      expect(o.timestamp!.tsVal & 63).to.equal(0xf);
    });

    it('without timestamps in the SYN, or with timestamps off in the config, offers only the MSS', () => {
      for (const [l, syn] of [
        [listen(), { timestamp: undefined }],
        [listen({ ...CFG, timestamps: false }), {}],
      ] as const) {
        const sa = synAck(l, 1000, 1001, syn);
        expect(sa).to.deep.include({ mss: 1000, windowScale: undefined, sackPermitted: undefined, timestamp: undefined, ece: undefined });
        const conn = connectionFrom(l, 1010, ackFor(sa, 800, { timestamp: syn.timestamp === undefined ? undefined : { tsVal: 800, tsEcr: 1 } }));
        expect(conn.stats).to.deep.include({ state: 'ESTABLISHED', sendWindowScale: -1, recvWindowScale: -1, sackEnabled: false, timestampsEnabled: false, ecnEnabled: false, sendWindow: 1000 });
      }
    });

    it('the timestamp offset is recomputed from the 4-tuple with the keyed hash: same tuple same offset, other tuples another', () => {
      const seen: number[][] = [];
      const hash = (a: number, b: number, c: number, d: number): number => {
        if (a === 0xffffffff) seen.push([b, c, d]);
        return testHash(a ^ 1, b, c, d);
      };
      const l = listen(CFG, hash);
      const a1 = synAck(l, 1000, 1001).timestamp!.tsVal;
      // 1024 ms later (a multiple of 64: the same low clock bits, so the same rounding).
      const a2 = synAck(l, 2024, 1001).timestamp!.tsVal;
      const b1 = synAck(l, 1000, 1002).timestamp!.tsVal;
      expect(a2 - a1).to.equal(1024);
      expect(b1).to.not.equal(a1);
      expect(seen).to.deep.equal([
        [REMOTE.addr, LOCAL.addr, ((1001 << 16) | LOCAL.port) >>> 0],
        [REMOTE.addr, LOCAL.addr, ((1001 << 16) | LOCAL.port) >>> 0],
        [REMOTE.addr, LOCAL.addr, ((1002 << 16) | LOCAL.port) >>> 0],
      ]);
    });
  });

  describe('the ACK echoing it', () => {
    it('opens an ESTABLISHED connection with window scaling, SACK, timestamps and ECN on', () => {
      const l = listen();
      const sa = synAck(l, 1000, 1001);
      const conn = connectionFrom(l, 1050, ackFor(sa, 900, { window: 1000 }));
      expect(events(conn)).to.deep.equal(['connected']);
      expect(conn.stats).to.deep.include({
        state: 'ESTABLISHED',
        sendWindowScale: 7,
        recvWindowScale: OUR_SHIFT,
        sackEnabled: true,
        timestampsEnabled: true,
        ecnEnabled: true,
        // RFC 7323 §2.2: the ACK's window is scaled by the peer's shift.
        sendWindow: 1000 << 7,
        // RFC 6691: 1460 from the cookie (table entry), less 12 for timestamps, within our MSS 1000.
        sendMss: 1000 - 12,
      });
      expect(l.stats).to.deep.include({ synCookiesAccepted: 1, synCookiesRejected: 0 });
      // Data from us: TSval = now + the derived offset (monotonic after the SYN-ACK's), TSecr the
      // ACK's TSval; ECT(0) on data (RFC 3168 §6.1.2); the window field scaled by our shift.
      conn.send(bytes(3 * 988));
      const out = drain(conn, 1060);
      expect(out.length).to.equal(3);
      for (const { repr } of out) {
        expect(repr.timestamp).to.deep.equal({ tsVal: 1060 + TS_OFF, tsEcr: 900 });
        expect(repr.timestamp!.tsVal).to.be.greaterThan(sa.timestamp!.tsVal);
        expect(repr.window).to.equal((1 << 20) >>> OUR_SHIFT);
      }
      const tx = conn.pollTransmit(1060);
      expect(tx).to.equal(undefined);
    });

    it('out-of-order data is SACKed, ECT and timestamps on every segment', () => {
      const l = listen();
      const sa = synAck(l, 1000, 1001);
      const conn = connectionFrom(l, 1050, ackFor(sa, 900));
      const iss1 = (sa.seq + 1) >>> 0;
      // A hole at IRS+1: the segment at IRS+1001 is out of order.
      send(conn, 1060, { srcPort: 1001, seq: IRS + 1001, ack: iss1, window: 1000, timestamp: { tsVal: 910, tsEcr: 5943 } }, bytes(500));
      expectSent(conn, 1060, [{ control: 'none', seq: iss1, ack: IRS + 1, sackBlocks: [{ left: IRS + 1001, right: IRS + 1501 }], timestamp: { tsVal: 1060 + TS_OFF, tsEcr: 900 } }]);
      // Filling the hole: the ACK covers both, with TS.Recent now the filler's TSval.
      send(conn, 1070, { srcPort: 1001, seq: IRS + 1, ack: iss1, window: 1000, timestamp: { tsVal: 920, tsEcr: 5943 } }, bytes(1000));
      expectSent(conn, 1070, [{ control: 'none', ack: IRS + 1501, sackBlocks: undefined, timestamp: { tsVal: 1070 + TS_OFF, tsEcr: 920 } }]);
      expect(readAll(conn).length).to.equal(1500);
      conn.send(bytes(10));
      const [data] = drainTx(conn, 1080);
      expect(data?.ecn).to.equal('ect0');
    });

    it('data on the ACK itself is taken, with PAWS state from its TSval', () => {
      const l = listen();
      const sa = synAck(l, 1000, 1001);
      const conn = connectionFrom(l, 1050, ackFor(sa, 900, { control: 'psh' }), bytes(5));
      expect(events(conn)).to.deep.equal(['connected', 'readable']);
      expectSent(conn, 1050, [{ control: 'none', ack: IRS + 6, timestamp: { tsVal: 1050 + TS_OFF, tsEcr: 900 } }]);
      // RFC 7323 §5.3: an older TSval is a duplicate: dropped, ACKed.
      send(conn, 1060, { srcPort: 1001, seq: IRS + 6, ack: (sa.seq + 1) >>> 0, window: 1000, timestamp: { tsVal: 899, tsEcr: 0 } }, bytes(5));
      expect(conn.stats.pawsRejected).to.equal(1);
    });

    it('a retransmitted SYN without ECN setup (RFC 3168 §6.1.1.1) gets a cookie of its own; each ACK opens with what its SYN-ACK agreed', () => {
      const l = listen();
      const first = synAck(l, 1000, 1001);
      const second = synAck(l, 2000, 1001, { ece: undefined, cwr: undefined });
      expect(second.ece).to.equal(undefined);
      expect(second.seq).to.not.equal(first.seq); // the options word is hashed into the cookie
      expect(connectionFrom(l, 2050, ackFor(first, 900)).stats.ecnEnabled).to.equal(true);
      expect(connectionFrom(l, 2050, ackFor(second, 900)).stats.ecnEnabled).to.equal(false);
    });
  });

  describe('forged or mismatched echoes', () => {
    it('a TSecr whose option bits differ from what we sent invalidates an otherwise valid cookie (RST)', () => {
      const l = listen();
      // The SYN offered no window scale and no ECN: our TSval says 0xf | sack.
      const sa = synAck(l, 1040, 1001, { windowScale: undefined, ece: undefined, cwr: undefined });
      const ts = sa.timestamp!.tsVal;
      expect(ts & 63).to.equal(0xf | 16);
      // Turn on window scale 14, turn on ECN, turn off SACK: each is rejected.
      for (const forged of [(ts & ~0xf) | 14, ts | 32, ts & ~16]) {
        expectRejected(l, 1050, ackFor(sa, 900, { timestamp: { tsVal: 900, tsEcr: forged >>> 0 } }));
      }
      // The high bits only carry time: the genuine options with another time still validate.
      const conn = connectionFrom(l, 1050, ackFor(sa, 900, { timestamp: { tsVal: 900, tsEcr: (ts - 640) >>> 0 } }));
      expect(conn.stats).to.deep.include({ sendWindowScale: -1, sackEnabled: true, ecnEnabled: false, timestampsEnabled: true });
      expect(l.stats).to.deep.include({ synCookiesAccepted: 1, synCookiesRejected: 3 });
    });

    it('nothing the config forbids can be switched on, even if the hash validated it', () => {
      // A degenerate hash (constant): every cookie "validates"; the config check still holds.
      const l = listen({ ...CFG, ecn: false, sack: false, windowScaling: false }, () => 0);
      const sa = synAck(l, 1000, 1001);
      const ts = sa.timestamp!.tsVal;
      expect(ts & 63).to.equal(0xf);
      for (const forged of [(ts & ~0xf) | 3, ts | 16, ts | 32]) {
        expectRejected(l, 1050, ackFor(sa, 900, { timestamp: { tsVal: 900, tsEcr: forged >>> 0 } }));
      }
      expect(connectionFrom(l, 1050, ackFor(sa, 900)).stats).to.deep.include({ sendWindowScale: -1, sackEnabled: false, ecnEnabled: false, timestampsEnabled: true });
    });

    it('an ACK without timestamps for a cookie that offered them is rejected (RFC 7323 §3.2: they are on every segment)', () => {
      const l = listen();
      const sa = synAck(l, 1000, 1001);
      expectRejected(l, 1050, ackFor(sa, 900, { timestamp: undefined }));
      // With data it is dropped silently, as any unverifiable segment while cookies are out.
      expect(l.handleSegment(1050, LOCAL, peer(1001), ackFor(sa, 900, { timestamp: undefined }), bytes(10))).to.deep.equal({ kind: 'drop', reason: 'bad-segment' });
      expect(l.stats.synCookiesAccepted).to.equal(0);
    });

    it('fromCookie refuses options that cannot come from a cookie (programmer error)', () => {
      const ack = ackFor({ ...FROM_PEER, srcPort: LOCAL.port, dstPort: 1001, control: 'syn', seq: ISS, ack: IRS + 1, timestamp: { tsVal: 1, tsEcr: 0 } }, 900);
      const base = { local: LOCAL, remote: peer(1001), iss: ISS, ack, mss: 1460, config: CFG };
      expect(() => TcpConnection.fromCookie(0, { ...base, options: { windowScale: 15, sackPermitted: true, ecn: false } })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(() => TcpConnection.fromCookie(0, { ...base, ack: { ...ack, timestamp: undefined }, options: { windowScale: 3, sackPermitted: true, ecn: false } })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    });
  });

  describe('one timestamp clock per 4-tuple, cookie or not (RFC 7323 §5.4; RFC 6191 needs monotonic TSvals across incarnations)', () => {
    /** The offset a stack derives from the 4-tuple (here simply from the peer's port). */
    const offsetOf = (_now: number, _local: typeof LOCAL, remote: typeof REMOTE): number => 0x10000 + remote.port;
    const withOffsets = (maxSynReceived: number): TcpListener =>
      new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 8, maxSynReceived, config: CFG, isn: () => ISS, tsOffset: offsetOf, cookieHash: testHash });

    it('with a tsOffset function, a cookie connection uses it too: cookie and ordinary incarnations of a 4-tuple share one clock', () => {
      const clock = (now: number): number => now + 0x10000 + 1001;
      const cookies = withOffsets(0);
      const sa = synAck(cookies, 1000, 1001);
      expect(clock(1000) - sa.timestamp!.tsVal).to.be.within(0, 63);
      const conn = connectionFrom(cookies, 1010, ackFor(sa, 800));
      conn.send(bytes(10));
      expect(drain(conn, 1020)[0]!.repr.timestamp!.tsVal).to.equal(clock(1020));
      // A later ordinary incarnation of the same 4-tuple continues that clock.
      const r = withOffsets(8).handleSegment(2000, LOCAL, peer(1001), { ...SYN, srcPort: 1001 }, NONE);
      if (r.kind !== 'connection') throw new Error(r.kind);
      expect(drain(r.connection, 2000)[0]!.repr.timestamp!.tsVal).to.equal(clock(2000));
    });

    it('without one, every connection takes its offset from the keyed hash of the 4-tuple (not from its ISN)', () => {
      const l = new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 8, config: CFG, isn: () => ISS, cookieHash: testHash });
      const r = l.handleSegment(3000, LOCAL, peer(1001), { ...SYN, srcPort: 1001 }, NONE);
      if (r.kind !== 'connection') throw new Error(r.kind);
      expect(drain(r.connection, 3000)[0]!.repr.timestamp!.tsVal).to.equal(3000 + TS_OFF);
    });
  });
});

function drainTx(conn: TcpConnection, t: number): Transmit[] {
  const out: Transmit[] = [];
  for (let tx = conn.pollTransmit(t); tx !== undefined && out.length < 100; tx = conn.pollTransmit(t)) out.push(tx);
  return out;
}

describe('SYN cookies over IPv6 (RFC 4987 §3.6 on IPv6 4-tuples)', () => {
  const LOCAL6: Endpoint<IpAddress> = { addr: ipv6FromString('fd00::1'), port: LOCAL.port };
  const REMOTE6: Endpoint<IpAddress> = { addr: ipv6FromString('2001:db8:0:1::2'), port: 1001 };
  const ANY6 = ipv6FromString('::');
  const listen6 = (hash = testHash, bound: IpAddress = ANY6): TcpListener<IpAddress> =>
    new TcpListener<IpAddress>({ local: { addr: bound, port: LOCAL.port }, backlog: 8, maxSynReceived: 0, config: CFG, isn: () => ISS, cookieHash: hash });
  const synAck6 = (l: TcpListener<IpAddress>, now: number, remote: Endpoint<IpAddress>, syn: Partial<TcpRepr> = {}): TcpRepr => {
    const r = l.handleSegment(now, LOCAL6, remote, { ...SYN, srcPort: remote.port, ...syn }, NONE);
    if (r.kind !== 'reply') throw new Error(`expected a cookie SYN-ACK, got ${r.kind}`);
    return r.transmit.repr;
  };
  /** The 16 octets of `a` with bit `bit` (0 = the top bit of octet 0) flipped. */
  const flip = (a: IpAddress, bit: number): Uint8Array => {
    const out = (a as Uint8Array).slice();
    out[bit >>> 3] = out[bit >>> 3]! ^ (0x80 >>> (bit & 7));
    return out;
  };

  it('a listener on :: answers an IPv6 SYN with a cookie SYN-ACK whose MSS is the IPv6 one (config MSS − 20, RFC 8200 §8.3); its ACK opens an IPv6 connection', () => {
    const l = listen6();
    const sa = synAck6(l, 1000, REMOTE6);
    expect(sa).to.deep.include({ control: 'syn', ack: IRS + 1, mss: 1000 - 20, windowScale: OUR_SHIFT, sackPermitted: true, ece: true });
    const r = l.handleSegment(1050, LOCAL6, REMOTE6, ackFor(sa, 900), NONE);
    if (r.kind !== 'connection') throw new Error(`expected a connection, got ${r.kind}`);
    const conn = r.connection;
    expect(ipv6ToString(conn.remote.addr as Uint8Array)).to.equal('2001:db8:0:1::2');
    expect(conn.config.mss).to.equal(980);
    // The SYN's MSS 1460 is carried as the largest COOKIE_MSS6 entry not above it, 1440 (1500 − 60),
    // and the send MSS is min(1440, our 980) − 12 for timestamps (RFC 6691).
    expect(COOKIE_MSS6).to.include(1440);
    expect(conn.stats).to.deep.include({ state: 'ESTABLISHED', sackEnabled: true, timestampsEnabled: true, ecnEnabled: true, sendMss: 980 - 12 });
  });

  it('without an MSS option an IPv6 cookie assumes 1220 (RFC 9293 §3.7.1: 1280 − 60), an IPv4 one 536', () => {
    const big: Partial<TcpConfig> = { ...CFG, mss: 1460 };
    const l6 = new TcpListener<IpAddress>({ local: { addr: ANY6, port: LOCAL.port }, backlog: 8, maxSynReceived: 0, config: big, isn: () => ISS, cookieHash: testHash });
    const sa6 = synAck6(l6, 1000, REMOTE6, { mss: undefined });
    const r6 = l6.handleSegment(1050, LOCAL6, REMOTE6, ackFor(sa6, 900), NONE);
    if (r6.kind !== 'connection') throw new Error(r6.kind);
    expect(r6.connection.stats.sendMss).to.equal(1220 - 12);
    const l4 = listen(big);
    const sa4 = synAck(l4, 1000, 1001, { mss: undefined });
    expect(connectionFrom(l4, 1050, ackFor(sa4, 900)).stats.sendMss).to.equal(536 - 12);
  });

  it('the cookie covers every one of the 128 bits of both addresses: the same ACK from (or to) an address one bit away is rejected', () => {
    const l = listen6();
    const sa = synAck6(l, 1000, REMOTE6);
    const ack = ackFor(sa, 900);
    for (let bit = 0; bit < 128; bit++) {
      const r = l.handleSegment(1050, LOCAL6, { ...REMOTE6, addr: flip(REMOTE6.addr, bit) }, ack, NONE);
      expect(r.kind, `remote address bit ${bit}`).to.equal('reply');
      const s = l.handleSegment(1050, { ...LOCAL6, addr: flip(LOCAL6.addr, bit) }, REMOTE6, ack, NONE);
      expect(s.kind, `local address bit ${bit}`).to.equal('reply');
    }
    expect(l.stats.synCookiesRejected).to.equal(256);
    expect(l.handleSegment(1050, LOCAL6, REMOTE6, ack, NONE).kind).to.equal('connection');
  });

  it('every word of an IPv6 address goes into the keyed hash (no truncation), IPv4 addresses as themselves', () => {
    const calls: number[][] = [];
    const spy = (a: number, b: number, c: number, d: number): number => {
      calls.push([a, b, c, d]);
      return testHash(a, b, c, d);
    };
    synAck6(listen6(spy), 1000, { addr: ipv6FromString('2001:db8:1:2:3:4:5:6'), port: 1001 });
    expect(calls).to.deep.include([0x20010db8, 0x00010002, 0x00030004, 0x00050006]);
    expect(calls).to.deep.include([0xfd000000, 0, 0, 1]);
  });

  it('an IPv6 cookie never opens an IPv4 4-tuple with the same ports (nor the IPv4-mapped one), and an IPv4 cookie no IPv6 one', () => {
    const mapped: Endpoint<IpAddress> = { addr: ipv4ToMapped(REMOTE.addr), port: 1001 };
    const l = listen6();
    // IPv4 SYN from 10.0.0.2:1001 to a dual-stack listener: an IPv4 cookie.
    const r4 = l.handleSegment(1000, LOCAL, peer(1001), { ...SYN, srcPort: 1001 }, NONE);
    if (r4.kind !== 'reply') throw new Error(r4.kind);
    const sa4 = r4.transmit.repr;
    // Its ACK from the mapped IPv6 address, or to an IPv6 local address: rejected.
    expect(l.handleSegment(1050, LOCAL6, mapped, ackFor(sa4, 900), NONE).kind).to.equal('reply');
    // An IPv6 cookie for the mapped address, returned over IPv4: rejected.
    const sa6 = synAck6(l, 1000, mapped);
    expect(l.handleSegment(1050, LOCAL, peer(1001), ackFor(sa6, 900), NONE).kind).to.equal('reply');
    expect(l.stats.synCookiesRejected).to.equal(2);
    // Each over its own family opens (an IPv4 connection is IPv4 whatever the listener's address).
    const c4 = l.handleSegment(1050, LOCAL, peer(1001), ackFor(sa4, 900), NONE);
    expect(c4.kind === 'connection' && c4.connection.remote.addr).to.equal(REMOTE.addr);
    expect(l.handleSegment(1050, LOCAL6, mapped, ackFor(sa6, 900), NONE).kind).to.equal('connection');
  });

  it('which segments a listener takes: 0.0.0.0 only IPv4, :: both families, a bound IPv6 address only itself', () => {
    const any4 = new TcpListener<IpAddress>({ local: { addr: 0, port: LOCAL.port }, backlog: 8, isn: () => ISS });
    expect(any4.handleSegment(1000, LOCAL6, REMOTE6, { ...SYN, srcPort: 1001 }, NONE)).to.deep.equal({ kind: 'drop', reason: 'bad-segment' });
    expect(any4.handleSegment(1000, LOCAL, peer(1001), { ...SYN, srcPort: 1001 }, NONE).kind).to.equal('connection');
    const bound = new TcpListener<IpAddress>({ local: LOCAL6, backlog: 8, isn: () => ISS });
    expect(bound.handleSegment(1000, LOCAL, peer(1001), { ...SYN, srcPort: 1001 }, NONE).kind).to.equal('drop');
    expect(bound.handleSegment(1000, { ...LOCAL6, addr: ipv6FromString('fd00::9') }, REMOTE6, { ...SYN, srcPort: 1001 }, NONE).kind).to.equal('drop');
    const c = bound.handleSegment(1000, { ...LOCAL6, addr: ipv6FromString('fd00::1') }, REMOTE6, { ...SYN, srcPort: 1001 }, NONE);
    expect(c.kind).to.equal('connection');
    // A SYN-RECEIVED IPv6 connection answers with the IPv6 MSS.
    if (c.kind === 'connection') expect(c.connection.pollTransmit(1000)?.repr).to.deep.include({ control: 'syn', mss: 1460 - 20 });
    // Mixed families in one segment are refused.
    expect(listen6().handleSegment(1000, LOCAL, REMOTE6, { ...SYN, srcPort: 1001 }, NONE).kind).to.equal('drop');
  });
});
