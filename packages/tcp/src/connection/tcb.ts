/**
 * The transmission control block (RFC 9293 §3.3.1): the state, the identity of the connection
 * and its parts, each owning its own state — `snd` (sender.ts), `rcv` (receiver.ts), `rec`
 * (recovery.ts), `opt` (options.ts), `live` (liveness.ts), `timers` (timers.ts) and `counters`
 * (counters.ts) — plus the congestion controller and the RTT estimator. What happens to a
 * segment is in arrives.ts, what is sent in output.ts; here are the few operations every part
 * shares: the one `setState`, events, `establish`, TIME-WAIT and CLOSED.
 *
 * Internal: `TcpConnection` (connection.ts) is the public face and holds one of these.
 */
import { chooseWindowScale } from '../config.js';
import { createCongestionControl, initialWindow, type CongestionControl } from '../congestion.js';
import { RttEstimator } from '../rtt.js';
import { TimeWaitRecord } from '../time-wait.js';
import { defaultPeerMss, type IpAddress } from '../address.js';
import type { Endpoint, Instant, TcpConfig, TcpErrorCode, TcpEvent, TcpRepr, TcpState } from '../types.js';
import { LIMIT_IDLE, LimitClock, TcpCounters, type LimitState } from './counters.js';
import { Liveness } from './liveness.js';
import { MIN_PEER_MSS, NegotiatedOptions, effectiveSendMss } from './options.js';
import { Receiver } from './receiver.js';
import { Recovery } from './recovery.js';
import { Sender } from './sender.js';
import { STATE_TRAITS, type StateTraits } from './states.js';
import { TimerTable, type TimerKind } from './timers.js';

/** Timers that have nothing left to do in TIME-WAIT (the delayed ACK may still owe an ACK). */
const TIME_WAIT_STOPS: readonly TimerKind[] = ['finWait2', 'retransmit', 'persist', 'reorder', 'tlp', 'keepalive', 'pmtuRaise'];

/** The reply queue of every connection that never queued one (never added to: see `queueReply`). */
const NO_REPLIES: TcpRepr[] = [];

/**
 * Called on every state transition (RFC 9293 §3.3.2), after the state changed, with the
 * connection's endpoints, so one hook can serve many connections (no closure per connection).
 */
export type StateChangeHook = (from: TcpState, to: TcpState, local: Endpoint<IpAddress>, remote: Endpoint<IpAddress>) => void;

export const EV_CONNECTED: TcpEvent = Object.freeze({ type: 'connected' });
export const EV_READABLE: TcpEvent = Object.freeze({ type: 'readable' });
export const EV_WRITABLE: TcpEvent = Object.freeze({ type: 'writable' });
export const EV_END: TcpEvent = Object.freeze({ type: 'end' });
export const EV_FIN_ACKED: TcpEvent = Object.freeze({ type: 'fin-acked' });
export const EV_CLOSED: TcpEvent = Object.freeze({ type: 'closed' });

/** A fixed mix of the ISS, used as the timestamp offset when the caller supplies none. */
function mixOffset(x: number): number {
  let h = Math.imul(x ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Tcb {
  readonly local: Endpoint<IpAddress>;
  readonly remote: Endpoint<IpAddress>;
  readonly config: TcpConfig;
  /** The RFC 9293 state; changed only by `setState`. */
  st: TcpState = 'CLOSED';
  /** The rules of `st` (states.ts). */
  traits: StateTraits = STATE_TRAITS.CLOSED;
  onStateChange: StateChangeHook | undefined;
  readonly passive: boolean;
  // ISS and IRS are kept as int32 and read as uint32, as Sender's sequence numbers (no heap
  // number per field).
  readonly #iss: number;
  #irs = 0;
  get iss(): number {
    return this.#iss >>> 0;
  }
  get irs(): number {
    return this.#irs >>> 0;
  }
  set irs(seq: number) {
    this.#irs = seq | 0;
  }

  readonly opt: NegotiatedOptions;
  readonly snd: Sender;
  readonly rcv: Receiver;
  readonly rec: Recovery;
  readonly live: Liveness;
  readonly timers = new TimerTable();
  readonly counters = new TcpCounters();
  /**
   * What limits the sender and for how long (busy / app / rwnd / cwnd time); made when the sender
   * is first limited by anything (`enterLimit`), so a connection that never sent data has none.
   */
  limits: LimitClock | undefined = undefined;
  cc: CongestionControl;
  readonly rtt: RttEstimator;

  /** close() was called: a FIN follows the data (it waits for ESTABLISHED during the handshake). */
  closeRequested = false;
  /** No application holds this connection any more (`orphan()`): FIN-WAIT-2 is bounded. */
  orphaned = false;
  /** In TIME-WAIT: the compact record that answers for the connection (time-wait.ts). */
  tw: TimeWaitRecord | undefined;

  // ---- output queues ----
  /** Replies queued by `queueReply`: the shared empty list until the first (never added to). */
  replies: TcpRepr[] = NO_REPLIES;
  finalRst: TcpRepr | undefined;
  readonly events: TcpEvent[] = [];
  eventHead = 0;
  readablePending = false;
  writablePending = false;
  closedEmitted = false;

  constructor(local: Endpoint<IpAddress>, remote: Endpoint<IpAddress>, iss: number, config: TcpConfig, passive: boolean, tsOffset: number | undefined) {
    this.local = local;
    this.remote = remote;
    this.config = config;
    this.passive = passive;
    this.#iss = iss | 0;
    const wsOffered = config.windowScaling ? chooseWindowScale(config) : -1;
    this.opt = new NegotiatedOptions(wsOffered, tsOffset ?? mixOffset(this.iss));
    this.snd = new Sender(this.iss, config);
    this.rcv = new Receiver(config, wsOffered);
    this.rec = new Recovery();
    this.live = new Liveness(config);
    this.rtt = new RttEstimator(config.rtoInitialMs, config.rtoMinMs, config.rtoMaxMs);
    // Replaced once the handshake fixes the MSS; only its recovery point matters before that.
    this.cc = createCongestionControl(config.congestionControl, config.mss, config.mss, this.iss);
  }

  /** The application may still queue data (`TcpConnection.canSend`). */
  get canSend(): boolean {
    return !this.closeRequested && this.traits.appMaySend;
  }

  /** The one place the state changes (RFC 9293 §3.3.2); the hook sees every transition. */
  setState(next: TcpState): void {
    const prev = this.st;
    this.st = next;
    this.traits = STATE_TRAITS[next];
    this.onStateChange?.(prev, next, this.local, this.remote);
  }

  /**
   * The sender's limit at `now` is `state` (see `LimitClock.enter`). While the clock does not
   * exist yet every period was idle, which it does not count: entering idle again changes nothing.
   */
  enterLimit(state: LimitState, now: Instant): void {
    if (this.limits === undefined) {
      if (state === LIMIT_IDLE) return;
      this.limits = new LimitClock();
    }
    this.limits.enter(state, now);
  }

  emit(ev: TcpEvent): void {
    if (!this.closedEmitted) this.events.push(ev);
  }

  queueReply(repr: TcpRepr): void {
    // Bounded: a flood of bad segments before a drain needs no more than a few answers.
    if (this.replies === NO_REPLIES) this.replies = [];
    if (this.replies.length < 4) this.replies.push(repr);
  }

  rstRepr(seq: number): TcpRepr {
    return { srcPort: this.local.port, dstPort: this.remote.port, control: 'rst', seq: seq >>> 0, ack: undefined, window: 0 };
  }

  /**
   * Options of the peer's SYN (passive open, simultaneous open) or SYN-ACK. An option is in use
   * only when both sides sent it (RFC 7323 §1.3, RFC 2018 §2); `wsAllowed` says whether we
   * offered (or will offer) window scaling.
   */
  learnPeerOptions(now: Instant, syn: TcpRepr, wsAllowed: boolean): void {
    // RFC 9293 §3.7.1: no MSS option means 536 (IPv4) or 1220 (IPv6); send no more than min(theirs, ours).
    this.snd.peerMss = syn.mss === undefined ? defaultPeerMss(typeof this.remote.addr === 'number' ? 4 : 6) : Math.max(MIN_PEER_MSS, syn.mss);
    this.snd.shift = this.opt.learn(now, syn, wsAllowed, this.config);
    this.rcv.shift = this.opt.ws ? this.opt.wsOffered : 0;
    this.snd.mss = effectiveSendMss(Math.min(this.snd.peerMss, this.live.pmtuMss), this.config, this.opt.ts);
  }

  /** Resend the SYN (as SYN-ACK once SYN-RECEIVED) on the next poll. */
  goBackToSyn(): void {
    this.snd.nxt = this.iss;
    this.snd.rttSeq = undefined;
  }

  /** SYN-SENT / SYN-RECEIVED → ESTABLISHED. */
  establish(): void {
    const snd = this.snd;
    this.cc = createCongestionControl(this.config.congestionControl, snd.mss, initialWindow(snd.mss, snd.synRetransmitted), this.iss);
    if (snd.synRetransmitted) this.rtt.afterSynLoss();
    snd.rateRoundEnd = snd.max;
    snd.sml = snd.max;
    // Linux's tcp_init_buffer_space: the send buffer sized for the initial window and the MSS.
    if (this.config.sendBufferAutoSize) snd.expandSendBuffer(this.cc.cwnd);
    this.setState('ESTABLISHED');
    this.emit(EV_CONNECTED);
    if (this.closeRequested) this.setState('FIN-WAIT-1');
  }

  /**
   * TIME-WAIT (RFC 9293 §3.6.1): from here on the connection answers through a compact record
   * (time-wait.ts), the one `toTimeWait()` hands to the stack; the 2·MSL timer runs, and an ACK
   * still owed goes out.
   */
  enterTimeWait(now: Instant): void {
    this.setState('TIME-WAIT');
    const timers = this.timers;
    for (const k of TIME_WAIT_STOPS) timers.stop(k);
    this.live.stall(undefined, timers);
    const opt = this.opt;
    this.tw = new TimeWaitRecord({
      localPort: this.local.port,
      remotePort: this.remote.port,
      sndNxt: this.snd.max,
      rcvNxt: this.rcv.nxt,
      windowField: this.rcv.advertise(),
      windowShift: this.rcv.shift,
      timestamps: opt.ts ? { offset: opt.tsOffset, recent: opt.tsRecent, recentAt: opt.tsRecentAt } : undefined,
      timeWaitMs: this.config.timeWaitMs,
      now,
    });
    timers.set('timeWait', this.tw.expiresAt);
  }

  /** Enter CLOSED: optional `error`, then `closed` (exactly once, last). */
  toClosed(code: TcpErrorCode | undefined): void {
    if (this.st === 'CLOSED') return;
    // An embryonic passive connection was never visible to the application: no error for it.
    if (code !== undefined && !(this.passive && this.st === 'SYN-RECEIVED')) this.emit({ type: 'error', code });
    this.setState('CLOSED');
    this.timers.stopAll();
    this.live.stallSince = undefined;
    this.live.kaProbePending = false;
    this.rcv.ackNow = false;
    this.rcv.dupAcksOwed = 0;
    this.replies.length = 0;
    this.rec.fastRetransmitPending = false;
    this.snd.probePending = false;
    this.rec.tlpPending = false;
    this.emit(EV_CLOSED);
    this.closedEmitted = true;
  }
}
