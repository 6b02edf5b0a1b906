/**
 * IPv6 addresses (RFC 4291, RFC 5952). Inside the stack an IPv6 address is a 16-octet
 * `Uint8Array` in network order, treated as immutable: cheap to copy into a header, and hash
 * code reads the octets directly. Strings exist only at the API edge, converted here.
 *
 * IPv4 stays a uint32 number elsewhere; `typeof addr === 'number'` tells the families apart
 * where both meet (the TCP engine's `IpAddress`).
 */
import { ERR_INVALID_IP_ADDRESS } from './address.js';
import { codedTypeError } from './errors.js';

/** An IPv6 address: always 16 octets, network order. Treat as immutable. */
export type Ipv6Address = Uint8Array;

/** The length of an IPv6 address in octets (RFC 4291 §2). */
const LENGTH = 16;

// RFC 4291 §2.2 form 3: an embedded IPv4 dotted quad in the low 32 bits. Decimal octets
// without leading zeros, as `ipv4FromString` accepts.
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
// RFC 4291 §2.2 form 1: one to four hexadecimal digits per 16-bit piece.
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * Parses RFC 4291 §2.2 text into `out` (16 octets); false when the text is not an address.
 * Accepts `x:x:x:x:x:x:x:x`, one `::` for a run of zero groups, and a trailing dotted quad
 * (`::ffff:10.0.0.1`). Rejects zone ids (`fe80::1%eth0`, RFC 4007 §11: a zone belongs to an
 * interface, not to the address), prefixes, brackets and spaces.
 */
function parseInto(s: string, out: Uint8Array): boolean {
  if (s.length < 2 || s.length > 45) return false; // "::" .. "ffff:…:255.255.255.255"
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const groups: number[] = [];
  const all = halves.length === 2 ? [...head, ...tail] : head;
  // Only the last piece of the whole text may be a dotted quad, worth two groups.
  const last = all.length > 0 ? all[all.length - 1]! : '';
  let quad: RegExpExecArray | null = null;
  if (last.includes('.')) {
    // "1.2.3.4::" ends in the zero run, so its quad is not in the low 32 bits.
    if (halves.length === 2 && tail.length === 0) return false;
    quad = DOTTED_QUAD.exec(last);
    if (quad === null) return false;
  }
  for (let i = 0; i < all.length; i++) {
    if (quad !== null && i === all.length - 1) break;
    const piece = all[i]!;
    if (!HEX_GROUP.test(piece)) return false;
    groups.push(parseInt(piece, 16));
  }
  const quadGroups = quad === null ? 0 : 2;
  const written = groups.length + quadGroups;
  if (halves.length === 2) {
    // "::" stands for one or more zero groups (RFC 4291 §2.2 (2)); RFC 5952 §4.2.2 says
    // writers never use it for a single group, but readers accept it.
    if (written > 7) return false;
  } else if (written !== 8) {
    return false;
  }
  const headGroups = halves.length === 2 ? Math.min(head.length, groups.length) : groups.length;
  out.fill(0);
  for (let i = 0; i < headGroups; i++) {
    out[2 * i] = groups[i]! >>> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  // The tail groups end where the dotted quad (if any) begins.
  const tailGroups = groups.length - headGroups;
  const tailStart = 8 - quadGroups - tailGroups;
  for (let i = 0; i < tailGroups; i++) {
    const g = groups[headGroups + i]!;
    out[2 * (tailStart + i)] = g >>> 8;
    out[2 * (tailStart + i) + 1] = g & 0xff;
  }
  if (quad !== null) {
    for (let i = 0; i < 4; i++) out[12 + i] = Number(quad[i + 1]);
  }
  return true;
}

/**
 * True when `s` is IPv6 text per RFC 4291 §2.2 (`fd00::1`, `::ffff:10.0.0.1`); no zone id,
 * no brackets, no prefix length.
 */
export function isIpv6String(s: unknown): s is string {
  return typeof s === 'string' && parseInto(s, new Uint8Array(LENGTH));
}

/**
 * Parses IPv6 text (RFC 4291 §2.2: full, `::`-compressed, or with an embedded dotted quad)
 * into a fresh 16-octet address.
 * @throws TypeError with `code: 'ERR_INVALID_IP_ADDRESS'` when `s` is not one (zone ids such as
 *   `%eth0` are rejected).
 */
export function ipv6FromString(s: string): Ipv6Address {
  const out = new Uint8Array(LENGTH);
  if (typeof s !== 'string' || !parseInto(s, out)) {
    throw codedTypeError(ERR_INVALID_IP_ADDRESS, `Invalid IPv6 address: ${String(s)}`);
  }
  return out;
}

/**
 * Formats an address in the RFC 5952 §4 canonical text: lower-case hex without leading
 * zeros, the longest run of two or more zero groups as `::` (the first on a tie), and
 * `::ffff:a.b.c.d` for an IPv4-mapped address (RFC 5952 §5).
 * @throws TypeError with `code: 'ERR_INVALID_IP_ADDRESS'` when `a` is not 16 octets.
 */
export function ipv6ToString(a: Ipv6Address): string {
  if (!(a instanceof Uint8Array) || a.length !== LENGTH) {
    throw codedTypeError(ERR_INVALID_IP_ADDRESS, 'Invalid IPv6 address: not a 16-octet Uint8Array');
  }
  if (isIpv4Mapped(a)) return `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  // RFC 5952 §4.2.1–4.2.3: shorten the longest run of zero groups, only if it is ≥ 2 long,
  // and the first such run when two are equally long. One pass over the octets, no arrays:
  // this runs for every accepted IPv6 socket (its remote address), so it is kept cheap.
  let bestStart = -1;
  let bestLength = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if ((a[2 * i]! | a[2 * i + 1]!) === 0) {
      if (runStart < 0) runStart = i;
      if (i + 1 - runStart > bestLength) {
        bestStart = runStart;
        bestLength = i + 1 - runStart;
      }
    } else runStart = -1;
  }
  // RFC 5952 §4.1, §4.3: lower-case hex without leading zeros.
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLength - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += ((a[2 * i]! << 8) | a[2 * i + 1]!).toString(16);
  }
  return out;
}

/** True when `a` and `b` hold the same 16 octets. */
export function ipv6Equals(a: Ipv6Address, b: Ipv6Address): boolean {
  if (a === b) return true;
  for (let i = 0; i < LENGTH; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `::`, the unspecified address (RFC 4291 §2.5.2); as a bind address it means "any". Do not modify. */
export const IPV6_UNSPECIFIED: Ipv6Address = new Uint8Array(LENGTH);
/** `::1`, the loopback address (RFC 4291 §2.5.3). Do not modify. */
export const IPV6_LOOPBACK: Ipv6Address = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

/** True for `::` (RFC 4291 §2.5.2): never a destination, and a source only before an address is configured. */
export function isIpv6Unspecified(a: Ipv6Address): boolean {
  for (let i = 0; i < LENGTH; i++) if (a[i] !== 0) return false;
  return true;
}

/** True for `::1` (RFC 4291 §2.5.3). */
export function isIpv6Loopback(a: Ipv6Address): boolean {
  for (let i = 0; i < LENGTH - 1; i++) if (a[i] !== 0) return false;
  return a[LENGTH - 1] === 1;
}

/** True for ff00::/8 (RFC 4291 §2.7): never a source, and TCP never talks to one. */
export function isIpv6Multicast(a: Ipv6Address): boolean {
  return a[0] === 0xff;
}

/** True for fe80::/10, link-local unicast (RFC 4291 §2.5.6). */
export function isIpv6LinkLocal(a: Ipv6Address): boolean {
  return a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

/** True for ::ffff:0:0/96, an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2). */
export function isIpv4Mapped(a: Ipv6Address): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/** The IPv4 address (uint32) in the low 32 bits of an IPv4-mapped address; check {@link isIpv4Mapped} first. */
export function ipv4FromMapped(a: Ipv6Address): number {
  return ((a[12]! << 24) | (a[13]! << 16) | (a[14]! << 8) | a[15]!) >>> 0;
}

/**
 * The IPv4-mapped IPv6 address `::ffff:a.b.c.d` of a uint32 IPv4 address (RFC 4291 §2.5.5.2),
 * as Node reports IPv4 peers of a dual-stack socket.
 */
export function ipv4ToMapped(n: number): Ipv6Address {
  const out = new Uint8Array(LENGTH);
  out[10] = 0xff;
  out[11] = 0xff;
  out[12] = n >>> 24;
  out[13] = (n >>> 16) & 0xff;
  out[14] = (n >>> 8) & 0xff;
  out[15] = n & 0xff;
  return out;
}
