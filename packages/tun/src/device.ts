/**
 * `TunDevice`: a configured TUN interface that moves whole IP packets between the kernel and
 * the caller, and `openTun()` that makes one.
 *
 * Packet path (no FFI on it, ARCHITECTURE.md §4b):
 * - Receive: a worker blocked in poll(2) says "readable"; the main thread then reads the
 *   O_NONBLOCK fd with `fs.readSync` into one pooled buffer until EAGAIN, at most `readBatch`
 *   packets per event-loop turn (more continue on `setImmediate`, so a flood cannot starve the
 *   loop), and hands the first packet to the receiver at once and the rest of the burst as one
 *   batch. Then it re-arms the worker, or, with busy polling (option `busyPollUs`), first keeps
 *   reading once per event-loop turn until the fd has been quiet that long.
 * - Send: one `fs.writeSync` per packet (one write is exactly one packet; `writev` of two would
 *   lose the second). Failures are counted, never thrown.
 * - Offload (option `offload`): every read starts with a 10-byte virtio-net header (vnet.ts).
 *   The device strips it, completes a partial checksum in place (unless `completeChecksums` is
 *   false), and delivers the IP packet, which may be a TCP super-segment of up to 65535 bytes,
 *   with a "checksum trusted" flag when the header says `NEEDS_CSUM` or `DATA_VALID`.
 *   `send()` writes a zeroed header; `sendTso()` writes one asking the kernel to finish a
 *   partial TCP checksum and, for a TCP super-packet of up to 65535 bytes, to cut it into
 *   `segmentSize`-octet segments (GSO send):
 *   one write instead of one per segment, and the kernel's receive path runs once per write.
 */
import { EventEmitter } from 'node:events';
import { closeSync, readFileSync, readSync, writeSync, writevSync } from 'node:fs';
import { attachTunWithFallback, configureInterface, readInterface, skippedWarning, type SkippedSetting, type TunOffloadStatus } from './configure.js';
import type { TunIpv6Status } from './configure6.js';
import { errnoName, invalidArg, TunError } from './errors.js';
import { resolveOptions, type ResolvedTunOptions, type TunOptions } from './options.js';
import { ReadinessWatcher, type Readiness, type ReadinessHandlers } from './readiness.js';
import { completeChecksum, LITTLE_ENDIAN, VNET_HEADER_SIZE, VnetFlags, VnetGso, writeTcpOffloadHeader } from './vnet.js';
import { TunWriter } from './write-worker.js';

/**
 * Receives every packet of one read burst; packets are valid only during the call.
 *
 * `checksumTrusted` (offload only; absent when no packet of the burst has it) runs parallel to
 * `packets`: `true` where the kernel's virtio-net header said `NEEDS_CSUM` (the packet was made
 * by a local socket and crossed memory: Linux's CHECKSUM_PARTIAL, which Linux never verifies)
 * or `DATA_VALID` (the checksum was verified already: CHECKSUM_UNNECESSARY); virtio spec v1.2
 * §5.1.6.4 lets a driver skip its check for both. The kernel writes that header, never the
 * packet's sender, so no packet content can set the flag. With `completeChecksums: false` a
 * `NEEDS_CSUM` packet's checksum field still holds the partial sum. This is the `LinkReceiver`
 * shape of `@tcp-tun/net`. The array is valid only during the call, as the packets are.
 */
export type TunReceiver = (packets: readonly Uint8Array[], checksumTrusted?: readonly boolean[]) => void;

/** Counters of a {@link TunDevice}. Bytes are whole IP packets. */
export interface TunStats {
  /** Packets read from the device (sent by the kernel to us). */
  readonly rxPackets: number;
  /** Octets of those packets (IP headers included, virtio-net headers not). */
  readonly rxBytes: number;
  /** Receiver calls: packets arrive in batches, so this is at most `rxPackets`. */
  readonly rxBatches: number;
  /** Packets written to the device (delivered to the kernel). */
  readonly txPackets: number;
  /** Octets of those packets (IP headers included, virtio-net headers not). */
  readonly txBytes: number;
  /** Packets whose write failed (EAGAIN, ENOBUFS, EIO when down, EINVAL for garbage, ...). */
  readonly txDropped: number;
  /**
   * Offload only: packets written by `sendTso()` as GSO super-packets (`gso_type` TCPV4 or TCPV6), each
   * counted once in `txPackets`; `txSegments` counts the segments they stand for.
   */
  readonly txSuperSegments: number;
  /** Offload only: segments carried by the super-packets counted in `txSuperSegments`. */
  readonly txSegments: number;
  /** Offload only: packets written with a partial checksum for the kernel to finish (`NEEDS_CSUM`). */
  readonly txChecksumsOffloaded: number;
  /** Offload only: received packets the kernel marked as GSO super-segments (`gso_type` not NONE). */
  readonly superSegmentsIn: number;
  /** Offload only: received packets whose partial checksum the device completed (`NEEDS_CSUM`). */
  readonly checksumsCompleted: number;
  /**
   * Offload only: received packets delivered with the "checksum trusted" flag (`NEEDS_CSUM` or
   * `DATA_VALID` in their header; see {@link TunReceiver}).
   */
  readonly checksumsTrusted: number;
  /** Offload only: reads dropped because the virtio-net header was unusable (never seen so far). */
  readonly rxHeaderErrors: number;
  /** With `writer: 'worker' | 'auto'`: packets handed to the writer thread (0 inline). */
  readonly txQueued: number;
  /** With a writer thread: times the main thread woke it from sleep (one futex wake each). */
  readonly txWriterWakeups: number;
  /** With a writer thread: times its ring was full and the main thread waited for room. */
  readonly txQueueFullWaits: number;
  /**
   * Times the readiness worker woke the reader. With busy polling most bursts are caught by
   * polling instead, so this stays well below `rxBatches` under steady traffic.
   */
  readonly readinessWakeups: number;
}

/** What `openTun()` found and did to the interface (see {@link TunOptions.configure}). */
export interface TunConfiguration {
  /** False with `configure: false`: nothing was touched. */
  readonly configured: boolean;
  /** Settings changed (`mtu`, `txqueuelen`, `address`, `peer`, `netmask`, `state`, `disable_ipv6`). */
  readonly changed: readonly string[];
  /** Default settings left as they were because changing them was refused for lack of privilege. */
  readonly skipped: readonly SkippedSetting[];
  /** Whether the interface was up (IFF_UP) when `openTun()` returned. */
  readonly up: boolean;
  /**
   * With `address6` (and `configure`): the IPv6 address and peer set up and the per-interface
   * IPv6 sysctls as read back afterwards. Undefined otherwise.
   */
  readonly ipv6?: TunIpv6Status | undefined;
}

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
/**
 * Packets from this size on leave `sendTso()` by writev (header, packet) instead of being copied
 * behind the header first: a copy of 8 KiB costs about what the writev's extra iovec does.
 */
const WRITEV_MIN = 8192;
const VNET_READ_ROOM = 16 + 65536;
/** What `#acceptVnet` made of a virtio-net header: unusable (the read is dropped and counted). */
const VNET_UNUSABLE = 0;
/** ... a header that vouches for nothing: the receiver verifies the checksum. */
const VNET_PLAIN = 1;
/** ... `NEEDS_CSUM` or `DATA_VALID`: delivered with the "checksum trusted" flag. */
const VNET_TRUSTED = 2;
/** Largest packet a write can carry (the IPv4 Total Length field, RFC 791 §3.1). */
const MAX_PACKET = 65535;

/** Upper bound of the packet pool besides READ_ROOM, so huge MTUs do not allocate huge pools. */
const POOL_CAP = 4 * 1024 * 1024;

/** Watchers still running, stopped synchronously if the process exits without close(). */
const liveWatchers = new Set<Readiness>();

/**
 * For devices that are not a TUN fd (the warm-up pair, warm-up-pair.ts): how they learn of
 * readability instead of a poll worker, and a hook after each successful write.
 * @internal
 */
export interface DeviceInternals {
  /** Makes the readiness source in place of the poll worker. */
  readonly readiness: (handlers: ReadinessHandlers) => Readiness;
  /** Called after each packet written. */
  readonly afterSend: () => void;
}
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

/**
 * A TUN interface opened by {@link openTun}. Fits `@tcp-tun/net`'s `Link` structurally.
 *
 * Events: `'error'` ({@link TunError} with code `ERR_TUN_IO`) when reading fails for good, e.g.
 * because the interface was deleted; reading stops then. As with any EventEmitter, an `'error'`
 * without a listener is thrown.
 */
export class TunDevice extends EventEmitter {
  /** Interface name as the kernel reports it (a `%d` in the requested name is resolved). */
  readonly name: string;
  /** MTU in octets, as configured. */
  readonly mtu: number;
  /** The TUN file descriptor (O_NONBLOCK). Owned by the device; closed by `close()`. */
  readonly fd: number;
  /** True when virtio-net offloads are on (option `offload`): received packets may exceed the MTU. */
  readonly offload: boolean;
  /**
   * With offload: `{ maxPacket: 65535 }`, the largest TCP super-packet `sendTso()` takes (the
   * `tso` of `@tcp-tun/net`'s `Link`). Undefined without offload: there is no header to ask with.
   */
  readonly tso:
    | {
        /** Largest super-packet `sendTso()` takes, in octets. */
        readonly maxPacket: number;
      }
    | undefined;
  /** What `openTun()` found and did to the interface. */
  readonly configuration: TunConfiguration;
  /**
   * Whether the offloads are on, and with `offload: 'auto'` why they are not (`'unsupported'`
   * and the kernel's refusal): the device then works as a plain one, MTU-sized packets each way.
   */
  readonly offloadStatus: TunOffloadStatus;

  readonly #readBatch: number;
  readonly #pool: Buffer;
  readonly #poolView: DataView;
  readonly #readRoom: number;
  /** Offload only: zeroed virtio-net header + room for one packet, for `send()`. */
  readonly #txScratch: Buffer | undefined;
  #receiver: TunReceiver | undefined;
  /** With `writer: 'worker' | 'auto'`: the writer thread's ring (write-worker.ts). */
  readonly #writer: TunWriter | undefined;
  #watcher: Readiness | undefined;
  /** The worker reported readable before `start()` (see `prepareReader()`): drain on start. */
  #readablePending = false;
  readonly #internals: DeviceInternals | undefined;
  #immediate: NodeJS.Immediate | undefined;
  readonly #busyPollMs: number;
  /** Offload only: complete partial checksums before delivering (TunOptions.completeChecksums). */
  readonly #completeChecksums: boolean;
  /** `performance.now()` of the last burst that brought packets, for busy polling. */
  #lastRxAt = 0;
  #refed = true;
  #closed = false;
  #closing: Promise<void> | undefined;

  #rxPackets = 0;
  #rxBytes = 0;
  #rxBatches = 0;
  #txPackets = 0;
  #txBytes = 0;
  #txDropped = 0;
  #superSegmentsIn = 0;
  #txSuperSegments = 0;
  #txSegments = 0;
  #txChecksumsOffloaded = 0;
  #checksumsCompleted = 0;
  #checksumsTrusted = 0;
  #rxHeaderErrors = 0;
  #readinessWakeups = 0;

  /** @internal Use {@link openTun}. */
  constructor(
    fd: number,
    name: string,
    options: ResolvedTunOptions,
    configuration?: TunConfiguration,
    mtu = options.mtu,
    offloadStatus?: TunOffloadStatus,
    internals?: DeviceInternals,
  ) {
    super();
    this.#internals = internals;
    // 'auto' is settled by openTun() before a device exists; here it can only mean "not attached
    // with offloads", so it is off.
    const offload = options.offload === true;
    this.offloadStatus = Object.freeze(offloadStatus ?? { state: offload ? 'on' : 'off' });
    this.fd = fd;
    this.name = name;
    this.mtu = mtu;
    this.configuration = configuration ?? { configured: true, changed: [], skipped: [], up: options.up };
    this.#readBatch = options.readBatch;
    this.#busyPollMs = options.busyPollUs / 1000;
    this.#completeChecksums = options.completeChecksums;
    this.offload = offload;
    this.#readRoom = offload ? VNET_READ_ROOM : READ_ROOM;
    const perPacket = ((mtu + 7) & ~7) + (offload ? 16 : 0);
    // allocUnsafeSlow: an ArrayBuffer of its own, so pool offsets are memory alignments.
    this.#pool = Buffer.allocUnsafeSlow(Math.min(POOL_CAP, options.readBatch * perPacket) + this.#readRoom);
    this.#poolView = new DataView(this.#pool.buffer, this.#pool.byteOffset, this.#pool.byteLength);
    this.#txScratch = offload ? Buffer.alloc(VNET_HEADER_SIZE + MAX_PACKET) : undefined;
    this.tso = offload ? Object.freeze({ maxPacket: MAX_PACKET }) : undefined;
    this.#writer = options.writer === 'inline' ? undefined : new TunWriter(fd, {
      mode: options.writer,
      onFailure: (cause) => process.emitWarning(`TUN device '${name}': the writer thread failed (${cause.message}); writing inline from now on`, { code: 'TCP_TUN_WRITER_FAILED' }),
    });
  }

  /** A snapshot of the counters. */
  get stats(): TunStats {
    // The writer thread's counters are published after each of its writes: they may lag by one.
    const w = this.#writer?.stats;
    return {
      rxPackets: this.#rxPackets,
      rxBytes: this.#rxBytes,
      rxBatches: this.#rxBatches,
      txPackets: this.#txPackets + (w?.txPackets ?? 0),
      txBytes: this.#txBytes + (w?.txBytes ?? 0),
      txDropped: this.#txDropped + (w?.txDropped ?? 0),
      txSuperSegments: this.#txSuperSegments + (w?.txSuperSegments ?? 0),
      txSegments: this.#txSegments + (w?.txSegments ?? 0),
      txChecksumsOffloaded: this.#txChecksumsOffloaded + (w?.txChecksumsOffloaded ?? 0),
      txQueued: w?.txQueued ?? 0,
      txWriterWakeups: w?.txWriterWakeups ?? 0,
      txQueueFullWaits: w?.txQueueFullWaits ?? 0,
      superSegmentsIn: this.#superSegmentsIn,
      checksumsCompleted: this.#checksumsCompleted,
      checksumsTrusted: this.#checksumsTrusted,
      rxHeaderErrors: this.#rxHeaderErrors,
      readinessWakeups: this.#readinessWakeups,
    };
  }

  /**
   * The kernel's count of packets it dropped on the way to us, mostly because the transmit
   * queue (`txQueueLen`) was full: `/sys/class/net/NAME/statistics/tx_dropped`. These drops are
   * otherwise silent. Returns undefined when the file cannot be read (e.g. a /sys mounted for
   * another network namespace than the device's, or the interface is gone).
   */
  readTxDropped(): number | undefined {
    try {
      const value = Number(readFileSync(`/sys/class/net/${this.name}/statistics/tx_dropped`, 'latin1').trim());
      return Number.isSafeInteger(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts delivering received packets to `receiver`, in batches. Packets are subarrays of a
   * reused buffer, valid only during the call: copy what you keep. Until `start()`, packets wait
   * in the kernel's queue (`txQueueLen`). Throws `ERR_TUN_CLOSED` after close and
   * `ERR_TUN_ALREADY_STARTED` when called twice.
   */
  start(receiver: TunReceiver): void {
    if (this.#closed) throw new TunError('ERR_TUN_CLOSED', `TUN device '${this.name}' is closed`);
    if (typeof receiver !== 'function') throw invalidArg('receiver', receiver, 'must be a function');
    if (this.#receiver !== undefined) {
      throw new TunError('ERR_TUN_ALREADY_STARTED', `TUN device '${this.name}' was already started`);
    }
    this.#receiver = receiver;
    this.prepareReader();
    if (this.#readablePending) {
      // The worker said "readable" before there was a receiver and waits for a drain. Not
      // synchronously: the caller (a Stack's constructor) is not ready for packets yet.
      this.#readablePending = false;
      this.#immediate = setImmediate(this.#drainNext);
      if (!this.#refed) this.#immediate.unref();
    }
  }

  /**
   * Starts the readiness worker now, ahead of {@link start}, so that its start-up overlaps
   * other work: a worker thread with its own V8 isolate, ffi-rs and its warm loop took 60-200 ms
   * on this 2-core machine under load (bench/PROFILE.md round 6), and until it polls, packets
   * wait: the first SYN after `start()` waited that long. Nothing is read before `start()`:
   * packets wait in the kernel's queue. The worker keeps the process alive unless the device is
   * `unref()`'d, as after `start()`. Idempotent (`start()` calls it); throws `ERR_TUN_CLOSED`
   * after close.
   */
  prepareReader(): void {
    if (this.#closed) throw new TunError('ERR_TUN_CLOSED', `TUN device '${this.name}' is closed`);
    if (this.#watcher !== undefined) return;
    const handlers: ReadinessHandlers = {
      readable: () => {
        this.#readinessWakeups++;
        this.#drain();
      },
      hangup: () => this.#drain(),
      error: (error) => this.#fail(error),
    };
    const watcher = this.#internals?.readiness(handlers) ?? new ReadinessWatcher(this.fd, handlers);
    this.#watcher = watcher;
    if (!this.#refed) watcher.unref();
    liveWatchers.add(watcher);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', stopAllAtExit);
    }
  }

  /**
   * Writes one packet to the kernel. The bytes are copied before this returns. Write failures
   * (queue full, interface down, malformed packet) are counted in `stats.txDropped`, never
   * thrown. After close, packets are counted as dropped too: a stack shutting down may still
   * flush its last segments from a timer, and that must not crash the program.
   */
  send(packet: Uint8Array): void {
    if (this.#closed) {
      this.#txDropped++;
      return;
    }
    if (!(packet instanceof Uint8Array)) throw invalidArg('packet', typeof packet, 'must be a Uint8Array');
    const scratch = this.#txScratch;
    const writer = this.#writer;
    if (writer !== undefined && writer.route(packet.length)) {
      // The writer thread writes it (write-worker.ts), behind a zeroed header with offload.
      if (packet.length > MAX_PACKET) this.#txDropped++;
      else writer.push(packet, scratch === undefined ? 0 : VNET_HEADER_SIZE);
      return;
    }
    try {
      if (scratch === undefined) {
        const n = writeSync(this.fd, packet);
        this.#txPackets++;
        this.#txBytes += n;
      } else {
        // A zero header (flags 0, GSO_NONE), so the kernel checks the packet as usual. It must
        // be written each time: sendTso() leaves its own header in the shared scratch buffer,
        // and a stale NEEDS_CSUM would make the kernel trust this packet's checksum.
        // One copy into the scratch buffer keeps it one write per packet without asking the
        // caller for headroom.
        if (packet.length > MAX_PACKET) {
          this.#txDropped++;
          return;
        }
        scratch.fill(0, 0, VNET_HEADER_SIZE);
        scratch.set(packet, VNET_HEADER_SIZE);
        const n = writeSync(this.fd, scratch, 0, VNET_HEADER_SIZE + packet.length);
        this.#txPackets++;
        this.#txBytes += n - VNET_HEADER_SIZE;
      }
    } catch {
      this.#txDropped++;
      return;
    }
    this.#internals?.afterSend();
  }

  /**
   * GSO send (only with offload, when `tso` is set): writes the IPv4/TCP or IPv6/TCP `packet` (at most
   * `tso.maxPacket` octets) in one write with a virtio-net header that asks the kernel to finish
   * it (vnet.ts `writeTcpOffloadHeader`). Its TCP checksum field must hold the folded
   * pseudo-header sum over the whole TCP length, not complemented, as Linux's
   * `__tcp_v4_send_check` leaves it. A TCP payload longer than `segmentSize` is a super-packet
   * the kernel cuts into `segmentSize`-octet segments, FIN and PSH on the last only (or delivers
   * whole to a local socket, as a GRO'd one); a shorter one is a single segment whose checksum the
   * kernel trusts without computing it. The bytes are copied before this returns. Failures are
   * counted in `stats.txDropped`, never thrown, as with `send()`; so is a packet that is not a
   * well-formed IPv4/TCP or IPv6/TCP one or is too long.
   * @throws TunError `ERR_TUN_NO_OFFLOAD` when the device was opened without `offload`.
   */
  sendTso(packet: Uint8Array, segmentSize: number): void {
    if (this.#closed) {
      this.#txDropped++;
      return;
    }
    if (!(packet instanceof Uint8Array)) throw invalidArg('packet', typeof packet, 'must be a Uint8Array');
    const scratch = this.#txScratch;
    if (scratch === undefined) {
      throw new TunError('ERR_TUN_NO_OFFLOAD', `TUN device '${this.name}' was opened without offload: sendTso() needs it`);
    }
    if (packet.length > MAX_PACKET) {
      this.#txDropped++;
      return;
    }
    const writer = this.#writer;
    if (writer !== undefined && writer.route(packet.length)) {
      if (writer.pushTso(packet, segmentSize) === 0) this.#txDropped++;
      return;
    }
    const segments = writeTcpOffloadHeader(scratch, 0, packet, segmentSize);
    if (segments === 0) {
      this.#txDropped++;
      return;
    }
    try {
      // Header and packet must reach the kernel in one write. A large packet goes as two iovecs
      // of one writev (the TUN reads the header from the front of the iov_iter, then the packet;
      // one packet per call either way), saving the copy of up to 64 KiB behind the header; a
      // small one is cheaper to copy than to describe in a writev.
      let n: number;
      if (packet.length >= WRITEV_MIN) {
        n = writevSync(this.fd, [scratch.subarray(0, VNET_HEADER_SIZE), packet]);
      } else {
        scratch.set(packet, VNET_HEADER_SIZE);
        n = writeSync(this.fd, scratch, 0, VNET_HEADER_SIZE + packet.length);
      }
      this.#txPackets++;
      this.#txBytes += n - VNET_HEADER_SIZE;
      this.#txChecksumsOffloaded++;
      if (segments > 1) {
        this.#txSuperSegments++;
        this.#txSegments += segments;
      }
    } catch {
      this.#txDropped++;
      return;
    }
    this.#internals?.afterSend();
  }

  /**
   * The end of a batch of `send()`/`sendTso()` calls (`@tcp-tun/net`'s `Link.flush`, called by
   * the stack's drain): with a writer thread, wakes it if it sleeps with packets waiting (else a
   * microtask does, later). A no-op for an inline writer.
   */
  flush(): void {
    this.#writer?.flush();
  }

  /** Keeps the process alive while reading (the default after `start()`). */
  ref(): this {
    this.#refed = true;
    this.#watcher?.ref();
    return this;
  }

  /** Lets the process exit while the device is open; the reader is stopped at exit. */
  unref(): this {
    this.#refed = false;
    this.#watcher?.unref();
    return this;
  }

  /**
   * Stops reading (no receiver call happens after this returns), stops the worker and waits for
   * its thread to end, then closes the fd; a non-persistent interface disappears with it.
   * Idempotent: later calls return the same promise.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true;
      if (this.#immediate !== undefined) clearImmediate(this.#immediate);
      this.#immediate = undefined;
      this.#closing = this.#shutdown();
    }
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const watcher = this.#watcher;
    // The writer thread writes what was queued before close(), then ends.
    const writing = this.#writer?.close();
    if (watcher !== undefined) {
      liveWatchers.delete(watcher);
      // The worker polls this fd: close it only after the thread has ended.
      await watcher.stop();
    }
    // The writer writes to this fd: close it only after that thread has ended too.
    await writing;
    closeSync(this.fd);
  }

  #fail(error: TunError): void {
    if (this.#closed) return;
    const watcher = this.#watcher;
    if (watcher !== undefined) {
      liveWatchers.delete(watcher);
      void watcher.stop();
    }
    this.emit('error', error);
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
    if (this.#closed) return;
    if (receiver === undefined) {
      // Readable before start() (prepareReader): the worker waits until start() drains.
      this.#readablePending = true;
      return;
    }
    const pool = this.#pool;
    const room = this.#readRoom;
    const skew = this.offload ? VNET_SKEW : 0;
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
      while (count < this.#readBatch && !this.#closed) {
        // Deliver early rather than offer a read less room than the largest packet.
        if (pool.length - offset < room) deliver();
        let n: number;
        // Every drain ends in EAGAIN, which Node throws as an Error; capturing its stack trace
        // is most of the cost (measured ~3.9 µs per EAGAIN with, ~2.1 µs without), and busy
        // polling meets EAGAIN on every turn. No other code runs while the limit is lowered.
        const traceLimit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
          n = readSync(this.fd, pool, offset + skew, pool.length - offset - skew, null);
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
      if (!this.#closed) {
        if (failure !== undefined) {
          const code = errorCode(failure);
          this.#fail(new TunError('ERR_TUN_IO', `reading TUN device '${this.name}' failed: ${code ?? String(failure)}`, {
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

/**
 * Creates (or attaches to) the TUN interface `options.name` and configures it: offloads (on
 * with `offload: true`, tried with `'auto'` and left off where the kernel refuses them, see
 * {@link TunDevice.offloadStatus}; otherwise off), IPv6 off, MTU, transmit queue length, address, peer, netmask,
 * up. Each setting is read first and changed only where it differs, so a device that root
 * prepared for this user (`ip tuntap add dev tun0 mode tun user NAME`, its address, up) opens
 * without privilege; defaults that only tune it (`txQueueLen`, `disableIpv6`) are skipped with one
 * warning when they may not be changed. With `configure: false` nothing is touched; the device's
 * own MTU is used. Rejects with a {@link TunError}:
 * `ERR_INVALID_ARG_VALUE` (bad option), `ERR_TUN_NO_DEVICE`, `ERR_TUN_PERMISSION` (may not open,
 * create or attach the device: the message says which command fixes it), `ERR_TUN_BUSY`
 * (another process holds the device) or `ERR_TUN_CONFIG` (a setting is wrong and may not be
 * changed, or an ioctl failed; the message names it, the errno and the fixing command). On
 * failure nothing stays open.
 */
export async function openTun(options: TunOptions = {}): Promise<TunDevice> {
  const asked = resolveOptions(options);
  const { fd, name, offload } = attachTunWithFallback(asked.name, asked.offload);
  const resolved: ResolvedTunOptions = { ...asked, offload: offload.state === 'on' };
  try {
    if (!resolved.configure) {
      const state = readInterface(name);
      return new TunDevice(fd, name, resolved, { configured: false, changed: [], skipped: [], up: state.up }, state.mtu, offload);
    }
    const result = configureInterface(name, resolved);
    if (result.skipped.length > 0) {
      const message = skippedWarning(name, result.skipped);
      if (resolved.onWarning !== undefined) resolved.onWarning(message);
      else process.emitWarning(message, { code: 'TCP_TUN_UNPRIVILEGED' });
    }
    const state = readInterface(name);
    return new TunDevice(fd, name, resolved, { configured: true, ...result, up: state.up }, state.mtu, offload);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
