/**
 * A connection's counters, declared once: the engine increments the fields of one `TcpCounters`
 * object, and `conn.stats` is a copy of it plus the estimator values of the moment (`TcpStats`).
 */
import type { TcpCongestionControlName, TcpState } from '../types.js';

/** Event counters of one connection (each only ever grows). */
export class TcpCounters {
  /** Number of RTT samples taken (Karn: never from retransmitted data, unless timestamps disambiguate). */
  rttSamples = 0;
  /** Segments ever marked lost (RACK, duplicate ACKs, partial ACKs, RTOs). */
  lostSegments = 0;
  /** Segments resent, for any reason (tail loss probes of old data included). */
  retransmits = 0;
  /** Retransmission timer expiries. */
  rtoCount = 0;
  /** Loss recovery episodes started by duplicate ACKs or SACK/RACK, plus NewReno partial-ACK retransmits. */
  fastRetransmits = 0;
  /** Tail loss probes sent (RFC 8985 §7). */
  tlpProbes = 0;
  /** D-SACK blocks received (RFC 2883): the peer got a segment twice. */
  dsacksReceived = 0;
  /** Segments handed to `handleSegment`. */
  segmentsIn = 0;
  /** Segments returned by `pollTransmit`. */
  segmentsOut = 0;
  /** Duplicate ACKs received (RFC 5681 §2 definition). */
  dupAcksIn = 0;
  /** Segments that arrived beyond RCV.NXT. */
  outOfOrderSegments = 0;
  /** Segments that failed the acceptability test (answered with an ACK when not RST). */
  unacceptableSegments = 0;
  /** Segments rejected by PAWS (RFC 7323 §5.3 R1). */
  pawsRejected = 0;
  /** Challenge ACKs sent (RFC 5961 §3–§5: in-window RST, SYN, unacceptable ACK). */
  challengeAcks = 0;
  /** Challenge ACKs not sent because of the per-connection limit (RFC 5961 §7). */
  challengeAcksSuppressed = 0;
  /** Keepalive probes sent (RFC 1122 §4.2.3.6). */
  keepAliveProbes = 0;
  /** ICMP errors accepted by `handleIcmpError` (quoted sequence number within SND.UNA..SND.NXT). */
  icmpErrors = 0;
  /** Zero-window probes sent. */
  persistProbes = 0;
  /** Pure window updates triggered by `recv()`. */
  windowUpdates = 0;
  /**
   * Times new data waited for a fuller super-packet (`sendQuantum`, as Linux's
   * `tcp_tso_should_defer`): each wait counts once, however many drains it lasts.
   */
  sendsDeferred = 0;
  /** Application octets the peer acknowledged (SYN and FIN not counted; Linux's tcpi_bytes_acked). */
  bytesAcked = 0;
  /** Payload octets sent, retransmissions and probes included (Linux's tcpi_bytes_sent). */
  bytesSent = 0;
  /** Payload octets resent (Linux's tcpi_bytes_retrans). */
  bytesRetransmitted = 0;
  /** Application octets made readable. */
  bytesReceived = 0;
  /** Segments received with the IP CE codepoint (RFC 3168). */
  ceReceived = 0;
  /** ACKs received with ECE (RFC 3168 §6.1.2). */
  eceReceived = 0;
  /** Congestion window reductions in response to ECE. */
  ecnReductions = 0;
}

/** The sender is idle: nothing in flight, nothing queued. Not counted. */
export const LIMIT_IDLE = 0;
/** Everything the application queued is sent; the sender waits for more (Linux's sndbuf_limited). */
export const LIMIT_APP = 1;
/** Data waits for the peer's receive window (Linux's rwnd_limited). */
export const LIMIT_RWND = 2;
/** Data waits for the congestion window, or leaves as fast as it may (Linux's busy time less the other two). */
export const LIMIT_CWND = 3;
/** One of the `LIMIT_*` states of {@link LimitClock}. */
export type LimitState = typeof LIMIT_IDLE | typeof LIMIT_APP | typeof LIMIT_RWND | typeof LIMIT_CWND;

/**
 * What limits the sender, and for how long each limit held (in the spirit of Linux's
 * `tcp_chrono_*`, which feeds tcpi_busy_time, tcpi_rwnd_limited and tcpi_sndbuf_limited).
 * The output path reports the limit each time it decides how much may leave; the time between
 * two reports is charged to the earlier limit. Idle time (nothing in flight or queued) is not
 * charged. No allocation: four numbers in a fixed array.
 */
export class LimitClock {
  /** The limit in force since `since`. */
  state: LimitState = LIMIT_IDLE;
  /** When `state` began, in the engine's ms. */
  since = 0;
  /** The latest instant the output path reported (the open period is counted up to it). */
  lastNow = 0;
  /** Ms charged to each closed period, indexed by `LimitState`; made when the first period closes. */
  totals: number[] | undefined = undefined;

  /** The limit at `now` is `state` (RFC-free bookkeeping; called from the output path). */
  enter(state: LimitState, now: number): void {
    if (now > this.lastNow) this.lastNow = now;
    if (state === this.state) return;
    if (this.state !== LIMIT_IDLE) {
      const totals = (this.totals ??= [0, 0, 0, 0]);
      totals[this.state] = (totals[this.state] ?? 0) + Math.max(0, now - this.since);
    }
    this.state = state;
    this.since = now;
  }

  /** Ms spent in `state`, the open period included up to the last report. */
  total(state: LimitState): number {
    const open = this.state === state && state !== LIMIT_IDLE ? Math.max(0, this.lastNow - this.since) : 0;
    return (this.totals?.[state] ?? 0) + open;
  }
}

/** Counters and estimator values of one connection; a snapshot, read with `conn.stats` (in the spirit of `ss -ti`). */
export interface TcpStats extends Readonly<TcpCounters> {
  /** The RFC 9293 state. */
  readonly state: TcpState;
  /** Smoothed RTT (RFC 6298), 0 before the first sample. */
  readonly srttMs: number;
  /** RTT variance (RFC 6298), 0 before the first sample. */
  readonly rttvarMs: number;
  /** Smallest RTT seen (RACK.min_RTT), 0 before the first sample. */
  readonly minRttMs: number;
  /** Current retransmission timeout, backoff included. */
  readonly rtoMs: number;
  /** Congestion controller in use. */
  readonly congestionControl: TcpCongestionControlName;
  /** Congestion window in octets. */
  readonly cwnd: number;
  /** Slow-start threshold in octets (0x7fffffff until the first loss). */
  readonly ssthresh: number;
  /** In loss recovery (fast recovery or after an RTO). */
  readonly inRecovery: boolean;
  /**
   * Effective send MSS: data octets per full segment, min(peer's MSS option or 536, config.mss)
   * less the 12 octets of a negotiated timestamps option (RFC 6691 §2; Linux's 1448).
   */
  readonly sendMss: number;
  /** Octets sent and not yet acknowledged (SND.MAX − SND.UNA). */
  readonly bytesInFlight: number;
  /** RFC 6675 pipe: octets presumed in the network (in flight − SACKed − lost + retransmitted). */
  readonly pipe: number;
  /** Octets currently SACKed by the peer above SND.UNA. */
  readonly sackedBytes: number;
  /** Octets currently presumed lost and awaiting retransmission or its ACK. */
  readonly lostBytes: number;
  /** The peer's current window (SND.WND, scaled). */
  readonly sendWindow: number;
  /** The window we last advertised, measured from RCV.NXT (scaled). */
  readonly recvWindow: number;
  /** Out-of-order octets held right now. */
  readonly outOfOrderBytes: number;
  /** Acknowledged octets per second over the last round trip (0 before one completed). */
  readonly deliveryRateBps: number;
  /** Window scale shift applied to the peer's windows (RFC 7323), -1 when not negotiated. */
  readonly sendWindowScale: number;
  /** Window scale shift applied to our windows, -1 when not negotiated. */
  readonly recvWindowScale: number;
  /** SACK negotiated (RFC 2018). */
  readonly sackEnabled: boolean;
  /** Timestamps negotiated (RFC 7323). */
  readonly timestampsEnabled: boolean;
  /** ECN negotiated (RFC 3168). */
  readonly ecnEnabled: boolean;
  /** Nagle's algorithm disabled. */
  readonly noDelay: boolean;
  /** The MSS we announced in our SYN: the largest segment we accept (Linux's tcpi_advmss). */
  readonly recvMss: number;
  /** Ms with data in flight or waiting to be sent (Linux's tcpi_busy_time). */
  readonly busyTimeMs: number;
  /** Ms the sender had sent all the application had queued, with data in flight (Linux's tcpi_sndbuf_limited). */
  readonly appLimitedMs: number;
  /** Ms data waited for the peer's receive window (Linux's tcpi_rwnd_limited). */
  readonly rwndLimitedMs: number;
  /** Ms data waited for cwnd or left as fast as allowed: busy less app- and rwnd-limited time. */
  readonly cwndLimitedMs: number;
}
