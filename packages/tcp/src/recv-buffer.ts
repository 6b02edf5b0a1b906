/**
 * The receive buffer: in-order octets waiting for `recv()` plus out-of-order octets held for
 * reassembly, in one ring of at most `capacity` octets.
 *
 * Positions are *stream offsets* (octets since the first data octet, as plain numbers: exact
 * up to 2^53). Out-of-order data is written straight into the ring at its final place, and a
 * short sorted list of ranges says which places beyond the contiguous end hold data; when a
 * hole fills, the contiguous end jumps over every range it now touches. The connection never
 * advertises more window than the buffer has room for, so every acceptable octet has a slot.
 *
 * Memory follows use: the ring is allocated on the first write at the size it needs (at least
 * 4 KiB, or the size it had when last released), doubles while data beyond it arrives (moving
 * the held octets once), and is released as soon as nothing is held, so an idle connection owns
 * no ring. Each octet is copied exactly twice: in by `write`, out by `read` or `readInto`.
 *
 * Released rings go back to the process-wide block pool (block-pool.ts) and the next ring of
 * that size comes from it. A busy connection empties its ring after every read burst; a fresh
 * ring each time was zero-filled, had its pages faulted in by the first copy and made work for
 * the garbage collector (in a profile of a 256 MiB bulk receive, more time than the copies
 * themselves). A reused ring may hold stale octets: only octets written since are ever read.
 */
import { giveBlock, takeBlock } from './block-pool.js';

const MIN_STORAGE = 4096;

/**
 * The range list of every buffer that never held out-of-order data: empty and never added to
 * (`insertRange` gives a buffer its own), so an in-order connection carries no array of its own.
 */
const NO_RANGES: number[] = [];

/** Ring of received octets: in-order ones waiting for `recv()` and out-of-order ones held for reassembly. */
export class RecvBuffer {
  /** Most octets held, readable and out-of-order together. */
  readonly capacity: number;
  private storage: Uint8Array | undefined;
  private lastSize = 0;
  /** Stream offset of the next octet `read` returns. */
  private readOffset = 0;
  /** Stream offset one past the last contiguous octet (RCV.NXT as a stream offset). */
  private contigEnd = 0;
  /** Out-of-order ranges as flat [start, end, start, end, ...], sorted, disjoint, non-adjacent, all > contigEnd. */
  private ranges: number[] = NO_RANGES;
  private held = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** In-order octets ready for `read`. */
  get readable(): number {
    return this.contigEnd - this.readOffset;
  }

  /** Octets held beyond a hole. */
  get outOfOrderBytes(): number {
    return this.held;
  }

  /** Number of disjoint out-of-order ranges held. */
  get outOfOrderRanges(): number {
    return this.ranges.length >> 1;
  }

  /** Free space after the contiguous data (the most window that may be offered). */
  get space(): number {
    return this.capacity - this.readable;
  }

  /** Stream offset one past the contiguous data (RCV.NXT as a stream offset). */
  get contiguousEnd(): number {
    return this.contigEnd;
  }

  /** Octets of ring allocated right now (0 when nothing is held). */
  get allocated(): number {
    return this.storage?.length ?? 0;
  }

  /** Start (stream offset) of out-of-order range `i` (0 = lowest). */
  rangeStart(i: number): number {
    return this.ranges[2 * i]!;
  }

  /** End (exclusive stream offset) of out-of-order range `i`. */
  rangeEnd(i: number): number {
    return this.ranges[2 * i + 1]!;
  }

  /** Index of the out-of-order range holding stream offset `off`, or -1. */
  rangeContaining(off: number): number {
    const r = this.ranges;
    for (let i = 0; i < r.length; i += 2) {
      if (off < r[i]!) return -1;
      if (off < r[i + 1]!) return i >> 1;
    }
    return -1;
  }

  /**
   * Stores `data` at `offset` octets past the contiguous end (0 = in order). Returns how far the
   * contiguous end advanced, or -1 when out-of-order data was refused because holding it would
   * exceed `maxOutOfOrder` octets or `maxRanges` ranges. The caller trims to the window first;
   * anything past the capacity is clipped here as a last guard.
   */
  write(offset: number, data: Uint8Array, maxOutOfOrder: number, maxRanges: number): number {
    let len = Math.min(data.length, this.space - offset);
    if (len <= 0 || offset < 0) return 0;
    const start = this.contigEnd + offset;
    const end = start + len;
    if (offset > 0) {
      // Admission of out-of-order data: compute the held total and range count after merging.
      let covered = 0;
      let touching = 0;
      const r = this.ranges;
      for (let i = 0; i < r.length; i += 2) {
        const s = r[i]!;
        const e = r[i + 1]!;
        if (e < start || s > end) continue; // disjoint and not adjacent
        touching++;
        covered += Math.min(e, end) - Math.max(s, start);
      }
      const added = len - covered;
      const rangesAfter = (r.length >> 1) - touching + 1;
      if (added > 0 && (this.held + added > maxOutOfOrder || rangesAfter > maxRanges)) return -1;
    }
    this.copyIn(start, len === data.length ? data : data.subarray(0, len));
    if (offset > 0) {
      this.insertRange(start, end);
      return 0;
    }
    // In order: extend the contiguous end and swallow every range it now reaches.
    let newEnd = end;
    const r = this.ranges;
    let drop = 0;
    while (drop < r.length && r[drop]! <= newEnd) {
      const e = r[drop + 1]!;
      this.held -= e - r[drop]!;
      if (e > newEnd) {
        // The range overlapped the new data only partly; its tail is already in the ring.
        newEnd = e;
      }
      drop += 2;
    }
    if (drop > 0) r.splice(0, drop);
    len = newEnd - this.contigEnd;
    this.contigEnd = newEnd;
    return len;
  }

  /** Copies out up to `max` in-order octets into a fresh array (undefined when none). */
  read(max: number): Uint8Array | undefined {
    const n = Math.min(max, this.readable);
    if (n <= 0 || this.storage === undefined) return undefined;
    const out = new Uint8Array(n);
    this.readInto(out);
    return out;
  }

  /**
   * Copies up to `out.length` in-order octets into `out` from index 0 and returns how many
   * (0 when none). Lets the caller bring its own memory, e.g. a buffer it need not zero.
   */
  readInto(out: Uint8Array): number {
    const n = Math.min(out.length, this.readable);
    const storage = this.storage;
    if (n <= 0 || storage === undefined) return 0;
    const size = storage.length;
    const pos = this.readOffset % size;
    const first = Math.min(n, size - pos);
    out.set(storage.subarray(pos, pos + first), 0);
    if (first < n) out.set(storage.subarray(0, n - first), first);
    this.readOffset += n;
    this.maybeRelease();
    return n;
  }

  /** Forgets every out-of-order range (e.g. when the connection is reset). */
  clearOutOfOrder(): void {
    this.ranges.length = 0;
    this.held = 0;
    this.maybeRelease();
  }

  private maybeRelease(): void {
    if (this.readOffset === this.contigEnd && this.ranges.length === 0 && this.storage !== undefined) {
      this.lastSize = this.storage.length;
      giveBlock(this.storage);
      this.storage = undefined;
    }
  }

  /** A ring covering stream offsets [readOffset, end): allocated or grown (data moved once). */
  private ensure(end: number): Uint8Array {
    const need = end - this.readOffset;
    const old = this.storage;
    if (old !== undefined && old.length >= need) return old;
    let size = Math.max(MIN_STORAGE, old === undefined ? this.lastSize : old.length * 2);
    while (size < need) size *= 2;
    size = Math.min(size, this.capacity);
    const next = takeBlock(size);
    if (old !== undefined) {
      // Move everything from readOffset to the highest held octet (holes included) to its
      // position in the larger ring.
      const r = this.ranges;
      const top = r.length > 0 ? r[r.length - 1]! : this.contigEnd;
      this.moveRegion(old, next, this.readOffset, top);
      giveBlock(old);
    }
    this.storage = next;
    return next;
  }

  private moveRegion(from: Uint8Array, to: Uint8Array, start: number, end: number): void {
    let pos = start;
    while (pos < end) {
      const src = pos % from.length;
      const dst = pos % to.length;
      const n = Math.min(end - pos, from.length - src, to.length - dst);
      to.set(from.subarray(src, src + n), dst);
      pos += n;
    }
  }

  private copyIn(start: number, data: Uint8Array): void {
    const storage = this.ensure(start + data.length);
    const size = storage.length;
    const pos = start % size;
    const first = Math.min(data.length, size - pos);
    storage.set(first === data.length ? data : data.subarray(0, first), pos);
    if (first < data.length) storage.set(data.subarray(first), 0);
  }

  private insertRange(start: number, end: number): void {
    if (this.ranges === NO_RANGES) this.ranges = [];
    const r = this.ranges;
    // Find the first range that ends at or after `start` (could merge with it).
    let i = 0;
    while (i < r.length && r[i + 1]! < start) i += 2;
    let j = i;
    let s = start;
    let e = end;
    let removed = 0;
    while (j < r.length && r[j]! <= e) {
      s = Math.min(s, r[j]!);
      e = Math.max(e, r[j + 1]!);
      removed += r[j + 1]! - r[j]!;
      j += 2;
    }
    r.splice(i, j - i, s, e);
    this.held += e - s - removed;
  }
}
