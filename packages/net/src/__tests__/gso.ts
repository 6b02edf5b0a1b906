/**
 * GSO send in software, for tests: a `Link` wrapper with `tso`/`sendTso` that cuts each
 * super-packet into segments the way Linux's tcp_gso_segment/inet_gso_segment do (headers
 * copied, sequence numbers advanced, FIN/PSH on the last segment only, CWR on the first only,
 * IPv4 identification counted up, lengths and checksums completed) and sends them through the
 * inner link, so the peer sees exactly what the kernel would forward. It checks the partial
 * checksum the stack left in each super-packet and records every super-packet.
 */
import { internetChecksum, pseudoHeaderSum, pseudoHeaderSum6 } from '@tcp-tun/ip';
import type { Link, LinkReceiver } from '../link.js';

/** One call of `sendTso`, copied. */
export interface SuperPacket {
  readonly packet: Uint8Array;
  readonly segmentSize: number;
}

const u16 = (b: Uint8Array, i: number): number => ((b[i] as number) << 8) | (b[i + 1] as number);
const u32 = (b: Uint8Array, i: number): number => ((u16(b, i) << 16) | u16(b, i + 2)) >>> 0;
const put16 = (b: Uint8Array, i: number, v: number): void => {
  b[i] = (v >>> 8) & 0xff;
  b[i + 1] = v & 0xff;
};

/**
 * Octets in front of the TCP header: the IPv4 header, or IPv6's 40, or 48 for an IPv6 jumbogram
 * (Next Header 0: the Hop-by-Hop header with the Jumbo Payload option, RFC 2675).
 */
export function tcpOffset(packet: Uint8Array): number {
  if ((packet[0] as number) >>> 4 === 6) return packet[6] === 0 ? 48 : 40;
  return ((packet[0] as number) & 0x0f) * 4;
}

/**
 * The TCP checksum field an IPv4/TCP packet must carry for GSO send: the folded pseudo-header
 * sum, with the whole 32-bit TCP length (a super-packet may exceed 65,535 octets).
 */
export function expectedPartial(packet: Uint8Array): number {
  const ihl = tcpOffset(packet);
  const length = packet.length - ihl;
  if ((packet[0] as number) >>> 4 === 6) return pseudoHeaderSum6(packet.subarray(8, 24), packet.subarray(24, 40), 6, length);
  return pseudoHeaderSum(u32(packet, 12), u32(packet, 16), 6, length);
}

/**
 * What is wrong with the IP header of a super-packet, or undefined: over 65,535 octets an IPv4
 * one must say Total Length 0 (Linux's BIG TCP) and an IPv6 one must be a jumbogram whose
 * Jumbo Payload Length is the packet's length after the fixed header; shorter ones must state
 * their length.
 */
export function superPacketHeaderError(packet: Uint8Array): string | undefined {
  if ((packet[0] as number) >>> 4 === 6) {
    if (packet[6] === 0) {
      if (u16(packet, 4) !== 0 || packet[40] !== 6 || packet[41] !== 0 || packet[42] !== 0xc2 || packet[43] !== 4) return 'bad jumbo header';
      if (u32(packet, 44) !== packet.length - 40 || packet.length - 48 <= 0xffff) return 'bad jumbo length';
      return undefined;
    }
    return u16(packet, 4) === packet.length - 40 ? undefined : 'bad payload length';
  }
  if (internetChecksum(packet, 0, 0, tcpOffset(packet)) !== 0) return 'bad header checksum';
  const total = u16(packet, 2);
  return (packet.length > 0xffff ? total === 0 : total === packet.length) ? undefined : 'bad total length';
}

/** Cuts a super-packet (partial checksum) into complete segments of `segmentSize` payload octets. */
export function segmentSuperPacket(packet: Uint8Array, segmentSize: number): Uint8Array[] {
  if ((packet[0] as number) >>> 4 === 6) return segmentSuperPacket6(packet, segmentSize);
  const ihl = ((packet[0] as number) & 0x0f) * 4;
  const thl = ((packet[ihl + 12] as number) >> 4) * 4;
  const hl = ihl + thl;
  const payload = packet.length - hl;
  const n = payload > segmentSize ? Math.ceil(payload / segmentSize) : 1;
  const src = u32(packet, 12);
  const dst = u32(packet, 16);
  const ident = u16(packet, 4);
  const seq = u32(packet, ihl + 4);
  const flags = packet[ihl + 13] as number;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const start = n === 1 ? 0 : i * segmentSize;
    const len = n === 1 ? payload : Math.min(segmentSize, payload - start);
    const seg = new Uint8Array(hl + len);
    seg.set(packet.subarray(0, hl));
    seg.set(packet.subarray(hl + start, hl + start + len), hl);
    put16(seg, 2, seg.length);
    put16(seg, 4, (ident + i) & 0xffff);
    put16(seg, 10, 0);
    put16(seg, 10, internetChecksum(seg, 0, 0, ihl));
    const s = (seq + start) >>> 0;
    put16(seg, ihl + 4, s >>> 16);
    put16(seg, ihl + 6, s & 0xffff);
    let f = flags;
    if (i < n - 1) f &= ~0x09; // FIN, PSH: last segment only
    if (i > 0) f &= ~0x80; // CWR: first segment only
    seg[ihl + 13] = f;
    put16(seg, ihl + 16, 0);
    put16(seg, ihl + 16, internetChecksum(seg, pseudoHeaderSum(src, dst, 6, thl + len), ihl, seg.length));
    out.push(seg);
  }
  return out;
}

/** {@link segmentSuperPacket} for IPv6 (TCPV6: no identification; payload length per segment). */
function segmentSuperPacket6(packet: Uint8Array, segmentSize: number): Uint8Array[] {
  // A jumbogram's segments go without the Hop-by-Hop header (as Linux's ipv6_gso_segment).
  const inIhl = tcpOffset(packet);
  const ihl = 40;
  const thl = ((packet[inIhl + 12] as number) >> 4) * 4;
  const hl = ihl + thl;
  const payload = packet.length - inIhl - thl;
  const n = payload > segmentSize ? Math.ceil(payload / segmentSize) : 1;
  const seq = u32(packet, inIhl + 4);
  const flags = packet[inIhl + 13] as number;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const start = n === 1 ? 0 : i * segmentSize;
    const len = n === 1 ? payload : Math.min(segmentSize, payload - start);
    const seg = new Uint8Array(hl + len);
    seg.set(packet.subarray(0, ihl));
    seg.set(packet.subarray(inIhl, inIhl + thl), ihl);
    seg.set(packet.subarray(inIhl + thl + start, inIhl + thl + start + len), hl);
    seg[6] = 6;
    put16(seg, 4, seg.length - 40);
    const s = (seq + start) >>> 0;
    put16(seg, ihl + 4, s >>> 16);
    put16(seg, ihl + 6, s & 0xffff);
    let f = flags;
    if (i < n - 1) f &= ~0x09;
    if (i > 0) f &= ~0x80;
    seg[ihl + 13] = f;
    put16(seg, ihl + 16, 0);
    put16(seg, ihl + 16, internetChecksum(seg, pseudoHeaderSum6(seg.subarray(8, 24), seg.subarray(24, 40), 6, thl + len), ihl, seg.length));
    out.push(seg);
  }
  return out;
}

/** A link with GSO send done in software in front of `inner`. */
export class TsoLink implements Link {
  readonly tso: { readonly maxPacket: number };
  /** Every super-packet (and single partial-checksum packet) handed to `sendTso`. */
  readonly superPackets: SuperPacket[] = [];
  /** Packets handed to `send`, and segments passed to the inner link (from either method). */
  sends = 0;
  readonly segments: Uint8Array[] = [];
  /** `sendTso` calls whose checksum field was not the pseudo-header sum, or too long. */
  bad = 0;
  readonly #inner: Link;
  readonly #record: boolean;

  constructor(inner: Link, maxPacket = 65535, record = true) {
    this.#inner = inner;
    this.tso = { maxPacket };
    this.#record = record;
  }

  get mtu(): number {
    return this.#inner.mtu;
  }

  start(receiver: LinkReceiver): void {
    this.#inner.start(receiver);
  }

  send(packet: Uint8Array): void {
    this.sends++;
    if (this.#record) this.segments.push(packet.slice());
    this.#inner.send(packet);
  }

  sendTso(packet: Uint8Array, segmentSize: number): void {
    const ihl = tcpOffset(packet);
    if (packet.length > this.tso.maxPacket || u16(packet, ihl + 16) !== expectedPartial(packet) || superPacketHeaderError(packet) !== undefined) this.bad++;
    if (this.#record) this.superPackets.push({ packet: packet.slice(), segmentSize });
    for (const seg of segmentSuperPacket(packet, segmentSize)) {
      if (this.#record) this.segments.push(seg);
      this.#inner.send(seg);
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** The TCP fields of an IPv4 packet the GSO tests look at. */
export function tcpFields(packet: Uint8Array): { srcPort: number; seq: number; flags: number; payload: Uint8Array; ident: number } {
  const ihl = ((packet[0] as number) & 0x0f) * 4;
  const thl = ((packet[ihl + 12] as number) >> 4) * 4;
  return {
    srcPort: u16(packet, ihl),
    seq: u32(packet, ihl + 4),
    flags: packet[ihl + 13] as number,
    payload: packet.subarray(ihl + thl, u16(packet, 2)),
    ident: u16(packet, 4),
  };
}
