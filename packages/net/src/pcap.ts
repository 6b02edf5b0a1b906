/**
 * Packet capture in the classic pcap format (LINKTYPE_RAW: every record is a bare IPv4
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

/** Options of `capture()` and `PcapWriter`. */
export interface CaptureOptions {
  /** Longest part of a packet to record; longer packets are truncated (default 65535). */
  readonly snapLength?: number;
  /** Wall-clock milliseconds for timestamps (default: the monotonic clock anchored at process start). */
  readonly clock?: () => number;
}

/** Appends pcap records to a file, buffered; `flush()` and `close()` write synchronously. */
export class PcapWriter {
  private readonly fd: number;
  private readonly snapLength: number;
  private readonly clock: () => number;
  private buffer = new Uint8Array(FLUSH_AT + 65536 + RECORD_HEADER_LENGTH);
  private view = new DataView(this.buffer.buffer);
  private used = 0;
  private closed = false;
  /** Records written so far. */
  packets = 0;

  constructor(path: string, options: CaptureOptions = {}) {
    this.snapLength = options.snapLength ?? 65535;
    if (!Number.isInteger(this.snapLength) || this.snapLength < 20 || this.snapLength > 262144) {
      throw Object.assign(new RangeError(`snapLength must be an integer from 20 to 262144, got ${this.snapLength}`), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
    this.clock = options.clock ?? (() => performance.timeOrigin + performance.now());
    this.fd = openSync(path, 'w');
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
    closeSync(this.fd);
  }
}

/** A link that records every packet it carries; `close()` closes the inner link and the file. */
export interface CapturingLink extends Link {
  readonly writer: PcapWriter;
}

/**
 * Wraps `link` so every packet sent and received is written to `path` as pcap. The file is
 * flushed and closed by the wrapper's `close()` (or the writer's, for a process about to exit).
 *
 * GSO send passes through: when `link` has `tso` and `sendTso`, so does the wrapper, and a
 * super-packet is recorded as the stack handed it over, ONE record larger than the MTU whose
 * TCP checksum field holds the partial (pseudo-header) sum, as tcpdump shows a host's own
 * offloaded packets ("incorrect checksum"). The segments the link cuts from it are not recorded.
 */
export function capture(link: Link, path: string, options: CaptureOptions = {}): CapturingLink {
  const writer = new PcapWriter(path, options);
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
      link.start((packets) => {
        for (const p of packets) writer.write(p);
        receiver(packets);
      });
    },
    send(packet: Uint8Array): void {
      writer.write(packet);
      link.send(packet);
    },
    async close(): Promise<void> {
      try {
        await link.close();
      } finally {
        writer.close();
      }
    },
  };
}
