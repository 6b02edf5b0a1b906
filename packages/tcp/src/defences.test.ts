/**
 * Packet traces for the defences and liveness rules: RFC 5961 (exact-match RST, challenge ACKs and
 * their rate limit, ACK acceptability), SYN cookies (RFC 4987), keepalive (RFC 1122 §4.2.3.6),
 * the user timeout (RFC 5482), ICMP errors (RFC 1122 §4.2.3.9, RFC 5927, RFC 1191) and TIME-WAIT
 * (RFC 1337, RFC 6191). Times are explicit.
 */
import { expect } from 'chai';
import { TcpConnection } from './connection.js';
import { TcpListener } from './listener.js';
import {
  P,
  ACK_OUT,
  FROM_PEER,
  IRS,
  ISS,
  LOCAL,
  REMOTE,
  TO_PEER,
  TRACE_CONFIG,
  bytes,
  drain,
  established,
  established6,
  events,
  expectNothing,
  expectSent,
  readAll,
  send,
} from './__tests__/trace.js';
import type { TcpConfig, TcpRepr } from './types.js';

const NONE = new Uint8Array(0);

/** Runs every timer until the connection closes (or 200 firings); returns the time of the last one. */
function runTimers(conn: TcpConnection, onFire?: (t: number) => void): number {
  let last = -1;
  for (let i = 0; i < 200 && conn.state !== 'CLOSED'; i++) {
    const t = conn.pollTimeout();
    if (t === undefined) break;
    conn.handleTimeout(t);
    drain(conn, t);
    onFire?.(t);
    last = t;
  }
  return last;
}

describe('RFC 5961 (blind in-window attacks)', () => {
  describe('RST (§3)', () => {
    it('in the window but not at RCV.NXT → challenge ACK, nothing else changes; the exact RST then resets', () => {
      const conn = established();
      send(conn, 20, { control: 'rst', seq: IRS + 500 });
      expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1, payload: 0 }]);
      expect(conn.state).to.equal('ESTABLISHED');
      expect(events(conn)).to.deep.equal([]);
      expect(conn.stats.challengeAcks).to.equal(1);
      // A genuine peer answers the challenge ACK with a RST at exactly RCV.NXT.
      send(conn, 30, { control: 'rst', seq: IRS + 1 });
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['error:ECONNRESET', 'closed']);
      expectNothing(conn, 30);
    });

    it('outside the window → dropped silently, no challenge ACK', () => {
      const conn = established();
      send(conn, 20, { control: 'rst', seq: IRS + 10_001 });
      send(conn, 20, { control: 'rst', seq: IRS - 5 });
      expectNothing(conn, 20);
      expect(conn.stats.challengeAcks).to.equal(0);
      expect(conn.state).to.equal('ESTABLISHED');
    });

    it('a RST with an ACK field is judged by its sequence number alone', () => {
      const conn = established();
      send(conn, 20, { control: 'rst', seq: IRS + 2, ack: ISS + 1 });
      expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1 }]);
      send(conn, 20, { control: 'rst', seq: IRS + 1, ack: ISS + 1 });
      expect(events(conn)).to.deep.equal(['error:ECONNRESET', 'closed']);
    });

    it('SYN-RECEIVED: an in-window RST that is not exact earns a challenge ACK too', () => {
      const l = new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 8, config: TRACE_CONFIG, isn: () => ISS });
      const r = l.handleSegment(0, LOCAL, REMOTE, { ...FROM_PEER, control: 'syn', seq: IRS, mss: 1000 }, NONE);
      if (r.kind !== 'connection') throw new Error('expected a connection');
      const conn = r.connection;
      drain(conn, 0);
      send(conn, 10, { control: 'rst', seq: IRS + 100 });
      expectSent(conn, 10, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1 }]);
      expect(conn.state).to.equal('SYN-RECEIVED');
      send(conn, 11, { control: 'rst', seq: IRS + 1 });
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['closed']);
    });

    it('during data transfer the exact match follows RCV.NXT', () => {
      const conn = established();
      send(conn, 20, { ...P, control: 'psh' }, bytes(100));
      expectSent(conn, 20, [{ ...ACK_OUT, ack: IRS + 101 }]);
      send(conn, 21, { control: 'rst', seq: IRS + 1 }); // now below the window: dropped
      expectNothing(conn, 21);
      send(conn, 21, { control: 'rst', seq: IRS + 150 });
      expectSent(conn, 21, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 101 }]);
      send(conn, 22, { control: 'rst', seq: IRS + 101 });
      expect(conn.state).to.equal('CLOSED');
    });
  });

  describe('SYN (§4) and ACK acceptability (§5)', () => {
    it('a SYN in ESTABLISHED (in the window) → challenge ACK, the connection stays', () => {
      const conn = established();
      send(conn, 20, { control: 'syn', seq: IRS + 1 });
      expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1 }]);
      expect(conn.state).to.equal('ESTABLISHED');
      expect(conn.stats.challengeAcks).to.equal(1);
    });

    it('an ACK for data never sent (SEG.ACK > SND.NXT) → challenge ACK; its data is not taken', () => {
      const conn = established();
      send(conn, 20, { ...P, ack: ISS + 50, control: 'psh' }, bytes(10));
      expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1 }]);
      expect(conn.readableLength).to.equal(0);
      expect(conn.stats.challengeAcks).to.equal(1);
    });

    it('an ACK below SND.UNA − MAX.SND.WND → dropped with a challenge ACK; data is not taken', () => {
      const conn = established();
      send(conn, 20, { ...P, ack: (ISS + 1 - 20_000) >>> 0, control: 'psh' }, bytes(10));
      expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1 }]);
      expect(conn.readableLength).to.equal(0);
      // Within MAX.SND.WND below SND.UNA it is an old but acceptable ACK: data is taken.
      send(conn, 21, { ...P, ack: (ISS + 1 - 5000) >>> 0, control: 'psh' }, bytes(10));
      expect(conn.readableLength).to.equal(10);
    });
  });

  describe('challenge ACK rate limit (§7)', () => {
    const cfg: Partial<TcpConfig> = { ...TRACE_CONFIG, challengeAckLimit: 2, challengeAckWindowMs: 1000 };

    it('at most challengeAckLimit per challengeAckWindowMs; the rest are counted as suppressed', () => {
      const conn = established(cfg);
      send(conn, 20, { control: 'rst', seq: IRS + 500 });
      expectSent(conn, 20, [{ ...ACK_OUT, ack: IRS + 1 }]);
      send(conn, 21, { control: 'syn', seq: IRS + 600 });
      expectSent(conn, 21, [{ ...ACK_OUT, ack: IRS + 1 }]);
      send(conn, 22, { control: 'rst', seq: IRS + 700 });
      send(conn, 500, { ...P, ack: ISS + 99 });
      expectNothing(conn, 500);
      expect(conn.stats).to.deep.include({ challengeAcks: 2, challengeAcksSuppressed: 2 });
      // The window started at t=20: from t=1020 challenge ACKs flow again.
      send(conn, 1019, { control: 'rst', seq: IRS + 700 });
      expectNothing(conn, 1019);
      send(conn, 1020, { control: 'rst', seq: IRS + 700 });
      expectSent(conn, 1020, [{ ...ACK_OUT, ack: IRS + 1 }]);
      expect(conn.stats).to.deep.include({ challengeAcks: 3, challengeAcksSuppressed: 3 });
      expect(conn.state).to.equal('ESTABLISHED');
    });

    it('challengeAckLimit 0 means no limit', () => {
      const conn = established({ ...TRACE_CONFIG, challengeAckLimit: 0 });
      for (let i = 0; i < 50; i++) {
        send(conn, 20 + i, { control: 'rst', seq: IRS + 500 });
        expectSent(conn, 20 + i, [{ ...ACK_OUT, ack: IRS + 1 }]);
      }
      expect(conn.stats).to.deep.include({ challengeAcks: 50, challengeAcksSuppressed: 0 });
    });
  });
});

describe('SYN cookies (RFC 4987 §3.6)', () => {
  // Without timestamps there is nowhere to keep the options: window scale and SACK are offered
  // here but a cookie SYN-ACK declines them (cookies with options: syn-cookies.test.ts).
  const SYN = { ...FROM_PEER, control: 'syn', seq: IRS, mss: 1460, windowScale: 7, sackPermitted: true } as const;
  const peer = (port: number): typeof REMOTE => ({ ...REMOTE, port });
  const listen = (opts: { backlog?: number; maxSynReceived?: number; synCookies?: boolean } = {}): TcpListener =>
    new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: opts.backlog ?? 1, config: TRACE_CONFIG, isn: () => ISS, ...opts });

  /** Fills the backlog of 1, then a second SYN gets a cookie SYN-ACK; returns the cookie. */
  function cookieFor(l: TcpListener, port: number, now = 0, syn: Partial<TcpRepr> = {}): number {
    const r = l.handleSegment(now, LOCAL, peer(port), { ...SYN, ...syn }, NONE);
    if (r.kind !== 'reply') throw new Error(`expected a cookie SYN-ACK, got ${r.kind}`);
    return r.transmit.repr.seq;
  }

  it('backlog full, a SYN without timestamps → a stateless SYN-ACK with a cookie ISN and only the MSS option', () => {
    const l = listen();
    expect(l.handleSegment(0, LOCAL, peer(1001), SYN, NONE).kind).to.equal('connection');
    const r = l.handleSegment(0, LOCAL, peer(1002), SYN, NONE);
    expect(r.kind).to.equal('reply');
    if (r.kind !== 'reply') return;
    expect(r.transmit.repr).to.deep.include({ srcPort: LOCAL.port, dstPort: 1002, control: 'syn', ack: IRS + 1, window: 10_000, mss: 1000 });
    expect(r.transmit.repr.windowScale).to.equal(undefined);
    expect(r.transmit.repr.sackPermitted).to.equal(undefined);
    expect(r.transmit.repr.timestamp).to.equal(undefined);
    expect(r.transmit.payload.length).to.equal(0);
    expect([l.pendingCount, l.queueLength]).to.deep.equal([1, 0]);
    expect(l.stats.synCookiesSent).to.equal(1);
  });

  it('the ACK returning a valid cookie → an ESTABLISHED connection with connected pending; data on it is readable', () => {
    const l = listen();
    l.handleSegment(0, LOCAL, peer(1001), SYN, NONE);
    const cookie = cookieFor(l, 1002);
    const r = l.handleSegment(50, LOCAL, peer(1002), { ...FROM_PEER, srcPort: 1002, control: 'psh', seq: IRS + 1, ack: (cookie + 1) >>> 0, window: 8000 }, bytes(5));
    expect(r.kind).to.equal('connection');
    if (r.kind !== 'connection') return;
    const conn = r.connection;
    expect(conn.state).to.equal('ESTABLISHED');
    expect(conn.remote).to.deep.equal(peer(1002));
    expect(events(conn)).to.deep.equal(['connected', 'readable']);
    expect(Array.from(readAll(conn))).to.deep.equal(Array.from(bytes(5)));
    expectSent(conn, 50, [{ srcPort: LOCAL.port, dstPort: 1002, control: 'none', seq: (cookie + 1) >>> 0, ack: IRS + 6 }]);
    expect(conn.stats).to.deep.include({ sendMss: 1000, sackEnabled: false, timestampsEnabled: false, sendWindowScale: -1, sendWindow: 8000 });
    // It counts as embryonic until the stack reports it established, then joins the accept queue.
    l.established(conn);
    expect(l.accept()).to.equal(conn);
    expect(l.stats).to.deep.include({ synCookiesSent: 1, synCookiesAccepted: 1, synCookiesRejected: 0 });
    // Data flows from it in turn.
    conn.send(bytes(10));
    expectSent(conn, 51, [{ control: 'psh', seq: (cookie + 1) >>> 0, payload: 10 }]);
  });

  it('the MSS is encoded in the cookie (largest table entry not above the peer MSS; 536 without the option)', () => {
    const l = new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 1, maxSynReceived: 0, isn: () => ISS });
    const c1 = cookieFor(l, 1002, 0, { mss: 1400 });
    const r1 = l.handleSegment(1, LOCAL, peer(1002), { ...FROM_PEER, srcPort: 1002, seq: IRS + 1, ack: (c1 + 1) >>> 0 }, NONE);
    if (r1.kind !== 'connection') throw new Error('expected a connection');
    expect(r1.connection.stats.sendMss).to.equal(1300);
    const c2 = cookieFor(l, 1003, 0, { mss: undefined });
    const r2 = l.handleSegment(1, LOCAL, peer(1003), { ...FROM_PEER, srcPort: 1003, seq: IRS + 1, ack: (c2 + 1) >>> 0 }, NONE);
    if (r2.kind !== 'connection') throw new Error('expected a connection');
    expect(r2.connection.stats.sendMss).to.equal(536);
  });

  it('a forged, misdirected or stale ACK is answered with RST <SEQ=SEG.ACK>; one period old is still valid', () => {
    const l = listen();
    l.handleSegment(0, LOCAL, peer(1001), SYN, NONE);
    const cookie = cookieFor(l, 1002);
    const ack = (a: number, port = 1002, now = 10, seq = IRS + 1) =>
      l.handleSegment(now, LOCAL, peer(port), { ...FROM_PEER, srcPort: port, seq, ack: a >>> 0 }, NONE);
    for (const r of [ack(cookie + 2), ack(cookie + 1, 1003), ack(cookie + 1, 1002, 10, IRS + 2)]) {
      expect(r.kind).to.equal('reply');
      if (r.kind === 'reply') expect(r.transmit.repr).to.deep.include({ control: 'rst', seq: r.transmit.repr.seq, ack: undefined });
    }
    expect(l.stats.synCookiesRejected).to.equal(3);
    // A data segment with an unverifiable cookie while cookies are in use is dropped, not reset.
    expect(l.handleSegment(20, LOCAL, peer(1002), { ...FROM_PEER, srcPort: 1002, seq: IRS + 1001, ack: (cookie + 1) >>> 0 }, bytes(10))).to.deep.equal({ kind: 'drop', reason: 'bad-segment' });
    expect(l.stats.synCookiesRejected).to.equal(4);
    // t = 100 s: counter 1, the cookie's 0 is the previous period → accepted.
    expect(ack(cookie + 1, 1002, 100_000).kind).to.equal('connection');
    expect(l.stats.synCookiesAccepted).to.equal(1);
    // Stale: two periods on, while a newer cookie (t = 150 s) is outstanding → rejected, RST.
    cookieFor(l, 1004, 150_000);
    const stale = ack(cookie + 1, 1002, 200_000);
    expect(stale.kind).to.equal('reply');
    expect(l.stats).to.deep.include({ synCookiesRejected: 5, strayAcks: 0 });
  });

  it('an ACK while no cookie can be outstanding is a stray ACK, not a cookie rejection: RST all the same', () => {
    const l = listen();
    const ack = (now: number, a = 5, payload: Uint8Array = NONE) => l.handleSegment(now, LOCAL, peer(1002), { ...FROM_PEER, srcPort: 1002, seq: IRS + 1, ack: a }, payload);
    // No cookie ever sent.
    const r0 = ack(0);
    expect(r0.kind).to.equal('reply');
    if (r0.kind === 'reply') expect(r0.transmit.repr).to.deep.include({ control: 'rst', seq: 5, ack: undefined });
    // Data too: nothing can be a cookie connection, so it is reset rather than dropped.
    expect(ack(1, 5, bytes(3)).kind).to.equal('reply');
    expect(l.stats).to.deep.include({ synCookiesSent: 0, synCookiesRejected: 0, strayAcks: 2 });
    // A cookie at t = 10 s (counter 0): ACKs within counter 0 and 1 are checked as cookies...
    l.handleSegment(10_000, LOCAL, peer(1001), SYN, NONE);
    const cookie = cookieFor(l, 1003, 10_000);
    expect(ack(127_999).kind).to.equal('reply');
    expect(l.stats).to.deep.include({ synCookiesSent: 1, synCookiesRejected: 1, strayAcks: 2 });
    // ...from counter 2 on (t ≥ 128 s) no cookie can be valid any more: stray again.
    expect(ack(128_000, (cookie + 1) >>> 0).kind).to.equal('reply');
    expect(l.stats).to.deep.include({ synCookiesRejected: 1, strayAcks: 3 });
    // A SYN-ACK to a listener is a stray ACK as well (RFC 9293 §3.10.7.2 second).
    expect(l.handleSegment(128_001, LOCAL, peer(1002), { ...FROM_PEER, srcPort: 1002, control: 'syn', seq: IRS, ack: 5 }, NONE).kind).to.equal('reply');
    expect(l.stats).to.deep.include({ synCookiesRejected: 1, strayAcks: 4 });
  });

  it('maxSynReceived bounds embryonic connections on its own; synCookies false drops instead', () => {
    const l = listen({ backlog: 8, maxSynReceived: 1 });
    expect(l.handleSegment(0, LOCAL, peer(1001), SYN, NONE).kind).to.equal('connection');
    expect(l.handleSegment(0, LOCAL, peer(1002), SYN, NONE).kind).to.equal('reply');
    const off = listen({ backlog: 1, synCookies: false });
    off.handleSegment(0, LOCAL, peer(1001), SYN, NONE);
    expect(off.handleSegment(0, LOCAL, peer(1002), SYN, NONE)).to.deep.equal({ kind: 'drop', reason: 'backlog-full' });
    // With cookies off a stray ACK is simply reset.
    expect(off.handleSegment(0, LOCAL, peer(1002), { ...FROM_PEER, seq: 1, ack: 5 }, NONE).kind).to.equal('reply');
    expect(off.stats).to.deep.include({ synDropped: 1, synCookiesSent: 0, synCookiesRejected: 0, strayAcks: 1 });
    expect(() => listen({ maxSynReceived: -1 })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
  });

  it('a valid cookie while the accept queue is full is dropped (no RST), as Linux does', () => {
    const l = listen({ backlog: 1, maxSynReceived: 0 });
    const c1 = cookieFor(l, 1001);
    const r1 = l.handleSegment(1, LOCAL, peer(1001), { ...FROM_PEER, srcPort: 1001, seq: IRS + 1, ack: (c1 + 1) >>> 0 }, NONE);
    if (r1.kind !== 'connection') throw new Error('expected a connection');
    l.established(r1.connection);
    const c2 = cookieFor(l, 1002);
    expect(l.handleSegment(1, LOCAL, peer(1002), { ...FROM_PEER, srcPort: 1002, seq: IRS + 1, ack: (c2 + 1) >>> 0 }, NONE)).to.deep.equal({ kind: 'drop', reason: 'backlog-full' });
  });

  it('uses the injected keyed hash', () => {
    let calls = 0;
    const l = new TcpListener({
      local: { addr: 0, port: LOCAL.port }, backlog: 1, maxSynReceived: 0, isn: () => ISS,
      cookieHash: (a, b, c, d) => {
        calls++;
        return (a ^ b ^ c ^ d ^ 0x5a5a5a) >>> 0;
      },
    });
    cookieFor(l, 1001);
    expect(calls).to.equal(2);
  });
});

describe('keepalive (RFC 1122 §4.2.3.6)', () => {
  const cfg: Partial<TcpConfig> = { ...TRACE_CONFIG, keepAliveIntervalMs: 100, keepAliveProbes: 2 };

  it('after idleMs a probe <SEQ=SND.NXT−1> without data; an answer restarts the idle time', () => {
    const conn = established(cfg); // last segment from the peer at t=10
    expect(conn.pollTimeout()).to.equal(undefined);
    conn.setKeepAlive(true, 1000);
    expect(conn.keepAlive).to.equal(true);
    expect(conn.pollTimeout()).to.equal(1010);
    conn.handleTimeout(1009);
    expectNothing(conn, 1009);
    conn.handleTimeout(1010);
    expectSent(conn, 1010, [{ ...ACK_OUT, seq: ISS, ack: IRS + 1, payload: 0 }]);
    expect(conn.pollTimeout()).to.equal(1110);
    send(conn, 1050, { ...P }); // the peer's ACK
    expectNothing(conn, 1050);
    expect(conn.pollTimeout()).to.equal(2050);
    expect(conn.stats.keepAliveProbes).to.equal(1);
  });

  it('keepAliveProbes unanswered probes, interval apart → RST and ETIMEDOUT', () => {
    const conn = established(cfg);
    conn.setKeepAlive(true, 1000);
    const sent: string[] = [];
    const last = runTimers(conn, (t) => sent.push(String(t)));
    expect(last).to.equal(1210);
    expect(conn.stats.keepAliveProbes).to.equal(2);
    expect(events(conn)).to.deep.equal(['error:ETIMEDOUT', 'closed']);
    expect(sent).to.deep.equal(['1010', '1110', '1210']);
  });

  it('the final RST goes out when the probes run out', () => {
    const conn = established(cfg);
    conn.setKeepAlive(true, 1000);
    conn.handleTimeout(1010);
    drain(conn, 1010);
    conn.handleTimeout(1110);
    drain(conn, 1110);
    conn.handleTimeout(1210);
    expectSent(conn, 1210, [{ ...TO_PEER, control: 'rst', seq: ISS + 1 }]);
  });

  it('no probe while data is outstanding (the retransmission timer watches the peer); off disarms', () => {
    const conn = established({ ...cfg, rtoMinMs: 5000, rtoInitialMs: 5000 });
    conn.setKeepAlive(true, 1000);
    conn.send(bytes(10));
    expectSent(conn, 20, [{ control: 'psh', payload: 10 }]);
    conn.handleTimeout(1010);
    expectNothing(conn, 1010);
    expect(conn.stats.keepAliveProbes).to.equal(0);
    expect(conn.pollTimeout()).to.equal(2010);
    conn.setKeepAlive(false);
    expect(conn.pollTimeout()).to.equal(5020); // only the RTO remains
    expect(() => conn.setKeepAlive(true, -1)).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
  });

  it('uses keepAliveIdleMs when no idle time is given', () => {
    const conn = established({ ...cfg, keepAliveIdleMs: 500 });
    conn.setKeepAlive(true);
    expect(conn.pollTimeout()).to.equal(510);
  });
});

describe('user timeout (RFC 5482, RFC 9293 §3.10.8)', () => {
  it('data unacknowledged for userTimeoutMs → ETIMEDOUT at exactly that time', () => {
    const conn = established({ ...TRACE_CONFIG, userTimeoutMs: 3000 });
    conn.send(bytes(100));
    expectSent(conn, 20, [{ control: 'psh', payload: 100 }]);
    expect(runTimers(conn)).to.equal(3020);
    expect(events(conn)).to.deep.equal(['error:ETIMEDOUT', 'closed']);
  });

  it('an ACK of new data restarts it; it replaces the maxRetransmits bound', () => {
    const conn = established({ ...TRACE_CONFIG, maxRetransmits: 1 });
    conn.setUserTimeout(10_000);
    conn.send(bytes(2000));
    expectSent(conn, 20, [{ payload: 1000 }, { payload: 1000 }]);
    expect(conn.pollTimeout()).to.equal(220); // the RTO; the user deadline is 10020
    send(conn, 1000, { ...P, ack: ISS + 1001 });
    drain(conn, 1000);
    expect(runTimers(conn)).to.equal(11_000);
    expect(conn.stats.rtoCount).to.be.greaterThan(1); // beyond maxRetransmits: the user timeout rules
    expect(events(conn)).to.include('error:ETIMEDOUT');
    expect(() => conn.setUserTimeout(-5)).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
  });

  it('bounds zero-window probing even while the peer answers every probe', () => {
    const conn = established({ ...TRACE_CONFIG, userTimeoutMs: 5000 }, { window: 0 });
    conn.send(bytes(10));
    expectNothing(conn, 20);
    const last = runTimers(conn, (t) => {
      if (conn.state !== 'CLOSED') {
        send(conn, t, { ...P, window: 0 });
        drain(conn, t);
      }
    });
    expect(last).to.equal(5020);
    expect(conn.stats.persistProbes).to.be.greaterThan(2);
    expect(events(conn)).to.deep.equal(['error:ETIMEDOUT', 'closed']);
  });

  it('off (0): the deadline disappears once everything is acknowledged', () => {
    const conn = established({ ...TRACE_CONFIG, userTimeoutMs: 3000 });
    conn.send(bytes(10));
    drain(conn, 20);
    send(conn, 30, { ...P, ack: ISS + 11 });
    expect(conn.pollTimeout()).to.equal(undefined);
  });
});

describe('ICMP errors (RFC 1122 §4.2.3.9, RFC 5927, RFC 1191)', () => {
  const connect = (): TcpConnection => {
    const conn = TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config: TRACE_CONFIG });
    drain(conn, 0);
    return conn;
  };

  it('SYN-SENT: port/host/net unreachable quoting our SYN are hard errors', () => {
    for (const [kind, code] of [['port-unreachable', 'ECONNREFUSED'], ['host-unreachable', 'EHOSTUNREACH'], ['net-unreachable', 'ENETUNREACH']] as const) {
      const conn = connect();
      expect(conn.handleIcmpError(5, { kind }, ISS + 1)).to.equal(false); // not a sequence number we sent
      expect(conn.state).to.equal('SYN-SENT');
      expect(conn.handleIcmpError(5, { kind }, ISS)).to.equal(true);
      expect(events(conn)).to.deep.equal([`error:${code}`, 'closed']);
      expectNothing(conn, 5);
      expect(conn.handleIcmpError(6, { kind }, ISS)).to.equal(false);
    }
  });

  it('synchronized: unreachable errors are soft (remembered, not fatal); only SND.UNA..SND.NXT−1 is accepted', () => {
    const conn = established();
    expect(conn.handleIcmpError(15, { kind: 'host-unreachable' }, ISS + 1)).to.equal(false); // nothing outstanding
    conn.send(bytes(100));
    drain(conn, 20);
    expect(conn.handleIcmpError(25, { kind: 'host-unreachable' }, ISS + 101)).to.equal(false);
    expect(conn.handleIcmpError(25, { kind: 'host-unreachable' }, ISS)).to.equal(false);
    expect(conn.softError).to.equal(undefined);
    expect(conn.handleIcmpError(25, { kind: 'host-unreachable' }, ISS + 50)).to.equal(true);
    expect(conn.state).to.equal('ESTABLISHED');
    expect(conn.softError).to.equal('EHOSTUNREACH');
    expect(conn.stats.icmpErrors).to.equal(1);
    expect(events(conn)).to.deep.equal([]);
  });

  it('frag-needed: the send MSS drops to MTU − 40 and the segments in flight are resent in pieces', () => {
    const conn = established();
    conn.send(bytes(3000));
    expectSent(conn, 20, [{ payload: 1000 }, { payload: 1000 }, { payload: 1000 }]);
    const cwnd = conn.stats.cwnd;
    expect(conn.handleIcmpError(30, { kind: 'frag-needed', mtu: 576 }, ISS + 1001)).to.equal(true);
    expect(conn.stats.sendMss).to.equal(536);
    expect(conn.stats.cwnd).to.equal(cwnd); // not a congestion signal
    expectSent(conn, 30, [
      { seq: ISS + 1, payload: bytes(536) },
      { seq: ISS + 537, payload: 464 },
      { seq: ISS + 1001, payload: 536 },
      { seq: ISS + 1537, payload: 464 },
      { seq: ISS + 2001, payload: 536 },
      { seq: ISS + 2537, payload: bytes(464, 2536) },
    ]);
    send(conn, 40, { ...P, ack: ISS + 3001 });
    conn.send(bytes(1000));
    expectSent(conn, 40, [{ seq: ISS + 3001, payload: 536 }, { seq: ISS + 3537, payload: 464 }]);
    // A larger MTU later changes nothing (no PMTU increase without probing).
    expect(conn.handleIcmpError(41, { kind: 'frag-needed', mtu: 1500 }, ISS + 3001)).to.equal(true);
    expect(conn.stats.sendMss).to.equal(536);
  });

  it('frag-needed ages out: ten minutes later the send MSS goes back up to the peer\'s, and a path still that narrow lowers it again (RFC 1191 §6.3)', () => {
    const conn = established();
    conn.send(bytes(1000));
    drain(conn, 20);
    expect(conn.handleIcmpError(30, { kind: 'frag-needed', mtu: 576 }, ISS + 1)).to.equal(true);
    expectSent(conn, 30, [{ seq: ISS + 1, payload: 536 }, { seq: ISS + 537, payload: 464 }]);
    send(conn, 40, { ...P, ack: ISS + 1001 });
    expect(conn.pollTimeout()).to.equal(30 + 600_000);
    conn.handleTimeout(600_029);
    expect(conn.stats.sendMss).to.equal(536);
    conn.handleTimeout(600_030);
    expect(conn.stats.sendMss).to.equal(1000); // the peer's MSS: full-sized segments are the probe
    expect(conn.pollTimeout()).to.equal(undefined);
    conn.send(bytes(1000, 1000));
    expectSent(conn, 600_040, [{ seq: ISS + 1001, payload: bytes(1000, 1000) }]);
    // The router still cannot carry it: back down, and again ten minutes before the next try.
    expect(conn.handleIcmpError(600_050, { kind: 'frag-needed', mtu: 576 }, ISS + 1001)).to.equal(true);
    expect(conn.stats.sendMss).to.equal(536);
    expectSent(conn, 600_050, [{ seq: ISS + 1001, payload: 536 }, { seq: ISS + 1537, payload: 464 }]);
    send(conn, 600_060, { ...P, ack: ISS + 2001 });
    expect(conn.pollTimeout()).to.equal(600_050 + 600_000);
  });

  it('frag-needed never lowers the MSS below 64 octets', () => {
    const conn = established();
    conn.send(bytes(100));
    drain(conn, 20);
    conn.handleIcmpError(30, { kind: 'frag-needed', mtu: 68 }, ISS + 1);
    expect(conn.stats.sendMss).to.equal(64);
  });

  describe('over IPv6: ICMPv6 packet too big (RFC 8201)', () => {
    // MSS 1460 in the config: 1440 over IPv6; the peer announces 1440 (a 1500-octet path).
    const CFG6: Partial<TcpConfig> = { ...TRACE_CONFIG, mss: 1460, recvBufferSize: 20_000, sendBufferSize: 20_000 };

    it('lowers the send MSS to MTU − 60 (RFC 8200 §8.3) and resends what no longer fits, without a congestion response', () => {
      const conn = established6(CFG6, { mss: 1440, window: 20_000 });
      expect(conn.stats.sendMss).to.equal(1440);
      conn.send(bytes(2880));
      expectSent(conn, 20, [{ payload: 1440 }, { payload: 1440 }]);
      const cwnd = conn.stats.cwnd;
      expect(conn.handleIcmpError(30, { kind: 'packet-too-big', mtu: 1400 }, ISS + 1)).to.equal(true);
      expect(conn.stats.sendMss).to.equal(1340);
      expect(conn.stats.cwnd).to.equal(cwnd);
      expectSent(conn, 30, [
        { seq: ISS + 1, payload: 1340 },
        { seq: ISS + 1341, payload: 100 },
        { seq: ISS + 1441, payload: 1340 },
        { seq: ISS + 2781, payload: 100 },
      ]);
    });

    it('never below the IPv6 minimum MTU: a packet too big saying 576, or 68, leaves 1280 − 60 = 1220 (RFC 8201 §4), so a forged one cannot shrink segments further', () => {
      for (const mtu of [1279, 576, 68, 0]) {
        const conn = established6(CFG6, { mss: 1440, window: 20_000 });
        conn.send(bytes(1440));
        drain(conn, 20);
        expect(conn.handleIcmpError(30, { kind: 'packet-too-big', mtu }, ISS + 1)).to.equal(true);
        expect(conn.stats.sendMss, `MTU ${mtu}`).to.equal(1220);
        expectSent(conn, 30, [{ seq: ISS + 1, payload: 1220 }, { seq: ISS + 1221, payload: 220 }]);
      }
    });

    it('the connection\'s family decides, whichever kind names the message: frag-needed on an IPv6 connection keeps the IPv6 floor, packet-too-big on an IPv4 one the IPv4 rule', () => {
      const v6 = established6(CFG6, { mss: 1440, window: 20_000 });
      v6.send(bytes(100));
      drain(v6, 20);
      v6.handleIcmpError(30, { kind: 'frag-needed', mtu: 576 }, ISS + 1);
      expect(v6.stats.sendMss).to.equal(1220);
      const v4 = established();
      v4.send(bytes(100));
      drain(v4, 20);
      v4.handleIcmpError(30, { kind: 'packet-too-big', mtu: 576 }, ISS + 1);
      expect(v4.stats.sendMss).to.equal(536);
    });

    it('ages out like RFC 1191 §6.3: ten minutes later the full MSS is tried again, and a path still narrow lowers it again', () => {
      const conn = established6(CFG6, { mss: 1440, window: 20_000 });
      conn.send(bytes(1440));
      drain(conn, 20);
      expect(conn.handleIcmpError(30, { kind: 'packet-too-big', mtu: 1280 }, ISS + 1)).to.equal(true);
      expectSent(conn, 30, [{ seq: ISS + 1, payload: 1220 }, { seq: ISS + 1221, payload: 220 }]);
      send(conn, 40, { ...P, ack: ISS + 1441 });
      expect(conn.pollTimeout()).to.equal(30 + 600_000);
      conn.handleTimeout(600_030);
      expect(conn.stats.sendMss).to.equal(1440);
      conn.send(bytes(1440, 1440));
      expectSent(conn, 600_040, [{ seq: ISS + 1441, payload: 1440 }]);
      expect(conn.handleIcmpError(600_050, { kind: 'packet-too-big', mtu: 1280 }, ISS + 1441)).to.equal(true);
      expect(conn.stats.sendMss).to.equal(1220);
    });

    it('a packet too big quoting a sequence number outside SND.UNA..SND.NXT is ignored (RFC 5927 §4.1)', () => {
      const conn = established6(CFG6, { mss: 1440, window: 20_000 });
      conn.send(bytes(1440));
      drain(conn, 20);
      expect(conn.handleIcmpError(30, { kind: 'packet-too-big', mtu: 1280 }, ISS + 1441)).to.equal(false);
      expect(conn.handleIcmpError(30, { kind: 'packet-too-big', mtu: 1280 }, ISS)).to.equal(false);
      expect(conn.stats.sendMss).to.equal(1440);
      expectNothing(conn, 30);
    });

    it('RFC 5961 holds over IPv6 as over IPv4: an in-window RST not at RCV.NXT gets a challenge ACK, one at RCV.NXT resets', () => {
      const conn = established6();
      send(conn, 20, { ...P, control: 'rst', seq: IRS + 5, ack: undefined });
      expect(conn.state).to.equal('ESTABLISHED');
      expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1 }]);
      send(conn, 21, { ...P, control: 'rst', seq: IRS + 1, ack: undefined });
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['error:ECONNRESET', 'closed']);
    });
  });

  it('an embryonic passive connection is dropped quietly by a hard error; CLOSED and TIME-WAIT ignore ICMP', () => {
    const l = new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 8, config: TRACE_CONFIG, isn: () => ISS });
    const r = l.handleSegment(0, LOCAL, REMOTE, { ...FROM_PEER, control: 'syn', seq: IRS }, NONE);
    if (r.kind !== 'connection') throw new Error('expected a connection');
    drain(r.connection, 0);
    expect(r.connection.handleIcmpError(1, { kind: 'port-unreachable' }, ISS)).to.equal(true);
    expect(events(r.connection)).to.deep.equal(['closed']);
    expect(r.connection.handleIcmpError(2, { kind: 'port-unreachable' }, ISS)).to.equal(false);
  });
});

describe('TIME-WAIT (RFC 1337, RFC 6191)', () => {
  /** TIME-WAIT with timestamps in use (TS.Recent = 600 from the peer's FIN). */
  function timeWaitTs(): TcpConnection {
    const cfg: Partial<TcpConfig> = { ...TRACE_CONFIG, timestamps: true };
    const conn = established(cfg, { timestamp: { tsVal: 500, tsEcr: 0 } });
    expect(conn.stats.timestampsEnabled).to.equal(true);
    conn.close();
    drain(conn, 20);
    send(conn, 30, { ...P, ack: ISS + 2, control: 'fin', timestamp: { tsVal: 600, tsEcr: 0 } });
    expect(conn.state).to.equal('TIME-WAIT');
    drain(conn, 30);
    expect(events(conn)).to.deep.equal(['fin-acked', 'end']);
    return conn;
  }

  it('with timestamps a newer TSval may reuse the 4-tuple whatever the sequence number; an older one may not', () => {
    const conn = timeWaitTs();
    const syn = { ...FROM_PEER, control: 'syn', seq: IRS - 1000 } as const;
    expect(conn.reusableBy({ ...syn, timestamp: { tsVal: 700, tsEcr: 0 } })).to.equal(true);
    expect(conn.reusableBy({ ...syn, seq: IRS + 100_000, timestamp: { tsVal: 599, tsEcr: 0 } })).to.equal(false);
    expect(conn.reusableBy({ ...syn, timestamp: { tsVal: 600, tsEcr: 0 } })).to.equal(false);
    expect(conn.reusableBy({ ...syn, seq: IRS + 100_000, timestamp: { tsVal: 600, tsEcr: 0 } })).to.equal(true);
    // Without a TSopt, the sequence number decides.
    expect(conn.reusableBy({ ...syn, seq: IRS + 100_000 })).to.equal(true);
    conn.handleSegment(40, { ...syn, timestamp: { tsVal: 700, tsEcr: 0 } }, NONE);
    expect(conn.state).to.equal('CLOSED');
    expect(events(conn)).to.deep.equal(['closed']);
  });

  it('RST: one not at RCV.NXT, or one PAWS rejects (an old TSval while TS.Recent is under 60 s old), is ignored without a challenge ACK; the exact one ends TIME-WAIT (Linux; RFC 1337 note in time-wait.ts)', () => {
    const conn = timeWaitTs();
    send(conn, 40, { control: 'rst', seq: IRS + 3 });
    send(conn, 40, { control: 'rst', seq: IRS + 2, timestamp: { tsVal: 599, tsEcr: 0 } });
    expectNothing(conn, 40);
    expect(conn.state).to.equal('TIME-WAIT');
    expect(conn.reusableBy({ ...FROM_PEER, control: 'none', seq: IRS + 100_000 })).to.equal(false);
    send(conn, 50, { control: 'rst', seq: IRS + 2, timestamp: { tsVal: 601, tsEcr: 0 } });
    expect(conn.state).to.equal('CLOSED');
    expect(events(conn)).to.deep.equal(['closed']);
    expectNothing(conn, 50);
  });
});
