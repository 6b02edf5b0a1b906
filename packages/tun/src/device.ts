/**
 * `TunDevice`: a configured TUN interface that moves whole IP packets between the kernel and
 * the caller, and `openTun()` that makes one.
 *
 * This file keeps the device's public face and life cycle: the types it exports, option
 * handling at construction, `start()`/`prepareReader()` validation, `ref()`/`unref()`,
 * `close()` (stop reading, let the writer thread finish, then close the fd, in that order),
 * `'error'` events and the `stats` snapshot. The packet paths are composed parts of their own,
 * each with its buffers and counters:
 * - receive-path.ts: the readiness source, the drain loop (`fs.readSync` until EAGAIN, at most
 *   `readBatch` per turn, busy polling), the pooled read buffer and, with offload, the
 *   virtio-net header of each read (checksum completion, the "checksum trusted" flag);
 * - transmit-path.ts: `send()`, `sendTso()` and `flush()`: one write per packet, the
 *   virtio-net header of each write, writev for large GSO packets, the writer thread's ring.
 * No FFI is on either path (ARCHITECTURE.md §4b); ffi-rs only sets the device up (configure.ts).
 */
import { EventEmitter } from 'node:events';
import { closeSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { attachTunWithFallback, configureInterface, readInterface, skippedWarning, type SkippedSetting, type TunOffloadStatus } from './configure.js';
import type { TunIpv6Status } from './configure6.js';
import { invalidArg, TunError } from './errors.js';
import { resolveBigTso, resolveOptions, type ResolvedTunOptions, type TunOptions } from './options.js';
import type { Readiness, ReadinessHandlers } from './readiness.js';
import { ReceivePath } from './receive-path.js';
import { MAX_PACKET, TransmitPath } from './transmit-path.js';
import { MAX_BIG_TSO_PACKET } from './vnet.js';

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
  /**
   * With `bigTso`: super-packets of more than 65535 octets ("BIG TCP": IPv4 with Total Length 0,
   * IPv6 jumbograms) written by `sendTso()`; each is counted in `txSuperSegments` as well.
   */
  readonly txBigSuperPackets: number;
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
   * Whether `sendTso()` takes "BIG TCP" super-packets over 65535 octets (option `bigTso`, resolved:
   * only with offload; with `'auto'` on Linux ≥ 6.3).
   */
  readonly bigTso: boolean;
  /**
   * With offload: `{ maxPacket }`, the largest TCP super-packet `sendTso()` takes (the `tso` of
   * `@tcp-tun/net`'s `Link`): 131072 (`MAX_BIG_TSO_PACKET`) with `bigTso`, else 65535.
   * Undefined without offload: there is no header to ask with.
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

  /** Reading: readiness, drain, read buffer, receive counters (receive-path.ts). */
  readonly #rx: ReceivePath;
  /** Writing: inline writes or the writer thread, transmit counters (transmit-path.ts). */
  readonly #tx: TransmitPath;
  #closed = false;
  #closing: Promise<void> | undefined;

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
    // 'auto' is settled by openTun() before a device exists; here it can only mean "not attached
    // with offloads", so it is off.
    const offload = options.offload === true;
    this.offloadStatus = Object.freeze(offloadStatus ?? { state: offload ? 'on' : 'off' });
    this.fd = fd;
    this.name = name;
    this.mtu = mtu;
    this.configuration = configuration ?? { configured: true, changed: [], skipped: [], up: options.up };
    this.offload = offload;
    this.#rx = new ReceivePath({
      fd,
      name,
      mtu,
      offload,
      readBatch: options.readBatch,
      busyPollUs: options.busyPollUs,
      completeChecksums: options.completeChecksums,
      internals,
      // Reading failed for good: the receive path has stopped its readiness source already.
      onError: (error) => this.emit('error', error),
    });
    // As offload's 'auto', bigTso's is settled by openTun(); here 'auto' means off.
    const bigTso = offload && options.bigTso === true;
    this.bigTso = bigTso;
    this.tso = offload ? Object.freeze({ maxPacket: bigTso ? MAX_BIG_TSO_PACKET : MAX_PACKET }) : undefined;
    this.#tx = new TransmitPath({ fd, name, offload, bigTso, writer: options.writer, internals });
  }

  /** A snapshot of the counters. */
  get stats(): TunStats {
    const rx = this.#rx;
    const tx = this.#tx;
    // The writer thread's counters are published after each of its writes: they may lag by one.
    const w = tx.writer?.stats;
    return {
      rxPackets: rx.rxPackets,
      rxBytes: rx.rxBytes,
      rxBatches: rx.rxBatches,
      txPackets: tx.txPackets + (w?.txPackets ?? 0),
      txBytes: tx.txBytes + (w?.txBytes ?? 0),
      txDropped: tx.txDropped + (w?.txDropped ?? 0),
      txSuperSegments: tx.txSuperSegments + (w?.txSuperSegments ?? 0),
      txSegments: tx.txSegments + (w?.txSegments ?? 0),
      txChecksumsOffloaded: tx.txChecksumsOffloaded + (w?.txChecksumsOffloaded ?? 0),
      txBigSuperPackets: tx.txBigSuperPackets + (w?.txBigSuperPackets ?? 0),
      txQueued: w?.txQueued ?? 0,
      txWriterWakeups: w?.txWriterWakeups ?? 0,
      txQueueFullWaits: w?.txQueueFullWaits ?? 0,
      superSegmentsIn: rx.superSegmentsIn,
      checksumsCompleted: rx.checksumsCompleted,
      checksumsTrusted: rx.checksumsTrusted,
      rxHeaderErrors: rx.rxHeaderErrors,
      readinessWakeups: rx.readinessWakeups,
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
    if (this.#rx.started) {
      throw new TunError('ERR_TUN_ALREADY_STARTED', `TUN device '${this.name}' was already started`);
    }
    this.#rx.start(receiver);
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
    this.#rx.prepare();
  }

  /**
   * Writes one packet to the kernel. The bytes are copied before this returns. Write failures
   * (queue full, interface down, malformed packet) are counted in `stats.txDropped`, never
   * thrown. After close, packets are counted as dropped too: a stack shutting down may still
   * flush its last segments from a timer, and that must not crash the program.
   */
  send(packet: Uint8Array): void {
    this.#tx.send(packet);
  }

  /**
   * GSO send (only with offload, when `tso` is set): writes the IPv4/TCP or IPv6/TCP `packet` (at most
   * `tso.maxPacket` octets) in one write with a virtio-net header that asks the kernel to finish
   * it (vnet.ts `writeTcpOffloadHeader`). A packet over 65535 octets (only with `bigTso`) must be
   * a super-packet (payload longer than `segmentSize`) in a BIG TCP shape: IPv4 with Total Length
   * 0 (its header checksum computed with that 0), or IPv6 with Payload Length 0 and, right after
   * the fixed header, an 8-octet Hop-by-Hop header holding only a Jumbo Payload option (RFC 2675)
   * whose length is the packet's less 40 (TCP at octet 48); an IPv6 packet of 65536..65575 octets
   * may also be plain, with its exact Payload Length. Its TCP checksum field must hold the folded
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
    this.#tx.sendTso(packet, segmentSize);
  }

  /**
   * The end of a batch of `send()`/`sendTso()` calls (`@tcp-tun/net`'s `Link.flush`, called by
   * the stack's drain): with a writer thread, wakes it if it sleeps with packets waiting (else a
   * microtask does, later). A no-op for an inline writer.
   */
  flush(): void {
    this.#tx.flush();
  }

  /** Keeps the process alive while reading (the default after `start()`). */
  ref(): this {
    this.#rx.ref();
    return this;
  }

  /** Lets the process exit while the device is open; the reader is stopped at exit. */
  unref(): this {
    this.#rx.unref();
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
      this.#rx.halt();
      this.#closing = this.#shutdown();
    }
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    // The writer thread writes what was queued before close(), then ends.
    const writing = this.#tx.close();
    // The worker polls this fd: close it only after the thread has ended.
    const reading = this.#rx.stop();
    if (reading !== undefined) await reading;
    // The writer writes to this fd: close it only after that thread has ended too.
    await writing;
    closeSync(this.fd);
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
  const offloadOn = offload.state === 'on';
  const resolved: ResolvedTunOptions = { ...asked, offload: offloadOn, bigTso: resolveBigTso(asked.bigTso, offloadOn, release()) };
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
