/**
 * A minimal TCP receiver for tests and benchmarks, so a kernel TCP sender can be driven through
 * the TUN device without the real stack (tun may not depend on it). It answers a SYN with a
 * SYN-ACK (MSS, window scale 7, window 65535 << 7 = 8 MiB), takes in-order data, and sends one
 * cumulative ACK per flow per batch; a FIN is answered with FIN-ACK. Out-of-order data is not
 * kept (it is ACKed as a duplicate, so the kernel retransmits). Enough for a lossless link.
 */
import { readIpv4, readTcp, tcp, TcpFlags, transportChecksumOk } from './packets.js';

/** Options of a {@link TcpSink}. */
export interface TcpSinkOptions {
  /** MSS to announce in the SYN-ACK. */
  readonly mss: number;
  /** Verify the IPv4 and TCP checksums of every segment (what a real stack does). */
  readonly verify: boolean;
}

interface Flow {
  readonly local: string;
  readonly remote: string;
  readonly localPort: number;
  readonly remotePort: number;
  readonly iss: number;
  rcvNxt: number;
  sndNxt: number;
  finReceived: boolean;
  finSent: boolean;
}

const WINDOW_SHIFT = 7;

/** Counts what it received; see the file comment for what it does. */
export class TcpSink {
  /** In-order payload bytes taken. */
  bytes = 0;
  /** TCP segments seen (a super-segment counts once). */
  segments = 0;
  /** Largest IPv4 packet seen, in bytes. */
  largestPacket = 0;
  /** Segments whose checksum did not verify (with `verify`). */
  badChecksums = 0;
  /** Data segments not at rcvNxt. */
  outOfOrder = 0;
  /** Flows whose FIN was received. */
  finished = 0;

  readonly #send: (packet: Uint8Array) => void;
  readonly #options: TcpSinkOptions;
  readonly #flows = new Map<string, Flow>();
  readonly #dirty = new Set<Flow>();

  constructor(send: (packet: Uint8Array) => void, options: TcpSinkOptions) {
    this.#send = send;
    this.#options = options;
  }

  /** Takes one batch from the device, then sends the ACKs it calls for. */
  handle(packets: readonly Uint8Array[]): void {
    for (const p of packets) this.#segment(p);
    for (const flow of this.#dirty) this.#ack(flow);
    this.#dirty.clear();
  }

  #segment(p: Uint8Array): void {
    if (p.length < 40 || p[0] !== 0x45 || p[9] !== 6) return;
    this.largestPacket = Math.max(this.largestPacket, p.length);
    if (this.#options.verify && !transportChecksumOk(p)) {
      this.badChecksums++;
      return;
    }
    this.segments++;
    const ip = readIpv4(p);
    const seg = readTcp(p);
    const key = `${ip.src}:${seg.srcPort}>${ip.dst}:${seg.dstPort}`;
    if (seg.flags & TcpFlags.SYN) {
      const iss = 1_000_000;
      const flow: Flow = {
        local: ip.dst, remote: ip.src, localPort: seg.dstPort, remotePort: seg.srcPort,
        iss, rcvNxt: (seg.seq + 1) >>> 0, sndNxt: (iss + 1) >>> 0, finReceived: false, finSent: false,
      };
      this.#flows.set(key, flow);
      const mss = this.#options.mss;
      // MSS (kind 2), NOP, window scale (kind 3, shift 7): RFC 9293 §3.2, RFC 7323 §2.
      const options = Uint8Array.from([2, 4, mss >> 8, mss & 0xff, 1, 3, 3, WINDOW_SHIFT]);
      this.#send(tcp(flow.local, flow.remote, {
        srcPort: flow.localPort, dstPort: flow.remotePort, seq: iss, ack: flow.rcvNxt,
        flags: TcpFlags.SYN | TcpFlags.ACK, window: 65535, options,
      }));
      return;
    }
    const flow = this.#flows.get(key);
    if (flow === undefined) return;
    const fin = (seg.flags & TcpFlags.FIN) !== 0;
    if (seg.payload.length === 0 && !fin) return;
    if (seg.seq === flow.rcvNxt) {
      flow.rcvNxt = (flow.rcvNxt + seg.payload.length) >>> 0;
      this.bytes += seg.payload.length;
      if (fin && !flow.finReceived) {
        flow.finReceived = true;
        flow.rcvNxt = (flow.rcvNxt + 1) >>> 0;
        this.finished++;
      }
    } else {
      this.outOfOrder++;
    }
    this.#dirty.add(flow);
  }

  #ack(flow: Flow): void {
    let flags = TcpFlags.ACK;
    if (flow.finReceived && !flow.finSent) {
      flags |= TcpFlags.FIN;
      flow.finSent = true;
    }
    this.#send(tcp(flow.local, flow.remote, {
      srcPort: flow.localPort, dstPort: flow.remotePort, seq: flow.sndNxt, ack: flow.rcvNxt, flags, window: 65535,
    }));
    if (flags & TcpFlags.FIN) flow.sndNxt = (flow.sndNxt + 1) >>> 0;
  }
}

/**
 * Kernel-side TCP bulk sender: connects to `address:port`, writes `total` bytes in 1 MiB
 * writes, half-closes, prints `{"sent": n}` when the peer closed too, and exits.
 */
export const TCP_SEND_SCRIPT = `
const net = require('node:net');
const [address, port, total] = process.argv.slice(-3);
const chunk = Buffer.alloc(1 << 20, 0x61);
let left = Number(total);
const s = net.connect(Number(port), address, () => {
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
    }
    s.end();
  };
  pump();
});
s.on('data', () => {});
s.on('close', () => process.stdout.write(JSON.stringify({ sent: Number(total) }) + '\\n'));
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;
