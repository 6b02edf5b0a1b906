/**
 * One TCP connection as a sans-IO state machine: the TCB of RFC 9293 and nothing else. It never
 * reads a clock, never does I/O, draws no random numbers and never allocates per segment beyond
 * the outgoing Repr (and its option objects).
 *
 * RFCs a reader must know (section numbers are cited at each rule below):
 * - RFC 9293  TCP itself: states (§3.3.2), sequence space (§3.4), the segment acceptability test
 *             and the SEGMENT ARRIVES processing order (§3.10.7), window management (§3.8.6),
 *             MSS option (§3.7.1), Nagle (§3.7.4), TIME-WAIT (§3.6.1).
 * - RFC 7323  window scale (§2), timestamps: RTTM (§4) and PAWS (§5).
 * - RFC 2018  SACK option; RFC 6675 SACK-based loss recovery (pipe, NextSeg);
 *             RFC 8985 RACK-TLP (time-based loss detection, tail loss probe). See scoreboard.ts.
 * - RFC 3168  ECN: negotiation (§6.1.1), ECT on data, ECE/CWR (§6.1.2–§6.1.5).
 * - RFC 5961  blind-attack mitigations: a RST resets only at exactly RCV.NXT, in-window ones earn
 *             a challenge ACK (§3); challenge ACK for a SYN in a synchronized state (§4); ACK
 *             acceptability bounds (§5); challenge ACKs rate-limited per connection (§7).
 * - RFC 1337  TIME-WAIT ignores RST; RFC 6191 a new SYN may reuse a TIME-WAIT 4-tuple.
 * - RFC 1122  §4.2.3.6 keepalive; RFC 5482 / RFC 9293 §3.10.8 user timeout;
 *             RFC 1122 §4.2.3.9 / RFC 5927 ICMP errors; RFC 1191 path MTU discovery.
 * - RFC 6298  retransmission timer: SRTT/RTTVAR, backoff, Karn's algorithm.
 * - RFC 5681  congestion control; RFC 6582 NewReno; RFC 9438 CUBIC; RFC 9406 HyStart++;
 *             RFC 3465 ABC; RFC 6928 initial window. See congestion.ts.
 * - RFC 1122  §4.2.3.2 delayed ACK, §4.2.3.3/§4.2.3.4 silly-window avoidance and Nagle.
 *
 * Model. Inputs: `handleSegment`, `handleTimeout`. Commands: `send`, `recv`, `close`, `abort`,
 * `setNoDelay`. Outputs: `pollTransmit` (one segment per call), `pollEvent`, `pollTimeout`.
 * After any input or command the owner drains transmits, then events, then re-reads the deadline.
 *
 * Send side. The send buffer holds every octet from SND.UNA (or from ISS+1 while the SYN is
 * unacknowledged); `bufSeq` is the sequence number of its first octet and `bufOff` its stream
 * offset (octets since the first data octet). `sndMax` (= `sndNxt` once synchronized) is the
 * RFC's SND.NXT: new data always goes out from there. Every data segment sent is recorded in the
 * scoreboard (scoreboard.ts) with its transmit time; retransmissions are always of recorded
 * segments that are marked lost (by RACK, three duplicate ACKs, a NewReno partial ACK or an RTO)
 * and are sent, like new data, while pipe < cwnd (RFC 6675 §5), the first one of a recovery
 * episode at once (RFC 5681 §3.2 step 2, RFC 6675 §5 step 4.3).
 *
 * Receive side. Out-of-order data is stored in place in the receive ring (recv-buffer.ts); the
 * right edge RCV.NXT + RCV.WND we advertised is remembered in `rcvAdvRight` and never moves left.
 */
import { MAX_UNSCALED_WINDOW, chooseWindowScale, resolveTcpConfig } from './config.js';
import { createCongestionControl, initialWindow, type AckContext, type CongestionControl } from './congestion.js';
import { TcpUsageError } from './errors.js';
import { RecvBuffer } from './recv-buffer.js';
import { RttEstimator } from './rtt.js';
import { FIN, SACKED, Scoreboard, newRackState, type RackState } from './scoreboard.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from './seq.js';
import type {
  Endpoint,
  Instant,
  SackBlock,
  TcpCongestionControlName,
  TcpConfig,
  TcpControl,
  TcpErrorCode,
  TcpEvent,
  TcpIcmpError,
  TcpRepr,
  TcpState,
  Transmit,
} from './types.js';

/** Counters and estimator values of one connection; a snapshot, read with `conn.stats` (in the spirit of `ss -ti`). */
export interface TcpStats {
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
  /** Number of RTT samples taken (Karn: never from retransmitted data, unless timestamps disambiguate). */
  readonly rttSamples: number;
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
  /** Segments ever marked lost (RACK, duplicate ACKs, partial ACKs, RTOs). */
  readonly lostSegments: number;
  /** The peer's current window (SND.WND, scaled). */
  readonly sendWindow: number;
  /** The window we last advertised, measured from RCV.NXT (scaled). */
  readonly recvWindow: number;
  /** Segments resent, for any reason (tail loss probes of old data included). */
  readonly retransmits: number;
  /** Retransmission timer expiries. */
  readonly rtoCount: number;
  /** Loss recovery episodes started by duplicate ACKs or SACK/RACK, plus NewReno partial-ACK retransmits. */
  readonly fastRetransmits: number;
  /** Tail loss probes sent (RFC 8985 §7). */
  readonly tlpProbes: number;
  /** D-SACK blocks received (RFC 2883): the peer got a segment twice. */
  readonly dsacksReceived: number;
  /** Segments handed to `handleSegment`. */
  readonly segmentsIn: number;
  /** Segments returned by `pollTransmit`. */
  readonly segmentsOut: number;
  /** Duplicate ACKs received (RFC 5681 §2 definition). */
  readonly dupAcksIn: number;
  /** Out-of-order octets held right now. */
  readonly outOfOrderBytes: number;
  /** Segments that arrived beyond RCV.NXT. */
  readonly outOfOrderSegments: number;
  /** Segments that failed the acceptability test (answered with an ACK when not RST). */
  readonly unacceptableSegments: number;
  /** Segments rejected by PAWS (RFC 7323 §5.3 R1). */
  readonly pawsRejected: number;
  /** Challenge ACKs sent (RFC 5961 §3–§5: in-window RST, SYN, unacceptable ACK). */
  readonly challengeAcks: number;
  /** Challenge ACKs not sent because of the per-connection limit (RFC 5961 §7). */
  readonly challengeAcksSuppressed: number;
  /** Keepalive probes sent (RFC 1122 §4.2.3.6). */
  readonly keepAliveProbes: number;
  /** ICMP errors accepted by `handleIcmpError` (quoted sequence number within SND.UNA..SND.NXT). */
  readonly icmpErrors: number;
  /** Zero-window probes sent. */
  readonly persistProbes: number;
  /** Pure window updates triggered by `recv()`. */
  readonly windowUpdates: number;
  /** Application octets the peer acknowledged. */
  readonly bytesAcked: number;
  /** Application octets made readable. */
  readonly bytesReceived: number;
  /** Acknowledged octets per second over the last round trip (0 before one completed). */
  readonly deliveryRateBps: number;
  /** Segments received with the IP CE codepoint (RFC 3168). */
  readonly ceReceived: number;
  /** ACKs received with ECE (RFC 3168 §6.1.2). */
  readonly eceReceived: number;
  /** Congestion window reductions in response to ECE. */
  readonly ecnReductions: number;
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
}

/** Receive-side bound on disjoint out-of-order ranges (each costs a scan on insert). */
const MAX_OOO_RANGES = 64;
/** RFC 9293 §3.7.1: the MSS to assume when the peer sent no MSS option. */
const DEFAULT_PEER_MSS = 536;
/** Floor for a peer-announced MSS, so a hostile tiny MSS cannot make us send 1-octet segments. */
const MIN_PEER_MSS = 64;
/** Most duplicate ACKs emitted in one drain for out-of-order arrivals (peers without SACK). */
const MAX_DUP_ACKS_PER_DRAIN = 16;
/** RFC 5681 §3.2: fast retransmit on the third duplicate ACK (DupThresh, RFC 6675 §2). */
const DUP_THRESH = 3;
/** Data segments acknowledged at once at the start of a connection (Linux's quick-ACK mode). */
const QUICK_ACK_SEGMENTS = 16;
/** RFC 7323 §5.5: TS.Recent idle for more than 24 days is invalid (PAWS_IDLE). */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** RFC 8985 §7.2: worst-case delayed-ACK time assumed for the peer when one segment is in flight. */
const TLP_WC_DEL_ACK_MS = 200;
/** Most SACK blocks per segment (RFC 2018 §3: 4, or 3 with timestamps). */
const MAX_SACK_BLOCKS = 4;
/** NOP, NOP, Timestamps (RFC 7323 Appendix A layout). */
const TIMESTAMP_OPTION_LENGTH = 12;
/** NOP, NOP, kind, length of a SACK option, and each block. */
const SACK_OPTION_BASE = 4;
const SACK_BLOCK_LENGTH = 8;

const EMPTY = new Uint8Array(0);
const EV_CONNECTED: TcpEvent = Object.freeze({ type: 'connected' });
const EV_READABLE: TcpEvent = Object.freeze({ type: 'readable' });
const EV_WRITABLE: TcpEvent = Object.freeze({ type: 'writable' });
const EV_END: TcpEvent = Object.freeze({ type: 'end' });
const EV_FIN_ACKED: TcpEvent = Object.freeze({ type: 'fin-acked' });
const EV_CLOSED: TcpEvent = Object.freeze({ type: 'closed' });

function earliest(a: Instant | undefined, b: Instant | undefined): Instant | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

/** A fixed mix of the ISS, used as the timestamp offset when the caller supplies none. */
function mixOffset(x: number): number {
  let h = Math.imul(x ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Options of {@link TcpConnection.connect}. */
export interface ConnectOptions {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** Initial send sequence number (RFC 9293 §3.4.1; the caller supplies it, e.g. RFC 6528). */
  readonly iss: number;
  readonly config?: Partial<TcpConfig> | undefined;
  /**
   * Random per-connection offset added to the millisecond clock to form TSval (RFC 7323 §5.4,
   * §7.1: hides the clock and makes TSvals of different connections unrelated). The caller draws
   * it; when absent a mix of `iss` is used.
   */
  readonly tsOffset?: number | undefined;
}

/**
 * TCP options a cookie SYN-ACK agreed with the peer, as the listener decodes them from the TSecr
 * of the ACK (see listener.ts). Timestamps are implied: they are what carried these.
 */
export interface CookieAgreedOptions {
  /** The peer's window shift from its SYN (0–14), or undefined without window scaling. */
  readonly windowScale: number | undefined;
  /** Both sides sent SACK-permitted (RFC 2018 §2). */
  readonly sackPermitted: boolean;
  /** ECN setup SYN and SYN-ACK were exchanged (RFC 3168 §6.1.1). */
  readonly ecn: boolean;
}

/** Options of {@link TcpConnection.fromCookie}. */
export interface CookieOptions extends ConnectOptions {
  /** The ACK completing the handshake (SEG.ACK − 1 = `iss`, the cookie; SEG.SEQ − 1 = the peer's ISN). */
  readonly ack: TcpRepr;
  /** The peer's MSS as decoded from the cookie. */
  readonly mss: number;
  /**
   * Options agreed by a cookie SYN-ACK that offered timestamps; `ack` must then carry a
   * timestamp (its TSval becomes TS.Recent). Absent: a cookie without options (MSS only).
   * `tsOffset` must be the one the cookie SYN-ACK's TSval was made with.
   */
  readonly options?: CookieAgreedOptions | undefined;
}

/** Options of {@link TcpConnection.accept}. */
export interface AcceptOptions extends ConnectOptions {
  /** The SYN that opened the connection. */
  readonly syn: TcpRepr;
}

/** A TCP connection engine (see the file comment for the model). */
export class TcpConnection {
  /** Our address and port. */
  readonly local: Endpoint;
  /** The peer's address and port. */
  readonly remote: Endpoint;
  /** The resolved configuration. */
  readonly config: TcpConfig;

  private st: TcpState = 'CLOSED';
  private readonly passive: boolean;
  private readonly iss: number;
  private irs = 0;

  // ---- negotiated options ----
  private sackOk = false;
  private tsOk = false;
  private ecnOk = false;
  /** Shift we offer (−1: no Window Scale option). */
  private readonly wsOffered: number;
  /** Shift applied to the peer's window fields / to ours; both 0 unless negotiated (RFC 7323 §2.2). */
  private sndWscale = 0;
  private rcvWscale = 0;
  private wsOk = false;
  private readonly tsOffset: number;
  /** RFC 7323 §4.3: TS.Recent, when it was set, and Last.ACK.sent. */
  private tsRecent = 0;
  private tsRecentAt = 0;
  private lastAckSent = 0;
  private ecnSynSent = false;
  private noDelayOn: boolean;

  // ---- send sequence space (RFC 9293 §3.3.1) ----
  private sndUna: number;
  private sndNxt: number;
  private sndMax: number;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private maxSndWnd = 0;
  private bufSeq: number;
  /** Stream offset of `bufSeq` (data octets acknowledged so far). */
  private bufOff = 0;
  private readonly sendBuf: SendBuffer;
  /** Data octets of a full-sized segment: the MSS less the timestamps option (RFC 6691). */
  private sendMss: number;
  private closeRequested = false;
  private finQueued = false;
  private finSeq = 0;
  private finAcked = false;
  private cc: CongestionControl;
  private readonly rtt: RttEstimator;
  private readonly sb = new Scoreboard();
  private rack: RackState | undefined;
  private ackCtx: AckContext | undefined;
  /** SYN RTT timing (the SYN is not in the scoreboard). */
  private rttSeq: number | undefined;
  private rttStart = 0;
  private rtoRetries = 0;
  private synRetransmitted = false;
  private dupAcks = 0;
  /** Retransmit the first lost segment regardless of pipe (start of a recovery episode). */
  private fastRetransmitPending = false;
  /** After an RTO until SND.MAX at that time is acknowledged (RFC 8985 "RTO recovery"). */
  private rtoRecoverySeq: number | undefined;
  private probePending = false;
  private probeEnd: number | undefined;
  private persistBackoff = 0;
  private unansweredProbes = 0;
  /** Minshall's Nagle variant: end of the last sub-MSS segment sent (RFC 1122 §4.2.3.4). */
  private sndSml: number;
  /** RFC 8985 §7: probe due, the end of the outstanding probe (−1: none), whether it resent old data. */
  private tlpPending = false;
  private tlpEndSeq = -1;
  private tlpIsRetrans = false;
  private tlpDsack = false;
  /** ECN sender side: CWR due on the next new data segment; no new reduction before this ACK. */
  private cwrPending = false;
  private ecnRecover: number;
  /** Delivery rate sampling: octets acknowledged since `rateStart`, round end. */
  private rateDelivered = 0;
  private rateStart = 0;
  private rateRoundEnd: number;
  private deliveryRate = 0;

  // ---- receive sequence space ----
  private rcvNxt = 0;
  private rcvAdvRight = 0;
  private readonly synWindow: number;
  private readonly recvBuf: RecvBuffer;
  private readonly swsThreshold: number;
  private peerFinSeq: number | undefined;
  private peerFinReceived = false;
  private ackNow = false;
  private ackDeadline: Instant | undefined;
  private unackedBytes = 0;
  private dupAcksOwed = 0;
  /** Largest segment the peer sent so far (Linux's rcv_mss), for "every second full-sized segment". */
  private rcvMss: number;
  private quickAcks = QUICK_ACK_SEGMENTS;
  /** We sent data since the peer's previous data segment: a reply will likely carry the ACK. */
  private sentSinceRecv = false;
  /** ECN receiver side: echo ECE until the peer's CWR (RFC 3168 §6.1.3). */
  private eceEcho = false;
  /** Stream offsets of the latest out-of-order arrivals, newest first (RFC 2018 §4 block order). */
  private sackRecent: number[] | undefined;

  // ---- timers (absolute deadlines; undefined = disarmed) ----
  private rtxDeadline: Instant | undefined;
  private persistDeadline: Instant | undefined;
  private timeWaitDeadline: Instant | undefined;
  private finWait2Deadline: Instant | undefined;
  /** No application holds this connection any more (`orphan()`): FIN-WAIT-2 is bounded. */
  private orphaned = false;
  /** RACK reordering timer (RFC 8985 §6.2 step 5). */
  private reoDeadline: Instant | undefined;
  /** Tail loss probe timeout (RFC 8985 §7.2). */
  private tlpDeadline: Instant | undefined;

  // ---- output queues ----
  private readonly replies: TcpRepr[] = [];
  private finalRst: TcpRepr | undefined;
  private readonly events: TcpEvent[] = [];
  private eventHead = 0;
  private readablePending = false;
  private writablePending = false;
  private closedEmitted = false;

  // ---- counters ----
  private nRetransmits = 0;
  private nRto = 0;
  private nFastRetransmits = 0;
  private nSegmentsIn = 0;
  private nSegmentsOut = 0;
  private nDupAcksIn = 0;
  private nOooSegments = 0;
  private nUnacceptable = 0;
  private nChallengeAcks = 0;
  private nProbes = 0;
  private nWindowUpdates = 0;
  private nBytesAcked = 0;
  private nBytesReceived = 0;
  private nRttSamples = 0;
  private nLost = 0;
  private nTlp = 0;
  private nDsack = 0;
  private nPaws = 0;
  private nCe = 0;
  private nEce = 0;
  private nEcnReductions = 0;
  private nChallengeSuppressed = 0;
  private nKeepAliveProbes = 0;
  private nIcmpErrors = 0;

  // ---- defences and liveness (RFC 5961 §7, RFC 1122 §4.2.3.6, RFC 5482, RFC 1191) ----
  /** Start of the current challenge-ACK rate window and challenge ACKs sent in it. */
  private caWindowStart = -Infinity;
  private caCount = 0;
  /** Last time an acceptable segment arrived (keepalive idleness). */
  private lastRecvAt = 0;
  private keepAliveOn = false;
  private keepAliveIdleMs: number;
  private kaDeadline: Instant | undefined;
  private kaProbesSent = 0;
  private kaProbePending = false;
  private userTimeoutMs: number;
  /** Since when data has been outstanding without the peer acknowledging anything new (or held by a zero window). */
  private stallSince: Instant | undefined;
  /** Send MSS bound learnt from ICMP frag-needed (RFC 1191), options included. */
  private pmtuMss = Infinity;
  private softErr: TcpErrorCode | undefined;

  private constructor(local: Endpoint, remote: Endpoint, iss: number, config: TcpConfig, passive: boolean, tsOffset: number | undefined) {
    this.local = local;
    this.remote = remote;
    this.config = config;
    this.passive = passive;
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.sndSml = this.iss;
    this.ecnRecover = this.iss;
    this.rateRoundEnd = this.iss;
    this.bufSeq = seqAdd(this.iss, 1);
    this.tsOffset = (tsOffset ?? mixOffset(this.iss)) >>> 0;
    this.noDelayOn = config.noDelay;
    this.keepAliveIdleMs = config.keepAliveIdleMs;
    this.userTimeoutMs = config.userTimeoutMs;
    this.wsOffered = config.windowScaling ? chooseWindowScale(config) : -1;
    this.sendBuf = new SendBuffer(config.sendBufferSize);
    // Slack of one scale unit: a window rounded up to the scale granularity (RFC 7323 §2.4) still fits.
    this.recvBuf = new RecvBuffer(config.recvBufferSize + (this.wsOffered > 0 ? (1 << this.wsOffered) - 1 : 0));
    this.synWindow = Math.min(config.recvBufferSize, MAX_UNSCALED_WINDOW);
    // RFC 1122 §4.2.3.3: open the window only in steps of min(buffer/2, MSS).
    this.swsThreshold = Math.max(1, Math.min(config.mss, Math.floor(config.recvBufferSize / 2)));
    this.sendMss = Math.min(DEFAULT_PEER_MSS, config.mss);
    this.rcvMss = Math.min(DEFAULT_PEER_MSS, config.mss);
    this.rtt = new RttEstimator(config.rtoInitialMs, config.rtoMinMs, config.rtoMaxMs);
    // Replaced once the handshake fixes the MSS; only its recovery point matters before that.
    this.cc = createCongestionControl(config.congestionControl, config.mss, config.mss, this.iss);
  }

  /** Active open (RFC 9293 §3.10.1): the connection starts in SYN-SENT with its SYN queued for `pollTransmit`. */
  static connect(_now: Instant, opts: ConnectOptions): TcpConnection {
    const conn = new TcpConnection(opts.local, opts.remote, opts.iss, resolveTcpConfig(opts.config), false, opts.tsOffset);
    conn.lastRecvAt = _now;
    conn.setState('SYN-SENT');
    return conn;
  }

  /**
   * Passive open completed by a SYN cookie (RFC 4987 §3.6): the listener answered the SYN
   * statelessly with ISN `iss` and now holds the ACK that returned it. The connection starts in
   * ESTABLISHED with `connected` pending. With `options` (the SYN-ACK offered timestamps and the
   * ACK echoed the choices) window scaling (our shift: the config's choice), SACK, timestamps
   * (TS.Recent from the ACK's TSval) and ECN are on as agreed; without, they are all off. Data
   * or FIN on `ack` is not processed here: hand the segment to `handleSegment` afterwards (the
   * listener does).
   * @throws TcpUsageError `ERR_INVALID_ARG_VALUE` when `options` is given and `ack` carries no
   * timestamp, or the window shift is not an integer in [0, 14].
   */
  static fromCookie(now: Instant, opts: CookieOptions): TcpConnection {
    const o = opts.options;
    const seg = opts.ack;
    if (o !== undefined) {
      if (seg.timestamp === undefined) throw new TcpUsageError('ERR_INVALID_ARG_VALUE', 'cookie options need an ACK with a timestamp');
      const ws = o.windowScale;
      if (ws !== undefined && !(Number.isInteger(ws) && ws >= 0 && ws <= 14)) {
        throw new TcpUsageError('ERR_INVALID_ARG_VALUE', `cookie window scale must be an integer in [0, 14], got ${String(ws)}`);
      }
    }
    const conn = new TcpConnection(opts.local, opts.remote, opts.iss, resolveTcpConfig(opts.config), true, opts.tsOffset);
    conn.lastRecvAt = now;
    conn.setState('LISTEN');
    conn.irs = seqAdd(seg.seq, -1);
    conn.rcvNxt = seg.seq >>> 0;
    conn.lastAckSent = conn.rcvNxt;
    // The cookie SYN-ACK offered the SYN window (see TcpListener).
    conn.rcvAdvRight = seqAdd(conn.rcvNxt, conn.synWindow);
    if (o === undefined) {
      conn.learnPeerOptions(now, { ...seg, mss: opts.mss, windowScale: undefined, sackPermitted: undefined, timestamp: undefined }, false);
    } else {
      // As if from the SYN: the options it offered that the cookie SYN-ACK answered, and TS.Recent
      // from the ACK (RFC 7323 §4.3: the TSval of the segment that covers Last.ACK.sent).
      conn.learnPeerOptions(now, { ...seg, mss: opts.mss, windowScale: o.windowScale, sackPermitted: o.sackPermitted ? true : undefined }, true);
      conn.ecnOk = conn.config.ecn && o.ecn;
    }
    conn.sndUna = seqAdd(conn.iss, 1);
    conn.sndNxt = conn.sndUna;
    conn.sndMax = conn.sndUna;
    // RFC 7323 §2.2: the window of the (non-SYN) ACK is scaled when window scaling was agreed.
    conn.sndWnd = seg.window << conn.sndWscale;
    conn.maxSndWnd = conn.sndWnd;
    conn.sndWl1 = conn.rcvNxt;
    conn.sndWl2 = conn.sndUna;
    conn.establish();
    return conn;
  }

  /**
   * Passive open from a SYN received in LISTEN (RFC 9293 §3.10.7.2): the connection starts in
   * SYN-RECEIVED with its SYN-ACK queued. Data carried by the SYN is not accepted (the peer
   * retransmits it after the handshake). The SYN-ACK answers each option the SYN offered and we
   * support (RFC 7323 §1.3, RFC 2018 §2, RFC 3168 §6.1.1).
   */
  static accept(now: Instant, opts: AcceptOptions): TcpConnection {
    const conn = new TcpConnection(opts.local, opts.remote, opts.iss, resolveTcpConfig(opts.config), true, opts.tsOffset);
    conn.lastRecvAt = now;
    conn.setState('LISTEN');
    const syn = opts.syn;
    conn.irs = syn.seq >>> 0;
    conn.rcvNxt = seqAdd(conn.irs, 1);
    conn.lastAckSent = conn.rcvNxt;
    conn.rcvAdvRight = seqAdd(conn.rcvNxt, conn.synWindow);
    conn.learnPeerOptions(now, syn, true);
    // RFC 3168 §6.1.1: an ECN-setup SYN has both ECE and CWR.
    conn.ecnOk = conn.config.ecn && syn.ece === true && syn.cwr === true;
    conn.sndWnd = syn.window; // RFC 7323 §2.2: the window of a SYN is never scaled
    conn.maxSndWnd = syn.window;
    conn.sndWl1 = conn.irs;
    conn.sndWl2 = conn.iss;
    conn.setState('SYN-RECEIVED');
    return conn;
  }

  // =====================================================================================
  // Getters
  // =====================================================================================

  /** The RFC 9293 state. */
  get state(): TcpState {
    return this.st;
  }

  /** True until `close()`/`abort()`, an error or the peer's RST; data written in SYN-SENT is queued. */
  get canSend(): boolean {
    if (this.closeRequested) return false;
    const s = this.st;
    return s === 'ESTABLISHED' || s === 'CLOSE-WAIT' || s === 'SYN-SENT' || s === 'SYN-RECEIVED';
  }

  /** Free octets in the send buffer (0 when `canSend` is false). */
  get sendCapacity(): number {
    return this.canSend ? this.sendBuf.free : 0;
  }

  /** Octets accepted by `send()` and not yet acknowledged. */
  get sendQueued(): number {
    return this.sendBuf.length;
  }

  /**
   * Octets accepted by `send()` and not sent yet (they may be waiting for the window, the
   * congestion window or Nagle). The stack sends a connection's segments at once, instead of
   * later in the turn, when a received batch left it with data to send.
   */
  get unsentLength(): number {
    const off = seqDiff(this.sndNxt, this.bufSeq);
    return off >= 0 ? Math.max(0, this.sendBuf.length - off) : 0;
  }

  /** In-order octets ready for `recv()`. */
  get readableLength(): number {
    return this.recvBuf.readable;
  }

  /** Whether Nagle's algorithm is disabled (see {@link setNoDelay}). */
  get noDelay(): boolean {
    return this.noDelayOn;
  }

  /**
   * The last soft error an ICMP message reported (RFC 1122 §4.2.3.9: reported, not fatal), e.g.
   * to explain an eventual ETIMEDOUT; undefined when none.
   */
  get softError(): TcpErrorCode | undefined {
    return this.softErr;
  }

  /** Whether keepalive is on (see {@link setKeepAlive}). */
  get keepAlive(): boolean {
    return this.keepAliveOn;
  }

  /**
   * RFC 6191 / RFC 1122 §4.2.2.13: may the SYN `syn` reopen this connection, which is in
   * TIME-WAIT? True when the previous incarnation used timestamps and the SYN's TSval is newer
   * than TS.Recent (or equal with SEG.SEQ > RCV.NXT), or without timestamps when SEG.SEQ > RCV.NXT.
   * The stack asks before `handleSegment`; given such a SYN, `handleSegment` closes this
   * connection (`closed`) and the stack hands the SYN to the listener.
   */
  reusableBy(syn: TcpRepr): boolean {
    if (this.st !== 'TIME-WAIT' || syn.control !== 'syn' || syn.ack !== undefined) return false;
    const seqNewer = seqGt(syn.seq >>> 0, this.rcvNxt);
    if (this.tsOk && syn.timestamp !== undefined) {
      const ts = syn.timestamp.tsVal >>> 0;
      if (ts === this.tsRecent) return seqNewer;
      return seqGt(ts, this.tsRecent);
    }
    return seqNewer;
  }

  /** Octets of buffer storage this connection holds right now (send, receive, scoreboard). */
  get bufferedMemory(): number {
    return this.sendBuf.allocated + this.recvBuf.allocated + this.sb.allocated;
  }

  /** A snapshot of the connection's counters and estimators. */
  get stats(): TcpStats {
    const synced = this.st !== 'SYN-SENT' && this.st !== 'CLOSED' && this.st !== 'LISTEN';
    return {
      state: this.st,
      srttMs: this.rtt.srttMs,
      rttvarMs: this.rtt.rttvarMs,
      minRttMs: this.rack !== undefined && this.rack.minRttMs !== Infinity ? this.rack.minRttMs : 0,
      rtoMs: this.rtt.rtoMs,
      rttSamples: this.nRttSamples,
      congestionControl: this.cc.name,
      cwnd: Math.floor(this.cc.cwnd),
      ssthresh: Math.floor(this.cc.ssthresh),
      inRecovery: this.cc.inRecovery || this.rtoRecoverySeq !== undefined,
      sendMss: this.sendMss,
      bytesInFlight: Math.max(0, seqDiff(this.sndMax, this.sndUna)),
      pipe: this.sb.pipe,
      sackedBytes: this.sb.sackedBytes,
      lostBytes: this.sb.lostBytes,
      lostSegments: this.nLost,
      sendWindow: this.sndWnd,
      recvWindow: synced ? Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt)) : 0,
      retransmits: this.nRetransmits,
      rtoCount: this.nRto,
      fastRetransmits: this.nFastRetransmits,
      tlpProbes: this.nTlp,
      dsacksReceived: this.nDsack,
      segmentsIn: this.nSegmentsIn,
      segmentsOut: this.nSegmentsOut,
      dupAcksIn: this.nDupAcksIn,
      outOfOrderBytes: this.recvBuf.outOfOrderBytes,
      outOfOrderSegments: this.nOooSegments,
      unacceptableSegments: this.nUnacceptable,
      pawsRejected: this.nPaws,
      challengeAcks: this.nChallengeAcks,
      challengeAcksSuppressed: this.nChallengeSuppressed,
      keepAliveProbes: this.nKeepAliveProbes,
      icmpErrors: this.nIcmpErrors,
      persistProbes: this.nProbes,
      windowUpdates: this.nWindowUpdates,
      bytesAcked: this.nBytesAcked,
      bytesReceived: this.nBytesReceived,
      deliveryRateBps: Math.round(this.deliveryRate),
      ceReceived: this.nCe,
      eceReceived: this.nEce,
      ecnReductions: this.nEcnReductions,
      sendWindowScale: this.wsOk ? this.sndWscale : -1,
      recvWindowScale: this.wsOk ? this.rcvWscale : -1,
      sackEnabled: this.sackOk,
      timestampsEnabled: this.tsOk,
      ecnEnabled: this.ecnOk,
      noDelay: this.noDelayOn,
    };
  }

  // =====================================================================================
  // Commands
  // =====================================================================================

  /**
   * Copies up to `sendCapacity` octets of `bytes` into the send buffer and returns how many were
   * taken. Throws `ERR_TCP_NOT_WRITABLE` when `canSend` is false.
   */
  send(bytes: Uint8Array): number {
    if (!this.canSend) {
      throw new TcpUsageError('ERR_TCP_NOT_WRITABLE', `cannot send in state ${this.st}${this.closeRequested ? ' after close()' : ''}`);
    }
    return this.sendBuf.write(bytes);
  }

  /**
   * Copies out up to `max` in-order octets (a fresh array), or undefined when none are readable.
   * Freeing space may make a window update due (RFC 1122 §4.2.3.3), sent by the next `pollTransmit`.
   */
  recv(max?: number): Uint8Array | undefined {
    const out = this.recvBuf.read(max ?? this.recvBuf.readable);
    if (out !== undefined && this.acksAllowed()) this.maybeWindowUpdate();
    return out;
  }

  /**
   * Like {@link recv}, into the caller's memory: copies up to `out.length` in-order octets to
   * `out` from index 0 and returns how many (0 when none are readable). The caller may pass
   * memory it did not zero (Node's `Buffer.allocUnsafe`) sized by `readableLength`.
   */
  recvInto(out: Uint8Array): number {
    const n = this.recvBuf.readInto(out);
    if (n > 0 && this.acksAllowed()) this.maybeWindowUpdate();
    return n;
  }

  /**
   * Turns Nagle's algorithm off (`true`, the default argument, as Node's `socket.setNoDelay()`)
   * or on. With it off, a segment smaller than the MSS goes out at once even while earlier
   * small data is unacknowledged. Drain transmits afterwards: held data may now be sendable.
   */
  setNoDelay(noDelay = true): void {
    this.noDelayOn = noDelay;
  }

  /**
   * Keepalive (RFC 1122 §4.2.3.6): with `enable`, after `idleMs` (default `keepAliveIdleMs`;
   * 0 or absent keeps the current value, as Node's `setKeepAlive`) without an acceptable segment
   * from the peer, send a probe <SEQ=SND.NXT−1><ACK=RCV.NXT> with no data every
   * `keepAliveIntervalMs`; `keepAliveProbes` unanswered probes fail the connection with RST and
   * `ETIMEDOUT`. Idleness counts from the last segment received. Re-read `pollTimeout()` afterwards.
   */
  setKeepAlive(enable: boolean, idleMs?: number): void {
    if (idleMs !== undefined) {
      if (!Number.isInteger(idleMs) || idleMs < 0 || idleMs > 0x7fffffff) {
        throw new TcpUsageError('ERR_INVALID_ARG_VALUE', `keepalive idle time must be an integer in [0, 2^31-1] ms, got ${String(idleMs)}`);
      }
      if (idleMs > 0) this.keepAliveIdleMs = idleMs;
    }
    this.keepAliveOn = enable;
    this.kaProbesSent = 0;
    this.kaProbePending = false;
    this.kaDeadline = enable && this.st !== 'CLOSED' && this.st !== 'TIME-WAIT' ? this.lastRecvAt + this.keepAliveIdleMs : undefined;
  }

  /**
   * User timeout (RFC 9293 §3.10.8, RFC 5482 semantics, Linux TCP_USER_TIMEOUT): data that stays
   * unacknowledged (or held by a zero window) for `ms` fails the connection with `ETIMEDOUT`;
   * while set it replaces the `maxRetransmits` bound. 0 disables. Re-read `pollTimeout()` afterwards.
   */
  setUserTimeout(ms: number): void {
    if (!Number.isInteger(ms) || ms < 0 || ms > 0x7fffffff) {
      throw new TcpUsageError('ERR_INVALID_ARG_VALUE', `user timeout must be an integer in [0, 2^31-1] ms, got ${String(ms)}`);
    }
    this.userTimeoutMs = ms;
  }

  /**
   * An ICMP error about this connection, already matched by the stack to its 4-tuple; `seq` is
   * the sequence number quoted from our segment. Ignored (returns false) unless
   * SND.UNA =< seq < SND.NXT (RFC 5927 §4.1, RFC 5961 spirit), or when no segment can be
   * outstanding (CLOSED, TIME-WAIT).
   * - In SYN-SENT, port/host/net unreachable fail the connection at once with `ECONNREFUSED` /
   *   `EHOSTUNREACH` / `ENETUNREACH` (as Linux; RFC 5461 §4.1); an embryonic passive connection
   *   (SYN-RECEIVED) is dropped quietly.
   * - Otherwise they are soft errors (RFC 1122 §4.2.3.9): remembered in `softError`.
   * - `frag-needed` (RFC 1191): the send MSS drops to `mtu` − 40 (not below 64 octets, options
   *   included) and the segments in flight that no longer fit are split and resent at once,
   *   without a congestion response.
   * Drain afterwards.
   */
  handleIcmpError(now: Instant, error: TcpIcmpError, seq: number): boolean {
    const s = this.st;
    if (s === 'CLOSED' || s === 'LISTEN' || s === 'TIME-WAIT') return false;
    const q = seq >>> 0;
    if (!(seqGe(q, this.sndUna) && seqLt(q, this.sndMax))) return false;
    this.nIcmpErrors++;
    if (error.kind === 'frag-needed') {
      this.onFragNeeded(now, error.mtu);
      return true;
    }
    const code: TcpErrorCode = error.kind === 'port-unreachable' ? 'ECONNREFUSED' : error.kind === 'host-unreachable' ? 'EHOSTUNREACH' : 'ENETUNREACH';
    if (s === 'SYN-SENT' || (s === 'SYN-RECEIVED' && this.passive)) {
      this.toClosed(code);
      return true;
    }
    this.softErr = code;
    return true;
  }

  /**
   * Half-close (RFC 9293 §3.10.4): a FIN follows every queued octet; receiving continues.
   * ESTABLISHED → FIN-WAIT-1, CLOSE-WAIT → LAST-ACK. Called during the handshake, the FIN waits for
   * ESTABLISHED (we complete the handshake rather than vanish). Idempotent.
   */
  close(): void {
    if (this.closeRequested || this.st === 'CLOSED') return;
    this.closeRequested = true;
    this.finQueued = true;
    this.finSeq = seqAdd(this.bufSeq, this.sendBuf.length);
    if (this.st === 'ESTABLISHED') this.setState('FIN-WAIT-1');
    else if (this.st === 'CLOSE-WAIT') this.setState('LAST-ACK');
    // FIN-WAIT-*, CLOSING, LAST-ACK, TIME-WAIT: the FIN is already queued or sent.
  }

  /**
   * The application let go of this connection (the kernel's close() after shutdown: Node's
   * `destroy()`). Delivery of what was accepted and the FIN go on; from now on FIN-WAIT-2 is
   * bounded by `finWait2TimeoutMs` (Linux's tcp_fin_timeout, which applies to orphans only).
   * Idempotent. Call `close()` first if a FIN is wanted.
   */
  orphan(now: Instant): void {
    if (this.orphaned) return;
    this.orphaned = true;
    if (this.st === 'FIN-WAIT-2') this.finWait2Deadline = now + this.config.finWait2TimeoutMs;
  }

  /** True once `orphan()` was called. */
  get isOrphan(): boolean {
    return this.orphaned;
  }

  /**
   * Abort (RFC 9293 §3.10.5): a RST when synchronized (queued for `pollTransmit`), then CLOSED and
   * `closed` (no `error`). In SYN-SENT, CLOSING, LAST-ACK and TIME-WAIT no RST is sent.
   */
  abort(): void {
    const s = this.st;
    if (s === 'CLOSED') return;
    if (s === 'SYN-RECEIVED' || s === 'ESTABLISHED' || s === 'FIN-WAIT-1' || s === 'FIN-WAIT-2' || s === 'CLOSE-WAIT') {
      this.finalRst = this.rstRepr(this.sndMax);
    }
    this.toClosed(undefined);
  }

  // =====================================================================================
  // Inputs
  // =====================================================================================

  /**
   * Processes one received segment (RFC 9293 §3.10.7). `payload` is only read during the call.
   * `ipEcn` is the ECN field of the IP header that carried it (0..3; 3 = CE, RFC 3168 §5).
   * Nothing is sent from here: replies are queued for `pollTransmit`, so a burst of segments fed
   * before one drain is acknowledged once.
   */
  handleSegment(now: Instant, seg: TcpRepr, payload: Uint8Array, ipEcn = 0): void {
    this.nSegmentsIn++;
    switch (this.st) {
      case 'CLOSED':
      case 'LISTEN':
        // §3.10.7.1: a CLOSED connection answers with RST; that is the stack's `resetFor`, since
        // a closed engine has been (or is about to be) removed from its table.
        return;
      case 'SYN-SENT':
        this.segmentInSynSent(now, seg, payload);
        return;
      default:
        this.segmentInSynchronized(now, seg, payload, ipEcn);
    }
  }

  /** Runs every timer whose deadline is at or before `now`; spurious calls do nothing. */
  handleTimeout(now: Instant): void {
    if (this.st === 'CLOSED') return;
    if (this.timeWaitDeadline !== undefined && now >= this.timeWaitDeadline) {
      // RFC 9293 §3.10.8: TIME-WAIT timeout deletes the TCB.
      this.toClosed(undefined);
      return;
    }
    if (this.finWait2Deadline !== undefined && now >= this.finWait2Deadline) {
      // The peer stayed silent in FIN-WAIT-2 for finWait2TimeoutMs: give up like Linux's
      // tcp_fin_timeout, telling the peer with a RST.
      this.finalRst = this.rstRepr(this.sndMax);
      this.toClosed('ETIMEDOUT');
      return;
    }
    const userDeadline = this.userDeadline();
    if (userDeadline !== undefined && now >= userDeadline) {
      // RFC 9293 §3.10.8 USER TIMEOUT: "flush all queues, signal the user ... and enter CLOSED".
      if (seqGt(this.sndMax, this.sndUna) || this.zeroWindowBlocked()) {
        this.toClosed('ETIMEDOUT');
        return;
      }
      this.stallSince = undefined;
    }
    if (this.rtxDeadline !== undefined && now >= this.rtxDeadline) {
      this.onRetransmitTimeout(now);
      if (this.closedEmitted) return;
    }
    if (this.kaDeadline !== undefined && now >= this.kaDeadline) {
      this.onKeepAliveTimeout(now);
      if (this.closedEmitted) return;
    }
    if (this.reoDeadline !== undefined && now >= this.reoDeadline) {
      this.reoDeadline = undefined;
      this.detectLosses(now);
    }
    if (this.tlpDeadline !== undefined && now >= this.tlpDeadline) {
      this.tlpDeadline = undefined;
      if (this.tlpAllowed()) this.tlpPending = true;
    }
    if (this.persistDeadline !== undefined && now >= this.persistDeadline) {
      this.onPersistTimeout(now);
      if (this.closedEmitted) return;
    }
    if (this.ackDeadline !== undefined && now >= this.ackDeadline) {
      this.ackDeadline = undefined;
      this.ackNow = true;
    }
  }

  // =====================================================================================
  // Outputs
  // =====================================================================================

  /**
   * The next segment to send, or undefined. Call until undefined after every input or command.
   * The payload may alias the send buffer: emit it before calling into the connection again.
   */
  pollTransmit(now: Instant): Transmit | undefined {
    if (this.st === 'CLOSED') {
      const rst = this.finalRst;
      if (rst === undefined) return undefined;
      this.finalRst = undefined;
      return this.out(rst, EMPTY, false);
    }
    const reply = this.replies.shift();
    if (reply !== undefined) return this.out(reply, EMPTY, false);
    if (this.kaProbePending) {
      // RFC 1122 §4.2.3.6: <SEQ=SND.NXT−1> with no data: the peer must answer with an ACK.
      this.kaProbePending = false;
      return this.out(this.dataRepr(now, 'none', seqAdd(this.sndMax, -1), false, 0), EMPTY, false);
    }

    const s = this.st;
    if ((s === 'SYN-SENT' || s === 'SYN-RECEIVED') && this.sndNxt === this.iss) return this.transmitSyn(now);

    if (this.canTransmitData()) {
      if (this.tlpPending) {
        this.tlpPending = false;
        const t = this.transmitTlp(now);
        if (t !== undefined) return t;
      }
      // RFC 6675 §5 step 4.3 / RFC 5681 §3.2 step 2: the first retransmission of an episode goes at once.
      if (this.fastRetransmitPending) {
        this.fastRetransmitPending = false;
        const i = this.sb.firstLostToSend();
        if (i >= 0) return this.retransmitRecord(i, now);
      }
      // RFC 6675 §4 NextSeg rule 1: lost segments first, while pipe leaves room in cwnd.
      const i = this.sb.firstLostToSend();
      if (i >= 0 && this.sb.pipe + this.sb.spanOf(i) <= this.cc.cwnd) return this.retransmitRecord(i, now);
      if (this.probePending) {
        this.probePending = false;
        const t = this.transmitProbe(now);
        if (t !== undefined) return t;
      }
      if (i < 0) {
        // NextSeg rule 2: new data only when no lost segment waits for room.
        const t = this.transmitData(now, false);
        if (t !== undefined) return t;
      }
    }

    if (this.acksAllowed() && (this.ackNow || this.dupAcksOwed > 0 || (this.ackDeadline !== undefined && now >= this.ackDeadline))) {
      if (this.dupAcksOwed > 0) this.dupAcksOwed--;
      return this.out(this.pureAck(now), EMPTY, false);
    }
    return undefined;
  }

  /** The next event, or undefined. Events come in the order they happened; `closed` is last. */
  pollEvent(): TcpEvent | undefined {
    if (this.eventHead >= this.events.length) return undefined;
    const ev = this.events[this.eventHead++]!;
    if (this.eventHead === this.events.length) {
      this.events.length = 0;
      this.eventHead = 0;
    }
    if (ev === EV_READABLE) this.readablePending = false;
    else if (ev === EV_WRITABLE) this.writablePending = false;
    return ev;
  }

  /** The earliest armed deadline, or undefined (always undefined once CLOSED). */
  pollTimeout(): Instant | undefined {
    if (this.st === 'CLOSED') return undefined;
    return earliest(
      earliest(earliest(this.rtxDeadline, this.persistDeadline), earliest(this.timeWaitDeadline, this.finWait2Deadline)),
      earliest(earliest(this.ackDeadline, earliest(this.reoDeadline, this.tlpDeadline)), earliest(this.kaDeadline, this.userDeadline())),
    );
  }

  // =====================================================================================
  // SEGMENT ARRIVES
  // =====================================================================================

  /** RFC 9293 §3.10.7.3: SYN-SENT. */
  private segmentInSynSent(now: Instant, seg: TcpRepr, payload: Uint8Array): void {
    const ack = seg.ack;
    // First, the ACK: unacceptable if SEG.ACK =< ISS or SEG.ACK > SND.NXT; answer with
    // <SEQ=SEG.ACK><CTL=RST> unless the segment is itself a RST.
    if (ack !== undefined && (seqLe(ack, this.iss) || seqGt(ack, this.sndMax))) {
      if (seg.control !== 'rst') this.queueReply(this.rstRepr(ack));
      return;
    }
    // Second, RST: valid only with an acceptable ACK (RFC 9293 §3.10.7.3, RFC 5961 §3.2 note).
    if (seg.control === 'rst') {
      if (ack !== undefined) this.toClosed('ECONNREFUSED');
      return;
    }
    // Fourth, SYN (fifth: anything else is dropped).
    if (seg.control !== 'syn') return;
    this.irs = seg.seq >>> 0;
    this.rcvNxt = seqAdd(this.irs, 1);
    this.lastAckSent = this.rcvNxt;
    this.rcvAdvRight = seqAdd(this.rcvNxt, this.synWindow);
    this.lastRecvAt = now;
    if (ack !== undefined) {
      // Our SYN is acknowledged: options are settled by this SYN-ACK (RFC 7323 §1.3, RFC 2018 §2);
      // RFC 3168 §6.1.1: an ECN-setup SYN-ACK has ECE and not CWR.
      this.learnPeerOptions(now, seg, this.config.windowScaling);
      this.ecnOk = this.ecnSynSent && seg.ece === true && seg.cwr !== true;
      this.ackSyn(now, ack);
      this.sndWnd = seg.window; // RFC 7323 §2.2: never scaled in a SYN
      this.maxSndWnd = Math.max(this.maxSndWnd, seg.window);
      this.sndWl1 = this.irs;
      this.sndWl2 = ack;
      this.establish();
      this.ackNow = true;
      // Data on a SYN-ACK continues at the sixth step of §3.10.7.4.
      if (payload.length > 0) this.processText(now, seqAdd(seg.seq, 1), payload, false, false);
      return;
    }
    // Simultaneous open (RFC 9293 §3.5 figure 7): SYN-RECEIVED, resend our SYN as a SYN-ACK.
    this.learnPeerOptions(now, seg, this.config.windowScaling);
    this.sndWnd = seg.window;
    this.maxSndWnd = Math.max(this.maxSndWnd, seg.window);
    this.sndWl1 = this.irs;
    this.sndWl2 = this.iss;
    this.setState('SYN-RECEIVED');
    this.goBackToSyn();
  }

  /** RFC 9293 §3.10.7.4: every state from SYN-RECEIVED on. */
  private segmentInSynchronized(now: Instant, seg: TcpRepr, payload: Uint8Array, ipEcn: number): void {
    let seq = seg.seq >>> 0;
    let control: TcpControl = seg.control;

    // RFC 6191: a SYN that may reuse the 4-tuple ends TIME-WAIT; the stack then gives it to the
    // listener (it asked `reusableBy` first).
    if (control === 'syn' && this.st === 'TIME-WAIT' && this.reusableBy(seg)) {
      this.toClosed(undefined);
      return;
    }

    if (this.st === 'SYN-RECEIVED' && control === 'syn' && seq === this.irs) {
      const ack = seg.ack;
      if (ack === undefined || !(seqGt(ack, this.sndUna) && seqLe(ack, this.sndMax))) {
        // A retransmitted SYN: our SYN-ACK was lost. Resend it now instead of waiting for the
        // timer (RFC 9293 §3.10.7.4 would ACK the old duplicate; the SYN-ACK is what helps).
        this.goBackToSyn();
        return;
      }
      // Simultaneous open: the peer's SYN-ACK repeats its SYN (which we have) and acknowledges
      // ours. Take it as the ACK that completes our handshake.
      seq = seqAdd(seq, 1);
      control = 'none';
    }

    const ts = this.tsOk ? seg.timestamp : undefined;
    // RFC 7323 §5.3 R1 (PAWS): a non-RST segment whose TSval is older than TS.Recent is a
    // duplicate from an earlier wrap of the sequence space: ACK and drop. TS.Recent idle for
    // more than 24 days is no longer valid (§5.5).
    const tsStale = now - this.tsRecentAt > PAWS_IDLE_MS;
    if (ts !== undefined && control !== 'rst' && !tsStale && seqLt(ts.tsVal, this.tsRecent)) {
      this.nPaws++;
      this.ackNow = true;
      return;
    }

    const fin = control === 'fin';
    const segLen = payload.length + (control === 'syn' || fin ? 1 : 0);
    const wnd = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));

    // ---- first: sequence number acceptability (§3.10.7.4 table) ----
    let acceptable: boolean;
    if (segLen === 0) {
      acceptable = wnd === 0 ? seq === this.rcvNxt : this.inWindow(seq, wnd);
    } else if (wnd === 0) {
      // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be
      // made to accept valid ACKs, URGs, and RSTs": a segment at RCV.NXT is taken for its
      // control information (and, like Linux, a bare FIN) while its data is dropped below.
      acceptable = seq === this.rcvNxt;
    } else {
      // The table's "start or end in the window", widened to any overlap: a segment larger than
      // the window that straddles both edges (a GRO/TSO super-segment) still carries new octets,
      // and "only the new parts are processed".
      const d = seqDiff(seq, this.rcvNxt);
      acceptable = d < wnd && d + segLen > 0;
    }
    if (!acceptable) {
      this.nUnacceptable++;
      // TIME-WAIT: a retransmitted FIN restarts the 2·MSL wait (§3.10.7.4 eighth, TIME-WAIT).
      if (this.st === 'TIME-WAIT' && fin) this.timeWaitDeadline = now + this.config.timeWaitMs;
      // Old duplicates and out-of-window segments: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, unless RST.
      if (control !== 'rst') this.ackNow = true;
      return;
    }

    // The peer is alive: keepalive idleness restarts.
    this.lastRecvAt = now;
    if (this.kaDeadline !== undefined || this.kaProbesSent > 0) {
      this.kaProbesSent = 0;
      this.kaDeadline = this.keepAliveOn && this.st !== 'TIME-WAIT' ? now + this.keepAliveIdleMs : undefined;
    }

    // RFC 7323 §4.3 / §5.3 R3: remember the TSval of a segment covering Last.ACK.sent.
    if (ts !== undefined && control !== 'rst' && seqLe(seq, this.lastAckSent) && (tsStale || seqGe(ts.tsVal, this.tsRecent))) {
      this.tsRecent = ts.tsVal;
      this.tsRecentAt = now;
    }

    // ---- second: RST (§3.10.7.4 second, RFC 5961 §3.2) ----
    if (control === 'rst') {
      // RFC 1337: a RST in TIME-WAIT would assassinate it (an old duplicate then finds a
      // reopened 4-tuple); ignore it and let the 2·MSL wait run out.
      if (this.st === 'TIME-WAIT') return;
      // RFC 5961 §3.2: only a RST at exactly RCV.NXT resets; one elsewhere in the window may be
      // a blind guess, so answer with a challenge ACK (a genuine peer replies with the exact RST).
      if (seq !== this.rcvNxt) {
        this.challengeAck(now);
        return;
      }
      switch (this.st) {
        case 'SYN-RECEIVED':
          // Passive open: back to LISTEN, i.e. this embryonic connection just disappears.
          // Active (simultaneous) open: "connection refused".
          this.toClosed(this.passive ? undefined : 'ECONNREFUSED');
          return;
        case 'ESTABLISHED':
        case 'FIN-WAIT-1':
        case 'FIN-WAIT-2':
        case 'CLOSE-WAIT':
          this.recvBuf.clearOutOfOrder();
          this.toClosed('ECONNRESET');
          return;
        default:
          // CLOSING, LAST-ACK, TIME-WAIT: enter CLOSED quietly.
          this.toClosed(undefined);
          return;
      }
    }

    // ---- fourth: SYN in a synchronized state → challenge ACK (RFC 5961 §4, RFC 9293 §3.10.7.4) ----
    if (control === 'syn') {
      this.challengeAck(now);
      return;
    }

    // ---- fifth: the ACK field ----
    const ack = seg.ack;
    if (ack === undefined) return; // "if the ACK bit is off, drop the segment and return"
    this.unansweredProbes = 0;

    if (this.ecnOk) {
      // RFC 3168 §6.1.3: CWR ends our ECE echo; a CE mark (on this very segment too) starts it.
      if (seg.cwr === true) this.eceEcho = false;
      if (ipEcn === 3) {
        this.nCe++;
        this.eceEcho = true;
        this.ackNow = true; // tell the sender promptly
      }
    }

    if (this.st === 'SYN-RECEIVED') {
      if (!(seqGt(ack, this.sndUna) && seqLe(ack, this.sndMax))) {
        // §3.10.7.4 fifth, SYN-RECEIVED: unacceptable ACK → <SEQ=SEG.ACK><CTL=RST>.
        this.queueReply(this.rstRepr(ack));
        return;
      }
      this.ackSyn(now, ack);
      this.sndWnd = seg.window << this.sndWscale;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.sndWl1 = seq;
      this.sndWl2 = ack;
      this.establish();
    } else if (!this.processAck(now, seq, seg, payload.length === 0 && control !== 'fin')) {
      return;
    }

    // State changes the ACK may cause (§3.10.7.4 fifth, per state).
    switch (this.st) {
      case 'FIN-WAIT-1':
        if (this.finAcked) {
          this.setState('FIN-WAIT-2');
          // Linux applies tcp_fin_timeout to orphans only: a half-closed socket whose
          // application still reads keeps receiving for as long as the peer sends (RFC 9293 §3.6).
          if (this.orphaned) this.finWait2Deadline = now + this.config.finWait2TimeoutMs;
        }
        break;
      case 'CLOSING':
        if (this.finAcked) this.enterTimeWait(now);
        break;
      case 'LAST-ACK':
        if (this.finAcked) {
          this.toClosed(undefined);
          return;
        }
        break;
      case 'FIN-WAIT-2':
        // Idle bound only: a peer still sending in our half-closed connection keeps it alive.
        if (this.orphaned) this.finWait2Deadline = now + this.config.finWait2TimeoutMs;
        break;
      default:
        break;
    }

    // ---- sixth (URG: ignored), seventh (text), eighth (FIN) ----
    if (payload.length > 0 || fin) this.processText(now, seq, payload, fin, control === 'psh' || fin);
  }

  /**
   * §3.10.7.4 fifth step for ESTABLISHED and later states. Returns false when the segment must be
   * dropped here (ACK of unsent data, or an ACK too old per RFC 5961 §5.2).
   */
  private processAck(now: Instant, seq: number, seg: TcpRepr, maybeDuplicate: boolean): boolean {
    const ack = seg.ack!;
    const window = seg.window << this.sndWscale;
    const ackLimit = this.probeEnd !== undefined && seqGt(this.probeEnd, this.sndMax) ? this.probeEnd : this.sndMax;
    if (seqGt(ack, ackLimit)) {
      // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the
      // segment, and return." RFC 5961 §5.2: that ACK is a (rate-limited) challenge ACK.
      this.challengeAck(now);
      return false;
    }
    if (seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      // RFC 5961 §5.2: an ACK older than SND.UNA − MAX.SND.WND is dropped and answered with a
      // (rate-limited, §7) challenge ACK.
      this.challengeAck(now);
      return false;
    }
    const oldWnd = this.sndWnd;
    const flightBefore = Math.max(0, seqDiff(this.sndMax, this.sndUna));
    let delivered = false;
    if (seqGt(ack, this.sndUna)) {
      this.newAck(now, ack, seg);
      delivered = true;
    } else if (ack === this.sndUna && maybeDuplicate && window === oldWnd && seqGt(this.sndMax, this.sndUna)) {
      // RFC 5681 §2 duplicate ACK: outstanding data, no payload, no SYN/FIN, same ACK, same window.
      this.onDuplicateAck(now);
    }
    if (this.sackOk && seg.sackBlocks !== undefined && seg.sackBlocks.length > 0) {
      if (this.processSack(now, ack, seg.sackBlocks)) delivered = true;
    }
    // RFC 3168 §6.1.2: ECE means congestion; reduce at most once per window of data, and not
    // on top of a loss response in the same window.
    if (this.ecnOk && seg.ece === true) {
      this.nEce++;
      if (!this.cc.inRecovery && seqGe(ack, this.ecnRecover) && flightBefore > 0) {
        this.cc.onEcnEcho(flightBefore, now);
        this.nEcnReductions++;
        this.ecnRecover = this.sndMax;
        this.cwrPending = true;
      }
    }
    if (delivered && this.sackOk) this.detectLosses(now);
    if (delivered) this.armTlp(now);
    // Window update (§3.10.7.4 fifth): only from a segment at least as new as the last one used.
    if (seqLe(this.sndUna, ack) && (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, ack)))) {
      this.sndWnd = window;
      this.sndWl1 = seq;
      this.sndWl2 = ack;
      if (window > this.maxSndWnd) this.maxSndWnd = window;
      if (window > 0) {
        // The window opened: the persist timer's job is done (§3.8.6.1).
        this.persistDeadline = undefined;
        this.persistBackoff = 0;
        if (!seqGt(this.sndMax, this.sndUna)) this.stallSince = undefined;
      }
    }
    return true;
  }

  /** SND.UNA advances to `ack` (§3.10.7.4 fifth; RFC 6298 §5.2–5.3; RFC 7323 §4; RFC 5681; RFC 6582). */
  private newAck(now: Instant, ack: number, seg: TcpRepr): void {
    const acked = seqDiff(ack, this.sndUna);
    const flightBefore = Math.max(0, seqDiff(this.sndMax, this.sndUna));
    const ackOff = this.offsetOf(ack);
    const dataAcked = Math.min(Math.max(0, seqDiff(ack, this.bufSeq)), this.sendBuf.length);
    if (dataAcked > 0) {
      this.sendBuf.consume(dataAcked);
      this.bufSeq = seqAdd(this.bufSeq, dataAcked);
      this.bufOff += dataAcked;
      this.nBytesAcked += dataAcked;
      if (this.canSend && !this.writablePending) {
        this.writablePending = true;
        this.emit(EV_WRITABLE);
      }
    }
    if (this.finQueued && !this.finAcked && seqGt(ack, this.finSeq) && seqGt(this.sndMax, this.finSeq)) {
      // §3.10.7.4 fifth: SND.UNA passes our FIN. The state change it causes (FIN-WAIT-1 →
      // FIN-WAIT-2, CLOSING → TIME-WAIT, LAST-ACK → CLOSED) follows in segmentInSynchronized;
      // the event is queued here, once, after any `writable` of this ACK and before `closed`.
      this.finAcked = true;
      this.emit(EV_FIN_ACKED);
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (this.probeEnd !== undefined && seqGe(ack, this.probeEnd)) this.probeEnd = undefined;
    if (seqGt(ack, this.sndMax)) this.sndMax = ack; // the probe octet was accepted

    const rack = this.rackState();
    const karnXmit = this.sb.ack(ackOff, now, rack);
    // RTT: from the echoed timestamp when negotiated (RFC 7323 §4.1: unambiguous even for
    // retransmissions), else from a never-retransmitted segment (Karn, RFC 6298 §3).
    let sample = -1;
    const ts = seg.timestamp;
    if (this.tsOk && ts !== undefined) {
      const d = seqDiff(this.tsNow(now), ts.tsEcr);
      if (d >= 0 && d <= this.config.rtoMaxMs * 2) sample = d;
    } else if (karnXmit >= 0) {
      sample = now - karnXmit;
    }
    if (sample >= 0) {
      // RFC 7323 Appendix G: with a sample per ACK, weight each by the ACKs expected per RTT.
      this.rtt.sample(sample, Math.max(1, Math.ceil(flightBefore / (2 * this.sendMss))));
      this.nRttSamples++;
    }
    this.rtt.resetBackoff();
    this.rtoRetries = 0;
    // User timeout: progress; the clock restarts for what is still outstanding.
    this.stallSince = seqGt(this.sndMax, ack) ? now : undefined;
    if (this.rtoRecoverySeq !== undefined && seqGe(ack, this.rtoRecoverySeq)) this.rtoRecoverySeq = undefined;

    // Delivery rate over the last round trip.
    this.rateDelivered += acked;
    if (seqGe(ack, this.rateRoundEnd)) {
      const elapsed = now - this.rateStart;
      if (elapsed > 0 && this.rateStart > 0) this.deliveryRate = (this.rateDelivered * 1000) / elapsed;
      this.rateDelivered = 0;
      this.rateStart = now;
      this.rateRoundEnd = this.sndMax;
    }

    const flight = Math.max(0, seqDiff(this.sndMax, this.sndUna));
    const ctx = (this.ackCtx ??= { now: 0, rttSampleMs: -1, srttMs: 0, sndMax: 0 });
    ctx.now = now;
    ctx.rttSampleMs = sample;
    ctx.srttMs = this.rtt.srttMs;
    ctx.sndMax = this.sndMax;
    // Cwnd-limited: what was in flight before this ACK came within one MSS of cwnd.
    const verdict = this.cc.onAck(acked, ack, flight, flightBefore + this.sendMss >= this.cc.cwnd, ctx);
    if (verdict === 'partial' && !this.sackOk) {
      // RFC 6582 §3.2 step 5: retransmit the first unacknowledged segment.
      this.markHeadLost();
      this.fastRetransmitPending = true;
      this.nFastRetransmits++;
    }
    this.dupAcks = 0;
    // RFC 8985 §7.4: the probe's episode ends when it is acknowledged. A probe that resent old
    // data and drew no D-SACK repaired a real loss: respond to the congestion.
    if (this.tlpEndSeq >= 0 && seqGe(ack, this.tlpEndSeq)) {
      if (this.tlpIsRetrans && !this.tlpDsack && !this.cc.inRecovery) this.cc.onEcnEcho(flightBefore, now);
      this.tlpEndSeq = -1;
    }
    // RFC 6298 §5.2/§5.3: stop the timer when all is acknowledged, else restart it.
    this.rtxDeadline = seqGt(this.sndNxt, this.sndUna) ? now + this.rtt.rtoMs : undefined;
    if (this.sb.count === 0) {
      this.reoDeadline = undefined;
      this.tlpDeadline = undefined;
    }
  }

  /** SACK blocks (RFC 2018 §3) into the scoreboard; D-SACKs (RFC 2883) are counted. Returns whether anything new was SACKed. */
  private processSack(now: Instant, ack: number, blocks: readonly SackBlock[]): boolean {
    let added = 0;
    const rack = this.rackState();
    for (let k = 0; k < blocks.length; k++) {
      const b = blocks[k]!;
      const left = b.left >>> 0;
      const right = b.right >>> 0;
      if (!seqLt(left, right)) continue;
      // RFC 2883 §4: a first block below the cumulative ACK, or inside the second, is a D-SACK.
      if (seqLe(right, ack) || (k === 0 && blocks.length > 1 && seqGe(left, blocks[1]!.left) && seqLe(right, blocks[1]!.right))) {
        if (k === 0) {
          this.nDsack++;
          if (this.tlpEndSeq >= 0) this.tlpDsack = true;
        }
        continue;
      }
      // Ignore blocks outside what we sent (RFC 2018 §3 blocks lie within SND.UNA..SND.MAX).
      if (seqLt(left, this.sndUna) || seqGt(right, this.sndMax)) continue;
      added += this.sb.sack(this.offsetOf(left), this.offsetOf(right), now, rack);
    }
    return added > 0;
  }

  /**
   * RACK (RFC 8985 §6.2): mark segments lost by time, arm the reordering timer, and start a
   * recovery episode on the first loss (RFC 6675 §5).
   */
  private detectLosses(now: Instant): void {
    if (!this.sackOk || this.sb.count === 0) {
      this.reoDeadline = undefined;
      return;
    }
    const rack = this.rackState();
    const newlyLost = this.sb.rackDetect(now, this.reorderWindowMs(), rack);
    this.nLost += newlyLost;
    this.reoDeadline = this.sb.rackTimeoutMs > 0 ? now + this.sb.rackTimeoutMs : undefined;
    if (newlyLost > 0 && !this.cc.inRecovery && this.rtoRecoverySeq === undefined && this.cc.canFastRetransmit(this.sndUna)) {
      this.enterRecovery(now);
    }
  }

  /** RFC 8985 §6.2 step 4: the reordering window. */
  private reorderWindowMs(): number {
    const rack = this.rack!;
    if (!rack.reorderingSeen) {
      if (this.cc.inRecovery || this.rtoRecoverySeq !== undefined) return 0;
      if (this.sb.sackedBytes >= DUP_THRESH * this.sendMss) return 0;
    }
    const minRtt = rack.minRttMs === Infinity ? 0 : rack.minRttMs;
    return Math.min(minRtt / 4, this.rtt.srttMs);
  }

  /** Loss detected: reduce cwnd once and retransmit the first lost segment at once. */
  private enterRecovery(now: Instant): void {
    this.cc.onCongestion(Math.max(0, seqDiff(this.sndMax, this.sndUna)), this.sndMax, now, this.sackOk);
    this.fastRetransmitPending = true;
    this.nFastRetransmits++;
    this.tlpDeadline = undefined;
    this.tlpPending = false;
  }

  /** RFC 5681 §3.2 fast retransmit / fast recovery, RFC 6582 guard against repeats. */
  private onDuplicateAck(now: Instant): void {
    this.nDupAcksIn++;
    this.dupAcks++;
    if (this.cc.inRecovery) {
      this.cc.onDuplicateAck();
    } else if (this.dupAcks === DUP_THRESH && this.rtoRecoverySeq === undefined && this.cc.canFastRetransmit(this.sndUna)) {
      // With SACK, RACK normally acts first; the DupThresh rule is the fallback (RFC 6675 §5).
      this.markHeadLost();
      this.enterRecovery(now);
    }
  }

  private markHeadLost(): void {
    if (this.sb.count === 0) return;
    const f = this.sb.flagsOf(0);
    if ((f & SACKED) !== 0) return;
    this.sb.markLost(0);
    this.nLost++;
  }

  /** The ACK acknowledged our SYN (SYN-SENT or SYN-RECEIVED). */
  private ackSyn(now: Instant, ack: number): void {
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (this.rttSeq !== undefined && seqGe(ack, this.rttSeq)) {
      this.rtt.sample(now - this.rttStart);
      this.nRttSamples++;
    }
    this.rttSeq = undefined;
    this.rtxDeadline = undefined;
    this.rtoRetries = 0;
    this.rtt.resetBackoff();
  }

  /** Seventh and eighth steps: segment text and FIN (§3.10.7.4). */
  private processText(now: Instant, seq: number, payload: Uint8Array, fin: boolean, push: boolean): void {
    const s = this.st;
    // Text is taken only while the peer may still send it (§3.10.7.4 seventh).
    if (s !== 'ESTABLISHED' && s !== 'FIN-WAIT-1' && s !== 'FIN-WAIT-2') return;
    const wnd = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    let off = seqDiff(seq, this.rcvNxt);
    let data = payload;
    const finOff = off + payload.length;
    if (off < 0) {
      // Trim the part already received ("only the new parts are processed").
      data = -off >= data.length ? EMPTY : data.subarray(-off);
      off = 0;
    }
    let keepFin = fin && finOff >= 0;
    if (off + data.length > wnd) {
      // Trim what lies beyond the window; a FIN after trimmed data is dropped with it.
      data = off >= wnd ? EMPTY : data.subarray(0, wnd - off);
      keepFin = false;
      this.ackNow = true;
    }
    if (payload.length > this.rcvMss) this.rcvMss = Math.min(payload.length, this.config.mss);
    if (data.length > 0) {
      const interactive = this.sentSinceRecv;
      this.sentSinceRecv = false;
      const hadHoles = this.recvBuf.outOfOrderRanges > 0;
      const streamOff = this.recvBuf.contiguousEnd + off;
      const advanced = this.recvBuf.write(off, data, this.config.maxOutOfOrderBytes, MAX_OOO_RANGES);
      if (off > 0) {
        // RFC 5681 §4.2: an out-of-order segment is acknowledged at once (a duplicate ACK). With
        // SACK one ACK per drain carries everything; without it the peer counts duplicates.
        this.nOooSegments++;
        if (advanced >= 0) this.noteSackArrival(streamOff);
        if (this.sackOk) this.ackNow = true;
        else if (this.dupAcksOwed < MAX_DUP_ACKS_PER_DRAIN) this.dupAcksOwed++;
      } else if (advanced > 0) {
        this.rcvNxt = seqAdd(this.rcvNxt, advanced);
        this.nBytesReceived += advanced;
        if (!this.readablePending) {
          this.readablePending = true;
          this.emit(EV_READABLE);
        }
        // RFC 5681 §4.2: a segment that fills a hole is acknowledged at once.
        this.requestAck(now, hadHoles, data.length, push && !interactive);
      }
    } else if (payload.length > 0) {
      this.ackNow = true; // wholly old or beyond the window
    }
    if (keepFin) this.peerFinSeq = seqAdd(seq, payload.length);
    if (this.peerFinSeq !== undefined && this.peerFinSeq === this.rcvNxt && !this.peerFinReceived) this.processFin(now);
  }

  /** Eighth step: the peer's FIN, now in order (§3.10.7.4 eighth). */
  private processFin(now: Instant): void {
    this.peerFinReceived = true;
    this.peerFinSeq = undefined;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackNow = true;
    this.emit(EV_END);
    switch (this.st) {
      case 'ESTABLISHED':
        this.setState('CLOSE-WAIT');
        break;
      case 'FIN-WAIT-1':
        // Our FIN is not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
        this.setState('CLOSING');
        break;
      case 'FIN-WAIT-2':
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
  }

  /**
   * In-order data arrived: acknowledge now, or within `delayedAckMs` (RFC 1122 §4.2.3.2,
   * RFC 5681 §4.2). At once: when it filled a hole, during the first segments of the connection
   * (the peer's slow start needs ACKs), when two full-sized segments' worth is unacknowledged,
   * and for a pushed segment when we are not exchanging data both ways (no reply will carry the
   * ACK, and a peer's Nagle may be waiting for it).
   */
  private requestAck(now: Instant, immediate: boolean, segmentLength: number, pushAlone: boolean): void {
    if (immediate || this.config.delayedAckMs === 0) {
      this.ackNow = true;
      return;
    }
    if (this.quickAcks > 0) {
      this.quickAcks--;
      this.ackNow = true;
      return;
    }
    this.unackedBytes += segmentLength;
    if (this.unackedBytes >= 2 * this.rcvMss || pushAlone) this.ackNow = true;
    else if (this.ackDeadline === undefined) this.ackDeadline = now + this.config.delayedAckMs;
  }

  /** RFC 2018 §4: remember where the latest out-of-order segment landed (first SACK block). */
  private noteSackArrival(streamOff: number): void {
    if (!this.sackOk) return;
    const r = (this.sackRecent ??= []);
    r.unshift(streamOff);
    if (r.length > MAX_SACK_BLOCKS) r.length = MAX_SACK_BLOCKS;
  }

  // =====================================================================================
  // Timers
  // =====================================================================================

  /** Retransmission timer expiry (RFC 6298 §5.4–5.6, RFC 5681 §3.1, RFC 8985 §6.3). */
  private onRetransmitTimeout(now: Instant): void {
    this.rtxDeadline = undefined;
    if (!seqGt(this.sndNxt, this.sndUna)) return; // nothing in flight: spurious (or persist's job)
    const synPhase = this.st === 'SYN-SENT' || this.st === 'SYN-RECEIVED';
    const limit = synPhase ? this.config.synRetries : this.config.maxRetransmits;
    // RFC 5482: a user timeout, when set, bounds data retransmission instead of the count.
    if (this.rtoRetries >= limit && (synPhase || this.userTimeoutMs === 0)) {
      this.toClosed('ETIMEDOUT');
      return;
    }
    this.rtoRetries++;
    this.nRto++;
    this.rtt.backoff(); // §5.5
    this.rttSeq = undefined;
    this.dupAcks = 0;
    this.fastRetransmitPending = false;
    if (synPhase) {
      this.synRetransmitted = true;
      this.sndNxt = this.sndUna; // resend the SYN
    } else if (this.sb.count > 0) {
      this.cc.onRto(seqDiff(this.sndMax, this.sndUna), this.sndMax, this.rtoRetries === 1);
      // RFC 2018 §8: a SACKed head at timeout means the peer reneged: forget the SACKs.
      if ((this.sb.flagsOf(0) & SACKED) !== 0) this.sb.clearSacks();
      const lostBefore = this.sb.lostBytes;
      this.sb.markAllLost();
      if (this.sb.lostBytes > lostBefore) this.nLost++;
      this.rtoRecoverySeq = this.sndMax;
      this.fastRetransmitPending = true; // §5.4: the earliest unacknowledged segment goes now
      this.tlpDeadline = undefined;
      this.tlpPending = false;
      this.tlpEndSeq = -1;
      this.reoDeadline = undefined;
    }
    this.rtxDeadline = now + this.rtt.rtoMs; // §5.6
  }

  /** Persist timer expiry: probe the zero window (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17). */
  private onPersistTimeout(now: Instant): void {
    this.persistDeadline = undefined;
    if (!this.zeroWindowBlocked()) {
      this.persistBackoff = 0;
      return;
    }
    if (this.unansweredProbes >= this.config.maxRetransmits && this.userTimeoutMs === 0) {
      this.toClosed('ETIMEDOUT');
      return;
    }
    this.unansweredProbes++;
    this.probePending = true;
    this.persistBackoff++;
    this.persistDeadline = now + this.persistIntervalMs();
  }

  /** Keepalive timer (RFC 1122 §4.2.3.6). */
  private onKeepAliveTimeout(now: Instant): void {
    this.kaDeadline = undefined;
    const s = this.st;
    if (!this.keepAliveOn || s === 'TIME-WAIT') return;
    // Probe only an idle connection: with data outstanding or waiting, the retransmission and
    // persist timers watch the peer (as Linux does).
    if ((s !== 'ESTABLISHED' && s !== 'CLOSE-WAIT' && s !== 'FIN-WAIT-2') || seqGt(this.sndMax, this.sndUna) || this.sendBuf.length > 0) {
      this.kaProbesSent = 0;
      this.kaDeadline = now + this.keepAliveIdleMs;
      return;
    }
    if (this.kaProbesSent >= this.config.keepAliveProbes) {
      // As Linux: tell the peer (should it come back) with a RST, report ETIMEDOUT.
      this.finalRst = this.rstRepr(this.sndMax);
      this.toClosed('ETIMEDOUT');
      return;
    }
    this.kaProbesSent++;
    this.nKeepAliveProbes++;
    this.kaProbePending = true;
    this.kaDeadline = now + this.config.keepAliveIntervalMs;
  }

  /** When the user timeout fires, or undefined (off, or nothing outstanding). */
  private userDeadline(): Instant | undefined {
    return this.userTimeoutMs > 0 && this.stallSince !== undefined ? this.stallSince + this.userTimeoutMs : undefined;
  }

  /** RFC 1191: ICMP "fragmentation needed" quoting one of our segments. */
  private onFragNeeded(now: Instant, mtu: number): void {
    if (!Number.isFinite(mtu)) return;
    // 40 octets of IPv4 and TCP headers; options count within the MSS (RFC 6691).
    const bound = Math.max(MIN_PEER_MSS, Math.floor(mtu) - 40);
    if (bound >= this.pmtuMss) return;
    this.pmtuMss = bound;
    const mss = Math.max(MIN_PEER_MSS - TIMESTAMP_OPTION_LENGTH, Math.min(bound, this.config.mss) - (this.tsOk ? TIMESTAMP_OPTION_LENGTH : 0));
    if (this.st === 'SYN-SENT' || this.st === 'SYN-RECEIVED' || mss >= this.sendMss) return;
    this.sendMss = mss;
    // The segments that no longer fit were dropped by the router: resend them now in pieces,
    // without a congestion response (the loss was not congestion).
    if (this.sb.count > 0 && this.sb.resegment(mss) > 0) {
      this.nLost++;
      this.fastRetransmitPending = true;
      if (this.rtxDeadline === undefined) this.rtxDeadline = now + this.rtt.rtoMs;
    }
  }

  /** RFC 5961 §3–§5 challenge ACK, at most `challengeAckLimit` per `challengeAckWindowMs` (§7). */
  private challengeAck(now: Instant): void {
    const limit = this.config.challengeAckLimit;
    if (limit > 0) {
      if (now - this.caWindowStart >= this.config.challengeAckWindowMs) {
        this.caWindowStart = now;
        this.caCount = 0;
      }
      if (this.caCount >= limit) {
        this.nChallengeSuppressed++;
        return;
      }
      this.caCount++;
    }
    this.nChallengeAcks++;
    this.ackNow = true;
  }

  private persistIntervalMs(): number {
    let t = this.rtt.rtoMs;
    for (let i = 0; i < this.persistBackoff && t < this.config.rtoMaxMs; i++) t *= 2;
    return Math.min(t, this.config.rtoMaxMs);
  }

  /** Unsent data waits on a zero window with nothing in flight. */
  private zeroWindowBlocked(): boolean {
    if (!this.canTransmitData() || this.sndWnd !== 0 || this.sndNxt !== this.sndUna) return false;
    return seqLt(this.sndNxt, seqAdd(this.bufSeq, this.sendBuf.length));
  }

  /** RFC 8985 §7.2: a probe may be scheduled (SACK, data outstanding, no recovery, none outstanding). */
  private tlpAllowed(): boolean {
    return this.sackOk && this.sb.count > 0 && this.tlpEndSeq < 0 && !this.cc.inRecovery && this.rtoRecoverySeq === undefined && this.canTransmitData();
  }

  /** (Re)arms the probe timeout after new data was sent or new data acknowledged (RFC 8985 §7.2). */
  private armTlp(now: Instant): void {
    if (!this.tlpAllowed()) {
      this.tlpDeadline = undefined;
      return;
    }
    let pto: number;
    if (this.rtt.hasSample) {
      pto = 2 * this.rtt.srttMs;
      if (this.sb.count === 1) pto += TLP_WC_DEL_ACK_MS;
    } else {
      pto = 1000;
    }
    pto = Math.max(pto, 1);
    let at = now + pto;
    if (this.rtxDeadline !== undefined && this.rtxDeadline < at) at = this.rtxDeadline;
    this.tlpDeadline = at;
  }

  private enterTimeWait(now: Instant): void {
    this.setState('TIME-WAIT');
    this.finWait2Deadline = undefined;
    this.rtxDeadline = undefined;
    this.persistDeadline = undefined;
    this.reoDeadline = undefined;
    this.tlpDeadline = undefined;
    this.kaDeadline = undefined;
    this.stallSince = undefined;
    this.timeWaitDeadline = now + this.config.timeWaitMs;
  }

  // =====================================================================================
  // Transmission
  // =====================================================================================

  private transmitSyn(now: Instant): Transmit {
    const synAck = this.st === 'SYN-RECEIVED';
    const fresh = this.sndMax === this.iss;
    const cfg = this.config;
    let repr: TcpRepr;
    if (synAck) {
      // Answer exactly the options the peer's SYN offered (RFC 7323 §1.3, RFC 2018 §2).
      repr = {
        srcPort: this.local.port,
        dstPort: this.remote.port,
        control: 'syn',
        seq: this.iss,
        ack: this.rcvNxt,
        window: this.synWindowField(),
        mss: cfg.mss,
        windowScale: this.wsOk ? this.rcvWscale : undefined,
        sackPermitted: this.sackOk ? true : undefined,
        timestamp: this.tsOk ? { tsVal: this.tsNow(now), tsEcr: this.tsRecent } : undefined,
        // RFC 3168 §6.1.1: an ECN-setup SYN-ACK carries ECE without CWR.
        ece: this.ecnOk ? true : undefined,
      };
    } else {
      // RFC 3168 §6.1.1.1: a retransmitted SYN goes without ECN setup, in case ECN was the problem.
      this.ecnSynSent = cfg.ecn && fresh;
      repr = {
        srcPort: this.local.port,
        dstPort: this.remote.port,
        control: 'syn',
        seq: this.iss,
        ack: undefined,
        window: this.synWindow,
        // RFC 9293 §3.7.1: announce the largest segment we can receive.
        mss: cfg.mss,
        windowScale: this.wsOffered >= 0 ? this.wsOffered : undefined,
        sackPermitted: cfg.sack ? true : undefined,
        timestamp: cfg.timestamps ? { tsVal: this.tsNow(now), tsEcr: 0 } : undefined,
        ece: this.ecnSynSent ? true : undefined,
        cwr: this.ecnSynSent ? true : undefined,
      };
    }
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    if (fresh) {
      this.rttSeq = this.sndNxt;
      this.rttStart = now;
    } else {
      this.nRetransmits++;
      this.rttSeq = undefined;
    }
    if (this.rtxDeadline === undefined) this.rtxDeadline = now + this.rtt.rtoMs;
    return this.out(repr, EMPTY, false);
  }

  /** The window of a SYN-ACK: unscaled (RFC 7323 §2.2), remembered as the promised right edge. */
  private synWindowField(): number {
    const wnd = Math.min(this.synWindow, Math.max(0, this.recvBuf.space));
    this.rcvAdvRight = seqAdd(this.rcvNxt, wnd);
    return wnd;
  }

  /**
   * New data (and FIN) from SND.NXT, within the peer's window, cwnd − pipe and the MSS, subject to
   * sender SWS avoidance (RFC 9293 §3.8.6.2.1) and Nagle (RFC 1122 §4.2.3.4). A tail loss probe
   * (`probe`) ignores cwnd and Nagle (RFC 8985 §7.3).
   */
  private transmitData(now: Instant, probe: boolean): Transmit | undefined {
    const bufLen = this.sendBuf.length;
    const off = seqDiff(this.sndNxt, this.bufSeq);
    const avail = off >= 0 ? bufLen - off : 0;
    let len = 0;
    let full = this.sendMss;
    if (avail > 0) {
      const rwndRoom = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      const cwndRoom = probe ? this.sendMss : Math.floor(this.cc.cwnd - this.sb.pipe);
      // SACK blocks we owe ride on data too, so they take room from the payload (RFC 6691).
      full = this.sendMss - this.sackOptionLength(this.sackBlockLimit());
      len = Math.max(0, Math.min(avail, full, rwndRoom, cwndRoom));
      const inFlight = this.sndNxt !== this.sndUna;
      const finRides = this.finQueued && seqAdd(this.sndNxt, len) === this.finSeq;
      if (len > 0 && len < full && !probe) {
        if (len < avail) {
          // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): send a full segment, all that is queued,
          // at least half the largest window seen, or anything when nothing is in flight (the
          // override that keeps a small window from stalling us).
          if (len < this.maxSndWnd / 2 && inFlight) len = 0;
        } else if (!this.noDelayOn && !finRides && inFlight && seqGt(this.sndSml, this.sndUna)) {
          // Nagle, Minshall's variant (as Linux): a sub-MSS segment waits while an earlier
          // sub-MSS segment is unacknowledged. The FIN's segment is never held.
          len = 0;
        }
      }
      if (len === 0 && this.zeroWindowBlocked()) {
        if (this.persistDeadline === undefined) this.persistDeadline = now + this.persistIntervalMs();
        // User timeout: data held by a zero window counts as unacknowledged (RFC 5482, Linux).
        if (this.stallSince === undefined) this.stallSince = now;
      }
    }
    const end = seqAdd(this.sndNxt, len);
    // FIN goes after the last octet, riding on it when it fits. A lone FIN does not wait for
    // window (it takes no buffer; Linux accepts a bare FIN at RCV.NXT into a zero window).
    const sendFin = this.finQueued && !this.finAcked && end === this.finSeq && seqGe(end, this.sndMax) && (len > 0 || len === avail);
    if (len === 0 && !sendFin) return undefined;

    const lastOfBurst = len > 0 && len === avail;
    const cwr = this.cwrPending && len > 0;
    if (cwr) this.cwrPending = false;
    const repr = this.dataRepr(now, sendFin ? 'fin' : lastOfBurst ? 'psh' : 'none', this.sndNxt, cwr, len);
    const payload = len > 0 ? this.sendBuf.slice(off, len) : EMPTY;
    this.sb.push(this.bufOff + off, len, sendFin, now);
    if (this.stallSince === undefined) this.stallSince = now;
    this.sndNxt = sendFin ? seqAdd(end, 1) : end;
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    if (len > 0 && len < full) this.sndSml = end;
    if (len > 0) {
      this.sentSinceRecv = true;
      this.quickAcks = 0; // we reply with data: delayed ACKs will ride on it
    }
    if (this.rtxDeadline === undefined) this.rtxDeadline = now + this.rtt.rtoMs;
    if (!probe) this.armTlp(now);
    // RFC 3168 §6.1.2: new data of an ECN-capable connection is ECT(0).
    return this.out(repr, payload, this.ecnOk && len > 0);
  }

  /** Resends scoreboard record `i` (RFC 6675 NextSeg; RFC 6298 §5.4; RFC 6582 §3.2). */
  private retransmitRecord(i: number, now: Instant): Transmit {
    const start = this.sb.startOf(i);
    const len = this.sb.lenOf(i);
    const fin = (this.sb.flagsOf(i) & FIN) !== 0;
    const rel = start - this.bufOff;
    const repr = this.dataRepr(now, fin ? 'fin' : 'psh', seqAdd(this.bufSeq, rel), false, len);
    this.sb.retransmitted(i, now);
    this.nRetransmits++;
    if (this.rtxDeadline === undefined) this.rtxDeadline = now + this.rtt.rtoMs;
    // RFC 3168 §6.1.5: retransmitted data is not ECN-capable.
    return this.out(repr, len > 0 ? this.sendBuf.slice(rel, len) : EMPTY, false);
  }

  /**
   * RFC 8985 §7.3: the tail loss probe: one new segment when the window allows, else the last
   * segment sent again. Then the RTO is re-armed and the episode lasts until the probe is acknowledged.
   */
  private transmitTlp(now: Instant): Transmit | undefined {
    if (!this.tlpAllowed()) return undefined;
    let t = this.transmitData(now, true);
    if (t !== undefined) {
      this.tlpIsRetrans = false;
    } else {
      t = this.retransmitRecord(this.sb.count - 1, now);
      this.tlpIsRetrans = true;
    }
    this.nTlp++;
    this.tlpEndSeq = this.sndMax;
    this.tlpDsack = false;
    this.rtxDeadline = now + this.rtt.rtoMs;
    return t;
  }

  /** One octet beyond the zero window (RFC 9293 §3.8.6.1); sequence space is not advanced. */
  private transmitProbe(now: Instant): Transmit | undefined {
    if (!this.zeroWindowBlocked()) return undefined;
    const off = seqDiff(this.sndUna, this.bufSeq);
    this.nProbes++;
    this.probeEnd = seqAdd(this.sndUna, 1);
    const repr = this.dataRepr(now, 'none', this.sndUna, false, 1);
    return this.out(repr, this.sendBuf.slice(off, 1), false);
  }

  private pureAck(now: Instant): TcpRepr {
    // <SEQ=SND.NXT>: the highest sequence number sent, which the peer expects next.
    return this.dataRepr(now, 'none', this.sndMax, false, 0);
  }

  /**
   * A segment with ACK and every option a synchronized segment carries (timestamps, SACK, ECE).
   * SACK blocks are limited to what fits beside `payloadLength` octets within the MSS.
   */
  private dataRepr(now: Instant, control: TcpControl, seq: number, cwr: boolean, payloadLength: number): TcpRepr {
    let sackBlocks: SackBlock[] | undefined;
    if (this.sackOk && this.recvBuf.outOfOrderRanges > 0) {
      const fit = Math.floor((this.sendMss - payloadLength - SACK_OPTION_BASE) / SACK_BLOCK_LENGTH);
      const n = Math.min(fit, this.sackBlockLimit());
      if (n > 0) sackBlocks = this.sackBlocks(n);
    }
    return {
      srcPort: this.local.port,
      dstPort: this.remote.port,
      control,
      seq,
      ack: this.rcvNxt,
      window: this.advertise(),
      // RFC 3168 §6.1.3: ECE on every ACK until the peer's CWR.
      ece: this.eceEcho ? true : undefined,
      cwr: cwr ? true : undefined,
      // RFC 7323 §3.2: once negotiated, TSopt is sent in every non-RST segment.
      timestamp: this.tsOk ? { tsVal: this.tsNow(now), tsEcr: this.tsRecent } : undefined,
      sackBlocks,
    };
  }

  /**
   * SACK blocks for an outgoing ACK (RFC 2018 §4): the block holding the most recently received
   * segment first, then the blocks of the other recent arrivals, then any others; at most 3 with
   * timestamps (the option space), else 4.
   */
  private sackBlocks(max: number): SackBlock[] {
    const rb = this.recvBuf;
    const out: SackBlock[] = [];
    const base = rb.contiguousEnd;
    const recent = this.sackRecent;
    const nRecent = recent === undefined ? 0 : recent.length;
    // Candidates: ranges holding the recent arrivals (newest first), then every range from the top.
    for (let k = 0, n = rb.outOfOrderRanges; k < nRecent + n && out.length < max; k++) {
      const idx = k < nRecent ? rb.rangeContaining(recent![k]!) : n - 1 - (k - nRecent);
      if (idx < 0) continue;
      const left = seqAdd(this.rcvNxt, rb.rangeStart(idx) - base);
      let dup = false;
      for (let j = 0; j < out.length; j++) if (out[j]!.left === left) dup = true;
      if (!dup) out.push({ left, right: seqAdd(this.rcvNxt, rb.rangeEnd(idx) - base) });
    }
    return out;
  }

  /** SACK blocks we would send now: one per out-of-order range, at most 4 (3 with timestamps). */
  private sackBlockLimit(): number {
    if (!this.sackOk) return 0;
    return Math.min(this.recvBuf.outOfOrderRanges, this.tsOk ? 3 : MAX_SACK_BLOCKS);
  }

  /** Option octets taken by `blocks` SACK blocks. */
  private sackOptionLength(blocks: number): number {
    return blocks === 0 ? 0 : SACK_OPTION_BASE + SACK_BLOCK_LENGTH * blocks;
  }

  private rstRepr(seq: number): TcpRepr {
    return { srcPort: this.local.port, dstPort: this.remote.port, control: 'rst', seq: seq >>> 0, ack: undefined, window: 0 };
  }

  /** Books an outgoing segment; every segment with ACK carries everything an ACK would. */
  private out(repr: TcpRepr, payload: Uint8Array, ect: boolean): Transmit {
    this.nSegmentsOut++;
    if (repr.ack !== undefined) {
      this.ackNow = false;
      this.ackDeadline = undefined;
      this.unackedBytes = 0;
      this.lastAckSent = repr.ack;
    }
    return { repr, payload, ecn: ect ? 'ect0' : 'not-ect' };
  }

  /**
   * The window field for an outgoing segment, its right edge remembered as promised.
   * RFC 9293 §3.8.6.2.2 / RFC 1122 §4.2.3.3: the right edge never moves left, and it moves
   * right only in steps of at least min(MSS, buffer/2) (receiver SWS avoidance). With window
   * scaling the field is the window >> shift; a kept edge is rounded up (RFC 7323 §2.4) within
   * the receive ring's slack.
   */
  private advertise(): number {
    const s = this.rcvWscale;
    const current = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    const room = this.config.recvBufferSize - this.recvBuf.readable;
    const possible = Math.max(0, Math.min(room, this.maxRecvWindow()));
    const aligned = s === 0 ? possible : possible - (possible % (1 << s));
    let field: number;
    if (aligned > current && aligned - current >= this.swsThreshold) {
      field = aligned >>> s;
    } else {
      field = Math.ceil(current / 2 ** s);
      if (field * 2 ** s > this.recvBuf.space) field = Math.floor(current / 2 ** s);
    }
    if (field > MAX_UNSCALED_WINDOW) field = MAX_UNSCALED_WINDOW;
    const edge = seqAdd(this.rcvNxt, field * 2 ** s);
    if (seqGt(edge, this.rcvAdvRight)) this.rcvAdvRight = edge;
    return field;
  }

  /** The largest window we may offer: the buffer, within what the field can express. */
  private maxRecvWindow(): number {
    return Math.min(this.config.recvBufferSize, MAX_UNSCALED_WINDOW * 2 ** this.rcvWscale);
  }

  /**
   * After `recv()`: is a pure window update worth sending? Only when what the peer may still send
   * is at most half the maximum and the window would grow by an SWS step (Linux's rule of thumb;
   * RFC 1122 §4.2.3.3). Otherwise the next ACK carries the larger window anyway.
   */
  private maybeWindowUpdate(): void {
    const current = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    const max = this.maxRecvWindow();
    const possible = Math.min(this.config.recvBufferSize - this.recvBuf.readable, max);
    if (current * 2 <= max && possible - current >= this.swsThreshold && !this.ackNow) {
      this.ackNow = true;
      this.nWindowUpdates++;
    }
  }

  // =====================================================================================
  // Helpers
  // =====================================================================================

  /** TSval for `now` (RFC 7323 §5.4: a 1 ms clock plus the per-connection offset). */
  private tsNow(now: Instant): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** Stream offset of send sequence number `seq`. */
  private offsetOf(seq: number): number {
    return this.bufOff + seqDiff(seq, this.bufSeq);
  }

  private rackState(): RackState {
    return (this.rack ??= newRackState());
  }

  private inWindow(seq: number, wnd: number): boolean {
    const d = seqDiff(seq, this.rcvNxt);
    return d >= 0 && d < wnd;
  }

  private canTransmitData(): boolean {
    const s = this.st;
    return s === 'ESTABLISHED' || s === 'CLOSE-WAIT' || s === 'FIN-WAIT-1' || s === 'CLOSING' || s === 'LAST-ACK';
  }

  private acksAllowed(): boolean {
    const s = this.st;
    return s !== 'CLOSED' && s !== 'LISTEN' && s !== 'SYN-SENT';
  }

  /**
   * Options of the peer's SYN (passive open, simultaneous open) or SYN-ACK. An option is in use
   * only when both sides sent it (RFC 7323 §1.3, RFC 2018 §2); `wsAllowed` says whether we
   * offered (or will offer) window scaling.
   */
  private learnPeerOptions(now: Instant, syn: TcpRepr, wsAllowed: boolean): void {
    const cfg = this.config;
    // RFC 9293 §3.7.1: no MSS option means 536; send no more than min(theirs, ours).
    const peerMss = Math.min(syn.mss === undefined ? DEFAULT_PEER_MSS : Math.max(MIN_PEER_MSS, syn.mss), this.pmtuMss);
    this.wsOk = wsAllowed && this.wsOffered >= 0 && syn.windowScale !== undefined;
    this.sndWscale = this.wsOk ? Math.min(syn.windowScale!, 14) : 0;
    this.rcvWscale = this.wsOk ? this.wsOffered : 0;
    this.sackOk = cfg.sack && syn.sackPermitted === true;
    this.tsOk = cfg.timestamps && syn.timestamp !== undefined;
    if (this.tsOk) {
      this.tsRecent = syn.timestamp!.tsVal;
      this.tsRecentAt = now;
    }
    // RFC 6691 §2: the MSS bounds data plus TCP options, so a segment that always carries
    // timestamps has 12 octets less room for data (SACK blocks are fitted per segment).
    this.sendMss = Math.max(MIN_PEER_MSS - TIMESTAMP_OPTION_LENGTH, Math.min(peerMss, cfg.mss) - (this.tsOk ? TIMESTAMP_OPTION_LENGTH : 0));
  }

  /** Resend the SYN (as SYN-ACK once SYN-RECEIVED) on the next poll. */
  private goBackToSyn(): void {
    this.sndNxt = this.iss;
    this.rttSeq = undefined;
  }

  /** SYN-SENT / SYN-RECEIVED → ESTABLISHED. */
  private establish(): void {
    this.cc = createCongestionControl(this.config.congestionControl, this.sendMss, initialWindow(this.sendMss, this.synRetransmitted), this.iss);
    if (this.synRetransmitted) this.rtt.afterSynLoss();
    this.ecnRecover = this.sndMax;
    this.rateRoundEnd = this.sndMax;
    this.sndSml = this.sndMax;
    this.setState('ESTABLISHED');
    this.emit(EV_CONNECTED);
    if (this.closeRequested) this.setState('FIN-WAIT-1');
  }

  private queueReply(repr: TcpRepr): void {
    // Bounded: a flood of bad segments before a drain needs no more than a few answers.
    if (this.replies.length < 4) this.replies.push(repr);
  }

  private emit(ev: TcpEvent): void {
    if (!this.closedEmitted) this.events.push(ev);
  }

  /** Enter CLOSED: optional `error`, then `closed` (exactly once, last). */
  private toClosed(code: TcpErrorCode | undefined): void {
    if (this.st === 'CLOSED') return;
    // An embryonic passive connection was never visible to the application: no error for it.
    if (code !== undefined && !(this.passive && this.st === 'SYN-RECEIVED')) this.emit({ type: 'error', code });
    this.setState('CLOSED');
    this.rtxDeadline = undefined;
    this.persistDeadline = undefined;
    this.timeWaitDeadline = undefined;
    this.finWait2Deadline = undefined;
    this.ackDeadline = undefined;
    this.reoDeadline = undefined;
    this.tlpDeadline = undefined;
    this.kaDeadline = undefined;
    this.kaProbePending = false;
    this.stallSince = undefined;
    this.ackNow = false;
    this.dupAcksOwed = 0;
    this.replies.length = 0;
    this.fastRetransmitPending = false;
    this.probePending = false;
    this.tlpPending = false;
    this.emit(EV_CLOSED);
    this.closedEmitted = true;
  }

  /** The one place the state changes (RFC 9293 §3.3.2), so transitions can be traced here. */
  private setState(next: TcpState): void {
    this.st = next;
  }
}
