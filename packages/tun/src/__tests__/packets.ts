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

function addressBytes(text: string): number[] {
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
