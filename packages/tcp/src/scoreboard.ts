/**
 * The sender's scoreboard: one record per data segment sent and not yet cumulatively
 * acknowledged, with its transmit time and SACK / loss / retransmission marks. It serves
 * RFC 6675 (SACK-based loss recovery: the scoreboard, `pipe`, NextSeg) and RFC 8985 (RACK:
 * time-based loss detection needs each segment's last transmit time).
 *
 * Positions are *stream offsets* of send data (plain numbers, exact to 2^53), so wrapping
 * sequence numbers never enter the bookkeeping. A FIN occupies one octet after the last data
 * octet and is carried by the last record.
 *
 * Memory: records live in parallel typed arrays forming a ring (struct of arrays), views of one
 * block from the block pool, taken on the first send, doubled when full and handed back when
 * nothing is outstanding. Nothing is allocated per segment.
 *
 * Counters are kept incrementally so `pipe` is O(1) (RFC 6675 §4 SetPipe, in the form Linux
 * uses: outstanding − SACKed − lost + retransmitted-in-flight).
 */
import { giveBlock, takeBlock } from './block-pool.js';


/** Record flags. */
export const SACKED = 1;
/** Presumed lost (RACK, duplicate ACKs, partial ACK or RTO) and not SACKed. */
export const LOST = 2;
/** Was retransmitted at least once (Karn: its ACK gives no unambiguous RTT). */
export const EVER_RETRANS = 4;
/** A retransmission of it is in flight (counts in pipe once more). */
export const RETRANS_OUT = 8;
/** Carries the FIN (one sequence octet after the data). */
export const FIN = 16;

const INITIAL_RECORDS = 16;
/** Octets per record in the storage block: 8 + 8 + 4 + 1 used, rounded up to a power of two. */
const RECORD_OCTETS = 32;

/** RACK state (RFC 8985 §6.1). */
export interface RackState {
  /** Transmit time of the most recently sent segment that was delivered (RACK.xmit_ts); -1: none. */
  xmitTs: number;
  /** End stream offset of that segment (RACK.end_seq). */
  endOff: number;
  /** RTT of that segment (RACK.rtt). */
  rttMs: number;
  /** Highest end offset delivered (RACK.fack). */
  fackOff: number;
  /** Smallest RTT seen (RACK.min_RTT); Infinity before the first sample. */
  minRttMs: number;
  /** A segment was delivered out of order (RACK.reordering_seen). */
  reorderingSeen: boolean;
}

/** The sender's scoreboard of segments in flight, for SACK loss recovery (RFC 6675) and RACK (RFC 8985); see the module comment. */
export class Scoreboard {
  private cap = 0;
  private head = 0;
  /** Number of records. */
  count = 0;
  private starts: Float64Array | undefined;
  private lens: Int32Array | undefined;
  private xmits: Float64Array | undefined;
  private flags: Uint8Array | undefined;
  /** The pooled block the four arrays above are views of. */
  private block: Uint8Array | undefined;

  /** Sequence span of all records (data + FIN). */
  outstanding = 0;
  /** Span of SACKed records. */
  sackedBytes = 0;
  /** Span of records marked lost. */
  lostBytes = 0;
  /** Span of records with a retransmission in flight. */
  retransOutBytes = 0;
  /** Set by `rackDetect`: ms until the earliest not-yet-expired record would be lost, or 0. */
  rackTimeoutMs = 0;
  /** Lowest stream offset that may hold a lost record not yet retransmitted. */
  private lostHint = Infinity;

  /** RFC 6675 §4 pipe: octets presumed in the network. */
  get pipe(): number {
    return this.outstanding - this.sackedBytes - this.lostBytes + this.retransOutBytes;
  }

  /** Octets of typed arrays allocated (0 when nothing is outstanding). */
  get allocated(): number {
    return this.cap * RECORD_OCTETS;
  }

  // ---- record access by logical index (0 = oldest) ----
  private phys(i: number): number {
    return (this.head + i) & (this.cap - 1);
  }
  /** Stream offset of record `i`. */
  startOf(i: number): number {
    return this.starts![this.phys(i)]!;
  }
  /** Data octets of record `i`. */
  lenOf(i: number): number {
    return this.lens![this.phys(i)]!;
  }
  /** Sequence span of record `i` (data + FIN). */
  spanOf(i: number): number {
    const p = this.phys(i);
    return this.lens![p]! + ((this.flags![p]! & FIN) !== 0 ? 1 : 0);
  }
  /** Last transmit time of record `i`. */
  xmitOf(i: number): number {
    return this.xmits![this.phys(i)]!;
  }
  /** Flags of record `i`. */
  flagsOf(i: number): number {
    return this.flags![this.phys(i)]!;
  }

  /** Appends a record for a new segment sent at `now`. */
  push(start: number, len: number, fin: boolean, now: number): void {
    if (this.count === this.cap) this.grow();
    const p = this.phys(this.count);
    this.starts![p] = start;
    this.lens![p] = len;
    this.xmits![p] = now;
    this.flags![p] = fin ? FIN : 0;
    this.count++;
    this.outstanding += len + (fin ? 1 : 0);
  }

  /** Adds a FIN to the last record (a lone FIN sent after its data was already recorded). */
  addFinToLast(): void {
    const p = this.phys(this.count - 1);
    this.flags![p] = this.flags![p]! | FIN;
    this.outstanding += 1;
  }

  /** Record `i` was retransmitted at `now`. */
  retransmitted(i: number, now: number): void {
    const p = this.phys(i);
    const f = this.flags![p]!;
    if ((f & RETRANS_OUT) === 0) this.retransOutBytes += this.spanOf(i);
    this.flags![p] = f | RETRANS_OUT | EVER_RETRANS;
    this.xmits![p] = now;
  }

  /** Marks record `i` lost (a lost retransmission stops counting as in flight). */
  markLost(i: number): void {
    const p = this.phys(i);
    const f = this.flags![p]!;
    if ((f & SACKED) !== 0) return;
    const span = this.spanOf(i);
    if ((f & LOST) === 0) this.lostBytes += span;
    if ((f & RETRANS_OUT) !== 0) this.retransOutBytes -= span;
    this.flags![p] = (f | LOST) & ~RETRANS_OUT;
    const start = this.starts![p]!;
    if (start < this.lostHint) this.lostHint = start;
  }

  /** RTO (RFC 6298 §5.4, RFC 8985 §6.3): every record not SACKed is presumed lost. */
  markAllLost(): void {
    for (let i = 0; i < this.count; i++) this.markLost(i);
  }

  /**
   * The path MTU shrank (RFC 1191): records longer than `maxLen` octets are split into pieces of
   * at most `maxLen` (flags copied, FIN on the last piece) and every piece not SACKed is marked
   * lost, so it is resent at the new size (Linux's tcp_simple_retransmit). Returns the number of
   * pieces marked lost.
   */
  resegment(maxLen: number): number {
    let extra = 0;
    for (let i = 0; i < this.count; i++) {
      const len = this.lenOf(i);
      if (len > maxLen) extra += Math.ceil(len / maxLen) - 1;
    }
    if (extra === 0) return 0;
    const n = this.count + extra;
    let cap = Math.max(this.cap, INITIAL_RECORDS);
    while (cap < n) cap *= 2;
    const starts = new Float64Array(cap);
    const lens = new Int32Array(cap);
    const xmits = new Float64Array(cap);
    const flags = new Uint8Array(cap);
    const split: number[] = [];
    let k = 0;
    for (let i = 0; i < this.count; i++) {
      const p = this.phys(i);
      const start = this.starts![p]!;
      const len = this.lens![p]!;
      const f = this.flags![p]!;
      if (len <= maxLen) {
        starts[k] = start;
        lens[k] = len;
        xmits[k] = this.xmits![p]!;
        flags[k++] = f;
        continue;
      }
      for (let o = 0; o < len; o += maxLen) {
        const last = o + maxLen >= len;
        starts[k] = start + o;
        lens[k] = Math.min(maxLen, len - o);
        xmits[k] = this.xmits![p]!;
        flags[k] = last ? f : f & ~FIN;
        split.push(k++);
      }
    }
    this.starts = starts;
    this.lens = lens;
    this.xmits = xmits;
    this.flags = flags;
    this.head = 0;
    this.cap = cap;
    this.count = n;
    let marked = 0;
    for (const i of split) {
      if ((this.flags[i]! & (SACKED | LOST)) === 0) marked++;
      this.markLost(i);
    }
    return marked;
  }

  /** SACK reneging (RFC 2018 §8): forget every SACK mark. */
  clearSacks(): void {
    for (let i = 0; i < this.count; i++) {
      const p = this.phys(i);
      const f = this.flags![p]!;
      if ((f & SACKED) !== 0) this.flags![p] = f & ~SACKED;
    }
    this.sackedBytes = 0;
  }

  /** Index of the oldest record that is lost and has no retransmission in flight, or -1. */
  firstLostToSend(): number {
    if (this.lostBytes === 0 || this.lostHint === Infinity) return -1;
    for (let i = this.indexAtOrAfter(this.lostHint); i < this.count; i++) {
      const f = this.flagsOf(i);
      if ((f & LOST) !== 0 && (f & RETRANS_OUT) === 0) {
        this.lostHint = this.startOf(i);
        return i;
      }
    }
    this.lostHint = Infinity;
    return -1;
  }

  /** Index of the first record whose end lies beyond `off` (binary search). */
  indexAtOrAfter(off: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.startOf(mid) + this.spanOf(mid) <= off) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Cumulative ACK up to stream offset `ackOff`: drops or trims the records below it. Each
   * record newly delivered (not SACKed before) is reported to `rack`. Returns the transmit time
   * of the newest newly acknowledged record when none of them was ever retransmitted (Karn's
   * rule, applied to the whole ACK as Linux does: an ACK that also covers a retransmission
   * measures the repair, not the path), or -1.
   */
  ack(ackOff: number, now: number, rack: RackState): number {
    // Nothing was ever recorded, or everything was released: nothing to acknowledge, and the
    // empty board a connection shares until its first data segment is never written.
    if (this.cap === 0) return -1;
    let karnXmit = -1;
    let retransAcked = false;
    while (this.count > 0) {
      const p = this.head;
      const start = this.starts![p]!;
      const span = this.spanOf(0);
      const end = start + span;
      if (start >= ackOff) break;
      const f = this.flags![p]!;
      if (end <= ackOff) {
        if ((f & SACKED) === 0) {
          this.delivered(0, now, rack);
          if ((f & EVER_RETRANS) === 0) karnXmit = Math.max(karnXmit, this.xmits![p]!);
        }
        if ((f & EVER_RETRANS) !== 0) retransAcked = true;
        this.removeCounters(f, span);
        this.head = (this.head + 1) & (this.cap - 1);
        this.count--;
        continue;
      }
      // Partly acknowledged (the peer took part of a segment): trim the record.
      const k = ackOff - start;
      this.removeCounters(f, k);
      this.starts![p] = ackOff;
      this.lens![p] = this.lens![p]! - k;
      break;
    }
    if (this.count === 0) this.release();
    return retransAcked ? -1 : karnXmit;
  }

  /**
   * A SACK block [leftOff, rightOff) (RFC 2018 §3): marks every record wholly inside it. Returns
   * the octets newly SACKed. Records only partly covered stay unmarked (our records are whole
   * segments, which is what a receiver reports).
   */
  sack(leftOff: number, rightOff: number, now: number, rack: RackState): number {
    let added = 0;
    for (let i = this.indexAtOrAfter(leftOff); i < this.count; i++) {
      const start = this.startOf(i);
      if (start >= rightOff) break;
      const span = this.spanOf(i);
      if (start < leftOff || start + span > rightOff) continue;
      const p = this.phys(i);
      const f = this.flags![p]!;
      if ((f & SACKED) !== 0) continue;
      this.delivered(i, now, rack);
      // Still outstanding (not cumulatively acknowledged), but no longer lost or in flight.
      if ((f & LOST) !== 0) this.lostBytes -= span;
      if ((f & RETRANS_OUT) !== 0) this.retransOutBytes -= span;
      this.flags![p] = (f | SACKED) & ~(LOST | RETRANS_OUT);
      this.sackedBytes += span;
      added += span;
    }
    return added;
  }

  /**
   * RACK loss detection (RFC 8985 §6.2 step 5): every record sent before the most recently
   * delivered one and not delivered within RACK.rtt + `reoWndMs` is marked lost. Returns the
   * number of records newly marked lost; `rackTimeoutMs` then holds the time until the next
   * record would expire (arm the reordering timer), or 0.
   */
  rackDetect(now: number, reoWndMs: number, rack: RackState): number {
    let timeout = 0;
    let newlyLost = 0;
    this.rackTimeoutMs = 0;
    if (rack.xmitTs < 0) return 0;
    for (let i = 0; i < this.count; i++) {
      const start = this.startOf(i);
      // New data goes out in sequence order, so a never-retransmitted record at or beyond
      // RACK.end_seq was sent after the RACK segment; a retransmission there is newer still.
      if (start >= rack.endOff) break;
      const f = this.flagsOf(i);
      if ((f & SACKED) !== 0) continue;
      if ((f & LOST) !== 0 && (f & RETRANS_OUT) === 0) continue; // already waiting for retransmission
      const xmit = this.xmitOf(i);
      const end = start + this.spanOf(i);
      if (!sentAfter(rack.xmitTs, rack.endOff, xmit, end)) continue;
      const remaining = xmit + rack.rttMs + reoWndMs - now;
      if (remaining <= 0) {
        this.markLost(i);
        newlyLost++;
      } else if (remaining > timeout) {
        timeout = remaining;
      }
    }
    this.rackTimeoutMs = timeout;
    return newlyLost;
  }

  /** RFC 8985 §6.2 steps 1–3 for record `i`, which was just delivered (ACKed or SACKed). */
  private delivered(i: number, now: number, rack: RackState): void {
    const xmit = this.xmitOf(i);
    const end = this.startOf(i) + this.spanOf(i);
    const f = this.flagsOf(i);
    const rtt = now - xmit;
    // Step 2: an ACK for a retransmitted segment sooner than min_RTT is for the original.
    if ((f & EVER_RETRANS) !== 0 && rtt < rack.minRttMs) return;
    if ((f & EVER_RETRANS) === 0 && rtt < rack.minRttMs) rack.minRttMs = rtt;
    if (sentAfter(xmit, end, rack.xmitTs, rack.endOff)) {
      rack.rttMs = rtt;
      rack.xmitTs = xmit;
      rack.endOff = end;
    }
    // Step 3: a never-retransmitted segment delivered below the highest delivered offset was reordered.
    if ((f & EVER_RETRANS) === 0 && end < rack.fackOff) rack.reorderingSeen = true;
    if (end > rack.fackOff) rack.fackOff = end;
  }

  private removeCounters(f: number, span: number): void {
    this.outstanding -= span;
    if ((f & SACKED) !== 0) this.sackedBytes -= span;
    if ((f & LOST) !== 0) this.lostBytes -= span;
    if ((f & RETRANS_OUT) !== 0) this.retransOutBytes -= span;
  }

  private grow(): void {
    const cap = this.cap === 0 ? INITIAL_RECORDS : this.cap * 2;
    // One pooled block holds the four arrays (32 octets per record: a power of two, so the
    // block pool can reuse it; 21 are used). A connection that empties its scoreboard on every
    // round trip then allocates nothing.
    const block = takeBlock(cap * RECORD_OCTETS);
    const buf = block.buffer;
    const starts = new Float64Array(buf, 0, cap);
    const xmits = new Float64Array(buf, cap * 8, cap);
    const lens = new Int32Array(buf, cap * 16, cap);
    const flags = new Uint8Array(buf, cap * 20, cap);
    for (let i = 0; i < this.count; i++) {
      const p = this.phys(i);
      starts[i] = this.starts![p]!;
      lens[i] = this.lens![p]!;
      xmits[i] = this.xmits![p]!;
      flags[i] = this.flags![p]!;
    }
    if (this.block !== undefined) giveBlock(this.block);
    this.block = block;
    this.starts = starts;
    this.lens = lens;
    this.xmits = xmits;
    this.flags = flags;
    this.head = 0;
    this.cap = cap;
  }

  private release(): void {
    if (this.block !== undefined) giveBlock(this.block);
    this.block = undefined;
    this.starts = undefined;
    this.lens = undefined;
    this.xmits = undefined;
    this.flags = undefined;
    this.cap = 0;
    this.head = 0;
    this.outstanding = 0;
    this.sackedBytes = 0;
    this.lostBytes = 0;
    this.retransOutBytes = 0;
    this.lostHint = Infinity;
  }
}

/** RFC 8985 §6.2 RACK_sent_after: was (t1, seq1) sent after (t2, seq2)? */
export function sentAfter(t1: number, seq1: number, t2: number, seq2: number): boolean {
  return t1 > t2 || (t1 === t2 && seq1 > seq2);
}

/** A fresh RACK state. */
export function newRackState(): RackState {
  return { xmitTs: -1, endOff: 0, rttMs: 0, fackOff: 0, minRttMs: Infinity, reorderingSeen: false };
}
