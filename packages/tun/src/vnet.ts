/**
 * The virtio-net header that prefixes every packet on a TUN fd opened with `IFF_VNET_HDR`, and
 * the generic checksum completion it asks for. Still no IP here: the header says where a sum
 * starts and where it goes, and the rule is the same for every protocol (virtio spec v1.2
 * §5.1.6.2 "Packet Transmission", §5.1.6.4 "Processing of Incoming Packets").
 *
 * Layout of `struct virtio_net_hdr` (include/uapi/linux/virtio_net.h), 10 bytes, fields in the
 * byte order of the host for a legacy (non-VERSION_1) device, which TUN is unless TUNSETVNETLE
 * or TUNSETVNETBE says otherwise:
 *
 * | offset | field       | type | meaning |
 * |--------|-------------|------|---------|
 * | 0      | flags       | u8   | `NEEDS_CSUM` (1): a checksum is still to be computed; `DATA_VALID` (2) |
 * | 1      | gso_type    | u8   | `NONE` (0), `TCPV4` (1), `UDP` (3), `TCPV6` (4), `UDP_L4` (5); `ECN` (0x80) flag |
 * | 2      | hdr_len     | u16  | bytes of headers before the payload (a hint) |
 * | 4      | gso_size    | u16  | payload bytes per segment when `gso_type` is not `NONE` |
 * | 6      | csum_start  | u16  | offset from the start of the packet where summing starts |
 * | 8      | csum_offset | u16  | where, after `csum_start`, the result is stored |
 */

/** Size of `struct virtio_net_hdr` in bytes (the TUN default `vnet_hdr_sz`). */
export const VNET_HEADER_SIZE = 10;

/** `virtio_net_hdr.flags` bits. */
export const VnetFlags = {
  /** The packet's checksum is partial: complete it from `csum_start` (virtio §5.1.6.2). */
  NEEDS_CSUM: 1,
  /** The sender vouches for the checksum (receive direction only). */
  DATA_VALID: 2,
} as const;

/** `virtio_net_hdr.gso_type` values. */
export const VnetGso = {
  NONE: 0,
  TCPV4: 1,
  UDP: 3,
  TCPV6: 4,
  UDP_L4: 5,
  /** Flag: the TCP segments carry CE/CWR (needs TUN_F_TSO_ECN, which we do not offer). */
  ECN: 0x80,
} as const;

/** True when this machine stores multi-byte integers least significant byte first. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A decoded `struct virtio_net_hdr`. */
export interface VnetHeader {
  readonly flags: number;
  readonly gsoType: number;
  /** Header bytes before the payload, in octets (a hint; may be 0). */
  readonly hdrLen: number;
  /** Payload octets per segment when `gsoType` is not NONE. */
  readonly gsoSize: number;
  /** Octet offset in the packet where checksumming starts (when `NEEDS_CSUM`). */
  readonly csumStart: number;
  /** Octet offset after `csumStart` of the 16-bit checksum field (when `NEEDS_CSUM`). */
  readonly csumOffset: number;
}

/** Reads the header at `bytes[offset..offset+10]` (host byte order). The caller checks length. */
export function readVnetHeader(bytes: Uint8Array, offset = 0): VnetHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, VNET_HEADER_SIZE);
  return {
    flags: v.getUint8(0),
    gsoType: v.getUint8(1),
    hdrLen: v.getUint16(2, LITTLE_ENDIAN),
    gsoSize: v.getUint16(4, LITTLE_ENDIAN),
    csumStart: v.getUint16(6, LITTLE_ENDIAN),
    csumOffset: v.getUint16(8, LITTLE_ENDIAN),
  };
}

/** Writes `header` into `bytes[offset..offset+10]` (host byte order). */
export function writeVnetHeader(bytes: Uint8Array, header: VnetHeader, offset = 0): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, VNET_HEADER_SIZE);
  v.setUint8(0, header.flags);
  v.setUint8(1, header.gsoType);
  v.setUint16(2, header.hdrLen, LITTLE_ENDIAN);
  v.setUint16(4, header.gsoSize, LITTLE_ENDIAN);
  v.setUint16(6, header.csumStart, LITTLE_ENDIAN);
  v.setUint16(8, header.csumOffset, LITTLE_ENDIAN);
}

/** Offset of the checksum field in a TCP header (RFC 9293 §3.1): `csum_offset` for TCP. */
export const TCP_CHECKSUM_OFFSET = 16;

/**
 * Largest IP packet in the plain shapes: the 16-bit IPv4 Total Length (RFC 791 §3.1), and the
 * same bound for IPv6 (a larger one needs the jumbo shape; Linux's IP_MAX_MTU). Packets up to
 * here are described as before BIG TCP; longer ones must be one of the two "BIG TCP" shapes.
 */
export const MAX_PLAIN_PACKET = 65535;
/**
 * Largest super-packet `sendTso()` takes with `bigTso` (`TunDevice.tso.maxPacket`), in octets:
 * twice the legacy 64 KiB GSO limit. Linux takes larger GSO packets from a TUN since BIG TCP
 * (IPv6 5.19, IPv4 6.3; up to GSO_MAX_SIZE, 512 KiB). In the bench's fair workload (kernel 6.18)
 * trains of up to 128 KiB cut our writes per GB by ~40 % and the kernel's ACKs per GB by a third;
 * a bound keeps the writer thread's ring records and the kernel's per-write allocation modest.
 */
export const MAX_BIG_TSO_PACKET = 131_072;

/** Octets of the IPv6 Hop-by-Hop Options header that carries a Jumbo Payload option (RFC 2675 §2). */
export const JUMBO_HBH_LENGTH = 8;

/**
 * Whether the IPv6 `packet` has exactly the jumbogram shape Linux's BIG TCP uses (RFC 2675 §2,
 * Linux `ipv6_hop_jumbo()`, `struct hop_jumbo_hdr`): Payload Length 0, Next Header 0 (Hop-by-Hop
 * Options) and, right after the fixed header, an 8-octet Hop-by-Hop header with Next Header 6
 * (TCP), Hdr Ext Len 0, and one Jumbo Payload option (type 0xC2, Opt Data Len 4) whose 32-bit
 * length is the packet's length less the 40-octet fixed header (so it counts the Hop-by-Hop
 * header). RFC 2675 §2 forbids a Jumbo Payload Length of 65535 or less, and Linux drops such a
 * packet (`pkt_len <= IPV6_MAXPLEN`): that is malformed here too.
 */
export function isIpv6TcpJumbogram(packet: Uint8Array): boolean {
  const length = packet.length;
  if (length < 40 + JUMBO_HBH_LENGTH + 20 || packet[0]! >> 4 !== 6) return false;
  if (packet[4] !== 0 || packet[5] !== 0 || packet[6] !== 0) return false;
  if (packet[40] !== 6 || packet[41] !== 0 || packet[42] !== 0xc2 || packet[43] !== 4) return false;
  const jumboLength = new DataView(packet.buffer, packet.byteOffset + 44, 4).getUint32(0);
  return jumboLength === length - 40 && jumboLength > MAX_PLAIN_PACKET;
}

/**
 * Writes, at `out[offset..offset+10]`, the virtio-net header that asks the kernel to finish the
 * IPv4/TCP or IPv6/TCP `packet` we are about to write (virtio spec v1.2 §5.1.6.2, the driver's side of it):
 * - always `NEEDS_CSUM`, `csum_start` = the IP header length (IPv4 IHL × 4, 40 for IPv6, 48 for
 *   an IPv6 jumbogram), `csum_offset` = 16: the TCP checksum field must already hold the folded
 *   pseudo-header sum over the whole TCP length, not complemented (what Linux's
 *   `__tcp_v4_send_check` leaves for a partial checksum);
 * - when the TCP payload is longer than `segmentSize`: `gso_type` TCPV4, or TCPV6 for IPv6 (plus the ECN flag if
 *   CWR is set, so the kernel keeps it on the first segment only), `gso_size` = `segmentSize`
 *   and `hdr_len` = IP + TCP header length. The kernel cuts the payload into `segmentSize`
 *   pieces, FIN and PSH only on the last, and fixes lengths, IDs and checksums (tcp_gso_segment),
 *   or delivers the packet whole when it is for a local socket (as a GRO'd one).
 * - otherwise `gso_type` NONE: one packet whose checksum the kernel need not compute.
 *
 * Packets of up to {@link MAX_PLAIN_PACKET} octets are taken as they always were (the IP length
 * fields are not read). A longer one ("BIG TCP", Linux ≥ 6.3; the device allows it only with
 * `bigTso`, transmit-path.ts) is described only in one of these shapes, and only as a GSO
 * super-packet (payload longer than `segmentSize`):
 * - IPv4 with Total Length 0: Linux's BIG TCP for IPv4 (`iph_totlen()`, 6.3) takes the length of
 *   a GSO TCP skb whose tot_len is 0 from the skb; without GSO it would read 0 and drop it;
 * - IPv6 as a jumbogram ({@link isIpv6TcpJumbogram}, RFC 2675): TCP starts at octet 48;
 * - IPv6 without extension headers whose Payload Length is exact (packet length − 40 ≤ 65535):
 *   an ordinary IPv6 packet of 65536..65575 octets (RFC 8200 §3), which a jumbogram cannot be.
 * A well-formed jumbogram is accepted at any length it can have (it is always over 65,575 octets);
 * an IPv6 packet with any other first extension header is refused, as before.
 *
 * Returns the number of segments the packet stands for (1 without GSO), or 0 when `packet` is
 * not something to describe this way (shorter than its headers, not IPv4 or IPv6, not TCP right
 * after the IP header (or the jumbo Hop-by-Hop header), an IPv4 fragment,
 * IHL or data offset out of range, `segmentSize` not 1..65535, or longer than 65535 octets and
 * in none of the shapes above); then nothing is written.
 */
export function writeTcpOffloadHeader(out: Uint8Array, offset: number, packet: Uint8Array, segmentSize: number): number {
  if (packet.length < 40 || !(segmentSize >= 1 && segmentSize <= 0xffff) || !Number.isInteger(segmentSize)) return 0;
  const big = packet.length > MAX_PLAIN_PACKET;
  const versionIhl = packet[0]!;
  let ipHeaderLength: number;
  let tcpv: number = VnetGso.TCPV4;
  if (versionIhl >> 4 === 6) {
    tcpv = VnetGso.TCPV6;
    if (packet[6] === 6) {
      // RFC 8200 §3: an IPv6 packet whose Next Header is TCP (6) right after the fixed header; the
      // kernel segments it as GSO TCPV6 (tcp6_gso_segment). Past 65535 octets only with an exact
      // Payload Length: Linux trims the skb to it (ip6_rcv_core), a wrong one would cut the train.
      if (big && ((packet[4]! << 8) | packet[5]!) !== packet.length - 40) return 0;
      ipHeaderLength = 40;
    } else if (isIpv6TcpJumbogram(packet)) {
      // BIG TCP for IPv6 (Linux 5.19, RFC 2675): ipv6_hop_jumbo() takes the length from the
      // option; TCP follows the 8-octet Hop-by-Hop header, so csum_start and hdr_len count it.
      ipHeaderLength = 40 + JUMBO_HBH_LENGTH;
    } else {
      return 0;
    }
  } else {
    ipHeaderLength = (versionIhl & 0x0f) << 2;
    // RFC 791 §3.1: protocol 6 is TCP; a fragment (MF or an offset) cannot be segmented.
    if (versionIhl >> 4 !== 4 || ipHeaderLength < 20 || packet[9] !== 6 || ((packet[6]! & 0x3f) | packet[7]!) !== 0) return 0;
    // BIG TCP for IPv4 (Linux 6.3, iph_totlen()): a length that does not fit in Total Length is
    // written as 0 and taken from the GSO skb. Anything else would be a lie about the length.
    if (big && (packet[2] !== 0 || packet[3] !== 0)) return 0;
  }
  if (packet.length < ipHeaderLength + 20) return 0;
  const headerLength = ipHeaderLength + ((packet[ipHeaderLength + 12]! >> 4) << 2);
  if (headerLength < ipHeaderLength + 20 || headerLength > packet.length) return 0;
  const payload = packet.length - headerLength;
  const segments = payload > segmentSize ? Math.ceil(payload / segmentSize) : 1;
  // A big packet must be a GSO one: Linux derives an IPv4 tot_len of 0 only for a GSO TCP skb
  // (iph_totlen()), and a single segment that large could never leave through any link.
  if (big && segments === 1) return 0;
  let gsoType: number = VnetGso.NONE;
  if (segments > 1) {
    // TCP flags byte: CWR is 0x80 (RFC 3168 §6.1); without the ECN flag the kernel would copy it.
    gsoType = tcpv | ((packet[ipHeaderLength + 13]! & 0x80) !== 0 ? VnetGso.ECN : 0);
  }
  const v = new DataView(out.buffer, out.byteOffset + offset, VNET_HEADER_SIZE);
  v.setUint8(0, VnetFlags.NEEDS_CSUM);
  v.setUint8(1, gsoType);
  v.setUint16(2, segments > 1 ? headerLength : 0, LITTLE_ENDIAN);
  v.setUint16(4, segments > 1 ? segmentSize : 0, LITTLE_ENDIAN);
  v.setUint16(6, ipHeaderLength, LITTLE_ENDIAN);
  v.setUint16(8, TCP_CHECKSUM_OFFSET, LITTLE_ENDIAN);
  return segments;
}

/**
 * Ones-complement sum (RFC 1071) of `bytes[start..end)`, as 16-bit words in host byte order,
 * folded to 16 bits, not complemented. Summing host-order words gives the byte-swapped result
 * on a little-endian machine (RFC 1071 §2(B): the sum is byte-order independent), so a caller
 * that stores the result with a host-order 16-bit write puts the right bytes on the wire.
 * `start` must be even relative to the buffer's ArrayBuffer (it is the word alignment).
 *
 * Fast path: whole 32-bit words through a Uint32Array, summed as plain doubles. 2^53 / 2^32 is
 * 2^21 words, far more than a 64 KiB packet, so nothing overflows; a sum of 32-bit words taken
 * modulo 65535 equals the ones-complement sum of their 16-bit halves (2^16 ≡ 1 mod 65535).
 */
export function sumHostOrder(bytes: Uint8Array, start: number, end: number): number {
  const base = bytes.byteOffset;
  let sum = 0;
  let i = start;
  if (end - i >= 2 && ((base + i) & 3) === 2) {
    sum += hostWord(bytes, i);
    i += 2;
  }
  const words = (end - i) >>> 2;
  if (words > 0) {
    const u32 = new Uint32Array(bytes.buffer, base + i, words);
    // Four accumulators let the loop's additions overlap.
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    let k = 0;
    for (; k + 4 <= words; k += 4) {
      a += u32[k]!;
      b += u32[k + 1]!;
      c += u32[k + 2]!;
      d += u32[k + 3]!;
    }
    for (; k < words; k++) a += u32[k]!;
    sum += a + b + c + d;
    i += words << 2;
  }
  if (end - i >= 2) {
    sum += hostWord(bytes, i);
    i += 2;
  }
  if (i < end) {
    // A lone last byte is the first (high-order on the wire) byte of a zero-padded word.
    const last = bytes[i]!;
    sum += LITTLE_ENDIAN ? last : last << 8;
  }
  return fold(sum);
}

function hostWord(bytes: Uint8Array, i: number): number {
  const first = bytes[i]!;
  const second = bytes[i + 1]!;
  return LITTLE_ENDIAN ? first | (second << 8) : (first << 8) | second;
}

/** Folds a non-negative sum (< 2^53) to 16 bits in ones-complement arithmetic. */
function fold(sum: number): number {
  if (sum === 0) return 0;
  // x mod 65535 is the ones-complement fold, except that a non-zero multiple of 65535 is 0xffff.
  const r = sum % 65535;
  return r === 0 ? 0xffff : r;
}

/** Why {@link completeChecksum} refused a packet. */
export type ChecksumFailure = 'csum-out-of-range';

/**
 * Completes a partial checksum as virtio-net asks (§5.1.6.2): the 16-bit field at
 * `csumStart + csumOffset` already holds the folded sum of whatever the protocol adds outside
 * the packet (for TCP/UDP the pseudo-header); sum from `csumStart` to the end of the packet,
 * complement, and store the result there. Never throws on bad offsets: returns why instead.
 */
export function completeChecksum(
  packet: Uint8Array,
  csumStart: number,
  csumOffset: number,
): { ok: true } | { ok: false; reason: ChecksumFailure } {
  const field = csumStart + csumOffset;
  if (field + 2 > packet.length) return { ok: false, reason: 'csum-out-of-range' };
  let result: number;
  if (((packet.byteOffset + csumStart) & 1) === 0) {
    // A result of 0 goes out as 0xffff, as Linux's skb_checksum_help() does (CSUM_MANGLED_0):
    // the same value in ones-complement, and the only one UDP may carry (RFC 768).
    result = ~sumHostOrder(packet, csumStart, packet.length) & 0xffff || 0xffff;
    // Written in host order, matching how the words were summed.
    new DataView(packet.buffer, packet.byteOffset).setUint16(field, result, LITTLE_ENDIAN);
  } else {
    // Not word-aligned in memory (never seen from the kernel): sum in network order byte by byte.
    let sum = 0;
    for (let i = csumStart; i + 1 < packet.length; i += 2) sum += (packet[i]! << 8) | packet[i + 1]!;
    if ((packet.length - csumStart) & 1) sum += packet[packet.length - 1]! << 8;
    result = ~fold(sum) & 0xffff || 0xffff;
    new DataView(packet.buffer, packet.byteOffset).setUint16(field, result, false);
  }
  return { ok: true };
}
