/**
 * Packet capture in the classic pcap format (LINKTYPE_RAW: every record is a bare IPv4 or IPv6
 * packet), readable by tcpdump, tshark and Wireshark. `capture()` wraps any `Link`, so it
 * records exactly what the stack sends and receives, in both directions, in order.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Link, LinkReceiver } from './link.js';

/** pcap's LINKTYPE_RAW (DLT_RAW on most systems): the packet starts with the IP header. */
export const LINKTYPE_RAW = 101;
const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const GLOBAL_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
const FLUSH_AT = 1 << 20;
/** tcpdump's default snapshot length (since 4.0): whole packets up to 256 KiB. */
const DEFAULT_SNAP_LENGTH = 262_144;

/** Options of `capture()` and `PcapWriter`. */
export interface CaptureOptions {
  /**
   * Longest part of a packet to record; longer packets are truncated. Default 262144, tcpdump's:
   * a GSO super-packet over 64 KiB (a BIG TCP link) is recorded whole.
   */
  readonly snapLength?: number;
  /** Wall-clock milliseconds for timestamps (default: the monotonic clock anchored at process start). */
  readonly clock?: () => number;
  /**
   * Write what is buffered at least this often, in ms (default 1000), so a process killed
   * without a chance to flush loses at most that much; 0 turns the timer off. The timer never
   * keeps the process alive.
   */
  readonly flushIntervalMs?: number;
}

/**
 * Appends pcap records to a file, buffered; `flush()` and `close()` write synchronously (safe in
 * an 'exit' handler), and a timer flushes every `flushIntervalMs`. The file is a path (created
 * or truncated) or a descriptor already open for writing, which the writer then owns and closes.
 */
export class PcapWriter {
  private readonly fd: number;
  private readonly snapLength: number;
  private readonly clock: () => number;
  private buffer = new Uint8Array(FLUSH_AT + 65536 + RECORD_HEADER_LENGTH);
  private view = new DataView(this.buffer.buffer);
  private used = 0;
  private closed = false;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  /** Records written so far. */
  packets = 0;

  constructor(file: string | number, options: CaptureOptions = {}) {
    this.snapLength = options.snapLength ?? DEFAULT_SNAP_LENGTH;
    if (!Number.isInteger(this.snapLength) || this.snapLength < 20 || this.snapLength > 262144) {
      throw Object.assign(new RangeError(`snapLength must be an integer from 20 to 262144, got ${this.snapLength}`), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
    const every = options.flushIntervalMs ?? 1000;
    if (!(Number.isFinite(every) && every >= 0)) {
      throw Object.assign(new RangeError(`flushIntervalMs must be a non-negative number, got ${every}`), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
    this.clock = options.clock ?? (() => performance.timeOrigin + performance.now());
    if (typeof file === 'number') {
      if (!Number.isInteger(file) || file < 0) {
        throw Object.assign(new TypeError(`file must be a path or a file descriptor, got ${file}`), { code: 'ERR_INVALID_ARG_TYPE' });
      }
      this.fd = file;
    } else {
      this.fd = openSync(file, 'w');
    }
    const v = this.view;
    // Written in host byte order; readers detect it from the magic number.
    v.setUint32(0, MAGIC_MICROSECONDS, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, this.snapLength, true);
    v.setUint32(20, LINKTYPE_RAW, true);
    this.used = GLOBAL_HEADER_LENGTH;
    if (every > 0) {
      this.timer = setInterval(() => this.flush(), every);
      this.timer.unref();
    }
  }

  /** Records one packet with the current time. Ignored after `close()`. */
  write(packet: Uint8Array): void {
    if (this.closed) return;
    const length = Math.min(packet.length, this.snapLength);
    if (this.used + RECORD_HEADER_LENGTH + length > this.buffer.length) this.flush();
    const ms = this.clock();
    const seconds = Math.floor(ms / 1000);
    const micros = Math.floor((ms - seconds * 1000) * 1000);
    const v = this.view;
    v.setUint32(this.used, seconds, true);
    v.setUint32(this.used + 4, Math.min(micros, 999_999), true);
    v.setUint32(this.used + 8, length, true);
    v.setUint32(this.used + 12, packet.length, true);
    this.buffer.set(packet.subarray(0, length), this.used + RECORD_HEADER_LENGTH);
    this.used += RECORD_HEADER_LENGTH + length;
    this.packets++;
  }

  /** Writes everything buffered to the file. */
  flush(): void {
    if (this.used === 0 || this.closed) return;
    let offset = 0;
    while (offset < this.used) offset += writeSync(this.fd, this.buffer, offset, this.used - offset);
    this.used = 0;
  }

  /** Flushes and closes the file. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    closeSync(this.fd);
  }
}

/** A link that records every packet it carries; `close()` closes the inner link and the file. */
export interface CapturingLink extends Link {
  /** The file's writer: `flush()` it from an exit or signal handler. */
  readonly writer: PcapWriter;
}

/**
 * Wraps `link` so every packet sent and received is written to `file` (a path, or a descriptor
 * open for writing that the writer takes over) as pcap. The file is flushed every
 * `flushIntervalMs` (default 1 s), and flushed and closed by the wrapper's `close()` (or the
 * writer's, for a process about to exit).
 *
 * GSO send passes through: when `link` has `tso` and `sendTso`, so does the wrapper, and a
 * super-packet is recorded as the stack handed it over, ONE record larger than the MTU whose
 * TCP checksum field holds the partial (pseudo-header) sum, as tcpdump shows a host's own
 * offloaded packets ("incorrect checksum"). The segments the link cuts from it are not recorded.
 *
 * Received packets are recorded as the link delivered them, and its per-packet "checksum
 * trusted" flags (see {@link LinkReceiver}) pass on to the receiver. A TUN device opened with
 * `completeChecksums: false` delivers the kernel's packets with their TCP checksum field
 * still partial (the pseudo-header sum), and they are recorded so; the command-line programs
 * open the device with completion on when they capture, so their captures verify.
 */
export function capture(link: Link, file: string | number, options: CaptureOptions = {}): CapturingLink {
  const writer = new PcapWriter(file, options);
  const sendTso = link.tso !== undefined && typeof link.sendTso === 'function' ? link.sendTso.bind(link) : undefined;
  return {
    ...(sendTso === undefined
      ? {}
      : {
          tso: link.tso,
          sendTso(packet: Uint8Array, segmentSize: number): void {
            writer.write(packet);
            sendTso(packet, segmentSize);
          },
        }),
    writer,
    get mtu() {
      return link.mtu;
    },
    start(receiver: LinkReceiver): void {
      // Packets pass unchanged, so the link's "checksum trusted" flags pass on with them.
      link.start((packets, checksumTrusted) => {
        for (const p of packets) writer.write(p);
        receiver(packets, checksumTrusted);
      });
    },
    send(packet: Uint8Array): void {
      writer.write(packet);
      link.send(packet);
    },
    // The batch hint passes through (Link.flush); the capture file has its own `writer.flush()`.
    ...(typeof link.flush === 'function' ? { flush: link.flush.bind(link) } : {}),
    async close(): Promise<void> {
      try {
        await link.close();
      } finally {
        writer.close();
      }
    },
  };
}
