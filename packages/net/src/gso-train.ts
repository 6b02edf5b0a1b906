/**
 * GSO send ("TSO"): consecutive data segments of one connection gathered into ONE IP/TCP
 * super-packet (a *train*) of up to the link's `tso.maxPacket` octets, handed to the link in one
 * call; the link (the TUN device with offload, i.e. the kernel's GSO) cuts it into MSS-sized
 * segments: one write for up to 45 segments instead of one each, or 90 with a link that takes
 * super-packets over 64 KiB ("BIG TCP"; see below).
 *
 * A segment joins the train when it continues it in sequence and the segmentation would rebuild
 * it exactly: the kernel copies the first segment's header to every segment but for the
 * sequence number, puts PSH/FIN on the last only and CWR on the first only, and numbers the IPv4
 * identification upwards. So every segment but the last must be full-sized (the first one's
 * size), without PSH/FIN, and ports, ACK, window, ECE, timestamps, SACK blocks and the IP ECN
 * codepoint must be the first one's.
 *
 * Over 65,535 octets of TCP (a link whose `tso.maxPacket` allows it), the length no longer fits
 * the IP header's 16-bit field: an IPv4 super-packet carries a Total Length of 0, as Linux's BIG
 * TCP for IPv4 builds them; an IPv6 one is a jumbogram, with a Hop-by-Hop header carrying the
 * Jumbo Payload option between the fixed header and TCP (RFC 2675 §2, as Linux's BIG TCP for
 * IPv6 builds them). The train leaves room for that header in front (`jumboHeadroom`) and the
 * egress writes whichever header the finished length needs.
 *
 * The train knows no IP family: the header in front of the TCP header, the TCP emit with its
 * pseudo-header and the send of the finished super-packet are its {@link TrainEgress}'s. WHEN a
 * train ends is the drain's business (drain.ts): after each connection's transmit loop, and
 * here whenever a segment cannot join (that segment leaves after the train, keeping the order).
 */
import type { IpAddress, SackBlock, TcpControl, TcpRepr, Transmit } from '@tcp-tun/tcp';
import { TcpFlags } from '@tcp-tun/tcp';

/** What a train needs from the IP egress of its family (ipv4-egress.ts, ipv6-egress.ts). */
export interface TrainEgress {
  /** Octets of the IP header in front of the TCP header. */
  readonly ipHeaderLength: number;
  /**
   * Octets more in front of the TCP header when the TCP length exceeds 65,535: 8 over IPv6 (the
   * Hop-by-Hop header with the Jumbo Payload option, RFC 2675), 0 over IPv4 (Total Length 0).
   */
  readonly jumboHeadroom: number;
  /** Whether a packet to `remote` stays on this host (loopback: it never reaches the link). */
  loops(remote: IpAddress): boolean;
  /** Writes the TCP segment `repr` + `payload` to `remote` at `out[0]`; returns its length. */
  emitTcp(repr: TcpRepr, payload: Uint8Array, remote: IpAddress, out: Uint8Array): number;
  /**
   * Completes `packet` (the IP header and the partial TCP checksum) and hands it to the link's
   * `sendTso`, to be cut into `segments` segments of `segmentSize` payload octets. The TCP
   * header starts at `ipHeaderLength`, or at `ipHeaderLength + jumboHeadroom` when the packet is
   * longer than `ipHeaderLength + 65535` (then the egress writes the jumbo header there).
   */
  sendTrain(packet: Uint8Array, remote: IpAddress, ecn: number, segments: number, segmentSize: number): void;
}

const EMPTY = new Uint8Array(0);

/** The IP ECN field (IPv4 TOS / IPv6 traffic class) for a transmit: ECT(0) (binary 10, RFC 3168 §5) or not-ECT. */
export function ecnCodepoint(t: Transmit): number {
  return t.ecn === 'ect0' ? 2 : 0;
}

/** The largest super-packet a train builds, whatever the link allows: 128 KiB (90 segments). */
export const MAX_TRAIN_PACKET = 131_072;

/** The most TCP octets an IP packet without a jumbo header can hold (a 16-bit length field). */
const MAX_PLAIN_TCP_LENGTH = 0xffff;

/**
 * The largest super-packet a train over `link` may build: the link's `tso.maxPacket` (capped by
 * `bufferLimit`), or 0 without GSO send, or when not even two full segments would fit (a train
 * is not worth having then).
 */
export function trainMaxPacket(link: { readonly mtu: number; readonly tso?: { readonly maxPacket: number }; sendTso?: unknown }, bufferLimit: number): number {
  const tsoMax = link.tso?.maxPacket;
  const max = typeof link.sendTso === 'function' && Number.isInteger(tsoMax) ? Math.min(tsoMax as number, bufferLimit) : 0;
  return max < 2 * link.mtu ? 0 : max;
}

/** One connection's train of data segments on their way into one super-packet. */
export class GsoTrain {
  /** Largest super-packet, octets; 0 when the link has no GSO send (then nothing is offered). */
  readonly maxPacket: number;
  readonly #egress: TrainEgress;
  /**
   * Room at the front of the buffer for a jumbo header (0 when the train can never exceed
   * 65,535 octets of TCP). The plain packet starts at `#headroom`, a jumbo one at 0.
   */
  readonly #headroom: number;
  /** Octets a train may hold, counted in the plain layout (header + TCP). */
  readonly #capacity: number;
  readonly #buffer: Uint8Array;
  /** Segments in the train; 0 when there is none. */
  #segments = 0;
  #remote: IpAddress = 0;
  /** The first segment's header: every later one must match it but for `seq` and the flags. */
  #first: TcpRepr | undefined;
  #ecn = 0;
  /** Octets used in the buffer: IP + TCP headers + payload so far. */
  #length = 0;
  /** Payload octets of the first segment: the `segmentSize` the link cuts the train into. */
  #segmentSize = 0;
  #nextSeq = 0;
  /** Control of the last segment (its PSH/FIN go on the super-packet). */
  #control: TcpControl = 'none';
  /** Whether a later segment may still join: the last one was full-sized, without PSH/FIN. */
  #open = false;

  /**
   * @param maxPacket the link's `tso.maxPacket` (0: no GSO send)
   * @param egress the IP egress of the train's one family (a segment it `loops` never rides:
   * loopback skips the link)
   */
  constructor(maxPacket: number, egress: TrainEgress) {
    this.maxPacket = maxPacket;
    this.#egress = egress;
    this.#headroom = maxPacket - egress.ipHeaderLength > MAX_PLAIN_TCP_LENGTH ? egress.jumboHeadroom : 0;
    // With a jumbo header the whole packet is 8 octets longer: keep it within maxPacket.
    this.#capacity = maxPacket - this.#headroom;
    this.#buffer = new Uint8Array(maxPacket);
  }

  /** Whether a train is being gathered (it must end before anything else leaves). */
  get active(): boolean {
    return this.#segments > 0;
  }

  /**
   * Offers a segment to `remote`: true when the train took it (it joined, or started a new
   * train); false when the caller must send it itself — any train before it has then been sent.
   */
  offer(remote: IpAddress, t: Transmit): boolean {
    if (this.maxPacket === 0) return false;
    if (t.payload.length === 0) {
      this.end();
      return false;
    }
    // A segment that joins goes to the train's own remote (the same object), which did not loop
    // when the train started: only a segment that would start a train needs `loops`, which over
    // IPv6 compares two 16-octet addresses (it was asked for every segment, ~25 per train).
    if (this.#segments > 0 && this.#joins(remote, t)) {
      this.#add(t);
      return true;
    }
    if (this.#egress.loops(remote)) {
      this.end();
      return false;
    }
    this.end();
    if (!trainable(t)) return false;
    this.#start(remote, t);
    return true;
  }

  /**
   * Sends the train, if any: one packet through the egress's `sendTrain`, a super-packet when
   * it holds more than one segment (a lone segment goes the same way, its checksum left for
   * the link to finish).
   */
  end(): void {
    const segments = this.#segments;
    if (segments === 0) return;
    this.#segments = 0;
    this.#open = false;
    this.#first = undefined;
    const buffer = this.#buffer;
    const headroom = this.#headroom;
    const ipLength = this.#egress.ipHeaderLength;
    // PSH and FIN of the last segment (the segmenter puts them on the last segment only).
    const control = this.#control;
    const flags = headroom + ipLength + 13;
    buffer[flags] = ((buffer[flags] as number) & ~(TcpFlags.FIN | TcpFlags.PSH)) | (control === 'fin' ? TcpFlags.FIN | TcpFlags.PSH : control === 'psh' ? TcpFlags.PSH : 0);
    // Over 65,535 octets of TCP the packet starts at 0, the jumbo header filling the headroom.
    const start = this.#length - ipLength > MAX_PLAIN_TCP_LENGTH ? 0 : headroom;
    this.#egress.sendTrain(buffer.subarray(start, headroom + this.#length), this.#remote, this.#ecn, segments, this.#segmentSize);
  }

  /**
   * Whether `t` (a data segment to `remote`) can ride in the current train: it continues it
   * in sequence, the last segment was a full one (same size as the first) without PSH/FIN, and
   * everything the segmentation copies from the first header to every segment is the same:
   * ports, ACK, window, ECE, timestamps, SACK blocks, the IP ECN codepoint. No CWR (the
   * kernel keeps it only on the first segment, and it belongs to one segment, RFC 3168 §6.1.2).
   */
  #joins(remote: IpAddress, t: Transmit): boolean {
    const first = this.#first as TcpRepr;
    const r = t.repr;
    return (
      this.#open &&
      // A connection's remote address is one object for its life: identity is equality here.
      remote === this.#remote &&
      r.seq === this.#nextSeq &&
      t.payload.length <= this.#segmentSize &&
      this.#length + t.payload.length <= this.#capacity &&
      (r.control === 'none' || r.control === 'psh' || r.control === 'fin') &&
      r.cwr !== true &&
      r.srcPort === first.srcPort &&
      r.dstPort === first.dstPort &&
      r.ack === first.ack &&
      r.window === first.window &&
      (r.ece === true) === (first.ece === true) &&
      ecnCodepoint(t) === this.#ecn &&
      r.urgent === undefined &&
      sameTimestamp(r, first) &&
      sameSackBlocks(r, first)
    );
  }

  #start(remote: IpAddress, t: Transmit): void {
    const buffer = this.#buffer;
    const headroom = this.#headroom;
    const ipLength = this.#egress.ipHeaderLength;
    // The first segment's header with no payload: the payload goes in after it, and the
    // checksum the emit puts there (over the header only) is replaced at the end.
    const headerLength = ipLength + this.#egress.emitTcp(t.repr, EMPTY, remote, buffer.subarray(headroom + ipLength));
    buffer.set(t.payload, headroom + headerLength);
    this.#segments = 1;
    this.#remote = remote;
    this.#first = t.repr;
    this.#ecn = ecnCodepoint(t);
    this.#length = headerLength + t.payload.length;
    this.#segmentSize = t.payload.length;
    this.#nextSeq = (t.repr.seq + t.payload.length) >>> 0;
    this.#control = t.repr.control;
    this.#open = t.repr.control === 'none';
    // Nothing can join a segment with PSH/FIN: it leaves now.
    if (!this.#open) this.end();
  }

  #add(t: Transmit): void {
    const length = t.payload.length;
    this.#buffer.set(t.payload, this.#headroom + this.#length);
    this.#length += length;
    this.#segments++;
    this.#nextSeq = (this.#nextSeq + length) >>> 0;
    this.#control = t.repr.control;
    this.#open = t.repr.control === 'none' && length === this.#segmentSize;
    // Nothing more can join (PSH/FIN/short segment, or no room for another full one): send it now.
    if (!this.#open || this.#length + this.#segmentSize > this.#capacity) this.end();
  }
}

/** A data segment that may start a train: no SYN/RST, no CWR, no urgent data. */
function trainable(t: Transmit): boolean {
  const c = t.repr.control;
  return (c === 'none' || c === 'psh' || c === 'fin') && t.repr.cwr !== true && t.repr.urgent === undefined;
}

function sameTimestamp(a: TcpRepr, b: TcpRepr): boolean {
  const x = a.timestamp;
  const y = b.timestamp;
  return x === y || (x !== undefined && y !== undefined && x.tsVal === y.tsVal && x.tsEcr === y.tsEcr);
}

function sameSackBlocks(a: TcpRepr, b: TcpRepr): boolean {
  const x = a.sackBlocks;
  const y = b.sackBlocks;
  if (x === undefined || x.length === 0) return y === undefined || y.length === 0;
  if (y === undefined || y.length !== x.length) return false;
  for (let i = 0; i < x.length; i++) {
    const p = x[i] as SackBlock;
    const q = y[i] as SackBlock;
    if (p.left !== q.left || p.right !== q.right) return false;
  }
  return true;
}
