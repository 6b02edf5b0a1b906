/**
 * The receive side (gVisor's rcv.go): RCV.NXT and the window we advertise (RFC 9293 §3.8.6.2.2,
 * receiver SWS avoidance of RFC 1122 §4.2.3.3, RFC 7323 scaling), the receive ring with its
 * out-of-order ranges, when to acknowledge (delayed ACKs, RFC 1122 §4.2.3.2 / RFC 5681 §4.2),
 * the SACK blocks we send (RFC 2018 §4) and the ECN echo (RFC 3168 §6.1.3).
 *
 * Out-of-order data is stored in place in the receive ring (recv-buffer.ts); the right edge
 * RCV.NXT + RCV.WND we advertised is remembered in `advRight` and never moves left.
 */
import { MAX_UNSCALED_WINDOW } from '../config.js';
import { RecvBuffer } from '../recv-buffer.js';
import { seqAdd, seqDiff, seqGt } from '../seq.js';
import type { Instant, SackBlock, TcpConfig } from '../types.js';
import { DEFAULT_PEER_MSS } from './options.js';
import type { TimerTable } from './timers.js';

/** Receive-side bound on disjoint out-of-order ranges (each costs a scan on insert). */
export const MAX_OOO_RANGES = 64;
/** Most duplicate ACKs emitted in one drain for out-of-order arrivals (peers without SACK). */
export const MAX_DUP_ACKS_PER_DRAIN = 16;
/** Data segments acknowledged at once at the start of a connection (Linux's quick-ACK mode). */
export const QUICK_ACK_SEGMENTS = 16;
/** Most SACK blocks per segment (RFC 2018 §3: 4, or 3 with timestamps). */
export const MAX_SACK_BLOCKS = 4;
/** NOP, NOP, kind, length of a SACK option, and each block. */
export const SACK_OPTION_BASE = 4;
export const SACK_BLOCK_LENGTH = 8;

/** Option octets taken by `blocks` SACK blocks. */
export function sackOptionLength(blocks: number): number {
  return blocks === 0 ? 0 : SACK_OPTION_BASE + SACK_BLOCK_LENGTH * blocks;
}

/** The receive sequence space and what hangs on it. */
export class Receiver {
  // Kept as int32 and read as uint32, as Sender's sequence numbers (no heap number per field).
  #nxt = 0;
  #advRight = 0;
  /** RCV.NXT. */
  get nxt(): number {
    return this.#nxt >>> 0;
  }
  set nxt(seq: number) {
    this.#nxt = seq | 0;
  }
  /** The right edge we advertised (RCV.NXT + RCV.WND when sent); never moves left. */
  get advRight(): number {
    return this.#advRight >>> 0;
  }
  set advRight(seq: number) {
    this.#advRight = seq | 0;
  }
  /** Rcv.Wind.Shift (RFC 7323 §2.2): applied to our window fields; 0 unless negotiated. */
  shift = 0;
  /** The window of our SYN / SYN-ACK (unscaled, RFC 7323 §2.2). */
  readonly synWindow: number;
  readonly buf: RecvBuffer;
  /** RFC 1122 §4.2.3.3: the window opens only in steps of min(buffer/2, MSS). */
  readonly swsThreshold: number;
  private readonly bufferSize: number;
  /** Where the peer's FIN lies while data before it is missing; whether it was taken. */
  peerFinSeq: number | undefined;
  peerFinReceived = false;
  /** An ACK is due on the next poll. */
  ackNow = false;
  /** In-order octets received since our last ACK (RFC 5681 §4.2: every second full segment). */
  unackedBytes = 0;
  /** Immediate duplicate ACKs owed for out-of-order segments (peers without SACK count them). */
  dupAcksOwed = 0;
  /** Largest segment the peer sent so far (Linux's rcv_mss), for "every second full-sized segment". */
  mss: number;
  quickAcks = QUICK_ACK_SEGMENTS;
  /** We sent data since the peer's previous data segment: a reply will likely carry the ACK. */
  sentSinceRecv = false;
  /** ECN receiver side: echo ECE until the peer's CWR (RFC 3168 §6.1.3). */
  eceEcho = false;
  /** Stream offsets of the latest out-of-order arrivals, newest first (RFC 2018 §4 block order). */
  sackRecent: number[] | undefined;

  constructor(config: TcpConfig, wsOffered: number) {
    this.bufferSize = config.recvBufferSize;
    // Slack of one scale unit: a window rounded up to the scale granularity (RFC 7323 §2.4) still fits.
    this.buf = new RecvBuffer(config.recvBufferSize + (wsOffered > 0 ? (1 << wsOffered) - 1 : 0));
    this.synWindow = Math.min(config.recvBufferSize, MAX_UNSCALED_WINDOW);
    this.swsThreshold = Math.max(1, Math.min(config.mss, Math.floor(config.recvBufferSize / 2)));
    this.mss = Math.min(DEFAULT_PEER_MSS, config.mss);
  }

  /** RCV.WND as last advertised: from RCV.NXT to the promised right edge. */
  get window(): number {
    return Math.max(0, seqDiff(this.advRight, this.nxt));
  }

  /** Whether `seq` lies in [RCV.NXT, RCV.NXT + wnd). */
  inWindow(seq: number, wnd: number): boolean {
    const d = seqDiff(seq, this.nxt);
    return d >= 0 && d < wnd;
  }

  /** The largest window we may offer: the buffer, within what the field can express. */
  maxWindow(): number {
    // 1 << shift, not 2 ** shift: a variable exponent makes V8 call ieee754::pow (2.6 % of all
    // samples in bench/PROFILE.md's http1m); shift ≤ 14 (RFC 7323 §2.3), so the product stays
    // below 2^31 and the results are the same.
    return Math.min(this.bufferSize, MAX_UNSCALED_WINDOW * (1 << this.shift));
  }

  /**
   * The window field for an outgoing segment, its right edge remembered as promised.
   * RFC 9293 §3.8.6.2.2 / RFC 1122 §4.2.3.3: the right edge never moves left, and it moves
   * right only in steps of at least min(MSS, buffer/2) (receiver SWS avoidance). With window
   * scaling the field is the window >> shift; a kept edge is rounded up (RFC 7323 §2.4) within
   * the receive ring's slack.
   */
  advertise(): number {
    const s = this.shift;
    const current = this.window;
    const room = this.bufferSize - this.buf.readable;
    const possible = Math.max(0, Math.min(room, this.maxWindow()));
    const aligned = s === 0 ? possible : possible - (possible % (1 << s));
    let field: number;
    if (aligned > current && aligned - current >= this.swsThreshold) {
      field = aligned >>> s;
    } else {
      const unit = 1 << s;
      field = Math.ceil(current / unit);
      if (field * unit > this.buf.space) field = Math.floor(current / unit);
    }
    if (field > MAX_UNSCALED_WINDOW) field = MAX_UNSCALED_WINDOW;
    const edge = seqAdd(this.nxt, field * (1 << s));
    if (seqGt(edge, this.advRight)) this.advRight = edge;
    return field;
  }

  /** The window of a SYN-ACK: unscaled (RFC 7323 §2.2), remembered as the promised right edge. */
  synAckWindow(): number {
    const wnd = Math.min(this.synWindow, Math.max(0, this.buf.space));
    this.advRight = seqAdd(this.nxt, wnd);
    return wnd;
  }

  /**
   * After `recv()`: is a pure window update worth sending? Only when what the peer may still send
   * is at most half the maximum and the window would grow by an SWS step (Linux's rule of thumb;
   * RFC 1122 §4.2.3.3). Otherwise the next ACK carries the larger window anyway. Returns whether
   * it made one due.
   */
  windowUpdateDue(): boolean {
    const current = this.window;
    const max = this.maxWindow();
    const possible = Math.min(this.bufferSize - this.buf.readable, max);
    if (current * 2 <= max && possible - current >= this.swsThreshold && !this.ackNow) {
      this.ackNow = true;
      return true;
    }
    return false;
  }

  /**
   * In-order data arrived: acknowledge now, or within `delayedAckMs` (RFC 1122 §4.2.3.2,
   * RFC 5681 §4.2). At once: when it filled a hole, during the first segments of the connection
   * (the peer's slow start needs ACKs), when two full-sized segments' worth is unacknowledged,
   * and for a pushed segment when we are not exchanging data both ways (no reply will carry the
   * ACK, and a peer's Nagle may be waiting for it).
   */
  requestAck(now: Instant, immediate: boolean, segmentLength: number, pushAlone: boolean, delayedAckMs: number, timers: TimerTable): void {
    if (immediate || delayedAckMs === 0) {
      this.ackNow = true;
      return;
    }
    if (this.quickAcks > 0) {
      this.quickAcks--;
      this.ackNow = true;
      return;
    }
    this.unackedBytes += segmentLength;
    if (this.unackedBytes >= 2 * this.mss || pushAlone) this.ackNow = true;
    else timers.arm('delayedAck', now + delayedAckMs);
  }

  /** RFC 2018 §4: remember where the latest out-of-order segment landed (first SACK block). */
  noteSackArrival(streamOff: number): void {
    const r = (this.sackRecent ??= []);
    r.unshift(streamOff);
    if (r.length > MAX_SACK_BLOCKS) r.length = MAX_SACK_BLOCKS;
  }

  /** SACK blocks we would send now: one per out-of-order range, at most 4 (3 with timestamps). */
  sackBlockLimit(sackOk: boolean, tsOk: boolean): number {
    if (!sackOk) return 0;
    return Math.min(this.buf.outOfOrderRanges, tsOk ? 3 : MAX_SACK_BLOCKS);
  }

  /**
   * SACK blocks for an outgoing ACK (RFC 2018 §4): the block holding the most recently received
   * segment first, then the blocks of the other recent arrivals, then any others; at most `max`.
   */
  sackBlocks(max: number): SackBlock[] {
    const rb = this.buf;
    const out: SackBlock[] = [];
    const base = rb.contiguousEnd;
    const recent = this.sackRecent;
    const nRecent = recent === undefined ? 0 : recent.length;
    // Candidates: ranges holding the recent arrivals (newest first), then every range from the top.
    for (let k = 0, n = rb.outOfOrderRanges; k < nRecent + n && out.length < max; k++) {
      const idx = k < nRecent ? rb.rangeContaining(recent![k]!) : n - 1 - (k - nRecent);
      if (idx < 0) continue;
      const left = seqAdd(this.nxt, rb.rangeStart(idx) - base);
      let dup = false;
      for (let j = 0; j < out.length; j++) if (out[j]!.left === left) dup = true;
      if (!dup) out.push({ left, right: seqAdd(this.nxt, rb.rangeEnd(idx) - base) });
    }
    return out;
  }
}
