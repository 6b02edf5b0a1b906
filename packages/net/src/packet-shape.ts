/**
 * Where the TCP segment of an IP packet the stack sent or received lies, for the tools that read
 * packets back (the debug line, the tracer): IPv4, and IPv6 with TCP right after the fixed header,
 * as well as the two shapes of a GSO super-packet over 65,535 octets (gso-train.ts): IPv4 with
 * Total Length 0 (Linux's BIG TCP) and an IPv6 jumbogram whose Hop-by-Hop header holds only the
 * Jumbo Payload option (RFC 2675 §2).
 */

/** The TCP segment of a packet: the IP header's length and the end of the packet. */
export interface TcpBounds {
  /** Octets in front of the TCP header. */
  readonly offset: number;
  /** Octets of the packet the IP header accounts for (at most its length). */
  readonly total: number;
}

/** The first fragment or a whole packet carrying TCP (protocol / next header 6). */
const TCP = 6;

/**
 * Where the TCP segment of `packet` lies, or undefined when it carries no TCP segment this can
 * read (not IPv4/IPv6, another protocol, an IPv4 fragment after the first, other IPv6 extension
 * headers, too short). The TCP header itself is not checked.
 */
export function tcpBounds(packet: Uint8Array): TcpBounds | undefined {
  const version = packet.length > 0 ? (packet[0] as number) >> 4 : 0;
  if (version === 6) {
    if (packet.length < 60) return undefined;
    const payloadLength = ((packet[4] as number) << 8) | (packet[5] as number);
    if (packet[6] === TCP) return { offset: 40, total: Math.min(40 + payloadLength, packet.length) };
    // A jumbogram (RFC 2675 §2): Payload Length 0; Hop-by-Hop (0) of 8 octets, next header TCP,
    // holding the Jumbo Payload option (type 0xC2, length 4) with the length after the fixed header.
    if (packet[6] !== 0 || payloadLength !== 0 || packet.length < 68 || packet[40] !== TCP || packet[41] !== 0 || packet[42] !== 0xc2 || packet[43] !== 4) return undefined;
    const jumbo = (((packet[44] as number) << 24) | ((packet[45] as number) << 16) | ((packet[46] as number) << 8) | (packet[47] as number)) >>> 0;
    return { offset: 48, total: Math.min(40 + jumbo, packet.length) };
  }
  if (version !== 4 || packet.length < 20) return undefined;
  const ihl = ((packet[0] as number) & 0x0f) * 4;
  const fragment = (((packet[6] as number) << 8) | (packet[7] as number)) & 0x1fff;
  if (packet[9] !== TCP || fragment !== 0 || ihl < 20) return undefined;
  const stated = ((packet[2] as number) << 8) | (packet[3] as number);
  // Total Length 0 on a packet longer than it can state: a super-packet over 64 KiB.
  const total = stated === 0 && packet.length > 0xffff ? packet.length : Math.min(stated, packet.length);
  return total < ihl + 20 ? undefined : { offset: ihl, total };
}
