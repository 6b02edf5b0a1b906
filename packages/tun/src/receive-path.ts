/**
 * The receive side of a `TunDevice` (device.ts): everything from "the fd is readable" to "the
 * receiver was called". It owns the readiness source (the poll worker of readiness.ts, or a
 * warm-up pair's doorbell), the pooled read buffer, the drain loop, the virtio-net header of
 * each read (offload), busy polling and the receive counters. The device composes one and
 * keeps the life cycle: it validates `start()`, forwards `ref()`/`unref()`, stops it in
 * `close()` and turns its failures into `'error'` events.
 *
 * Why a module of its own: the drain is the device's hottest loop and has its own state (the
 * buffer, the busy-polling clock, the pending drain, eight counters); kept apart from the
 * transmit side (transmit-path.ts) and the device's life cycle it can be read whole.
 *
 * The path (no FFI on it, ARCHITECTURE.md §4b): a worker blocked in poll(2) says "readable";
 * the main thread then reads the O_NONBLOCK fd with `fs.readSync` into one pooled buffer until
 * EAGAIN, at most `readBatch` packets per event-loop turn (more continue on `setImmediate`, so a
 * flood cannot starve the loop), and hands the first packet to the receiver at once and the rest
 * of the burst as one batch. Then it re-arms the worker, or, with busy polling (option
 * `busyPollUs`), first keeps reading once per event-loop turn until the fd has been quiet that
 * long. With offload every read starts with a 10-byte virtio-net header (vnet.ts): it is
 * stripped, a partial checksum completed in place (unless `completeChecksums` is false), and the
 * packet delivered with a "checksum trusted" flag when the header says `NEEDS_CSUM` or
 * `DATA_VALID`.
 */
import { readSync } from 'node:fs';
import type { DeviceInternals, TunReceiver } from './device.js';
import { errnoName, TunError } from './errors.js';
import { ReadinessWatcher, type Readiness, type ReadinessHandlers } from './readiness.js';
import { completeChecksum, LITTLE_ENDIAN, VNET_HEADER_SIZE, VnetFlags, VnetGso } from './vnet.js';

/**
 * Read-buffer room kept free for the next read, in bytes: the largest IPv4 packet plus one, so a
 * read can never be truncated (a too-small read buffer truncates a TUN packet silently).
 */
const READ_ROOM = 65536;
/**
 * With offload, reads go to `offset + VNET_SKEW` so that the 10-byte header ends, and the packet
 * starts, 8-byte aligned (the checksum sums 32-bit words in place); the room offered is then
 * still header + largest packet.
 */
const VNET_SKEW = 16 - VNET_HEADER_SIZE;
const VNET_READ_ROOM = 16 + 65536;
/** What `#acceptVnet` made of a virtio-net header: unusable (the read is dropped and counted). */
const VNET_UNUSABLE = 0;
/** ... a header that vouches for nothing: the receiver verifies the checksum. */
const VNET_PLAIN = 1;
/** ... `NEEDS_CSUM` or `DATA_VALID`: delivered with the "checksum trusted" flag. */
const VNET_TRUSTED = 2;

/** Upper bound of the packet pool besides READ_ROOM, so huge MTUs do not allocate huge pools. */
const POOL_CAP = 4 * 1024 * 1024;

/** Watchers still running, stopped synchronously if the process exits without close(). */
const liveWatchers = new Set<Readiness>();
let exitHookInstalled = false;

function stopAllAtExit(): void {
  // Node joins worker threads at exit; one blocked in poll(2) would hang process.exit().
  for (const watcher of liveWatchers) watcher.signalStop();
}

/** The errno name of a Node system error; libuv leaves some unnamed (EBADFD: "Unknown system error -77"). */
function errorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; errno?: unknown } | null;
  if (typeof e?.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return e.code;
  if (typeof e?.errno === 'number') return errnoName(Math.abs(e.errno));
  return undefined;
}

/** What a {@link ReceivePath} needs from its device. */
export interface ReceivePathOptions {
  /** The device's fd (O_NONBLOCK), read here and watched by the readiness source. */
  readonly fd: number;
  /** The device's name, for error messages. */
  readonly name: string;
  /** The device's MTU in octets: sizes the pool. */
  readonly mtu: number;
  /** Reads start with a virtio-net header. */
  readonly offload: boolean;
  /** TunOptions.readBatch: reads per event-loop turn. */
  readonly readBatch: number;
  /** TunOptions.busyPollUs. */
  readonly busyPollUs: number;
  /** TunOptions.completeChecksums (offload only). */
  readonly completeChecksums: boolean;
  /** A warm-up pair's hooks (warm-up-pair.ts): its `readiness` replaces the poll worker. */
  readonly internals: DeviceInternals | undefined;
  /** Reading failed for good (not called after `halt()`); reading has stopped. */
  readonly onError: (error: TunError) => void;
}

/**
 * The receive side of one device (see the module header). It is its readiness source's
 * handlers: the source calls `readable()`, `hangup()` and `error()` on it directly.
 */
export class ReceivePath implements ReadinessHandlers {
  readonly #fd: number;
  readonly #name: string;
  readonly #offload: boolean;
  readonly #readBatch: number;
  readonly #pool: Buffer;
  readonly #poolView: DataView;
  readonly #readRoom: number;
  readonly #busyPollMs: number;
  /** Offload only: complete partial checksums before delivering (TunOptions.completeChecksums). */
  readonly #completeChecksums: boolean;
  readonly #internals: DeviceInternals | undefined;
  readonly #onError: (error: TunError) => void;
  #receiver: TunReceiver | undefined;
  #watcher: Readiness | undefined;
  /** The worker reported readable before `start()` (see `prepare()`): drain on start. */
  #readablePending = false;
  #immediate: NodeJS.Immediate | undefined;
  /** `performance.now()` of the last burst that brought packets, for busy polling. */
  #lastRxAt = 0;
  #refed = true;
  /** Set by `halt()` (the device's close()): no receiver call after it. */
  #halted = false;

  #rxPackets = 0;
  #rxBytes = 0;
  #rxBatches = 0;
  #superSegmentsIn = 0;
  #checksumsCompleted = 0;
  #checksumsTrusted = 0;
  #rxHeaderErrors = 0;
  #readinessWakeups = 0;

  constructor(options: ReceivePathOptions) {
    const { mtu, offload } = options;
    this.#fd = options.fd;
    this.#name = options.name;
    this.#offload = offload;
    this.#readBatch = options.readBatch;
    this.#busyPollMs = options.busyPollUs / 1000;
    this.#completeChecksums = options.completeChecksums;
    this.#internals = options.internals;
    this.#onError = options.onError;
    this.#readRoom = offload ? VNET_READ_ROOM : READ_ROOM;
    const perPacket = ((mtu + 7) & ~7) + (offload ? 16 : 0);
    // allocUnsafeSlow: an ArrayBuffer of its own, so pool offsets are memory alignments.
    this.#pool = Buffer.allocUnsafeSlow(Math.min(POOL_CAP, options.readBatch * perPacket) + this.#readRoom);
    this.#poolView = new DataView(this.#pool.buffer, this.#pool.byteOffset, this.#pool.byteLength);
  }

  /** Packets read (`TunStats.rxPackets`). */
  get rxPackets(): number {
    return this.#rxPackets;
  }
  /** `TunStats.rxBytes`. */
  get rxBytes(): number {
    return this.#rxBytes;
  }
  /** `TunStats.rxBatches`. */
  get rxBatches(): number {
    return this.#rxBatches;
  }
  /** `TunStats.superSegmentsIn`. */
  get superSegmentsIn(): number {
    return this.#superSegmentsIn;
  }
  /** `TunStats.checksumsCompleted`. */
  get checksumsCompleted(): number {
    return this.#checksumsCompleted;
  }
  /** `TunStats.checksumsTrusted`. */
  get checksumsTrusted(): number {
    return this.#checksumsTrusted;
  }
  /** `TunStats.rxHeaderErrors`. */
  get rxHeaderErrors(): number {
    return this.#rxHeaderErrors;
  }
  /** `TunStats.readinessWakeups`. */
  get readinessWakeups(): number {
    return this.#readinessWakeups;
  }

  /** Whether `start()` was called. */
  get started(): boolean {
    return this.#receiver !== undefined;
  }

  /**
   * Delivers from now on to `receiver` (the device validated it): starts the readiness source
   * if `prepare()` did not, and drains on the next turn if it said "readable" already.
   */
  start(receiver: TunReceiver): void {
    this.#receiver = receiver;
    this.prepare();
    if (this.#readablePending) {
      // The worker said "readable" before there was a receiver and waits for a drain. Not
      // synchronously: the caller (a Stack's constructor) is not ready for packets yet.
      this.#readablePending = false;
      this.#immediate = setImmediate(this.#drainNext);
      if (!this.#refed) this.#immediate.unref();
    }
  }

  /** Starts the readiness source (TunDevice.prepareReader). Idempotent. */
  prepare(): void {
    if (this.#watcher !== undefined) return;
    const watcher = this.#internals?.readiness(this) ?? new ReadinessWatcher(this.#fd, this);
    this.#watcher = watcher;
    if (!this.#refed) watcher.unref();
    liveWatchers.add(watcher);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', stopAllAtExit);
    }
  }

  /** Keeps the process alive while reading (TunDevice.ref). */
  ref(): void {
    this.#refed = true;
    this.#watcher?.ref();
  }

  /** Lets the process exit while reading (TunDevice.unref). */
  unref(): void {
    this.#refed = false;
    this.#watcher?.unref();
  }

  /** The device is closing: no receiver call and no drain after this returns. */
  halt(): void {
    this.#halted = true;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  /**
   * After `halt()`: stops the readiness source. The promise resolves once nothing of it runs
   * (the worker polls the fd: the device closes it only then); undefined when none was started.
   */
  stop(): Promise<void> | undefined {
    const watcher = this.#watcher;
    if (watcher === undefined) return undefined;
    liveWatchers.delete(watcher);
    return watcher.stop();
  }

  /** ReadinessHandlers: the fd is readable. */
  readable(): void {
    this.#readinessWakeups++;
    this.#drain();
  }

  /** ReadinessHandlers: POLLERR/POLLHUP; the read says why. */
  hangup(): void {
    this.#drain();
  }

  /** ReadinessHandlers: the readiness source failed; reading stops. */
  error(error: TunError): void {
    this.#fail(error);
  }

  #fail(error: TunError): void {
    if (this.#halted) return;
    const watcher = this.#watcher;
    if (watcher !== undefined) {
      liveWatchers.delete(watcher);
      void watcher.stop();
    }
    this.#onError(error);
  }

  /**
   * Offload: interprets the virtio-net header at `pool[at]` for the `length`-byte packet after
   * it, completing a partial checksum in place (virtio §5.1.6.2) unless `completeChecksums` is
   * off. Returns `VNET_UNUSABLE`, `VNET_PLAIN` or `VNET_TRUSTED` (the header
   * says `NEEDS_CSUM` or `DATA_VALID`, §5.1.6.4: the kernel vouches for the checksum).
   */
  #acceptVnet(at: number, length: number): number {
    const view = this.#poolView;
    const flags = view.getUint8(at);
    const gsoType = view.getUint8(at + 1);
    if ((gsoType & ~VnetGso.ECN) !== VnetGso.NONE) this.#superSegmentsIn++;
    if ((flags & VnetFlags.NEEDS_CSUM) === 0) return (flags & VnetFlags.DATA_VALID) === 0 ? VNET_PLAIN : VNET_TRUSTED;
    const csumStart = view.getUint16(at + 6, LITTLE_ENDIAN);
    const csumOffset = view.getUint16(at + 8, LITTLE_ENDIAN);
    if (!this.#completeChecksums) {
      // The same range check completion makes: a header pointing outside the packet is unusable
      // either way (never seen from the kernel).
      return csumStart + csumOffset + 2 > length ? VNET_UNUSABLE : VNET_TRUSTED;
    }
    const packet = this.#pool.subarray(at + VNET_HEADER_SIZE, at + VNET_HEADER_SIZE + length);
    const done = completeChecksum(packet, csumStart, csumOffset);
    if (!done.ok) return VNET_UNUSABLE;
    this.#checksumsCompleted++;
    return VNET_TRUSTED;
  }

  readonly #drainNext = (): void => this.#drain();

  /**
   * Busy polling (TunOptions.busyPollUs): after a drain that reached EAGAIN, whether to try again
   * on the next event-loop turn instead of handing the fd back to the readiness worker.
   */
  #keepPolling(gotPackets: boolean): boolean {
    if (this.#busyPollMs === 0) return false;
    const now = performance.now();
    if (gotPackets) this.#lastRxAt = now;
    return now - this.#lastRxAt < this.#busyPollMs;
  }

  /** Reads until EAGAIN or `readBatch` packets, delivering bursts; then re-arms or yields. */
  #drain(): void {
    this.#immediate = undefined;
    const receiver = this.#receiver;
    if (this.#halted) return;
    if (receiver === undefined) {
      // Readable before start() (prepareReader): the worker waits until start() drains.
      this.#readablePending = true;
      return;
    }
    const pool = this.#pool;
    const room = this.#readRoom;
    const skew = this.#offload ? VNET_SKEW : 0;
    let packets: Uint8Array[] = [];
    // Offload only, made on the first trusted packet of a batch: parallel to `packets`.
    let trusted: boolean[] | undefined;
    let offset = 0;
    let count = 0;
    let drained = false;
    let failure: unknown;
    // The first packet of a drain is delivered on its own, before reading on: when the drain
    // holds a single packet (a request, an ACK) the receiver can answer it without first paying
    // for the EAGAIN read that ends the drain (~2 µs of a ~35 µs round trip). The rest of a
    // burst goes in batches. (A receiver that coalesces its answers per turn, as the stack's
    // ACKs, is unaffected.)
    const deliver = (): void => {
      if (packets.length === 0) return;
      const batch = packets;
      const flags = trusted;
      packets = [];
      trusted = undefined;
      offset = 0;
      this.#rxBatches++;
      if (flags === undefined) receiver(batch);
      else receiver(batch, flags);
    };
    try {
      while (count < this.#readBatch && !this.#halted) {
        // Deliver early rather than offer a read less room than the largest packet.
        if (pool.length - offset < room) deliver();
        let n: number;
        // Every drain ends in EAGAIN, which Node throws as an Error; capturing its stack trace
        // is most of the cost (measured ~3.9 µs per EAGAIN with, ~2.1 µs without), and busy
        // polling meets EAGAIN on every turn. No other code runs while the limit is lowered.
        const traceLimit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
          n = readSync(this.#fd, pool, offset + skew, pool.length - offset - skew, null);
        } catch (error) {
          const code = errorCode(error);
          if (code === 'EINTR') continue;
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') drained = true;
          else failure = error;
          break;
        } finally {
          Error.stackTraceLimit = traceLimit;
        }
        if (n <= 0) {
          drained = true;
          break;
        }
        if (skew === 0) {
          packets.push(pool.subarray(offset, offset + n));
          this.#rxPackets++;
          this.#rxBytes += n;
          count++;
          offset += (n + 7) & ~7;
          if (count === 1) deliver();
          continue;
        }
        const length = n - VNET_HEADER_SIZE;
        const kind = length <= 0 ? VNET_UNUSABLE : this.#acceptVnet(offset + skew, length);
        if (kind === VNET_UNUSABLE) {
          this.#rxHeaderErrors++;
          count++; // still a read: keeps the per-turn cap
          continue;
        }
        if (kind === VNET_TRUSTED) {
          if (trusted === undefined) trusted = new Array<boolean>(packets.length).fill(false);
          trusted.push(true);
          this.#checksumsTrusted++;
        } else if (trusted !== undefined) {
          trusted.push(false);
        }
        packets.push(pool.subarray(offset + 16, offset + 16 + length));
        this.#rxPackets++;
        this.#rxBytes += length;
        count++;
        offset += 16 + ((length + 7) & ~7);
        if (count === 1) deliver();
      }
      deliver();
    } finally {
      // Runs even if the receiver threw, so reading never stalls.
      if (!this.#halted) {
        if (failure !== undefined) {
          const code = errorCode(failure);
          this.#fail(new TunError('ERR_TUN_IO', `reading TUN device '${this.#name}' failed: ${code ?? String(failure)}`, {
            errno: code, syscall: 'read', cause: failure,
          }));
        } else if (drained && !this.#keepPolling(count > 0)) {
          this.#watcher?.rearm();
        } else {
          // More to read (the per-turn cap was reached), or busy polling: try again next turn.
          this.#immediate = setImmediate(this.#drainNext);
          if (!this.#refed) this.#immediate.unref();
        }
      }
    }
  }
}
