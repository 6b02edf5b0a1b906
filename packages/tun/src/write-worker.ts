/**
 * TUN writes on a worker thread (option `writer` of `openTun`): an experiment of issue 11.
 *
 * Why: a write(2) to a TUN device runs the kernel's receive path of the packet (IP, TCP, waking
 * the reader) inside the system call, on the calling thread. On the main thread that is 28-42 %
 * of busy time in the workloads where one write per packet is the limit (bench/PROFILE.md,
 * round 2). A second thread that owns the write(2) calls lets that kernel work run on another
 * core while the main thread builds the next packets.
 *
 * How:
 * - A bounded ring of packets in a SharedArrayBuffer. The main thread copies each packet (with
 *   its virtio-net header, if any) into the ring behind an 8-byte record header and publishes it
 *   by storing the ring's head; the worker writes each record with one `fs.writeSync` on the same
 *   fd (one write is one packet, as on the main thread) and publishes the tail. Records never
 *   straddle the end of the ring: a length of -1 says "continue at offset 0".
 * - Order: one ring, one writer thread, so packets leave in the order they were queued. In
 *   `'auto'` mode a packet is written inline only when the ring is empty (the worker has finished
 *   every write before it), so inline and queued writes never overtake each other.
 * - Wake-ups: the worker sleeps in `Atomics.wait` only when the ring is empty; the main thread
 *   wakes it (a futex wake) at the end of a batch (`flush()`, the stack's drain calls it through
 *   `Link.flush`, else a microtask does), or earlier once {@link WAKE_EARLY} packets wait. While
 *   the worker is awake it sees new records by the head alone: no wake-up per packet.
 * - Full ring: the main thread wakes the worker and waits (`Atomics.wait`, at most
 *   {@link STALL_MS} without progress) until the worker has freed room. Packets are never dropped
 *   and never reordered for lack of room; the wait lasts while the worker writes, work the main
 *   thread would otherwise have done itself inline. Counted in `txQueueFullWaits`.
 * - Failures of a write (EAGAIN, ENOBUFS, EIO when down, EINVAL) are counted as dropped, as
 *   inline. If the worker thread dies, the main thread writes what is left in the ring itself
 *   and from then on writes inline (a warning says so).
 * - `close()` lets the worker write what is queued, then ends it; at process exit the worker is
 *   told to stop and the main thread waits at most {@link EXIT_WAIT_MS} for it. The worker is
 *   always unref'd: it never keeps the process alive.
 */
import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { TunStats } from './device.js';
import { invalidArg } from './errors.js';
import { MAX_PLAIN_PACKET, VNET_HEADER_SIZE, writeTcpOffloadHeader } from './vnet.js';

/**
 * Who writes packets to the TUN fd. `'inline'`: the calling (main) thread, one `fs.writeSync`
 * per packet. `'worker'`: a worker thread, from a shared ring. `'auto'`: inline while the ring
 * is empty for the first two packets of a batch (a request's answer leaves at once, without a
 * thread hand-over) and for packets of 8 KiB or more (GSO super-packets, written without a
 * copy), the worker for the rest.
 */
export type TunWriterMode = 'inline' | 'worker' | 'auto';

/** In `'auto'` mode, packets per batch written inline before the rest go to the worker. */
export const AUTO_INLINE_MAX = 2;
/**
 * In `'auto'` mode, packets of at least this many octets are written inline whenever the ring is
 * empty: copying a GSO super-packet into the ring cost more than its write saved (bench/PROFILE.md
 * round 6: source with offload 276 → 95 MB/s when they were queued), while the device writes it
 * inline without a copy (writev). The device's own threshold for that writev.
 */
export const AUTO_INLINE_MIN_BYTES = 8192;
/** Queued packets after which a sleeping worker is woken before the batch ends. */
export const WAKE_EARLY = 16;
/** Default ring size in bytes: 64 super-packets of 64 KiB (31 of 128 KiB), or ~2,700 MTU-sized packets. */
export const DEFAULT_RING_BYTES = 4 * 1024 * 1024;
/**
 * Smallest ring: room for two of the largest records (record and virtio-net headers + a
 * 131072-octet BIG TCP super-packet, `MAX_BIG_TSO_PACKET`). Two, because a record never straddles
 * the end: one that does not fit before the end waits for room at offset 0, which a ring of
 * twice its size always has once the worker has caught up (256 KiB was 96 octets short).
 */
export const MIN_RING_BYTES = 512 * 1024;
/** A full ring whose writer makes no progress this long: the packet is counted as dropped. */
export const STALL_MS = 1000;
/** At process exit, the longest the main thread waits for the worker to write what is queued. */
export const EXIT_WAIT_MS = 200;

/** Control words (Int32Array indexes). */
const HEAD = 0; // next byte position the main thread writes (published record end), int32 wrapping
const TAIL = 1; // next byte position the worker reads, int32 wrapping
const SLEEPING = 2; // 1 while the worker is (about to be) in Atomics.wait
const STATE = 3; // RUNNING, CLOSING, DONE
const WANT_ROOM = 4; // 1 while the main thread waits for room
const CONTROL_WORDS = 8;
const RUNNING = 0;
const CLOSING = 1;
const DONE = 2;

/** Counters the worker publishes (Float64Array indexes), after every record. */
const C_PACKETS = 0;
const C_BYTES = 1;
const C_DROPPED = 2;
const C_SUPER = 3;
const C_SEGMENTS = 4;
const C_CSUM = 5;
const C_LAST_ERRNO = 6;
const C_BIG = 7;
const COUNTER_SLOTS = 8;

/** Record header: int32 length of the bytes to write; int32 info. */
const RECORD_HEADER = 8;
const WRAP = -1;
/**
 * info: bits 0-7 the virtio-net header length inside the record, bit 8 a checksum-offloaded
 * (sendTso) packet, bit 9 a BIG TCP super-packet (over 65535 octets), bits 16-31 its segments.
 */
const INFO_TSO = 0x100;
const INFO_BIG = 0x200;

/** The worker's CommonJS source (eval'd, as poll-worker.ts, so it starts the same from dist or under tsx). */
const WRITE_WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const ctl = new Int32Array(workerData.control);
const counters = new Float64Array(workerData.counters);
const data = Buffer.from(workerData.data);
const words = new Int32Array(workerData.data);
const fd = workerData.fd;
const cap = data.length, mask = cap - 1;
// EAGAIN and friends are thrown as Errors: without a stack trace they cost half as much.
Error.stackTraceLimit = 0;
let packets = 0, bytes = 0, dropped = 0, supers = 0, segments = 0, csums = 0, bigs = 0;
let tail = Atomics.load(ctl, ${TAIL});
for (;;) {
  let head = Atomics.load(ctl, ${HEAD});
  while (tail !== head) {
    const off = tail & mask;
    const length = words[off >> 2];
    if (length === ${WRAP}) {
      tail = (tail + (cap - off)) | 0;
      continue;
    }
    const info = words[(off >> 2) + 1];
    try {
      const n = writeSync(fd, data, off + ${RECORD_HEADER}, length);
      packets++;
      bytes += n - (info & 0xff);
      if ((info & ${INFO_TSO}) !== 0) {
        csums++;
        const s = info >>> 16;
        if (s > 1) { supers++; segments += s; }
        if ((info & ${INFO_BIG}) !== 0) bigs++;
      }
    } catch (e) {
      dropped++;
      counters[${C_LAST_ERRNO}] = typeof e.errno === 'number' ? Math.abs(e.errno) : -1;
    }
    tail = (tail + ${RECORD_HEADER} + ((length + 7) & ~7)) | 0;
    counters[${C_PACKETS}] = packets; counters[${C_BYTES}] = bytes; counters[${C_DROPPED}] = dropped;
    counters[${C_SUPER}] = supers; counters[${C_SEGMENTS}] = segments; counters[${C_CSUM}] = csums; counters[${C_BIG}] = bigs;
    Atomics.store(ctl, ${TAIL}, tail);
    if (Atomics.load(ctl, ${WANT_ROOM}) === 1) {
      Atomics.store(ctl, ${WANT_ROOM}, 0);
      Atomics.notify(ctl, ${WANT_ROOM});
    }
    if (tail === head) head = Atomics.load(ctl, ${HEAD});
  }
  if (Atomics.load(ctl, ${STATE}) === ${CLOSING}) break;
  // Sleep only with an empty ring. Both sides store, then load the other's word (sequentially
  // consistent): either the main thread sees SLEEPING and wakes us, or we see its new head.
  Atomics.store(ctl, ${SLEEPING}, 1);
  if (Atomics.load(ctl, ${HEAD}) !== tail || Atomics.load(ctl, ${STATE}) === ${CLOSING}) {
    Atomics.store(ctl, ${SLEEPING}, 0);
    continue;
  }
  Atomics.wait(ctl, ${SLEEPING}, 1);
}
Atomics.store(ctl, ${STATE}, ${DONE});
Atomics.notify(ctl, ${STATE});
`;

/** Options of a {@link TunWriter}. */
export interface TunWriterOptions {
  /** `'worker'` or `'auto'` (an `'inline'` device has no writer). */
  readonly mode: 'worker' | 'auto';
  /** Ring size in bytes, a power of two from {@link MIN_RING_BYTES} to 2^30. */
  readonly ringBytes?: number;
  /** Called once if the worker thread fails; the writer then writes inline. */
  readonly onFailure?: (error: Error) => void;
}

/**
 * Counters of a {@link TunWriter}: what the worker wrote, in the device's own transmit counters
 * (the device adds them to its inline ones), and the ring's.
 */
export interface TunWriterStats
  extends Pick<TunStats, 'txPackets' | 'txBytes' | 'txDropped' | 'txSuperSegments' | 'txSegments' | 'txChecksumsOffloaded' | 'txBigSuperPackets'> {
  /** Packets handed to the worker. */
  readonly txQueued: number;
  /** Times the main thread woke the sleeping worker (one futex wake each). */
  readonly txWriterWakeups: number;
  /** Times the main thread found the ring full and waited for the worker. */
  readonly txQueueFullWaits: number;
  /** Packets the main thread wrote from the ring itself after the worker failed. */
  readonly txTakenOver: number;
}

/** Writers still running, told to stop (and briefly waited for) if the process exits. */
const liveWriters = new Set<TunWriter>();
let exitHookInstalled = false;
function stopAllAtExit(): void {
  for (const writer of liveWriters) writer.stopAtExit();
}

/**
 * The main thread's side of the writer thread of one TUN fd. The device asks {@link route}
 * whether a packet goes to the ring, then calls {@link push} or {@link pushTso}.
 */
export class TunWriter {
  readonly mode: 'worker' | 'auto';
  readonly #fd: number;
  readonly #control: Int32Array;
  readonly #counters: Float64Array;
  readonly #data: Buffer;
  readonly #words: Int32Array;
  readonly #capacity: number;
  readonly #mask: number;
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  readonly #onFailure: ((error: Error) => void) | undefined;
  /** The head as the main thread knows it (it alone writes it). */
  #head = 0;
  /** Packets queued since the last wake-up check. */
  #pendingSinceWake = 0;
  /** Packets of the current batch (since the last flush), inline or queued. */
  #batch = 0;
  #flushQueued = false;
  #failed = false;
  #closing: Promise<void> | undefined;
  #queued = 0;
  #wakeups = 0;
  #fullWaits = 0;
  #takenOver = 0;
  /** Inline fallback counters after a failure, kept apart from the worker's. */
  #fallback = { packets: 0, bytes: 0, dropped: 0, supers: 0, segments: 0, csums: 0, bigs: 0 };

  constructor(fd: number, options: TunWriterOptions) {
    const ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
    if (!Number.isInteger(ringBytes) || ringBytes < MIN_RING_BYTES || ringBytes > 2 ** 30 || (ringBytes & (ringBytes - 1)) !== 0) {
      throw invalidArg('ringBytes', ringBytes, `must be a power of two from ${MIN_RING_BYTES} to 2^30`);
    }
    this.mode = options.mode;
    this.#fd = fd;
    this.#onFailure = options.onFailure;
    const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
    const counters = new SharedArrayBuffer(COUNTER_SLOTS * 8);
    const data = new SharedArrayBuffer(ringBytes);
    this.#control = new Int32Array(control);
    this.#counters = new Float64Array(counters);
    this.#data = Buffer.from(data);
    this.#words = new Int32Array(data);
    this.#capacity = ringBytes;
    this.#mask = ringBytes - 1;
    this.#worker = new Worker(WRITE_WORKER_SOURCE, {
      eval: true,
      workerData: { fd, control, counters, data },
      name: 'tcp-tun write',
      execArgv: [],
    });
    // Never keeps the process alive: the exit hook drains it instead.
    this.#worker.unref();
    this.#worker.on('error', (cause: unknown) => this.#fail(cause));
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', () => {
        liveWriters.delete(this);
        if (Atomics.load(this.#control, STATE) !== DONE) this.#fail(new Error('the TUN writer thread exited unexpectedly'));
        resolve();
      });
    });
    liveWriters.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', stopAllAtExit);
    }
  }

  /** Whether the ring holds packets the worker has not written yet. */
  get busy(): boolean {
    return Atomics.load(this.#control, TAIL) !== this.#head;
  }

  /** Counters of what went through the writer. */
  get stats(): TunWriterStats {
    const c = this.#counters;
    const f = this.#fallback;
    return {
      txPackets: c[C_PACKETS]! + f.packets,
      txBytes: c[C_BYTES]! + f.bytes,
      txDropped: c[C_DROPPED]! + f.dropped,
      txSuperSegments: c[C_SUPER]! + f.supers,
      txSegments: c[C_SEGMENTS]! + f.segments,
      txChecksumsOffloaded: c[C_CSUM]! + f.csums,
      txBigSuperPackets: c[C_BIG]! + f.bigs,
      txQueued: this.#queued,
      txWriterWakeups: this.#wakeups,
      txQueueFullWaits: this.#fullWaits,
      txTakenOver: this.#takenOver,
    };
  }

  /**
   * Whether the next packet goes to the ring (true) or is written inline by the caller (false),
   * and counts it in the current batch. `'worker'`: always the ring, unless the worker failed.
   * `'auto'`: the ring when it already holds packets (order), else inline for a packet of
   * `length` ≥ {@link AUTO_INLINE_MIN_BYTES} or while the batch has had fewer than
   * {@link AUTO_INLINE_MAX} packets.
   */
  route(length = 0): boolean {
    if (this.#failed) return false;
    if (!this.#flushQueued) {
      // The end of this batch, for a link user that never calls flush(): a microtask.
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
    if (this.mode === 'worker') return true;
    if (this.busy) return true;
    return this.#batch++ >= AUTO_INLINE_MAX && length < AUTO_INLINE_MIN_BYTES;
  }

  /** Queues one packet behind `headerLength` zero octets (0, or the 10 of a zeroed virtio-net header). */
  push(packet: Uint8Array, headerLength: number): void {
    const length = headerLength + packet.length;
    const off = this.#reserve(length);
    if (off < 0) return;
    const at = off + RECORD_HEADER;
    if (headerLength > 0) this.#data.fill(0, at, at + headerLength);
    this.#data.set(packet, at + headerLength);
    this.#commit(off, length, headerLength);
  }

  /**
   * Queues one packet behind a virtio-net header asking the kernel to finish (and maybe
   * segment) it. Returns the segments it stands for; 0 (nothing queued, the caller counts the
   * drop) when it is no well-formed TCP packet (`writeTcpOffloadHeader`); -1 when the writer
   * stalled with a full ring (already counted as dropped).
   */
  pushTso(packet: Uint8Array, segmentSize: number): number {
    const length = VNET_HEADER_SIZE + packet.length;
    const off = this.#reserve(length);
    if (off < 0) return -1;
    const at = off + RECORD_HEADER;
    const segments = writeTcpOffloadHeader(this.#data, at, packet, segmentSize);
    if (segments === 0) return 0; // not committed: the head stays
    this.#data.set(packet, at + VNET_HEADER_SIZE);
    const big = packet.length > MAX_PLAIN_PACKET ? INFO_BIG : 0;
    this.#commit(off, length, VNET_HEADER_SIZE | INFO_TSO | big | (Math.min(segments, 0xffff) << 16));
    return segments;
  }

  /**
   * The end of a batch of sends: wakes the worker if it sleeps with packets waiting, and starts
   * a new batch for `'auto'`. Cheap when there is nothing to do.
   */
  flush(): void {
    this.#batch = 0;
    if (this.#pendingSinceWake > 0) this.#wake();
  }

  readonly #flushTask = (): void => {
    this.#flushQueued = false;
    this.flush();
  };

  #wake(): void {
    this.#pendingSinceWake = 0;
    const control = this.#control;
    if (Atomics.load(control, SLEEPING) === 1) {
      Atomics.store(control, SLEEPING, 0);
      Atomics.notify(control, SLEEPING);
      this.#wakeups++;
    }
  }

  /**
   * Room for a record of `length` bytes: its offset in the ring, with a wrap marker written
   * before it where needed (published with the record); waits for the worker while the ring is
   * full. -1 when the worker made no progress for {@link STALL_MS} (the packet is counted as
   * dropped). (The worker's failure is learnt from its events, never during this wait.)
   */
  #reserve(length: number): number {
    const need = RECORD_HEADER + ((length + 7) & ~7);
    const control = this.#control;
    if (need * 2 > this.#capacity) {
      // Could wait for room forever (see MIN_RING_BYTES); the device never asks for this, since
      // its packets are at most MAX_BIG_TSO_PACKET octets and its ring the default.
      this.#fallback.dropped++;
      return -1;
    }
    let stalledSince = 0;
    let lastTail = 0;
    for (;;) {
      const head = this.#head;
      const tail = Atomics.load(control, TAIL);
      const used = (head - tail) | 0;
      const off = head & this.#mask;
      const contiguous = this.#capacity - off;
      const total = need <= contiguous ? need : contiguous + need;
      if (this.#capacity - used >= total) {
        if (need <= contiguous) return off;
        // Does not fit before the end: mark the rest unused; the record starts at 0. The marker
        // is published with the record's head.
        this.#words[off >> 2] = WRAP;
        this.#head = (head + contiguous) | 0;
        return 0;
      }
      // Full: make sure the worker runs, then wait for it to free room.
      if (stalledSince === 0) {
        this.#fullWaits++;
        stalledSince = performance.now();
        lastTail = tail;
      } else if (tail !== lastTail) {
        stalledSince = performance.now();
        lastTail = tail;
      } else if (performance.now() - stalledSince > STALL_MS) {
        this.#fallback.dropped++;
        return -1;
      }
      Atomics.store(control, HEAD, this.#head);
      this.#wake();
      Atomics.store(control, WANT_ROOM, 1);
      if (Atomics.load(control, TAIL) === tail) Atomics.wait(control, WANT_ROOM, 1, 10);
    }
  }

  #commit(off: number, length: number, info: number): void {
    const i = off >> 2;
    this.#words[i] = length;
    this.#words[i + 1] = info;
    // off is this.#head's offset in the ring (a wrap in #reserve moved the head to offset 0).
    this.#head = (this.#head + RECORD_HEADER + ((length + 7) & ~7)) | 0;
    Atomics.store(this.#control, HEAD, this.#head);
    this.#queued++;
    if (++this.#pendingSinceWake >= WAKE_EARLY) this.#wake();
  }

  /**
   * The worker failed: write what is left in the ring here (it no longer runs, so order holds),
   * then inline from now on.
   */
  #fail(cause: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    liveWriters.delete(this);
    const control = this.#control;
    let tail = Atomics.load(control, TAIL);
    const f = this.#fallback;
    while (tail !== this.#head) {
      const off = tail & this.#mask;
      const length = this.#words[off >> 2]!;
      if (length === WRAP) {
        tail = (tail + (this.#capacity - off)) | 0;
        continue;
      }
      const info = this.#words[(off >> 2) + 1]!;
      try {
        const n = writeSync(this.#fd, this.#data, off + RECORD_HEADER, length);
        f.packets++;
        f.bytes += n - (info & 0xff);
        if ((info & INFO_TSO) !== 0) {
          f.csums++;
          const s = info >>> 16;
          if (s > 1) {
            f.supers++;
            f.segments += s;
          }
          if ((info & INFO_BIG) !== 0) f.bigs++;
        }
      } catch {
        f.dropped++;
      }
      this.#takenOver++;
      tail = (tail + RECORD_HEADER + ((length + 7) & ~7)) | 0;
    }
    Atomics.store(control, TAIL, tail);
    const error = cause instanceof Error ? cause : new Error(String(cause));
    this.#onFailure?.(error);
  }

  /**
   * Lets the worker write what is queued, then ends it; resolves when its thread has ended
   * (the fd may be closed then). Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      liveWriters.delete(this);
      this.#signalStop();
      this.#closing = this.#exited;
    }
    return this.#closing;
  }

  #signalStop(): void {
    const control = this.#control;
    Atomics.store(control, STATE, CLOSING);
    Atomics.store(control, SLEEPING, 0);
    Atomics.notify(control, SLEEPING);
  }

  /** @internal Process exit: stop the worker, waiting at most {@link EXIT_WAIT_MS} for it to write what is queued. */
  stopAtExit(): void {
    this.#signalStop();
    const deadline = performance.now() + EXIT_WAIT_MS;
    while (Atomics.load(this.#control, STATE) !== DONE) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      Atomics.wait(this.#control, STATE, CLOSING, left);
    }
  }
}

/** Validates the `writer` option. */
export function writerMode(value: unknown): TunWriterMode {
  if (value === undefined) return 'inline';
  if (value !== 'inline' && value !== 'worker' && value !== 'auto') throw invalidArg('writer', value, "must be 'inline', 'worker' or 'auto'");
  return value;
}
