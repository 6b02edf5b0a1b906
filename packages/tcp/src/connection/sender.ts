/**
 * The send side (gVisor's snd.go): the send sequence space of RFC 9293 §3.3.1 and the send
 * buffer, our FIN, the peer's window, and the rules that decide how much may leave now —
 * sender silly-window avoidance (RFC 9293 §3.8.6.2.1) and Nagle (RFC 1122 §4.2.3.4) as pure
 * functions — and the persist timer that probes a zero window (RFC 9293 §3.8.6.1).
 *
 * The send buffer holds every octet from SND.UNA (or from ISS+1 while the SYN is
 * unacknowledged); `bufSeq` is the sequence number of its first octet and `bufOff` its stream
 * offset (octets since the first data octet). `max` (= `nxt` once synchronized) is the RFC's
 * SND.NXT: new data always goes out from there; `nxt` only differs while a SYN is to be resent.
 */
import { SendBuffer } from '../send-buffer.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../seq.js';
import type { Instant, TcpConfig } from '../types.js';
import { DEFAULT_PEER_MSS } from './options.js';
import type { Tcb } from './tcb.js';

/**
 * The send buffer's limit, in segments, is never below this (Linux's TCP_INIT_CWND in
 * `tcp_sndbuf_expand`: the initial window of RFC 6928 §2).
 */
const SNDBUF_MIN_SEGMENTS = 10;
/** Nor below this many octets (Linux's `tcp_wmem[1]` default, the size before the handshake). */
export const SNDBUF_MIN_BYTES = 16 * 1024;

/** The send sequence space and what hangs on it. */
export class Sender {
  // The sequence numbers below are kept as int32 (`| 0`) and read as uint32 (`>>> 0`): an int32
  // is a Smi, so the field holds no heap number. A field that ever held a number ≥ 2^31 gets
  // V8's Double representation, a 16-octet box in every object of the class; one holding such a
  // number as a tagged value costs a heap number per store (bench/PROFILE.md round 6).
  #una = 0;
  #nxt = 0;
  #max = 0;
  #wl1 = 0;
  #wl2 = 0;
  #bufSeq = 0;
  #finSeq = 0;
  #sml = 0;
  #rateRoundEnd = 0;
  #quantumEnd: number | undefined = undefined;
  /** SND.UNA. */
  get una(): number {
    return this.#una >>> 0;
  }
  set una(seq: number) {
    this.#una = seq | 0;
  }
  /** SND.NXT: the next octet to send, rewound to resend a SYN. */
  get nxt(): number {
    return this.#nxt >>> 0;
  }
  set nxt(seq: number) {
    this.#nxt = seq | 0;
  }
  /** SND.MAX. */
  get max(): number {
    return this.#max >>> 0;
  }
  set max(seq: number) {
    this.#max = seq | 0;
  }
  /** SND.WL1: the segment sequence number of the last window update. */
  get wl1(): number {
    return this.#wl1 >>> 0;
  }
  set wl1(seq: number) {
    this.#wl1 = seq | 0;
  }
  /** SND.WL2: the segment acknowledgment number of the last window update. */
  get wl2(): number {
    return this.#wl2 >>> 0;
  }
  set wl2(seq: number) {
    this.#wl2 = seq | 0;
  }
  /** Sequence number of the send buffer's first octet. */
  get bufSeq(): number {
    return this.#bufSeq >>> 0;
  }
  set bufSeq(seq: number) {
    this.#bufSeq = seq | 0;
  }
  /** Our FIN's sequence number (once queued). */
  get finSeq(): number {
    return this.#finSeq >>> 0;
  }
  set finSeq(seq: number) {
    this.#finSeq = seq | 0;
  }
  /** Minshall's Nagle variant: end of the last sub-MSS segment sent (RFC 1122 §4.2.3.4). */
  get sml(): number {
    return this.#sml >>> 0;
  }
  set sml(seq: number) {
    this.#sml = seq | 0;
  }
  /** Delivery rate sampling: the end of the current round. */
  get rateRoundEnd(): number {
    return this.#rateRoundEnd >>> 0;
  }
  set rateRoundEnd(seq: number) {
    this.#rateRoundEnd = seq | 0;
  }
  /**
   * Send quantum (`TcpConfig.sendQuantum`, see {@link quantumDefers}): the sequence number just
   * past the super-packet being sent. Until SND.NXT reaches it new data goes without another
   * deferral decision, so a train once started is finished. Undefined when none runs (before the
   * first, and while new data waits for a fuller one).
   */
  get quantumEnd(): number | undefined {
    const end = this.#quantumEnd;
    return end === undefined ? undefined : end >>> 0;
  }
  set quantumEnd(seq: number | undefined) {
    this.#quantumEnd = seq === undefined ? undefined : seq | 0;
  }
  /**
   * New data waits for a fuller super-packet (a deferral since new data last left), and whether
   * cwnd is the tighter of the two windows it waits for: then the flight counts as
   * cwnd-limited for the ACKs that arrive meanwhile (arrives.ts; Linux's `is_cwnd_limited`
   * from `tcp_tso_should_defer`), or deferring would stop cwnd from growing.
   */
  quantumHeld = false;
  quantumCwndLimited = false;
  /** SND.WND (scaled) and the largest window the peer offered (MAX.SND.WND). */
  wnd = 0;
  maxWnd = 0;
  /** Snd.Wind.Shift (RFC 7323 §2.2): applied to the peer's window fields; 0 unless negotiated. */
  shift = 0;
  /** Stream offset of the send buffer's first octet (its sequence number is `bufSeq`). */
  bufOff = 0;
  readonly buf: SendBuffer;
  /** Data octets of a full-sized segment: the MSS less the timestamps option (RFC 6691). */
  mss: number;
  /** The peer's MSS option (536 without one, RFC 9293 §3.7.1): the bound the path MTU may lower. */
  peerMss = DEFAULT_PEER_MSS;
  /** Our FIN: queued by close() (its sequence number is `finSeq`), acknowledged by the peer. */
  finQueued = false;
  finAcked = false;
  /** Nagle off. */
  noDelay: boolean;
  /** SYN RTT timing (the SYN is not in the scoreboard), and whether a SYN was retransmitted. */
  rttSeq: number | undefined;
  rttStart: Instant | undefined = undefined;
  synRetransmitted = false;
  /** Persist (RFC 9293 §3.8.6.1): a probe is due, the end of the probe octet, backoff, unanswered probes. */
  probePending = false;
  probeEnd: number | undefined;
  persistBackoff = 0;
  unansweredProbes = 0;
  /** When new data was last sent, or the idle time before a resume was last accounted (RFC 5681 §4.1). */
  lastSendAt: number | undefined;
  /**
   * Delivery rate sampling: octets acknowledged since `rateStart` (the round's end is `rateRoundEnd`), the last rate.
   * The times and the rate (and `rttStart`) start undefined, not 0: V8 boxes a field that ever
   * held a fraction in every object of the class (16 octets each), and one that held
   * `undefined` only where a fraction is stored, so a connection that never sent data (or whose
   * SYN was answered, for `rttStart`) pays for none of them.
   */
  rateDelivered = 0;
  rateStart: Instant | undefined = undefined;
  deliveryRate: number | undefined = undefined;

  constructor(iss: number, config: TcpConfig) {
    this.una = iss;
    this.nxt = iss;
    this.max = iss;
    this.sml = iss;
    this.rateRoundEnd = iss;
    this.bufSeq = seqAdd(iss, 1);
    // Before the handshake the limit is the floor (Linux's tcp_wmem[1]); expandSendBuffer raises it.
    this.buf = new SendBuffer(config.sendBufferSize, config.sendBufferAutoSize ? SNDBUF_MIN_BYTES : config.sendBufferSize);
    this.mss = Math.min(DEFAULT_PEER_MSS, config.mss);
    this.noDelay = config.noDelay;
  }

  /** Octets sent and not yet acknowledged (SND.MAX − SND.UNA). */
  get inFlight(): number {
    return Math.max(0, seqDiff(this.max, this.una));
  }

  /** Octets in the buffer not sent yet. */
  get unsent(): number {
    const off = seqDiff(this.nxt, this.bufSeq);
    return off >= 0 ? Math.max(0, this.buf.length - off) : 0;
  }

  /**
   * Send-buffer autotuning, as Linux's `tcp_sndbuf_expand` (net/ipv4/tcp_input.c), called when
   * an ACK was processed: the buffer may hold twice the congestion window, at least
   * {@link SNDBUF_MIN_SEGMENTS} full segments and {@link SNDBUF_MIN_BYTES}, at most
   * `sendBufferSize`. Twice: a window in flight awaiting its ACK plus the next one ready to
   * leave when the ACK opens it (Linux: CUBIC's fast recovery needs 1.7 windows, rounded up to
   * 2 for an application slow to refill). Linux counts the socket buffers' memory; this counts
   * payload octets, so it holds less than Linux's for the same window. As in Linux's
   * `tcp_should_expand_sndbuf`, a sender that fills cwnd does not expand (its window, not the
   * buffer, is what limits it), and the limit never drops (a window that shrank after a loss
   * grows back).
   */
  expandSendBuffer(cwnd: number): void {
    if (this.inFlight >= cwnd) return;
    const segments = Math.max(SNDBUF_MIN_SEGMENTS, Math.ceil(cwnd / this.mss));
    this.buf.raiseLimit(Math.max(SNDBUF_MIN_BYTES, 2 * segments * this.mss));
  }

  /** Stream offset of send sequence number `seq`. */
  offsetOf(seq: number): number {
    return this.bufOff + seqDiff(seq, this.bufSeq);
  }

  /** close(): a FIN follows every queued octet. */
  queueFin(): void {
    this.finQueued = true;
    this.finSeq = seqAdd(this.bufSeq, this.buf.length);
  }

  /** Unsent data waits on a zero window with nothing in flight. */
  zeroWindowBlocked(transmitsData: boolean): boolean {
    if (!transmitsData || this.wnd !== 0 || this.nxt !== this.una) return false;
    return seqLt(this.nxt, seqAdd(this.bufSeq, this.buf.length));
  }

  /** The persist interval: the RTO doubled per unanswered probe, within rtoMaxMs. */
  persistIntervalMs(rtoMs: number, rtoMaxMs: number): number {
    let t = rtoMs;
    for (let i = 0; i < this.persistBackoff && t < rtoMaxMs; i++) t *= 2;
    return Math.min(t, rtoMaxMs);
  }

  /**
   * SND.UNA advances to `ack`: acknowledged data leaves the buffer. Returns the data octets
   * acknowledged (the SYN and FIN are not data).
   */
  acknowledge(ack: number): number {
    const dataAcked = Math.min(Math.max(0, seqDiff(ack, this.bufSeq)), this.buf.length);
    if (dataAcked > 0) {
      this.buf.consume(dataAcked);
      this.bufSeq = seqAdd(this.bufSeq, dataAcked);
      this.bufOff += dataAcked;
    }
    return dataAcked;
  }

  /** Whether `ack` covers our FIN for the first time (§3.10.7.4 fifth: SND.UNA passes it). */
  finNewlyAcked(ack: number): boolean {
    return this.finQueued && !this.finAcked && seqGt(ack, this.finSeq) && seqGt(this.max, this.finSeq);
  }

  /**
   * The window update of §3.10.7.4 fifth: SND.WND is taken only from a segment at least as new as
   * the one it was last taken from (SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK).
   * Returns whether it was.
   */
  updateWindow(seq: number, ack: number, window: number): boolean {
    if (!(seqLe(this.una, ack) && (seqLt(this.wl1, seq) || (this.wl1 === seq && seqLe(this.wl2, ack))))) return false;
    this.wnd = window;
    this.wl1 = seq;
    this.wl2 = ack;
    if (window > this.maxWnd) this.maxWnd = window;
    return true;
  }

  /** Delivery rate over the last round trip: `acked` more octets, SND.UNA now `ack`. */
  sampleRate(now: Instant, acked: number, ack: number): void {
    this.rateDelivered += acked;
    if (seqGe(ack, this.rateRoundEnd)) {
      const start = this.rateStart ?? 0;
      const elapsed = now - start;
      if (elapsed > 0 && start > 0) this.deliveryRate = (this.rateDelivered * 1000) / elapsed;
      this.rateDelivered = 0;
      this.rateStart = now;
      this.rateRoundEnd = this.max;
    }
  }
}

/**
 * Sender SWS avoidance (RFC 9293 §3.8.6.2.1) for a segment of `len` octets, shorter than a full
 * one and than what is queued: it waits unless it is at least half the largest window the peer
 * offered, or nothing is in flight (the override that keeps a small window from stalling us).
 */
export function swsHolds(len: number, maxSndWnd: number, inFlight: boolean): boolean {
  return len < maxSndWnd / 2 && inFlight;
}

/**
 * Nagle, Minshall's variant (RFC 1122 §4.2.3.4, as Linux), for the last, sub-MSS segment of what
 * is queued: it waits while an earlier sub-MSS segment (ending at `sml`) is unacknowledged.
 * Never with Nagle off, and never the FIN's segment.
 */
export function nagleHolds(noDelay: boolean, finRides: boolean, inFlight: boolean, sml: number, una: number): boolean {
  return !noDelay && !finRides && inFlight && seqGt(sml, una);
}

/**
 * Linux's `tcp_tso_win_divisor` (default 3): a sender may use the room it has once that is at
 * least this fraction of the window, without waiting for a whole super-packet.
 */
export const QUANTUM_WINDOW_DIVISOR = 3;

/**
 * Send quantum (`TcpConfig.sendQuantum` > 0), Linux's `tcp_tso_should_defer`
 * (net/ipv4/tcp_output.c): whether new data about to leave should wait for a fuller
 * super-packet. The stack hands consecutive full-sized segments to the link as one GSO write;
 * when the window, not the application, limits the sender, every ACK would otherwise release a
 * partial train, and each write (and the ACK the peer answers it with) has a cost of its own
 * whatever it carries. Like sender SWS
 * avoidance (RFC 9293 §3.8.6.2.1) this waits for an ACK to open more window, but for a whole
 * quantum (`sendQuantum` rounded down to `full`-octet segments, at least one) rather than one
 * segment. It waits only when all hold:
 * - at least a quantum is in flight: an ACK that frees room is on its way (the retransmission
 *   timer and the tail loss probe are armed for it);
 * - not in loss recovery (Linux: `icsk_ca_state >= TCP_CA_Recovery` sends at once), after an
 *   RTO included;
 * - the window limits: more is queued than the room (min of the peer's window and cwnd − pipe)
 *   allows, the room is under a quantum and under a third of min(cwnd, SND.WND)
 *   ({@link QUANTUM_WINDOW_DIVISOR}: "if at least some fraction of a window is available, just
 *   use it");
 * - the segment does not carry our FIN (Linux: a FIN's skb gets no more data, so never waits).
 * Otherwise a quantum starts at SND.NXT; while it runs ({@link Sender.quantumEnd}) nothing waits.
 * Not for tail loss probes or retransmissions (the caller asks only for new data). Counts each
 * wait once (`sendsDeferred`).
 */
export function quantumDefers(t: Tcb, full: number, avail: number, rwndRoom: number, cwndRoom: number, finRides: boolean): boolean {
  const snd = t.snd;
  const end = snd.quantumEnd;
  // A train once started is finished, though the room shrinks below a quantum as it goes.
  if (end !== undefined && seqLt(snd.nxt, end)) return false;
  const quantum = Math.max(full, Math.floor(t.config.sendQuantum / full) * full);
  const room = Math.min(rwndRoom, cwndRoom);
  const defer =
    snd.nxt !== snd.una &&
    snd.inFlight >= quantum &&
    !t.cc.inRecovery &&
    t.rec.rtoRecoverySeq === undefined &&
    room < avail &&
    room < quantum &&
    room < Math.min(t.cc.cwnd, snd.wnd) / QUANTUM_WINDOW_DIVISOR &&
    !finRides;
  if (!defer) {
    snd.quantumEnd = seqAdd(snd.nxt, quantum);
    snd.quantumHeld = false;
    snd.quantumCwndLimited = false;
    return false;
  }
  if (!snd.quantumHeld) t.counters.sendsDeferred++;
  snd.quantumHeld = true;
  snd.quantumEnd = undefined;
  snd.quantumCwndLimited = cwndRoom <= rwndRoom;
  return true;
}

/** Persist timer expiry: probe the zero window (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17). */
export function onPersistTimeout(t: Tcb, now: Instant): void {
  const snd = t.snd;
  if (!snd.zeroWindowBlocked(t.traits.transmitsData)) {
    snd.persistBackoff = 0;
    return;
  }
  if (snd.unansweredProbes >= t.config.maxRetransmits && t.live.userTimeoutMs === 0) {
    t.toClosed('ETIMEDOUT');
    return;
  }
  snd.unansweredProbes++;
  snd.probePending = true;
  snd.persistBackoff++;
  t.timers.set('persist', now + snd.persistIntervalMs(t.rtt.rtoMs, t.config.rtoMaxMs));
}
