/**
 * Addresses at the socket layer's edge, for both families: the text a program passes to
 * `connect()`/`listen()` turned into what the stack takes (`IpAddress`: a uint32 for IPv4,
 * 16 octets for IPv6), and the stack's addresses turned back into the text and family names
 * Node reports (`'IPv4'`/`'IPv6'`, RFC 5952 text, `::ffff:a.b.c.d` for an IPv4 peer of a
 * dual-stack socket as Linux reports it, RFC 4291 §2.5.5.2).
 */
import { isIP } from 'node:net';
import { ipv4FromMapped, ipv4FromString, ipv4ToString, ipv6FromString, ipv6ToString, isIpv4Mapped } from '@tcp-tun/ip';
import type { IpAddress } from '@tcp-tun/tcp';
import type { ConnectionHandle, StackPort } from './handle.js';

/** Node's family names (`remoteFamily`, `address().family`, Node 20's strings). */
export type FamilyName = 'IPv4' | 'IPv6';

/** `'IPv4'` for a uint32 address, `'IPv6'` for 16 octets. */
export function familyOf(addr: IpAddress): FamilyName {
  return typeof addr === 'number' ? 'IPv4' : 'IPv6';
}

/** The text of an address: dotted quad, or RFC 5952 for IPv6. */
export function formatIp(addr: IpAddress): string {
  return typeof addr === 'number' ? ipv4ToString(addr) : ipv6ToString(addr);
}

/**
 * The last IPv6 address formatted and its text. Every accepted socket formats its two ends, and
 * they repeat: our own address each time, and the peer's for a client that opens many
 * connections; one slot for each end formats each once instead of per socket (issue 13).
 */
class Ipv6TextCache {
  readonly #bytes = new Uint8Array(16);
  #text: string | undefined;

  textOf(addr: Uint8Array): string {
    const bytes = this.#bytes;
    if (this.#text !== undefined && addr.length === 16) {
      let i = 0;
      while (i < 16 && addr[i] === bytes[i]) i++;
      if (i === 16) return this.#text;
    }
    const text = ipv6ToString(addr);
    bytes.set(addr);
    this.#text = text;
    return text;
  }
}
const remoteText6 = new Ipv6TextCache();
const localText6 = new Ipv6TextCache();

/** `::ffff:a.b.c.d`: an IPv4 address as a dual-stack (AF_INET6) socket reports it. */
export function mappedText(addr: number): string {
  return `::ffff:${ipv4ToString(addr)}`;
}

/**
 * The remote address of a handle and our own, as the text and family a socket reports.
 * `dual`: the connection belongs to an AF_INET6 socket (a `'::'` listener, or a connect to a
 * v4-mapped literal), so IPv4 addresses show as `::ffff:a.b.c.d`, family 'IPv6'.
 */
export function handleEnds(handle: ConnectionHandle, dual: boolean): { remote: string; local: string; family: FamilyName } {
  const remoteAddr = handle.remoteAddr;
  const localAddr = handle.localAddr;
  if (typeof remoteAddr !== 'number' && typeof localAddr !== 'number') {
    return { remote: remoteText6.textOf(remoteAddr), local: localText6.textOf(localAddr), family: 'IPv6' };
  }
  const text = (a: IpAddress): string => (typeof a === 'number' && dual ? mappedText(a) : formatIp(a));
  return { remote: text(remoteAddr), local: text(localAddr), family: dual ? 'IPv6' : familyOf(remoteAddr) };
}

/**
 * The stack address for an IP literal `text` of family `type` (Node's `isIP`): IPv4 as a
 * uint32, 127.0.0.0/8 as the stack's own IPv4 address (it is this host), a v4-mapped IPv6
 * literal as the IPv4 address it maps (an AF_INET6 socket reaches IPv4 peers that way), any
 * other IPv6 literal as its 16 octets (`::1` is the stack's to loop back).
 */
export function stackAddress(text: string, type: 4 | 6, port: StackPort): IpAddress {
  let v4: number;
  if (type === 4) v4 = ipv4FromString(text);
  else {
    // A zone id (`fe80::1%eth0`, which Node's isIP accepts) names an interface: the stack has one.
    const bytes = ipv6FromString(text.split('%')[0] ?? text);
    if (!isIpv4Mapped(bytes)) return bytes;
    v4 = ipv4FromMapped(bytes);
  }
  if (v4 >>> 24 === 127 && port.addressNumber !== undefined) return port.addressNumber;
  return v4;
}

/** Node's `isIP` as the family type (0 for anything else, brackets and zone-less rules as Node). */
export function ipType(text: unknown): 0 | 4 | 6 {
  return typeof text === 'string' ? (isIP(text) as 0 | 4 | 6) : 0;
}
