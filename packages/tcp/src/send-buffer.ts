/**
 * The send buffer: octets the application handed to `send()` that the peer has not yet
 * acknowledged, unsent and unacknowledged alike. Offset 0 is the oldest unacknowledged octet
 * (SND.UNA once the SYN is acknowledged); retransmission reads by offset, acknowledgment
 * consumes from the front.
 *
 * A ring buffer, so acknowledging and appending never move data. Storage starts small and
 * doubles up to `capacity`, so an idle connection costs little. A segment that straddles the
 * ring's end is copied into a scratch array (at most one MSS, once per lap); every other
 * segment payload is a zero-copy `subarray`.
 */
const INITIAL_STORAGE = 16 * 1024;

export class SendBuffer {
  /** Most octets the buffer holds. */
  readonly capacity: number;
  private storage: Uint8Array;
  /** Index in `storage` of offset 0. */
  private head = 0;
  private used = 0;
  private scratch: Uint8Array | undefined;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.storage = new Uint8Array(Math.min(capacity, INITIAL_STORAGE));
  }

  /** Octets held (unacknowledged, sent or not). */
  get length(): number {
    return this.used;
  }

  /** Octets that `write` would accept now. */
  get free(): number {
    return this.capacity - this.used;
  }

  /** Appends as much of `bytes` as fits (copying) and returns how many octets were taken. */
  write(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.capacity - this.used);
    if (n === 0) return 0;
    if (this.used + n > this.storage.length) this.grow(this.used + n);
    const size = this.storage.length;
    const tail = (this.head + this.used) % size;
    const first = Math.min(n, size - tail);
    this.storage.set(first === bytes.length ? bytes : bytes.subarray(0, first), tail);
    if (first < n) this.storage.set(bytes.subarray(first, n), 0);
    this.used += n;
    return n;
  }

  /** Drops `n` octets from the front (they were acknowledged). */
  consume(n: number): void {
    if (n <= 0) return;
    if (n >= this.used) {
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
    if (n === 0) return this.storage.subarray(0, 0);
    const size = this.storage.length;
    const start = (this.head + offset) % size;
    if (start + n <= size) return this.storage.subarray(start, start + n);
    if (this.scratch === undefined || this.scratch.length < n) this.scratch = new Uint8Array(Math.max(n, 2048));
    const first = size - start;
    this.scratch.set(this.storage.subarray(start, size), 0);
    this.scratch.set(this.storage.subarray(0, n - first), first);
    return this.scratch.subarray(0, n);
  }

  private grow(needed: number): void {
    let size = this.storage.length;
    while (size < needed) size *= 2;
    size = Math.min(size, this.capacity);
    const next = new Uint8Array(size);
    const old = this.storage;
    const first = Math.min(this.used, old.length - this.head);
    next.set(old.subarray(this.head, this.head + first), 0);
    if (first < this.used) next.set(old.subarray(0, this.used - first), first);
    this.storage = next;
    this.head = 0;
  }
}
