/**
 * One TCP connection as a sans-IO state machine: the TCB of RFC 9293 and nothing else. It never
 * reads a clock, never does I/O and never allocates per segment beyond the outgoing Repr.
 *
 * RFCs a reader must know (section numbers are cited at each rule below):
 * - RFC 9293  TCP itself: states (§3.3.2), sequence space (§3.4), the segment acceptability test
 *             and the SEGMENT ARRIVES processing order (§3.10.7), window management (§3.8.6),
 *             MSS option (§3.7.1), TIME-WAIT (§3.6.1).
 * - RFC 5961  blind-attack mitigations: challenge ACK for a SYN in a synchronized state (§4),
 *             ACK acceptability bounds (§5). (Exact-match RST with challenge ACK, §3, is later work.)
 * - RFC 6298  retransmission timer: SRTT/RTTVAR, backoff, Karn's algorithm.
 * - RFC 5681  congestion control (slow start, avoidance, fast retransmit/recovery, duplicate
 *             ACK definition §2, immediate ACK of out-of-order data §4.2); RFC 6582 NewReno;
 *             RFC 6928 initial window. See congestion.ts.
 * - RFC 1122  §4.2.3.3/§4.2.3.4 silly-window-syndrome avoidance on both sides, §4.2.3.2 delayed ACK.
 *
 * Model. Inputs: `handleSegment`, `handleTimeout`. Commands: `send`, `recv`, `close`, `abort`.
 * Outputs: `pollTransmit` (one segment per call), `pollEvent`, `pollTimeout`. After any input or
 * command the owner drains transmits, then events, then re-reads the deadline.
 *
 * Send side. The send buffer holds every octet from SND.UNA (or from ISS+1 while the SYN is
 * unacknowledged); `bufSeq` is the sequence number of its first octet. `sndMax` is the highest
 * sequence number sent (the RFC's SND.NXT); `sndNxt` is where the next transmission starts and
 * falls back to SND.UNA on a retransmission timeout (go-back-N, RFC 5681 §3.1 / RFC 6298 §5.4).
 * Fast retransmit resends just the first unacknowledged segment and leaves `sndNxt` alone.
 *
 * Receive side. Out-of-order data is stored in place in the receive ring (recv-buffer.ts); the
 * right edge RCV.NXT + RCV.WND we advertised is remembered in `rcvAdvRight` and never moves left.
 */
import { MAX_UNSCALED_WINDOW, resolveTcpConfig } from './config.js';
import { NewReno, initialWindow, type CongestionControl } from './congestion.js';
import { TcpUsageError } from './errors.js';
import { RecvBuffer } from './recv-buffer.js';
import { RttEstimator } from './rtt.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from './seq.js';
import type {
  Endpoint,
  Instant,
  TcpConfig,
  TcpControl,
  TcpErrorCode,
  TcpEvent,
  TcpRepr,
  TcpState,
  Transmit,
} from './types.js';

/** Counters and estimator values of one connection; a snapshot, read with `conn.stats`. */
export interface TcpStats {
  /** Smoothed RTT (RFC 6298), 0 before the first sample. */
  readonly srttMs: number;
  /** RTT variance (RFC 6298), 0 before the first sample. */
  readonly rttvarMs: number;
  /** Current retransmission timeout, backoff included. */
  readonly rtoMs: number;
  /** Number of RTT samples taken (Karn: never from retransmitted data). */
  readonly rttSamples: number;
  /** Congestion window in octets. */
  readonly cwnd: number;
  /** Slow-start threshold in octets (0x7fffffff until the first loss). */
  readonly ssthresh: number;
  /** Effective send MSS: min(peer's MSS option or 536, config.mss). */
  readonly sendMss: number;
  /** Octets sent and not yet acknowledged (SND.MAX − SND.UNA). */
  readonly bytesInFlight: number;
  /** The peer's current window (SND.WND). */
  readonly sendWindow: number;
  /** The window we last advertised, measured from RCV.NXT. */
  readonly recvWindow: number;
  /** Segments resent, for any reason. */
  readonly retransmits: number;
  /** Retransmission timer expiries. */
  readonly rtoCount: number;
  /** Fast retransmits on three duplicate ACKs, plus NewReno partial-ACK retransmits. */
  readonly fastRetransmits: number;
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
  /** Challenge ACKs sent (RFC 5961 §4). */
  readonly challengeAcks: number;
  /** Zero-window probes sent. */
  readonly persistProbes: number;
  /** Pure window updates triggered by `recv()`. */
  readonly windowUpdates: number;
  /** Application octets the peer acknowledged. */
  readonly bytesAcked: number;
  /** Application octets made readable. */
  readonly bytesReceived: number;
}

/** Receive-side bound on disjoint out-of-order ranges (each costs a scan on insert). */
const MAX_OOO_RANGES = 64;
/** RFC 9293 §3.7.1: the MSS to assume when the peer sent no MSS option. */
const DEFAULT_PEER_MSS = 536;
/** Floor for a peer-announced MSS, so a hostile tiny MSS cannot make us send 1-octet segments. */
const MIN_PEER_MSS = 64;
/** Most duplicate ACKs emitted in one drain for out-of-order arrivals. */
const MAX_DUP_ACKS_PER_DRAIN = 16;

const EMPTY = new Uint8Array(0);
const EV_CONNECTED: TcpEvent = Object.freeze({ type: 'connected' });
const EV_READABLE: TcpEvent = Object.freeze({ type: 'readable' });
const EV_WRITABLE: TcpEvent = Object.freeze({ type: 'writable' });
const EV_END: TcpEvent = Object.freeze({ type: 'end' });
const EV_CLOSED: TcpEvent = Object.freeze({ type: 'closed' });

function earliest(a: Instant | undefined, b: Instant | undefined): Instant | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

/** Options of {@link TcpConnection.connect}. */
export interface ConnectOptions {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** Initial send sequence number (RFC 9293 §3.4.1; the caller supplies it, e.g. RFC 6528). */
  readonly iss: number;
  readonly config?: Partial<TcpConfig> | undefined;
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

  // ---- send sequence space (RFC 9293 §3.3.1) ----
  private sndUna: number;
  private sndNxt: number;
  private sndMax: number;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private maxSndWnd = 0;
  private bufSeq: number;
  private readonly sendBuf: SendBuffer;
  private sendMss: number;
  private closeRequested = false;
  private finQueued = false;
  private finSeq = 0;
  private finAcked = false;
  private cc: CongestionControl;
  private readonly rtt: RttEstimator;
  private rttSeq: number | undefined;
  private rttStart = 0;
  private rtoRetries = 0;
  private synRetransmitted = false;
  private dupAcks = 0;
  private fastRetransmitPending = false;
  private probePending = false;
  private probeEnd: number | undefined;
  private persistBackoff = 0;
  private unansweredProbes = 0;

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
  private unackedSegments = 0;
  private dupAcksOwed = 0;

  // ---- timers (absolute deadlines; undefined = disarmed) ----
  private rtxDeadline: Instant | undefined;
  private persistDeadline: Instant | undefined;
  private timeWaitDeadline: Instant | undefined;
  private finWait2Deadline: Instant | undefined;

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

  private constructor(local: Endpoint, remote: Endpoint, iss: number, config: TcpConfig, passive: boolean) {
    this.local = local;
    this.remote = remote;
    this.config = config;
    this.passive = passive;
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.bufSeq = seqAdd(this.iss, 1);
    this.sendBuf = new SendBuffer(config.sendBufferSize);
    this.recvBuf = new RecvBuffer(config.recvBufferSize);
    this.synWindow = Math.min(config.recvBufferSize, MAX_UNSCALED_WINDOW);
    // RFC 1122 §4.2.3.3: open the window only in steps of min(buffer/2, MSS).
    this.swsThreshold = Math.max(1, Math.min(config.mss, Math.floor(config.recvBufferSize / 2)));
    this.sendMss = Math.min(DEFAULT_PEER_MSS, config.mss);
    this.rtt = new RttEstimator(config.rtoInitialMs, config.rtoMinMs, config.rtoMaxMs);
    // Replaced once the handshake fixes the MSS; only its recovery point matters before that.
    this.cc = new NewReno(config.mss, config.mss, this.iss);
  }

  /** Active open (RFC 9293 §3.10.1): the connection starts in SYN-SENT with its SYN queued for `pollTransmit`. */
  static connect(_now: Instant, opts: ConnectOptions): TcpConnection {
    const conn = new TcpConnection(opts.local, opts.remote, opts.iss, resolveTcpConfig(opts.config), false);
    conn.setState('SYN-SENT');
    return conn;
  }

  /**
   * Passive open from a SYN received in LISTEN (RFC 9293 §3.10.7.2): the connection starts in
   * SYN-RECEIVED with its SYN-ACK queued. Data carried by the SYN is not accepted (the peer
   * retransmits it after the handshake).
   */
  static accept(_now: Instant, opts: AcceptOptions): TcpConnection {
    const conn = new TcpConnection(opts.local, opts.remote, opts.iss, resolveTcpConfig(opts.config), true);
    conn.setState('LISTEN');
    const syn = opts.syn;
    conn.irs = syn.seq >>> 0;
    conn.rcvNxt = seqAdd(conn.irs, 1);
    conn.rcvAdvRight = seqAdd(conn.rcvNxt, conn.synWindow);
    conn.learnPeerOptions(syn);
    conn.sndWnd = syn.window;
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

  /** In-order octets ready for `recv()`. */
  get readableLength(): number {
    return this.recvBuf.readable;
  }

  /** A snapshot of the connection's counters and estimators. */
  get stats(): TcpStats {
    return {
      srttMs: this.rtt.srttMs,
      rttvarMs: this.rtt.rttvarMs,
      rtoMs: this.rtt.rtoMs,
      rttSamples: this.nRttSamples,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      sendMss: this.sendMss,
      bytesInFlight: Math.max(0, seqDiff(this.sndMax, this.sndUna)),
      sendWindow: this.sndWnd,
      recvWindow: this.st === 'SYN-SENT' || this.st === 'CLOSED' ? 0 : Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt)),
      retransmits: this.nRetransmits,
      rtoCount: this.nRto,
      fastRetransmits: this.nFastRetransmits,
      segmentsIn: this.nSegmentsIn,
      segmentsOut: this.nSegmentsOut,
      dupAcksIn: this.nDupAcksIn,
      outOfOrderBytes: this.recvBuf.outOfOrderBytes,
      outOfOrderSegments: this.nOooSegments,
      unacceptableSegments: this.nUnacceptable,
      challengeAcks: this.nChallengeAcks,
      persistProbes: this.nProbes,
      windowUpdates: this.nWindowUpdates,
      bytesAcked: this.nBytesAcked,
      bytesReceived: this.nBytesReceived,
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
   * Nothing is sent from here: replies are queued for `pollTransmit`, so a burst of segments fed
   * before one drain is acknowledged once.
   */
  handleSegment(now: Instant, seg: TcpRepr, payload: Uint8Array): void {
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
        this.segmentInSynchronized(now, seg, payload);
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
    if (this.rtxDeadline !== undefined && now >= this.rtxDeadline) {
      this.onRetransmitTimeout(now);
      if (this.closedEmitted) return;
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
      return this.out(rst, EMPTY);
    }
    const reply = this.replies.shift();
    if (reply !== undefined) return this.out(reply, EMPTY);

    const s = this.st;
    if ((s === 'SYN-SENT' || s === 'SYN-RECEIVED') && this.sndNxt === this.iss) return this.transmitSyn(now);

    if (this.canTransmitData()) {
      if (this.fastRetransmitPending) {
        this.fastRetransmitPending = false;
        const t = this.retransmitFirst(now);
        if (t !== undefined) return t;
      }
      if (this.probePending) {
        this.probePending = false;
        const t = this.transmitProbe();
        if (t !== undefined) return t;
      }
      const t = this.transmitData(now);
      if (t !== undefined) return t;
    }

    if (this.acksAllowed() && (this.ackNow || this.dupAcksOwed > 0 || (this.ackDeadline !== undefined && now >= this.ackDeadline))) {
      if (this.dupAcksOwed > 0) this.dupAcksOwed--;
      return this.out(this.pureAck(), EMPTY);
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
      this.ackDeadline,
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
    this.rcvAdvRight = seqAdd(this.rcvNxt, this.synWindow);
    this.learnPeerOptions(seg);
    if (ack !== undefined) {
      // Our SYN is acknowledged: ESTABLISHED, and acknowledge theirs.
      this.ackSyn(now, ack);
      this.sndWnd = seg.window;
      this.maxSndWnd = Math.max(this.maxSndWnd, seg.window);
      this.sndWl1 = this.irs;
      this.sndWl2 = ack;
      this.establish();
      this.ackNow = true;
      // Data on a SYN-ACK continues at the sixth step of §3.10.7.4.
      if (payload.length > 0) this.processText(now, seqAdd(seg.seq, 1), payload, false);
      return;
    }
    // Simultaneous open (RFC 9293 §3.5 figure 7): SYN-RECEIVED, resend our SYN as a SYN-ACK.
    this.sndWnd = seg.window;
    this.maxSndWnd = Math.max(this.maxSndWnd, seg.window);
    this.sndWl1 = this.irs;
    this.sndWl2 = this.iss;
    this.setState('SYN-RECEIVED');
    this.goBackToSyn();
  }

  /** RFC 9293 §3.10.7.4: every state from SYN-RECEIVED on. */
  private segmentInSynchronized(now: Instant, seg: TcpRepr, payload: Uint8Array): void {
    let seq = seg.seq >>> 0;
    let control: TcpControl = seg.control;

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

    // ---- second: RST (§3.10.7.4 second; in-window RSTs are accepted) ----
    if (control === 'rst') {
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
      this.nChallengeAcks++;
      this.ackNow = true;
      return;
    }

    // ---- fifth: the ACK field ----
    const ack = seg.ack;
    if (ack === undefined) return; // "if the ACK bit is off, drop the segment and return"
    this.unansweredProbes = 0;

    if (this.st === 'SYN-RECEIVED') {
      if (!(seqGt(ack, this.sndUna) && seqLe(ack, this.sndMax))) {
        // §3.10.7.4 fifth, SYN-RECEIVED: unacceptable ACK → <SEQ=SEG.ACK><CTL=RST>.
        this.queueReply(this.rstRepr(ack));
        return;
      }
      this.ackSyn(now, ack);
      this.sndWnd = seg.window;
      this.maxSndWnd = Math.max(this.maxSndWnd, seg.window);
      this.sndWl1 = seq;
      this.sndWl2 = ack;
      this.establish();
    } else if (!this.processAck(now, seq, ack, seg.window, payload.length === 0 && control !== 'fin')) {
      return;
    }

    // State changes the ACK may cause (§3.10.7.4 fifth, per state).
    switch (this.st) {
      case 'FIN-WAIT-1':
        if (this.finAcked) {
          this.setState('FIN-WAIT-2');
          this.finWait2Deadline = now + this.config.finWait2TimeoutMs;
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
        this.finWait2Deadline = now + this.config.finWait2TimeoutMs;
        break;
      default:
        break;
    }

    // ---- sixth (URG: ignored), seventh (text), eighth (FIN) ----
    if (payload.length > 0 || fin) this.processText(now, seq, payload, fin);
  }

  /**
   * §3.10.7.4 fifth step for ESTABLISHED and later states. Returns false when the segment must be
   * dropped here (ACK of unsent data, or an ACK too old per RFC 5961 §5.2).
   */
  private processAck(now: Instant, seq: number, ack: number, window: number, maybeDuplicate: boolean): boolean {
    const ackLimit = this.probeEnd !== undefined && seqGt(this.probeEnd, this.sndMax) ? this.probeEnd : this.sndMax;
    if (seqGt(ack, ackLimit)) {
      // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the
      // segment, and return."
      this.ackNow = true;
      return false;
    }
    if (seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      // RFC 5961 §5.2: an ACK older than SND.UNA − MAX.SND.WND is answered with an ACK and dropped.
      this.ackNow = true;
      return false;
    }
    const oldWnd = this.sndWnd;
    if (seqGt(ack, this.sndUna)) {
      this.newAck(now, ack);
    } else if (
      ack === this.sndUna &&
      maybeDuplicate &&
      window === oldWnd &&
      seqGt(this.sndMax, this.sndUna)
    ) {
      // RFC 5681 §2 duplicate ACK: outstanding data, no payload, no SYN/FIN, same ACK, same window.
      this.onDuplicateAck();
    }
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
      }
    }
    return true;
  }

  /** SND.UNA advances to `ack` (§3.10.7.4 fifth; RFC 6298 §5.2–5.3; RFC 5681; RFC 6582). */
  private newAck(now: Instant, ack: number): void {
    const acked = seqDiff(ack, this.sndUna);
    const dataAcked = Math.min(Math.max(0, seqDiff(ack, this.bufSeq)), this.sendBuf.length);
    if (dataAcked > 0) {
      this.sendBuf.consume(dataAcked);
      this.bufSeq = seqAdd(this.bufSeq, dataAcked);
      this.nBytesAcked += dataAcked;
      if (this.canSend && !this.writablePending) {
        this.writablePending = true;
        this.emit(EV_WRITABLE);
      }
    }
    if (this.finQueued && seqGt(ack, this.finSeq) && seqGt(this.sndMax, this.finSeq)) this.finAcked = true;
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (this.probeEnd !== undefined && seqGe(ack, this.probeEnd)) this.probeEnd = undefined;
    if (seqGt(ack, this.sndMax)) this.sndMax = ack; // the probe octet was accepted

    // Karn's algorithm: the timed segment was never retransmitted (timing is cancelled on any
    // retransmission), so this sample is unambiguous (RFC 6298 §3).
    if (this.rttSeq !== undefined && seqGe(ack, this.rttSeq)) {
      this.rtt.sample(now - this.rttStart);
      this.nRttSamples++;
      this.rttSeq = undefined;
    }
    this.rtt.resetBackoff();
    this.rtoRetries = 0;

    const flight = Math.max(0, seqDiff(this.sndMax, this.sndUna));
    // Cwnd-limited: what was in flight before this ACK came within one MSS of cwnd.
    const verdict = this.cc.onAck(acked, ack, flight, flight + acked + this.sendMss >= this.cc.cwnd);
    if (verdict === 'partial') {
      // RFC 6582 §3.2 step 5: retransmit the first unacknowledged segment.
      this.fastRetransmitPending = true;
      this.nFastRetransmits++;
    }
    this.dupAcks = 0;
    // RFC 6298 §5.2/§5.3: stop the timer when all is acknowledged, else restart it.
    this.rtxDeadline = seqGt(this.sndNxt, this.sndUna) ? now + this.rtt.rtoMs : undefined;
  }

  /** RFC 5681 §3.2 fast retransmit / fast recovery, RFC 6582 guard against repeats. */
  private onDuplicateAck(): void {
    this.nDupAcksIn++;
    this.dupAcks++;
    if (this.cc.inRecovery) {
      this.cc.onDuplicateAck();
    } else if (this.dupAcks === 3 && this.cc.canFastRetransmit(this.sndUna)) {
      this.cc.onCongestion(seqDiff(this.sndMax, this.sndUna), this.sndMax);
      this.fastRetransmitPending = true;
      this.nFastRetransmits++;
    }
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
  private processText(now: Instant, seq: number, payload: Uint8Array, fin: boolean): void {
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
    if (data.length > 0) {
      const hadHoles = this.recvBuf.outOfOrderRanges > 0;
      const advanced = this.recvBuf.write(off, data, this.config.maxOutOfOrderBytes, MAX_OOO_RANGES);
      if (off > 0) {
        // RFC 5681 §4.2: an out-of-order segment is acknowledged at once (a duplicate ACK).
        this.nOooSegments++;
        if (this.dupAcksOwed < MAX_DUP_ACKS_PER_DRAIN) this.dupAcksOwed++;
      } else if (advanced > 0) {
        this.rcvNxt = seqAdd(this.rcvNxt, advanced);
        this.nBytesReceived += advanced;
        if (!this.readablePending) {
          this.readablePending = true;
          this.emit(EV_READABLE);
        }
        // RFC 5681 §4.2: a segment that fills a hole is acknowledged at once.
        this.requestAck(now, hadHoles, data.length);
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

  /** In-order data arrived: acknowledge now, or within `delayedAckMs` (RFC 1122 §4.2.3.2). */
  private requestAck(now: Instant, immediate: boolean, segmentLength: number): void {
    if (immediate || this.config.delayedAckMs === 0) {
      this.ackNow = true;
      return;
    }
    // RFC 5681 §4.2: at least every second full-sized segment.
    if (segmentLength >= this.sendMss) this.unackedSegments++;
    if (this.unackedSegments >= 2) this.ackNow = true;
    else if (this.ackDeadline === undefined) this.ackDeadline = now + this.config.delayedAckMs;
  }

  // =====================================================================================
  // Timers
  // =====================================================================================

  /** Retransmission timer expiry (RFC 6298 §5.4–5.6, RFC 5681 §3.1). */
  private onRetransmitTimeout(now: Instant): void {
    this.rtxDeadline = undefined;
    if (!seqGt(this.sndNxt, this.sndUna)) return; // nothing in flight: spurious (or persist's job)
    const synPhase = this.st === 'SYN-SENT' || this.st === 'SYN-RECEIVED';
    const limit = synPhase ? this.config.synRetries : this.config.maxRetransmits;
    if (this.rtoRetries >= limit) {
      this.toClosed('ETIMEDOUT');
      return;
    }
    this.rtoRetries++;
    this.nRto++;
    if (synPhase) this.synRetransmitted = true;
    else this.cc.onRto(seqDiff(this.sndMax, this.sndUna), this.sndMax, this.rtoRetries === 1);
    this.rtt.backoff(); // §5.5
    this.rttSeq = undefined; // Karn: what is in flight now is ambiguous
    this.sndNxt = this.sndUna; // §5.4: retransmit the earliest unacknowledged segment (then go-back-N)
    this.dupAcks = 0;
    this.fastRetransmitPending = false;
    this.rtxDeadline = now + this.rtt.rtoMs; // §5.6
  }

  /** Persist timer expiry: probe the zero window (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17). */
  private onPersistTimeout(now: Instant): void {
    this.persistDeadline = undefined;
    if (!this.zeroWindowBlocked()) {
      this.persistBackoff = 0;
      return;
    }
    if (this.unansweredProbes >= this.config.maxRetransmits) {
      this.toClosed('ETIMEDOUT');
      return;
    }
    this.unansweredProbes++;
    this.probePending = true;
    this.persistBackoff++;
    this.persistDeadline = now + this.persistIntervalMs();
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

  private enterTimeWait(now: Instant): void {
    this.setState('TIME-WAIT');
    this.finWait2Deadline = undefined;
    this.rtxDeadline = undefined;
    this.persistDeadline = undefined;
    this.timeWaitDeadline = now + this.config.timeWaitMs;
  }

  // =====================================================================================
  // Transmission
  // =====================================================================================

  private transmitSyn(now: Instant): Transmit {
    const synAck = this.st === 'SYN-RECEIVED';
    const fresh = this.sndMax === this.iss;
    const repr: TcpRepr = {
      srcPort: this.local.port,
      dstPort: this.remote.port,
      control: 'syn',
      seq: this.iss,
      ack: synAck ? this.rcvNxt : undefined,
      window: synAck ? this.advertise() : this.synWindow,
      // RFC 9293 §3.7.1: announce the largest segment we can receive. No window scale, SACK or
      // timestamps yet, so by RFC 7323 §1.3 / RFC 2018 the peer's such options stay unused.
      mss: this.config.mss,
    };
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
    return this.out(repr, EMPTY);
  }

  /** New data (and FIN) from `sndNxt`, within the peer's window, cwnd and MSS (§3.8.6.2.1). */
  private transmitData(now: Instant): Transmit | undefined {
    const bufLen = this.sendBuf.length;
    const off = seqDiff(this.sndNxt, this.bufSeq);
    const avail = off >= 0 ? bufLen - off : 0;
    let len = 0;
    if (avail > 0) {
      const usable = seqDiff(seqAdd(this.sndUna, Math.min(this.sndWnd, this.cc.cwnd)), this.sndNxt);
      len = Math.min(avail, this.sendMss, Math.max(0, usable));
      // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): send a full segment, all that is queued, at
      // least half the largest window seen, or anything when nothing is in flight (the
      // override that keeps a small window from stalling us).
      if (
        len > 0 &&
        len < this.sendMss &&
        len < avail &&
        len < this.maxSndWnd / 2 &&
        this.sndNxt !== this.sndUna
      ) {
        len = 0;
      }
      if (len === 0 && this.zeroWindowBlocked() && this.persistDeadline === undefined) {
        this.persistDeadline = now + this.persistIntervalMs();
      }
    }
    const end = seqAdd(this.sndNxt, len);
    // FIN goes after the last octet, riding on it when it fits. A lone FIN does not wait for
    // window (it takes no buffer; Linux accepts a bare FIN at RCV.NXT into a zero window).
    const sendFin = this.finQueued && !this.finAcked && end === this.finSeq && (len > 0 || len === avail);
    if (len === 0 && !sendFin) return undefined;

    const isNew = seqGe(this.sndNxt, this.sndMax);
    const lastOfBurst = len > 0 && len === avail;
    const repr: TcpRepr = {
      srcPort: this.local.port,
      dstPort: this.remote.port,
      control: sendFin ? 'fin' : lastOfBurst ? 'psh' : 'none',
      seq: this.sndNxt,
      ack: this.rcvNxt,
      window: this.advertise(),
    };
    const payload = len > 0 ? this.sendBuf.slice(off, len) : EMPTY;
    this.sndNxt = sendFin ? seqAdd(end, 1) : end;
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    if (isNew) {
      if (this.rttSeq === undefined) {
        this.rttSeq = this.sndNxt;
        this.rttStart = now;
      }
    } else {
      this.nRetransmits++;
      this.rttSeq = undefined; // Karn
    }
    if (this.rtxDeadline === undefined) this.rtxDeadline = now + this.rtt.rtoMs;
    return this.out(repr, payload);
  }

  /** Resends the segment at SND.UNA (fast retransmit, RFC 5681 §3.2 step 2; partial ACK, RFC 6582). */
  private retransmitFirst(now: Instant): Transmit | undefined {
    const sent = seqDiff(this.sndMax, this.sndUna);
    if (sent <= 0) return undefined;
    const off = seqDiff(this.sndUna, this.bufSeq);
    const dataSent = Math.max(0, Math.min(this.sendBuf.length - off, seqDiff(this.sndMax, this.sndUna)));
    const len = Math.min(this.sendMss, dataSent);
    const end = seqAdd(this.sndUna, len);
    const withFin = this.finQueued && end === this.finSeq && seqGt(this.sndMax, this.finSeq);
    if (len === 0 && !withFin) return undefined;
    const repr: TcpRepr = {
      srcPort: this.local.port,
      dstPort: this.remote.port,
      control: withFin ? 'fin' : 'psh',
      seq: this.sndUna,
      ack: this.rcvNxt,
      window: this.advertise(),
    };
    this.nRetransmits++;
    this.rttSeq = undefined; // Karn
    if (this.rtxDeadline === undefined) this.rtxDeadline = now + this.rtt.rtoMs;
    return this.out(repr, len > 0 ? this.sendBuf.slice(off, len) : EMPTY);
  }

  /** One octet beyond the zero window (RFC 9293 §3.8.6.1); sequence space is not advanced. */
  private transmitProbe(): Transmit | undefined {
    if (!this.zeroWindowBlocked()) return undefined;
    const off = seqDiff(this.sndUna, this.bufSeq);
    this.nProbes++;
    this.probeEnd = seqAdd(this.sndUna, 1);
    const repr: TcpRepr = {
      srcPort: this.local.port,
      dstPort: this.remote.port,
      control: 'none',
      seq: this.sndUna,
      ack: this.rcvNxt,
      window: this.advertise(),
    };
    return this.out(repr, this.sendBuf.slice(off, 1));
  }

  private pureAck(): TcpRepr {
    return {
      srcPort: this.local.port,
      dstPort: this.remote.port,
      control: 'none',
      // <SEQ=SND.NXT>: the highest sequence number sent, which the peer expects next.
      seq: this.sndMax,
      ack: this.rcvNxt,
      window: this.advertise(),
    };
  }

  private rstRepr(seq: number): TcpRepr {
    return { srcPort: this.local.port, dstPort: this.remote.port, control: 'rst', seq: seq >>> 0, ack: undefined, window: 0 };
  }

  /** Books an outgoing segment; every segment with ACK carries everything an ACK would. */
  private out(repr: TcpRepr, payload: Uint8Array): Transmit {
    this.nSegmentsOut++;
    if (repr.ack !== undefined) {
      this.ackNow = false;
      this.ackDeadline = undefined;
      this.unackedSegments = 0;
    }
    return { repr, payload };
  }

  /**
   * The window to put in an outgoing segment, remembered as the right edge we promised.
   * RFC 9293 §3.8.6.2.2 / RFC 1122 §4.2.3.3: the right edge never moves left, and it moves
   * right only in steps of at least min(MSS, buffer/2) (receiver SWS avoidance).
   */
  private advertise(): number {
    const current = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    const possible = Math.min(this.recvBuf.space, MAX_UNSCALED_WINDOW);
    const wnd = possible > current && possible - current >= this.swsThreshold ? possible : current;
    this.rcvAdvRight = seqAdd(this.rcvNxt, wnd);
    return wnd;
  }

  /**
   * After `recv()`: is a pure window update worth sending? Only when what the peer may still send
   * is at most half the maximum and the window would grow by an SWS step (Linux's rule of thumb;
   * RFC 1122 §4.2.3.3). Otherwise the next ACK carries the larger window anyway.
   */
  private maybeWindowUpdate(): void {
    const current = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
    const max = Math.min(this.recvBuf.capacity, MAX_UNSCALED_WINDOW);
    const possible = Math.min(this.recvBuf.space, MAX_UNSCALED_WINDOW);
    if (current * 2 <= max && possible - current >= this.swsThreshold && !this.ackNow) {
      this.ackNow = true;
      this.nWindowUpdates++;
    }
  }

  // =====================================================================================
  // Helpers
  // =====================================================================================

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

  private learnPeerOptions(syn: TcpRepr): void {
    // RFC 9293 §3.7.1: no MSS option means 536; send no more than min(theirs, ours).
    const peerMss = syn.mss === undefined ? DEFAULT_PEER_MSS : Math.max(MIN_PEER_MSS, syn.mss);
    this.sendMss = Math.min(peerMss, this.config.mss);
  }

  /** Resend the SYN (as SYN-ACK once SYN-RECEIVED) on the next poll. */
  private goBackToSyn(): void {
    this.sndNxt = this.iss;
    this.rttSeq = undefined;
  }

  /** SYN-SENT / SYN-RECEIVED → ESTABLISHED. */
  private establish(): void {
    this.cc = new NewReno(this.sendMss, initialWindow(this.sendMss, this.synRetransmitted), this.iss);
    if (this.synRetransmitted) this.rtt.afterSynLoss();
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
    this.ackNow = false;
    this.dupAcksOwed = 0;
    this.replies.length = 0;
    this.fastRetransmitPending = false;
    this.probePending = false;
    this.emit(EV_CLOSED);
    this.closedEmitted = true;
  }

  /** The one place the state changes (RFC 9293 §3.3.2), so transitions can be traced here. */
  private setState(next: TcpState): void {
    this.st = next;
  }
}
