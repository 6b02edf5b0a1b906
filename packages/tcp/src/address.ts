/**
 * IP addresses as the TCP layer sees them: an IPv4 address is a uint32 `number`, an IPv6 address
 * the 16 octets of an `Ipv6Address` (network order, treated as immutable). The test
 * `typeof addr === 'number'` tells the families apart without looking inside, so the IPv4 path
 * costs what it did before IPv6 existed: no allocation, no string, one `typeof`.
 *
 * The engine is family agnostic: it compares addresses only through {@link ipAddressEquals} and
 * asks only {@link isIpv4} where a rule differs by family (header overhead, the default MSS, the
 * path MTU floor). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) is an IPv6
 * address here; a peer that arrives over IPv4 is a number, and converting between the two forms
 * is the socket layer's business at its edge.
 */
import { ipv6Equals, isIpv6Unspecified, type Ipv6Address } from '@tcp-tun/ip';

/** An IPv4 address as a uint32 (10.0.0.1 is 0x0a000001) or an IPv6 address as 16 octets. */
export type IpAddress = number | Ipv6Address;

/** The IP version of an address: 4 or 6. */
export type IpFamily = 4 | 6;

/** Whether `addr` is an IPv4 address (a number); the one test the IPv4 fast paths make. */
export function isIpv4(addr: IpAddress): addr is number {
  return typeof addr === 'number';
}

/** The IP version of `addr`. */
export function ipFamily(addr: IpAddress): IpFamily {
  return typeof addr === 'number' ? 4 : 6;
}

/**
 * Whether two addresses are the same. Addresses of different families are never equal, an
 * IPv4-mapped IPv6 address and the IPv4 number it maps included (see the file comment).
 */
export function ipAddressEquals(a: IpAddress, b: IpAddress): boolean {
  if (typeof a === 'number') return a === b;
  return typeof b !== 'number' && ipv6Equals(a, b);
}

/** Whether `addr` is the unspecified address of its family (0.0.0.0 or `::`): "any" when bound. */
export function isUnspecifiedAddress(addr: IpAddress): boolean {
  return typeof addr === 'number' ? addr === 0 : isIpv6Unspecified(addr);
}

/**
 * Octets of IP and TCP headers without options in one segment: 40 over IPv4 (RFC 9293 §3.7.1:
 * MSS = MTU − 40) and 60 over IPv6 (RFC 8200 §8.3: "the maximum TCP payload ... 60 octets less
 * than the path MTU").
 */
export function ipTcpOverhead(family: IpFamily): number {
  return family === 4 ? 40 : 60;
}

/**
 * The MSS for a link or path MTU (RFC 9293 §3.7.1, RFC 8200 §8.3): `mtu` − 40 over IPv4,
 * `mtu` − 60 over IPv6.
 * @throws RangeError with `code: 'ERR_INVALID_ARG_VALUE'` unless `mtu` is an integer that leaves a
 * positive MSS, and `family` 4 or 6.
 */
export function mssForMtu(mtu: number, family: IpFamily): number {
  if ((family !== 4 && family !== 6) || !Number.isInteger(mtu) || mtu <= ipTcpOverhead(family) || mtu > 0xffffffff) {
    const err = new RangeError(`mssForMtu: no MSS for MTU ${String(mtu)} over IPv${String(family)}`) as RangeError & { code: string };
    err.code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  }
  return mtu - ipTcpOverhead(family);
}

/**
 * RFC 9293 §3.7.1: the send MSS when the peer's SYN carries no MSS option — 536 over IPv4
 * (576 − 40) and 1220 over IPv6 (the IPv6 minimum link MTU of 1280, RFC 8200 §5, − 60).
 */
export function defaultPeerMss(family: IpFamily): number {
  return family === 4 ? 536 : 1220;
}

/**
 * RFC 8201 §4: a node never lowers its path MTU estimate below the IPv6 minimum link MTU, 1280
 * octets (RFC 8200 §5), whatever a packet too big message says. (Internal to the package: the
 * public constant of that name is `@tcp-tun/ip`'s.)
 */
export const IPV6_MIN_MTU = 1280;
