/**
 * The transmit side of a `TunDevice` (device.ts): `send()`, `sendTso()` and `flush()` behind the
 * device's methods of those names. It owns the virtio-net scratch buffer (offload), the choice
 * between writing inline and handing the packet to the writer thread (write-worker.ts), the
 * write/writev path and the transmit counters. The device composes one and keeps the life
 * cycle: it forwards its sends, closes the writer thread here before it closes the fd, and adds
 * these counters to its `stats`.
 *
 * Why a module of its own: every packet the stack emits passes through here, with rules of its
 * own (one write is one packet; a header written fresh for each packet; when writev pays) that
 * have nothing to do with reading or with the device's life cycle.
 *
 * The path (no FFI on it, ARCHITECTURE.md §4b): one `fs.writeSync` per packet (one write is
 * exactly one packet; `writev` of two would lose the second). Failures are counted, never
 * thrown. With offload `send()` writes a zeroed virtio-net header before the packet;
 * `sendTso()` writes one asking the kernel to finish a partial TCP checksum and, for a TCP
 * super-packet of up to 65535 bytes (131072 with `bigTso`, Linux's BIG TCP), to cut it into
 * `segmentSize`-octet segments (GSO send): one write instead of one per segment, and the kernel's
 * receive path runs once per write.
 */
import { writeSync, writevSync } from 'node:fs';
import type { DeviceInternals } from './device.js';
import { invalidArg, TunError } from './errors.js';
import { MAX_BIG_TSO_PACKET, MAX_PLAIN_PACKET, VNET_HEADER_SIZE, writeTcpOffloadHeader } from './vnet.js';
import { TunWriter } from './write-worker.js';

/**
 * Largest packet `send()` writes, and `sendTso()` without `bigTso` (the IPv4 Total Length field,
 * RFC 791 §3.1).
 */
export const MAX_PACKET = MAX_PLAIN_PACKET;
/**
 * Packets from this size on leave `sendTso()` by writev (header, packet) instead of being copied
 * behind the header first: a copy of 8 KiB costs about what the writev's extra iovec does.
 */
const WRITEV_MIN = 8192;

/** What a {@link TransmitPath} needs from its device. */
export interface TransmitPathOptions {
  /** The device's fd, written here and by the writer thread. */
  readonly fd: number;
  /** The device's name, for messages. */
  readonly name: string;
  /** Writes start with a virtio-net header; `sendTso()` works. */
  readonly offload: boolean;
  /** With offload: `sendTso()` takes BIG TCP super-packets up to {@link MAX_BIG_TSO_PACKET}. */
  readonly bigTso: boolean;
  /** TunOptions.writer. */
  readonly writer: 'inline' | 'worker' | 'auto';
  /** A warm-up pair's hooks (warm-up-pair.ts): `afterSend` after each packet written inline. */
  readonly internals: DeviceInternals | undefined;
}

/** The transmit side of one device (see the module header). */
export class TransmitPath {
  readonly #fd: number;
  readonly #name: string;
  /** Offload only: zeroed virtio-net header + room for one packet, for `send()`. */
  readonly #txScratch: Buffer | undefined;
  /** With `writer: 'worker' | 'auto'`: the writer thread's ring (write-worker.ts). */
  readonly #writer: TunWriter | undefined;
  readonly #internals: DeviceInternals | undefined;
  /** Largest packet `sendTso()` takes: {@link MAX_BIG_TSO_PACKET} with bigTso, else {@link MAX_PACKET}. */
  readonly #maxTsoPacket: number;
  /** Set by `close()`: packets sent afterwards are counted as dropped. */
  #closed = false;

  #txPackets = 0;
  #txBytes = 0;
  #txDropped = 0;
  #txSuperSegments = 0;
  #txSegments = 0;
  #txChecksumsOffloaded = 0;
  #txBigSuperPackets = 0;

  constructor(options: TransmitPathOptions) {
    const { fd, name } = options;
    this.#fd = fd;
    this.#name = name;
    this.#internals = options.internals;
    this.#maxTsoPacket = options.offload && options.bigTso ? MAX_BIG_TSO_PACKET : MAX_PACKET;
    this.#txScratch = options.offload ? Buffer.alloc(VNET_HEADER_SIZE + MAX_PACKET) : undefined;
    this.#writer = options.writer === 'inline' ? undefined : new TunWriter(fd, {
      mode: options.writer,
      onFailure: (cause) => process.emitWarning(`TUN device '${name}': the writer thread failed (${cause.message}); writing inline from now on`, { code: 'TCP_TUN_WRITER_FAILED' }),
    });
  }

  /** Packets written inline (`TunStats.txPackets` less the writer thread's). */
  get txPackets(): number {
    return this.#txPackets;
  }
  /** Octets written inline. */
  get txBytes(): number {
    return this.#txBytes;
  }
  /** Packets dropped on the main thread (the writer thread counts its own). */
  get txDropped(): number {
    return this.#txDropped;
  }
  /** GSO super-packets written inline. */
  get txSuperSegments(): number {
    return this.#txSuperSegments;
  }
  /** Segments those super-packets stand for. */
  get txSegments(): number {
    return this.#txSegments;
  }
  /** Packets written inline with a partial checksum for the kernel (`sendTso()`). */
  get txChecksumsOffloaded(): number {
    return this.#txChecksumsOffloaded;
  }
  /** Super-packets of more than {@link MAX_PACKET} octets (BIG TCP) written inline. */
  get txBigSuperPackets(): number {
    return this.#txBigSuperPackets;
  }
  /** Largest packet `sendTso()` takes (the device's `tso.maxPacket`). */
  get maxTsoPacket(): number {
    return this.#maxTsoPacket;
  }
  /** The writer thread's ring, if there is one: the device adds its counters. */
  get writer(): TunWriter | undefined {
    return this.#writer;
  }

  /** TunDevice.send: see there. */
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
        const n = writeSync(this.#fd, packet);
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
        const n = writeSync(this.#fd, scratch, 0, VNET_HEADER_SIZE + packet.length);
        this.#txPackets++;
        this.#txBytes += n - VNET_HEADER_SIZE;
      }
    } catch {
      this.#txDropped++;
      return;
    }
    this.#internals?.afterSend();
  }

  /** TunDevice.sendTso: see there. */
  sendTso(packet: Uint8Array, segmentSize: number): void {
    if (this.#closed) {
      this.#txDropped++;
      return;
    }
    if (!(packet instanceof Uint8Array)) throw invalidArg('packet', typeof packet, 'must be a Uint8Array');
    const scratch = this.#txScratch;
    if (scratch === undefined) {
      throw new TunError('ERR_TUN_NO_OFFLOAD', `TUN device '${this.#name}' was opened without offload: sendTso() needs it`);
    }
    // Over 65535 octets only with bigTso; writeTcpOffloadHeader then checks the BIG TCP shape.
    if (packet.length > this.#maxTsoPacket) {
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
      // one packet per call either way), saving the copy of up to 64 KiB (128 KiB with bigTso)
      // behind the header; a small one is cheaper to copy than to describe in a writev. The
      // scratch buffer holds only MAX_PACKET: every big packet is far above WRITEV_MIN.
      let n: number;
      if (packet.length >= WRITEV_MIN) {
        n = writevSync(this.#fd, [scratch.subarray(0, VNET_HEADER_SIZE), packet]);
      } else {
        scratch.set(packet, VNET_HEADER_SIZE);
        n = writeSync(this.#fd, scratch, 0, VNET_HEADER_SIZE + packet.length);
      }
      this.#txPackets++;
      this.#txBytes += n - VNET_HEADER_SIZE;
      this.#txChecksumsOffloaded++;
      if (segments > 1) {
        this.#txSuperSegments++;
        this.#txSegments += segments;
      }
      if (packet.length > MAX_PACKET) this.#txBigSuperPackets++;
    } catch {
      this.#txDropped++;
      return;
    }
    this.#internals?.afterSend();
  }

  /** TunDevice.flush: wakes a sleeping writer thread with packets waiting; else a no-op. */
  flush(): void {
    this.#writer?.flush();
  }

  /**
   * The device is closing: later sends count as dropped. The writer thread writes what was
   * queued, then ends; the promise resolves once it has (the fd may be closed then).
   */
  close(): Promise<void> | undefined {
    this.#closed = true;
    return this.#writer?.close();
  }
}
