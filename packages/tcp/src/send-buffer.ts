/**
 * The send buffer: octets the application handed to `send()` that the peer has not yet
 * acknowledged, unsent and unacknowledged alike. Offset 0 is the oldest unacknowledged octet
 * (SND.UNA once the SYN is acknowledged); retransmission reads by offset, acknowledgment
 * consumes from the front.
 *
 * How much it accepts is `limit`, at most `capacity` (`sendBufferSize`): the sender raises the
 * limit with the congestion window (Linux's send-buffer autotuning), so a connection whose
 * window is small holds little, and the rest of what the application wrote waits in the socket
 * layer's queue as references to the application's buffers, not as copies here.
 *
 * A ring buffer, so acknowledging and appending never move data. Storage is allocated on the
 * first write, doubles up to `capacity` as needed, and is released once everything was
 * acknowledged (the next write allocates the size last used again, so a steady sender does not
 * re-grow), so an idle connection holds no send storage at all. Storage comes from and returns
 * to the block pool (block-pool.ts), so emptying the buffer on every round trip costs no
 * allocation. A segment that straddles the
 * ring's end is copied into a scratch array (at most one MSS, once per lap); every other
 * segment payload is a zero-copy `subarray`.
 */
import { giveBlock, takeBlock } from './block-pool.js';

const INITIAL_STORAGE = 16 * 1024;
const EMPTY = new Uint8Array(0);

/** Ring of the octets sent or waiting to be sent and not yet acknowledged, addressed by offset from SND.UNA. */
export class SendBuffer {
  /** Most octets the buffer ever holds (`sendBufferSize`). */
  readonly capacity: number;
  /**
   * Most octets `write` accepts now, at most `capacity`: the sender raises it as the congestion
   * window grows (Linux's `sk_sndbuf`, see `Sender.expandSendBuffer`); it never drops.
   */
  private limit: number;
  private storage: Uint8Array | undefined;
  /** Size of the storage released last (0: none yet), reused on the next allocation. */
  private lastSize = 0;
  /** Index in `storage` of offset 0. */
  private head = 0;
  private used = 0;
  private scratch: Uint8Array | undefined;

  constructor(capacity: number, limit = capacity) {
    this.capacity = capacity;
    this.limit = Math.min(limit, capacity);
  }

  /** Most octets `write` accepts now (see {@link raiseLimit}). */
  get sizeLimit(): number {
    return this.limit;
  }

  /** Raises the limit to `limit` (clamped to `capacity`); a lower value changes nothing. */
  raiseLimit(limit: number): void {
    if (limit > this.limit) this.limit = Math.min(limit, this.capacity);
  }

  /** Octets held (unacknowledged, sent or not). */
  get length(): number {
    return this.used;
  }

  /** Octets that `write` would accept now. */
  get free(): number {
    return Math.max(0, this.limit - this.used);
  }

  /** Octets of storage allocated right now (0 when idle). */
  get allocated(): number {
    return (this.storage?.length ?? 0) + (this.scratch?.length ?? 0);
  }

  /** Appends as much of `bytes` as fits (copying) and returns how many octets were taken. */
  write(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.limit - this.used);
    if (n <= 0) return 0;
    let storage = this.storage;
    if (storage === undefined) {
      let size = Math.max(INITIAL_STORAGE, this.lastSize);
      while (size < n) size *= 2;
      storage = this.storage = takeBlock(Math.min(size, this.blockCeiling()));
      this.head = 0;
    } else if (this.used + n > storage.length) {
      storage = this.grow(this.used + n);
    }
    const size = storage.length;
    const tail = (this.head + this.used) % size;
    const first = Math.min(n, size - tail);
    storage.set(first === bytes.length ? bytes : bytes.subarray(0, first), tail);
    if (first < n) storage.set(bytes.subarray(first, n), 0);
    this.used += n;
    return n;
  }

  /** Drops `n` octets from the front (they were acknowledged); releases the storage when empty. */
  consume(n: number): void {
    if (n <= 0 || this.storage === undefined) return;
    if (n >= this.used) {
      this.lastSize = this.storage.length;
      giveBlock(this.storage);
      this.storage = undefined;
      this.scratch = undefined;
      this.head = 0;
      this.used = 0;
      return;
    }
    this.head = (this.head + n) % this.storage.length;
    this.used -= n;
  }

  /**
   * `length` octets starting at `offset`, clamped to what is held. Usually a view into the
   * ring; valid until the next `write`, `consume` or `slice`.
   */
  slice(offset: number, length: number): Uint8Array {
    const n = Math.max(0, Math.min(length, this.used - offset));
    const storage = this.storage;
    if (n === 0 || storage === undefined) return EMPTY;
    const size = storage.length;
    const start = (this.head + offset) % size;
    if (start + n <= size) return storage.subarray(start, start + n);
    if (this.scratch === undefined || this.scratch.length < n) this.scratch = new Uint8Array(Math.max(n, 2048));
    const first = size - start;
    this.scratch.set(storage.subarray(start, size), 0);
    this.scratch.set(storage.subarray(0, n - first), first);
    return this.scratch.subarray(0, n);
  }

  /**
   * The largest block the ring needs: the limit rounded up to a power of two (the pool's sizes),
   * or the capacity itself when that is smaller (a block of exactly `capacity`, as before limits).
   */
  private blockCeiling(): number {
    let size = INITIAL_STORAGE;
    while (size < this.limit) size *= 2;
    return Math.min(size, this.capacity);
  }

  private grow(needed: number): Uint8Array {
    const old = this.storage!;
    let size = old.length;
    while (size < needed) size *= 2;
    size = Math.min(size, this.blockCeiling());
    const next = takeBlock(size);
    const first = Math.min(this.used, old.length - this.head);
    next.set(old.subarray(this.head, this.head + first), 0);
    if (first < this.used) next.set(old.subarray(0, this.used - first), first);
    giveBlock(old);
    this.storage = next;
    this.head = 0;
    return next;
  }
}
