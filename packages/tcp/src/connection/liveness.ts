/**
 * Liveness and defences: keepalive (RFC 1122 §4.2.3.6), the user timeout (RFC 9293 §3.10.8 with
 * RFC 5482 semantics, as Linux TCP_USER_TIMEOUT), the per-connection challenge-ACK limiter
 * (RFC 5961 §7), ICMP errors (RFC 1122 §4.2.3.9, RFC 5927) and path MTU discovery (RFC 1191,
 * and RFC 8201 over IPv6).
 */
import { IPV6_MIN_MTU, ipTcpOverhead } from '../address.js';
import { seqAdd, seqGe, seqGt, seqLt } from '../seq.js';
import type { Instant, TcpErrorCode, TcpIcmpError, TcpConfig } from '../types.js';
import { MIN_PEER_MSS, effectiveSendMss } from './options.js';
import type { Tcb } from './tcb.js';
import type { TimerTable } from './timers.js';

/**
 * How long a path MTU learnt from ICMP holds before larger segments are tried again (RFC 1191
 * §6.3 recommends 10 minutes; Linux's mtu_expires is 600 s).
 */
export const PMTU_EXPIRY_MS = 10 * 60 * 1000;

/**
 * `Liveness.pmtuMss` without a bound from ICMP: above any MSS (≤ 65,495), and a small integer
 * (not Infinity, which V8 would box per connection: see `caWindowStart`).
 */
const NO_PMTU_BOUND = 0x3fffffff;

/** Liveness state of one connection. */
export class Liveness {
  /**
   * Start of the current challenge-ACK rate window (undefined before the first) and challenge
   * ACKs sent in it. Not ±Infinity: a field that ever holds a non-integer is boxed (16 octets) in
   * every connection by V8; one that holds `undefined` boxes only where a time was stored.
   */
  caWindowStart: Instant | undefined = undefined;
  caCount = 0;
  /** Last time an acceptable segment arrived (keepalive idleness). */
  lastRecvAt = 0;
  keepAliveOn = false;
  keepAliveIdleMs: number;
  kaProbesSent = 0;
  kaProbePending = false;
  userTimeoutMs: number;
  /** Since when data has been outstanding without the peer acknowledging anything new (or held by a zero window). */
  stallSince: Instant | undefined;
  /** Send MSS bound learnt from ICMP frag-needed (RFC 1191), options included; `NO_PMTU_BOUND` when none. */
  pmtuMss = NO_PMTU_BOUND;
  softErr: TcpErrorCode | undefined;

  constructor(config: TcpConfig) {
    this.keepAliveIdleMs = config.keepAliveIdleMs;
    this.userTimeoutMs = config.userTimeoutMs;
  }

  /** Sets (or clears) the start of a stall and with it the user timer. */
  stall(since: Instant | undefined, timers: TimerTable): void {
    this.stallSince = since;
    timers.set('user', this.userTimeoutMs > 0 && since !== undefined ? since + this.userTimeoutMs : undefined);
  }

  /** Starts the stall clock unless it runs already. */
  stallFrom(now: Instant, timers: TimerTable): void {
    if (this.stallSince === undefined) this.stall(now, timers);
  }

  /** A new user timeout (0 = off); the deadline follows. */
  setUserTimeout(ms: number, timers: TimerTable): void {
    this.userTimeoutMs = ms;
    this.stall(this.stallSince, timers);
  }
}

/** RFC 5961 §3–§5 challenge ACK, at most `challengeAckLimit` per `challengeAckWindowMs` (§7). */
export function challengeAck(t: Tcb, now: Instant): void {
  const live = t.live;
  const limit = t.config.challengeAckLimit;
  if (limit > 0) {
    if (live.caWindowStart === undefined || now - live.caWindowStart >= t.config.challengeAckWindowMs) {
      live.caWindowStart = now;
      live.caCount = 0;
    }
    if (live.caCount >= limit) {
      t.counters.challengeAcksSuppressed++;
      return;
    }
    live.caCount++;
  }
  t.counters.challengeAcks++;
  t.rcv.ackNow = true;
}

/** An acceptable segment arrived: the peer is alive, keepalive idleness restarts. */
export function peerAlive(t: Tcb, now: Instant): void {
  const live = t.live;
  live.lastRecvAt = now;
  if (t.timers.armed('keepalive') || live.kaProbesSent > 0) {
    live.kaProbesSent = 0;
    t.timers.set('keepalive', live.keepAliveOn && t.traits.keepAliveTimer ? now + live.keepAliveIdleMs : undefined);
  }
}

/** Keepalive timer (RFC 1122 §4.2.3.6). */
export function onKeepAliveTimeout(t: Tcb, now: Instant): void {
  const live = t.live;
  if (!live.keepAliveOn || !t.traits.keepAliveTimer) return;
  // Probe only an idle connection: with data outstanding or waiting, the retransmission and
  // persist timers watch the peer (as Linux does).
  if (!t.traits.keepAliveProbes || seqGt(t.snd.max, t.snd.una) || t.snd.buf.length > 0) {
    live.kaProbesSent = 0;
    t.timers.set('keepalive', now + live.keepAliveIdleMs);
    return;
  }
  if (live.kaProbesSent >= t.config.keepAliveProbes) {
    // As Linux: tell the peer (should it come back) with a RST, report ETIMEDOUT.
    t.finalRst = t.rstRepr(t.snd.max);
    t.toClosed('ETIMEDOUT');
    return;
  }
  live.kaProbesSent++;
  t.counters.keepAliveProbes++;
  live.kaProbePending = true;
  t.timers.set('keepalive', now + t.config.keepAliveIntervalMs);
}

/** User timer: RFC 9293 §3.10.8 USER TIMEOUT: "flush all queues, signal the user ... and enter CLOSED". */
export function onUserTimeout(t: Tcb): void {
  if (seqGt(t.snd.max, t.snd.una) || t.snd.zeroWindowBlocked(t.traits.transmitsData)) {
    t.toClosed('ETIMEDOUT');
    return;
  }
  t.live.stall(undefined, t.timers);
}

/**
 * An ICMP error about this connection (see `TcpConnection.handleIcmpError`). Returns whether it
 * was accepted: only when SND.UNA =< seq < SND.NXT (RFC 5927 §4.1).
 */
export function handleIcmpError(t: Tcb, now: Instant, error: TcpIcmpError, seq: number): boolean {
  if (!t.traits.icmpApplies) return false;
  const q = seq >>> 0;
  if (!(seqGe(q, t.snd.una) && seqLt(q, t.snd.max))) return false;
  t.counters.icmpErrors++;
  if (error.kind === 'frag-needed' || error.kind === 'packet-too-big') {
    onFragNeeded(t, now, error.mtu);
    return true;
  }
  const code: TcpErrorCode = error.kind === 'port-unreachable' ? 'ECONNREFUSED' : error.kind === 'host-unreachable' ? 'EHOSTUNREACH' : 'ENETUNREACH';
  const s = t.st;
  if (s === 'SYN-SENT' || (s === 'SYN-RECEIVED' && t.passive)) {
    t.toClosed(code);
    return true;
  }
  t.live.softErr = code;
  return true;
}

/**
 * RFC 1191: ICMP "fragmentation needed", or RFC 8201: ICMPv6 "packet too big", quoting one of our
 * segments. The rules are the connection's family's, whichever message named them.
 */
function onFragNeeded(t: Tcb, now: Instant, mtu: number): void {
  if (!Number.isFinite(mtu)) return;
  const live = t.live;
  const snd = t.snd;
  // 40 octets of IPv4 and TCP headers, 60 of IPv6 and TCP (RFC 8200 §8.3); options count within
  // the MSS (RFC 6691). RFC 8201 §4: an IPv6 path MTU is never taken below 1280, so the bound
  // stays at or above 1220 whatever the message says.
  const v4 = typeof t.remote.addr === 'number';
  const floor = v4 ? MIN_PEER_MSS : IPV6_MIN_MTU - ipTcpOverhead(6);
  const bound = Math.max(floor, Math.floor(mtu) - ipTcpOverhead(v4 ? 4 : 6));
  if (bound >= live.pmtuMss) return;
  live.pmtuMss = bound;
  // RFC 1191 §6.3: the estimate ages; the path may have grown since.
  t.timers.set('pmtuRaise', now + PMTU_EXPIRY_MS);
  const mss = effectiveSendMss(bound, t.config, t.opt.ts);
  if (t.traits.handshake || mss >= snd.mss) return;
  snd.mss = mss;
  // The segments that no longer fit were dropped by the router: resend them now in pieces,
  // without a congestion response (the loss was not congestion).
  const sb = t.rec.sb;
  if (sb.count > 0 && sb.resegment(mss) > 0) {
    t.counters.lostSegments++;
    t.rec.fastRetransmitPending = true;
    t.timers.arm('retransmit', now + t.rtt.rtoMs);
  }
}

/** Keepalive probe <SEQ=SND.NXT−1> (RFC 1122 §4.2.3.6): its sequence number. */
export function keepAliveProbeSeq(t: Tcb): number {
  return seqAdd(t.snd.max, -1);
}

/**
 * RFC 1191 §6.3: the path MTU learnt from ICMP has aged out. Segments go back to the peer's MSS;
 * they are the probe: if the path is still narrow a router answers with frag-needed again and
 * the MSS drops back (and ages again), else the larger segments just work.
 */
export function onPmtuExpired(t: Tcb): void {
  t.live.pmtuMss = NO_PMTU_BOUND;
  if (t.traits.handshake) return; // the handshake's options are still to come, and take no bound now
  const mss = effectiveSendMss(t.snd.peerMss, t.config, t.opt.ts);
  if (mss > t.snd.mss) t.snd.mss = mss;
}
