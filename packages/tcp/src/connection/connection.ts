/**
 * One TCP connection as a sans-IO state machine: the public face of the TCB of RFC 9293. It never
 * reads a clock, never does I/O, draws no random numbers and never allocates per segment beyond
 * the outgoing Repr (and its option objects).
 *
 * Model. Inputs: `handleSegment`, `handleTimeout`. Commands: `send`, `recv`, `close`, `abort`,
 * `setNoDelay`, `setKeepAlive`, `setUserTimeout`, `orphan`. Outputs: `pollTransmit` (one
 * segment per call), `pollEvent`, `pollTimeout`. After any input or command the owner drains
 * transmits, then events, then re-reads the deadline.
 *
 * Where each rule lives (the layout of gVisor's tcp package and quinn-proto's `connection/`):
 * - tcb.ts        the TCB: state (one `setState`, with a trace hook), parts, events, CLOSED, TIME-WAIT
 * - arrives.ts    SEGMENT ARRIVES in RFC 9293 §3.10.7 order (RFC 5961, RFC 7323 PAWS, RFC 6191)
 * - output.ts     what `pollTransmit` sends, in which order, and how each segment is built
 * - sender.ts     send sequence space, FIN, window, Nagle and sender SWS avoidance, persist
 * - receiver.ts   receive window and ring, delayed ACKs, SACK blocks to send, ECN echo
 * - recovery.ts   scoreboard, RACK-TLP, duplicate ACKs, RTO marking, congestion responses
 * - options.ts    negotiation (window scale, SACK, timestamps, ECN, MSS), TS.Recent, PAWS
 * - liveness.ts   keepalive, user timeout, challenge-ACK limiter, ICMP, path MTU
 * - timers.ts     the `TimerTable` and `handleTimeout`
 * - counters.ts   `TcpCounters` and `TcpStats`;  states.ts: the state-traits table;
 *   reuse.ts      the RFC 6191 TIME-WAIT reuse decision
 */
import type { IpAddress } from '../address.js';
import { configForFamily, resolveTcpConfig } from '../config.js';
import { TcpUsageError } from '../errors.js';
import { seqAdd } from '../seq.js';
import type { TimeWaitRecord } from '../time-wait.js';
import type { Endpoint, Instant, TcpConfig, TcpErrorCode, TcpEvent, TcpIcmpError, TcpRepr, TcpState, Transmit } from '../types.js';
import { reusableBy, segmentArrives } from './arrives.js';
import { LIMIT_APP, LIMIT_CWND, LIMIT_RWND, LimitClock, type TcpCounters, type TcpStats } from './counters.js';
import { handleIcmpError } from './liveness.js';
import { pollTransmit } from './output.js';
import { EV_READABLE, EV_WRITABLE, Tcb, type StateChangeHook } from './tcb.js';
import { handleTimeout } from './timers.js';

export type { TcpStats } from './counters.js';

/** The limit clock of a connection whose sender was never limited (all totals 0; never entered). */
const NEVER_LIMITED = new LimitClock();
export type { StateChangeHook } from './tcb.js';

/**
 * Options of {@link TcpConnection.connect}. `A` is the address type of the endpoints (IPv4
 * `number` by default, `IpAddress` for dual-stack callers); both endpoints are of one family.
 */
export interface ConnectOptions<A extends IpAddress = number> {
  /** Our address and port. */
  readonly local: Endpoint<A>;
  /** The peer's address and port. */
  readonly remote: Endpoint<A>;
  /** Initial send sequence number (RFC 9293 §3.4.1; the caller supplies it, e.g. RFC 6528). */
  readonly iss: number;
  /**
   * Settings for this connection; missing fields take `DEFAULT_TCP_CONFIG`'s. Over IPv6 the
   * connection runs with `configForFamily(config, 6)` (the MSS 20 octets smaller).
   */
  readonly config?: Partial<TcpConfig> | undefined;
  /**
   * Offset added to the millisecond clock to form TSval (RFC 7323 §5.4, §7.1: hides the clock).
   * The caller derives it, best like the ISN (RFC 6528 shape: a keyed hash of the 4-tuple, so
   * successive incarnations of a 4-tuple get monotonic TSvals); when absent a mix of `iss` is used.
   */
  readonly tsOffset?: number | undefined;
  /** Called on every state transition (after it), from the first one on; see `onStateChange`. */
  readonly onStateChange?: StateChangeHook | undefined;
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
export interface CookieOptions<A extends IpAddress = number> extends ConnectOptions<A> {
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
export interface AcceptOptions<A extends IpAddress = number> extends ConnectOptions<A> {
  /** The SYN that opened the connection. */
  readonly syn: TcpRepr;
}

/**
 * A TCP connection engine (see the file comment for the model). `A` only narrows the type of
 * its endpoints' addresses (IPv4 `number` by default); the engine is the same for both families.
 */
export class TcpConnection<A extends IpAddress = number> {
  // One field: the endpoints and the configuration are read through the Tcb (getters below), so
  // this face costs an idle connection 32 octets rather than 56 (bench/PROFILE.md round 4).
  private readonly t: Tcb;

  private constructor(t: Tcb) {
    this.t = t;
  }

  /** Our address and port. */
  get local(): Endpoint<A> {
    // The Tcb holds what `make` was given: endpoints of type A.
    return this.t.local as Endpoint<A>;
  }

  /** The peer's address and port. */
  get remote(): Endpoint<A> {
    return this.t.remote as Endpoint<A>;
  }

  /** The resolved configuration. */
  get config(): TcpConfig {
    return this.t.config;
  }

  private static make<A extends IpAddress>(opts: ConnectOptions<A>, passive: boolean, now: Instant): TcpConnection<A> {
    const config = configForFamily(resolveTcpConfig(opts.config), typeof opts.remote.addr === 'number' ? 4 : 6);
    const t = new Tcb(opts.local, opts.remote, opts.iss, config, passive, opts.tsOffset);
    t.onStateChange = opts.onStateChange;
    t.live.lastRecvAt = now;
    return new TcpConnection<A>(t);
  }

  /** Active open (RFC 9293 §3.10.1): the connection starts in SYN-SENT with its SYN queued for `pollTransmit`. */
  static connect<A extends IpAddress = number>(now: Instant, opts: ConnectOptions<NoInfer<A>>): TcpConnection<A> {
    const conn = TcpConnection.make(opts, false, now);
    conn.t.setState('SYN-SENT');
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
  static fromCookie<A extends IpAddress = number>(now: Instant, opts: CookieOptions<NoInfer<A>>): TcpConnection<A> {
    const o = opts.options;
    const seg = opts.ack;
    if (o !== undefined) {
      if (seg.timestamp === undefined) throw new TcpUsageError('ERR_INVALID_ARG_VALUE', 'cookie options need an ACK with a timestamp');
      const ws = o.windowScale;
      if (ws !== undefined && !(Number.isInteger(ws) && ws >= 0 && ws <= 14)) {
        throw new TcpUsageError('ERR_INVALID_ARG_VALUE', `cookie window scale must be an integer in [0, 14], got ${String(ws)}`);
      }
    }
    const conn = TcpConnection.make(opts, true, now);
    const t = conn.t;
    const snd = t.snd;
    const rcv = t.rcv;
    t.setState('LISTEN');
    t.irs = seqAdd(seg.seq, -1);
    rcv.nxt = seg.seq >>> 0;
    t.opt.lastAckSent = rcv.nxt;
    // The cookie SYN-ACK offered the SYN window (see TcpListener).
    rcv.advRight = seqAdd(rcv.nxt, rcv.synWindow);
    if (o === undefined) {
      t.learnPeerOptions(now, { ...seg, mss: opts.mss, windowScale: undefined, sackPermitted: undefined, timestamp: undefined }, false);
    } else {
      // As if from the SYN: the options it offered that the cookie SYN-ACK answered, and TS.Recent
      // from the ACK (RFC 7323 §4.3: the TSval of the segment that covers Last.ACK.sent).
      t.learnPeerOptions(now, { ...seg, mss: opts.mss, windowScale: o.windowScale, sackPermitted: o.sackPermitted ? true : undefined }, true);
      t.opt.ecn = t.config.ecn && o.ecn;
    }
    snd.una = seqAdd(t.iss, 1);
    snd.nxt = snd.una;
    snd.max = snd.una;
    // RFC 7323 §2.2: the window of the (non-SYN) ACK is scaled when window scaling was agreed.
    snd.wnd = seg.window << snd.shift;
    snd.maxWnd = snd.wnd;
    snd.wl1 = rcv.nxt;
    snd.wl2 = snd.una;
    t.establish();
    return conn;
  }

  /**
   * Passive open from a SYN received in LISTEN (RFC 9293 §3.10.7.2): the connection starts in
   * SYN-RECEIVED with its SYN-ACK queued. Data carried by the SYN is not accepted (the peer
   * retransmits it after the handshake). The SYN-ACK answers each option the SYN offered and we
   * support (RFC 7323 §1.3, RFC 2018 §2, RFC 3168 §6.1.1).
   */
  static accept<A extends IpAddress = number>(now: Instant, opts: AcceptOptions<NoInfer<A>>): TcpConnection<A> {
    const conn = TcpConnection.make(opts, true, now);
    const t = conn.t;
    const snd = t.snd;
    const rcv = t.rcv;
    t.setState('LISTEN');
    const syn = opts.syn;
    t.irs = syn.seq >>> 0;
    rcv.nxt = seqAdd(t.irs, 1);
    t.opt.lastAckSent = rcv.nxt;
    rcv.advRight = seqAdd(rcv.nxt, rcv.synWindow);
    t.learnPeerOptions(now, syn, true);
    // RFC 3168 §6.1.1: an ECN-setup SYN has both ECE and CWR.
    t.opt.ecn = t.config.ecn && syn.ece === true && syn.cwr === true;
    snd.wnd = syn.window; // RFC 7323 §2.2: the window of a SYN is never scaled
    snd.maxWnd = syn.window;
    snd.wl1 = t.irs;
    snd.wl2 = t.iss;
    t.setState('SYN-RECEIVED');
    return conn;
  }

  // =====================================================================================
  // Getters
  // =====================================================================================

  /** The RFC 9293 state. */
  get state(): TcpState {
    return this.t.st;
  }

  /**
   * Called after every state transition with the old and the new state (RFC 9293 §3.3.2), for
   * tracing. Set it here or with `ConnectOptions.onStateChange` (which also sees the first ones).
   */
  get onStateChange(): StateChangeHook | undefined {
    return this.t.onStateChange;
  }

  /** Installs (or, with `undefined`, removes) the state-change hook. */
  set onStateChange(hook: StateChangeHook | undefined) {
    this.t.onStateChange = hook;
  }

  /** True until `close()`/`abort()`, an error or the peer's RST; data written in SYN-SENT is queued. */
  get canSend(): boolean {
    return this.t.canSend;
  }

  /**
   * Octets `send()` takes now (0 when `canSend` is false): the send buffer's limit less what it
   * holds. The limit is `sendBufferSize`, or with `sendBufferAutoSize` about twice the
   * congestion window (raised as cwnd grows, never above `sendBufferSize`).
   */
  get sendCapacity(): number {
    return this.t.canSend ? this.t.snd.buf.free : 0;
  }

  /** Octets accepted by `send()` and not yet acknowledged. */
  get sendQueued(): number {
    return this.t.snd.buf.length;
  }

  /**
   * Octets accepted by `send()` and not sent yet (they may be waiting for the window, the
   * congestion window or Nagle). The stack sends a connection's segments at once, instead of
   * later in the turn, when a received batch left it with data to send.
   */
  get unsentLength(): number {
    return this.t.snd.unsent;
  }

  /** In-order octets ready for `recv()`. */
  get readableLength(): number {
    return this.t.rcv.buf.readable;
  }

  /** Whether Nagle's algorithm is disabled (see {@link setNoDelay}). */
  get noDelay(): boolean {
    return this.t.snd.noDelay;
  }

  /**
   * The last soft error an ICMP message reported (RFC 1122 §4.2.3.9: reported, not fatal), e.g.
   * to explain an eventual ETIMEDOUT; undefined when none.
   */
  get softError(): TcpErrorCode | undefined {
    return this.t.live.softErr;
  }

  /** Whether keepalive is on (see {@link setKeepAlive}). */
  get keepAlive(): boolean {
    return this.t.live.keepAliveOn;
  }

  /**
   * RFC 6191 / RFC 1122 §4.2.2.13: may the SYN `syn` reopen this connection, which is in
   * TIME-WAIT? True when the previous incarnation used timestamps and the SYN's TSval is newer
   * than TS.Recent (or equal with SEG.SEQ > RCV.NXT), or without timestamps when SEG.SEQ > RCV.NXT.
   * The stack asks before `handleSegment`; given such a SYN, `handleSegment` closes this
   * connection (`closed`) and the stack hands the SYN to the listener.
   */
  reusableBy(syn: TcpRepr): boolean {
    return reusableBy(this.t, syn);
  }

  /** Octets of buffer storage this connection holds right now (send, receive, scoreboard). */
  get bufferedMemory(): number {
    const t = this.t;
    return t.snd.buf.allocated + t.rcv.buf.allocated + t.rec.sb.allocated;
  }

  /**
   * The live event counters (no copy: cheap enough to read per segment, e.g. to notice a
   * retransmission or an RTO). Read-only to the caller; `stats` is the snapshot.
   */
  get counters(): Readonly<TcpCounters> {
    return this.t.counters;
  }

  /** A snapshot of the connection's counters and estimators. */
  get stats(): TcpStats {
    const t = this.t;
    const { snd, rcv, rec, opt, cc, rtt } = t;
    const lim = t.limits ?? NEVER_LIMITED;
    // The counters are copied by Object.assign: an object spread of them costs ~100× more in V8.
    const stats: Omit<TcpStats, keyof TcpCounters> = {
      state: t.st,
      srttMs: rtt.srttMs,
      rttvarMs: rtt.rttvarMs,
      minRttMs: rec.minRttMs,
      rtoMs: rtt.rtoMs,
      congestionControl: cc.name,
      cwnd: Math.floor(cc.cwnd),
      ssthresh: Math.floor(cc.ssthresh),
      inRecovery: cc.inRecovery || rec.rtoRecoverySeq !== undefined,
      sendMss: snd.mss,
      bytesInFlight: snd.inFlight,
      pipe: rec.sb.pipe,
      sackedBytes: rec.sb.sackedBytes,
      lostBytes: rec.sb.lostBytes,
      sendWindow: snd.wnd,
      recvWindow: t.traits.synchronized ? rcv.window : 0,
      outOfOrderBytes: rcv.buf.outOfOrderBytes,
      deliveryRateBps: Math.round(snd.deliveryRate ?? 0),
      sendWindowScale: opt.ws ? snd.shift : -1,
      recvWindowScale: opt.ws ? rcv.shift : -1,
      sackEnabled: opt.sack,
      timestampsEnabled: opt.ts,
      ecnEnabled: opt.ecn,
      noDelay: snd.noDelay,
      recvMss: t.config.mss,
      busyTimeMs: lim.total(LIMIT_APP) + lim.total(LIMIT_RWND) + lim.total(LIMIT_CWND),
      appLimitedMs: lim.total(LIMIT_APP),
      rwndLimitedMs: lim.total(LIMIT_RWND),
      cwndLimitedMs: lim.total(LIMIT_CWND),
    };
    return Object.assign(stats, t.counters);
  }

  /** True once `orphan()` was called. */
  get isOrphan(): boolean {
    return this.t.orphaned;
  }

  // =====================================================================================
  // Commands
  // =====================================================================================

  /**
   * Copies up to `sendCapacity` octets of `bytes` into the send buffer and returns how many were
   * taken. Throws `ERR_TCP_NOT_WRITABLE` when `canSend` is false.
   */
  send(bytes: Uint8Array): number {
    const t = this.t;
    if (!t.canSend) {
      throw new TcpUsageError('ERR_TCP_NOT_WRITABLE', `cannot send in state ${t.st}${t.closeRequested ? ' after close()' : ''}`);
    }
    return t.snd.buf.write(bytes);
  }

  /**
   * Copies out up to `max` in-order octets (a fresh array), or undefined when none are readable.
   * Freeing space may make a window update due (RFC 1122 §4.2.3.3), sent by the next `pollTransmit`.
   */
  recv(max?: number): Uint8Array | undefined {
    const t = this.t;
    const out = t.rcv.buf.read(max ?? t.rcv.buf.readable);
    if (out !== undefined) this.afterRead();
    return out;
  }

  /**
   * Like {@link recv}, into the caller's memory: copies up to `out.length` in-order octets to
   * `out` from index 0 and returns how many (0 when none are readable). The caller may pass
   * memory it did not zero (Node's `Buffer.allocUnsafe`) sized by `readableLength`.
   */
  recvInto(out: Uint8Array): number {
    const n = this.t.rcv.buf.readInto(out);
    if (n > 0) this.afterRead();
    return n;
  }

  private afterRead(): void {
    const t = this.t;
    if (t.traits.synchronized && t.rcv.windowUpdateDue()) t.counters.windowUpdates++;
  }

  /**
   * Turns Nagle's algorithm off (`true`, the default argument, as Node's `socket.setNoDelay()`)
   * or on. With it off, a segment smaller than the MSS goes out at once even while earlier
   * small data is unacknowledged. Drain transmits afterwards: held data may now be sendable.
   */
  setNoDelay(noDelay = true): void {
    this.t.snd.noDelay = noDelay;
  }

  /**
   * Keepalive (RFC 1122 §4.2.3.6): with `enable`, after `idleMs` (default `keepAliveIdleMs`;
   * 0 or absent keeps the current value, as Node's `setKeepAlive`) without an acceptable segment
   * from the peer, send a probe <SEQ=SND.NXT−1><ACK=RCV.NXT> with no data every
   * `keepAliveIntervalMs`; `keepAliveProbes` unanswered probes fail the connection with RST and
   * `ETIMEDOUT`. Idleness counts from the last segment received. Re-read `pollTimeout()` afterwards.
   */
  setKeepAlive(enable: boolean, idleMs?: number): void {
    const t = this.t;
    const live = t.live;
    if (idleMs !== undefined) {
      if (!Number.isInteger(idleMs) || idleMs < 0 || idleMs > 0x7fffffff) {
        throw new TcpUsageError('ERR_INVALID_ARG_VALUE', `keepalive idle time must be an integer in [0, 2^31-1] ms, got ${String(idleMs)}`);
      }
      if (idleMs > 0) live.keepAliveIdleMs = idleMs;
    }
    live.keepAliveOn = enable;
    live.kaProbesSent = 0;
    live.kaProbePending = false;
    t.timers.set('keepalive', enable && t.traits.keepAliveTimer ? live.lastRecvAt + live.keepAliveIdleMs : undefined);
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
    if (this.t.st === 'CLOSED') {
      this.t.live.userTimeoutMs = ms;
      return;
    }
    this.t.live.setUserTimeout(ms, this.t.timers);
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
   *   without a congestion response. Ten minutes later (§6.3) segments go back up to the peer's
   *   MSS: if the path is still narrow, the next frag-needed lowers it again.
   * Drain afterwards.
   */
  handleIcmpError(now: Instant, error: TcpIcmpError, seq: number): boolean {
    return handleIcmpError(this.t, now, error, seq);
  }

  /**
   * Half-close (RFC 9293 §3.10.4): a FIN follows every queued octet; receiving continues.
   * ESTABLISHED → FIN-WAIT-1, CLOSE-WAIT → LAST-ACK. Called during the handshake, the FIN waits for
   * ESTABLISHED (we complete the handshake rather than vanish). Idempotent.
   */
  close(): void {
    const t = this.t;
    if (t.closeRequested || t.st === 'CLOSED') return;
    t.closeRequested = true;
    t.snd.queueFin();
    if (t.st === 'ESTABLISHED') t.setState('FIN-WAIT-1');
    else if (t.st === 'CLOSE-WAIT') t.setState('LAST-ACK');
    // FIN-WAIT-*, CLOSING, LAST-ACK, TIME-WAIT: the FIN is already queued or sent.
  }

  /**
   * The application let go of this connection (the kernel's close() after shutdown: Node's
   * `destroy()`). Delivery of what was accepted and the FIN go on; from now on FIN-WAIT-2 is
   * bounded by `finWait2TimeoutMs` (Linux's tcp_fin_timeout, which applies to orphans only).
   * Idempotent. Call `close()` first if a FIN is wanted.
   */
  orphan(now: Instant): void {
    const t = this.t;
    if (t.orphaned) return;
    t.orphaned = true;
    if (t.st === 'FIN-WAIT-2') t.timers.set('finWait2', now + t.config.finWait2TimeoutMs);
  }

  /**
   * Hands TIME-WAIT over to a compact record and closes this connection (what Linux does with
   * inet_timewait_sock): call it when `state` is 'TIME-WAIT', after draining transmits (an ACK
   * still owed would be lost). The connection emits `closed` (no error) and sends nothing more;
   * the record answers for the 4-tuple until its `expiresAt` — retransmitted FINs, RSTs, new
   * SYNs (RFC 6191) — exactly as this connection would have (it has been answering through that
   * record since it entered TIME-WAIT). Returns undefined in any other state.
   */
  toTimeWait(): TimeWaitRecord | undefined {
    const t = this.t;
    const tw = t.tw;
    if (t.st !== 'TIME-WAIT' || tw === undefined) return undefined;
    t.toClosed(undefined);
    t.tw = undefined;
    return tw;
  }

  /**
   * Abort (RFC 9293 §3.10.5): a RST when synchronized (queued for `pollTransmit`), then CLOSED and
   * `closed` (no `error`). In SYN-SENT, CLOSING, LAST-ACK and TIME-WAIT no RST is sent.
   */
  abort(): void {
    const t = this.t;
    if (t.st === 'CLOSED') return;
    if (t.traits.rstOnAbort) t.finalRst = t.rstRepr(t.snd.max);
    t.toClosed(undefined);
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
    segmentArrives(this.t, now, seg, payload, ipEcn);
  }

  /** Runs every timer whose deadline is at or before `now`; spurious calls do nothing. */
  handleTimeout(now: Instant): void {
    handleTimeout(this.t, now);
  }

  // =====================================================================================
  // Outputs
  // =====================================================================================

  /**
   * The next segment to send, or undefined. Call until undefined after every input or command.
   * The payload may alias the send buffer: emit it before calling into the connection again.
   */
  pollTransmit(now: Instant): Transmit | undefined {
    return pollTransmit(this.t, now);
  }

  /** The next event, or undefined. Events come in the order they happened; `closed` is last. */
  pollEvent(): TcpEvent | undefined {
    const t = this.t;
    if (t.eventHead >= t.events.length) return undefined;
    const ev = t.events[t.eventHead++]!;
    if (t.eventHead === t.events.length) {
      t.events.length = 0;
      t.eventHead = 0;
    }
    if (ev === EV_READABLE) t.readablePending = false;
    else if (ev === EV_WRITABLE) t.writablePending = false;
    return ev;
  }

  /** The earliest armed deadline, or undefined (always undefined once CLOSED). */
  pollTimeout(): Instant | undefined {
    return this.t.st === 'CLOSED' ? undefined : this.t.timers.earliest();
  }
}
