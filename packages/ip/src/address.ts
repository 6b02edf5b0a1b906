/**
 * IPv4 addresses (RFC 791 §3.2, RFC 1122 §3.2.1.3, RFC 6890). Inside the stack an address is
 * a uint32 number (`0x0a000001` is 10.0.0.1): cheap to compare and to use as a map key.
 * Strings exist only at the API edge, converted here.
 */
import { codedTypeError } from './errors.js';

/** Error code thrown for a malformed address argument. */
export const ERR_INVALID_IP_ADDRESS = 'ERR_INVALID_IP_ADDRESS';

// One decimal octet without leading zeros ("010" is octal to some parsers, so reject it).
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/** True when `s` is a strict dotted-quad IPv4 address ("10.0.0.1"; no leading zeros, no spaces). */
export function isIpv4String(s: unknown): s is string {
  return typeof s === 'string' && DOTTED_QUAD.test(s);
}

/**
 * Parses a strict dotted quad into a uint32.
 * @throws TypeError with `code: 'ERR_INVALID_IP_ADDRESS'` when `s` is not one.
 */
export function ipv4FromString(s: string): number {
  const m = typeof s === 'string' ? DOTTED_QUAD.exec(s) : null;
  if (m === null) throw codedTypeError(ERR_INVALID_IP_ADDRESS, `Invalid IPv4 address: ${String(s)}`);
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/** True when `n` is an integer in 0..2^32-1 (a valid address number). */
export function isIpv4Number(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/**
 * Formats a uint32 address as a dotted quad.
 * @throws TypeError with `code: 'ERR_INVALID_IP_ADDRESS'` when `n` is not an integer in 0..2^32-1.
 */
export function ipv4ToString(n: number): string {
  if (!isIpv4Number(n)) throw codedTypeError(ERR_INVALID_IP_ADDRESS, `Invalid IPv4 address number: ${String(n)}`);
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** 0.0.0.0, "this host" (RFC 1122 §3.2.1.3 (a)); as a bind address it means "any". */
export const IPV4_UNSPECIFIED = 0;
/** 255.255.255.255, the limited broadcast address (RFC 919, RFC 1122 §3.2.1.3 (c)). */
export const IPV4_BROADCAST = 0xffffffff;

/** True for 0.0.0.0. */
export function isUnspecified(addr: number): boolean {
  return addr === 0;
}

/** True for 255.255.255.255. */
export function isBroadcast(addr: number): boolean {
  return addr >>> 0 === IPV4_BROADCAST;
}

/** True for 224.0.0.0/4 (RFC 5771). */
export function isMulticast(addr: number): boolean {
  return addr >>> 28 === 0xe;
}

/** True for 127.0.0.0/8 (RFC 1122 §3.2.1.3 (g)). */
export function isLoopback(addr: number): boolean {
  return addr >>> 24 === 127;
}

/**
 * True for the limited broadcast address or any multicast address: such an address may be
 * a destination but never the source of a datagram (RFC 1122 §3.2.1.3), and TCP never
 * talks to one (RFC 9293 §3.9.1, a SYN to them is dropped).
 */
export function isBroadcastOrMulticast(addr: number): boolean {
  return isBroadcast(addr) || isMulticast(addr);
}

/**
 * The network mask of a prefix length (`24` → 0xffffff00).
 * @throws TypeError with `code: 'ERR_INVALID_IP_ADDRESS'` when `prefixLength` is not 0..32.
 */
export function ipv4Mask(prefixLength: number): number {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw codedTypeError(ERR_INVALID_IP_ADDRESS, `Invalid IPv4 prefix length: ${String(prefixLength)}`);
  }
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** True when `addr` lies in `network`/`prefixLength`. */
export function isInSubnet(addr: number, network: number, prefixLength: number): boolean {
  const mask = ipv4Mask(prefixLength);
  return ((addr & mask) >>> 0) === ((network & mask) >>> 0);
}

/** The directed broadcast address of `network`/`prefixLength` (all host bits set). */
export function subnetBroadcast(network: number, prefixLength: number): number {
  return (network | ~ipv4Mask(prefixLength)) >>> 0;
}
