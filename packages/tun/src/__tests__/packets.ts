/**
 * Minimal IPv4/ICMP/UDP builders and readers for the device tests. The tun package knows no IP
 * and may not import @tcp-tun/ip, so the tests carry these few lines themselves.
 */

/** Internet checksum (RFC 1071) of `bytes`. */
export function checksum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length % 2 === 1) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The four octets of a dotted quad. */
export function addressBytes(text: string): number[] {
  return text.split('.').map(Number);
}

/** An IPv4 packet (RFC 791) with a 20-byte header around `payload`. */
export function ipv4(src: string, dst: string, protocol: number, payload: Uint8Array, id = 0x1234): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  v.setUint16(4, id);
  p[6] = 0x40; // DF
  p[8] = 64;
  p[9] = protocol;
  p.set(addressBytes(src), 12);
  p.set(addressBytes(dst), 16);
  v.setUint16(10, checksum(p.subarray(0, 20)));
  p.set(payload, 20);
  return p;
}

/** An ICMP echo request (RFC 792) inside IPv4. */
export function icmpEchoRequest(src: string, dst: string, ident: number, seq: number, data: Uint8Array): Uint8Array {
  const icmp = new Uint8Array(8 + data.length);
  const v = new DataView(icmp.buffer);
  icmp[0] = 8;
  v.setUint16(4, ident);
  v.setUint16(6, seq);
  icmp.set(data, 8);
  v.setUint16(2, checksum(icmp));
  return ipv4(src, dst, 1, icmp);
}

/** A UDP datagram (RFC 768) inside IPv4, with its checksum over the pseudo-header. */
export function udp(src: string, dst: string, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  const v = new DataView(u.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, u.length);
  u.set(data, 8);
  const pseudo = new Uint8Array(12 + u.length);
  pseudo.set(addressBytes(src), 0);
  pseudo.set(addressBytes(dst), 4);
  pseudo[9] = 17;
  new DataView(pseudo.buffer).setUint16(10, u.length);
  pseudo.set(u, 12);
  v.setUint16(6, checksum(pseudo) || 0xffff);
  return ipv4(src, dst, 17, u);
}

/**
 * The payload of the `i`th datagram of a numbered run: `i:` and then 20-1400 octets of one
 * letter, both from `i`, so a receiver can check order and content of each.
 */
export function udpPayload(i: number): Uint8Array {
  const length = 20 + ((i * 397) % 1381);
  return new TextEncoder().encode(`${i}:`.padEnd(length, String.fromCharCode(97 + (i % 26))));
}

/** The fields of an IPv4 packet the tests look at. */
export interface Ipv4Summary {
  readonly version: number;
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  readonly payload: Uint8Array;
}

/** Reads the basics of an IPv4 packet. */
export function readIpv4(p: Uint8Array): Ipv4Summary {
  const headerLength = (p[0]! & 0x0f) * 4;
  const total = new DataView(p.buffer, p.byteOffset).getUint16(2);
  return {
    version: p[0]! >> 4,
    protocol: p[9]!,
    src: Array.from(p.subarray(12, 16)).join('.'),
    dst: Array.from(p.subarray(16, 20)).join('.'),
    payload: p.subarray(headerLength, total),
  };
}

/** TCP flag bits (RFC 9293 §3.1). */
export const TcpFlags = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

/** Fields of a TCP segment to build. */
export interface TcpSpec {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  /** Option bytes, a multiple of 4 long. */
  readonly options?: Uint8Array;
  readonly payload?: Uint8Array;
}

/** A TCP segment (RFC 9293 §3.1) inside IPv4, with its checksum over the pseudo-header. */
export function tcp(src: string, dst: string, spec: TcpSpec): Uint8Array {
  const t = tcpSegment(spec, (segment) => checksum(segment, pseudoHeaderSum(addressBytes(src), addressBytes(dst), 6, segment.length)));
  return ipv4(src, dst, 6, t);
}

/** Uncomplemented, unfolded-then-folded sum of the IPv4 pseudo-header (RFC 9293 §3.1). */
export function pseudoHeaderSum(src: readonly number[], dst: readonly number[], protocol: number, length: number): number {
  let sum = 0;
  for (const a of [src, dst]) sum += ((a[0]! << 8) | a[1]!) + ((a[2]! << 8) | a[3]!);
  sum += protocol + length;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The fields of a TCP segment inside an IPv4 packet that the tests look at. */
export interface TcpSummary {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly payload: Uint8Array;
}

/** Reads a TCP segment out of an IPv4 packet (assumed well-formed: test input from the kernel). */
export function readTcp(ipPacket: Uint8Array): TcpSummary {
  return tcpSummary(readIpv4(ipPacket).payload);
}

/** The fields of a TCP segment (either family's payload). */
function tcpSummary(segment: Uint8Array): TcpSummary {
  const v = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  return {
    srcPort: v.getUint16(0),
    dstPort: v.getUint16(2),
    seq: v.getUint32(4),
    ack: v.getUint32(8),
    flags: segment[13]!,
    window: v.getUint16(14),
    payload: segment.subarray((segment[12]! >> 4) * 4),
  };
}

/**
 * True when the transport checksum (TCP or UDP) of an IPv4 packet verifies: the segment summed
 * with the pseudo-header is all ones (RFC 1071 §1; RFC 9293 §3.1), and the IPv4 header checksum
 * verifies too.
 */
export function transportChecksumOk(ipPacket: Uint8Array): boolean {
  const headerLength = (ipPacket[0]! & 0x0f) * 4;
  if (checksum(ipPacket.subarray(0, headerLength)) !== 0) return false;
  const ip = readIpv4(ipPacket);
  const pseudo = pseudoHeaderSum(addressBytes(ip.src), addressBytes(ip.dst), ip.protocol, ip.payload.length);
  return checksum(ip.payload, pseudo) === 0;
}

/** The 16 octets of an IPv6 address in RFC 4291 text form (test input: assumed valid). */
export function address6Bytes(text: string): Uint8Array {
  const [head = '', tail] = text.split('::');
  const groups = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Uncomplemented, folded sum of the IPv6 pseudo-header (RFC 8200 §8.1): both addresses, the
 * 32-bit upper-layer length (the TCP length, also in a jumbogram, RFC 2675 §4) and Next Header.
 */
export function pseudoHeaderSum6(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let sum = 0;
  for (const a of [src, dst]) for (let i = 0; i < 16; i += 2) sum += (a[i]! << 8) | a[i + 1]!;
  sum += (length >>> 16) + (length & 0xffff) + protocol;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/**
 * A TCP header + payload whose checksum field holds `field(segment)`, computed with the field 0:
 * the full checksum, or the partial (pseudo-header) sum that `sendTso()` takes.
 */
function tcpSegment(spec: TcpSpec, field: (segment: Uint8Array) => number): Uint8Array {
  const options = spec.options ?? new Uint8Array(0);
  const payload = spec.payload ?? new Uint8Array(0);
  const t = new Uint8Array(20 + options.length + payload.length);
  const v = new DataView(t.buffer);
  v.setUint16(0, spec.srcPort);
  v.setUint16(2, spec.dstPort);
  v.setUint32(4, spec.seq >>> 0);
  v.setUint32(8, spec.ack >>> 0);
  t[12] = ((20 + options.length) / 4) << 4;
  t[13] = spec.flags;
  v.setUint16(14, spec.window);
  t.set(options, 20);
  t.set(payload, 20 + options.length);
  v.setUint16(16, field(t));
  return t;
}

/**
 * An IPv4/TCP packet for `sendTso()`: its TCP checksum field holds the partial (pseudo-header)
 * sum. Longer than 65535 octets it has Linux's BIG TCP shape: Total Length 0, the header
 * checksum computed with that 0 (`totalLength` overrides the field, for malformed ones).
 */
export function tcpPartial(src: string, dst: string, spec: TcpSpec, totalLength?: number): Uint8Array {
  const t = tcpSegment(spec, (segment) => pseudoHeaderSum(addressBytes(src), addressBytes(dst), 6, segment.length));
  const p = new Uint8Array(20 + t.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, totalLength ?? (p.length > 0xffff ? 0 : p.length));
  v.setUint16(4, 0x4321);
  p[6] = 0x40; // DF
  p[8] = 64;
  p[9] = 6;
  p.set(addressBytes(src), 12);
  p.set(addressBytes(dst), 16);
  v.setUint16(10, checksum(p.subarray(0, 20)));
  p.set(t, 20);
  return p;
}

/**
 * An IPv6/TCP packet for `sendTso()` (partial TCP checksum). When the TCP segment plus the
 * 8-octet Hop-by-Hop header exceed 65535 octets, or `jumbo` says so, it is a jumbogram (RFC 2675
 * §2, Linux's BIG TCP shape): Payload Length 0, Next Header 0, a Hop-by-Hop header (Next Header
 * 6, Hdr Ext Len 0) with one Jumbo Payload option (0xC2, length 4) holding packet length − 40.
 */
export function tcp6Partial(src: string, dst: string, spec: TcpSpec, jumbo?: boolean): Uint8Array {
  const s = address6Bytes(src);
  const d = address6Bytes(dst);
  const t = tcpSegment(spec, (segment) => pseudoHeaderSum6(s, d, 6, segment.length));
  const asJumbo = jumbo ?? t.length + 8 > 0xffff;
  const ext = asJumbo ? 8 : 0;
  const p = new Uint8Array(40 + ext + t.length);
  const v = new DataView(p.buffer);
  p[0] = 0x60;
  v.setUint16(4, asJumbo ? 0 : ext + t.length);
  p[6] = asJumbo ? 0 : 6;
  p[7] = 64;
  p.set(s, 8);
  p.set(d, 24);
  if (asJumbo) {
    p[40] = 6;
    p[41] = 0;
    p[42] = 0xc2;
    p[43] = 4;
    v.setUint32(44, p.length - 40);
  }
  p.set(t, 40 + ext);
  return p;
}

/** Reads the TCP segment of an IPv6 packet without extension headers (test input from the kernel). */
export function readTcp6(packet: Uint8Array): TcpSummary & { readonly nextHeader: number } {
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const segment = packet.subarray(40, 40 + v.getUint16(4));
  return { nextHeader: packet[6]!, ...tcpSummary(segment) };
}
