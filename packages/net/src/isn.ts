/**
 * Initial sequence numbers, RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), where M is a timer that ticks every 4 microseconds (so sequence spaces of
 * successive incarnations of one 4-tuple still advance, RFC 9293 §3.4.1) and F is a keyed hash
 * whose secret an off-path attacker does not know.
 *
 * Timestamp offsets in the same shape (RFC 7323 §5.4, §7.1): the engine sends TSval = its
 * millisecond clock + offset, and the offset is a keyed hash of the 4-tuple (domain-separated
 * from F). It hides the clock and differs between 4-tuples, yet stays the same for every
 * incarnation of one 4-tuple, so their TSvals are monotonic: a peer still holding the previous
 * incarnation in TIME-WAIT (RFC 6191; Linux applies PAWS there) sees a newer TSval on our SYN
 * and lets it reopen the connection. A random offset per connection was behind it half the time.
 *
 * IPv6 (RFC 6528 §3 names "localip" and "remoteip" whatever their size): an IPv6 4-tuple is
 * hashed with both addresses whole (`KeyedHash.hashAddresses`), the same words after them. The
 * IPv4 messages are unchanged (their results are bit for bit what they were), and the lengths of
 * the two differ, so an IPv4 4-tuple and an IPv6 one never hash the same message. A 4-tuple has one
 * family; should the two ends differ, the IPv4 one is taken as its IPv4-mapped form.
 */
import { ipv4ToMapped } from '@tcp-tun/ip';
import type { Endpoint, Instant, IpAddress } from '@tcp-tun/tcp';
import { KeyedHash } from './keyed-hash.js';

/** Fourth hash word of the timestamp offsets ("tsof"): keeps them apart from the ISNs' F. */
const TS_OFFSET_DOMAIN = 0x74736f66;

/** Makes ISNs and timestamp offsets for one stack. */
export class IsnGenerator {
  readonly #f: KeyedHash;

  /** `secret` needs 8 octets. */
  constructor(secret: Uint8Array) {
    this.#f = new KeyedHash(secret);
  }

  /** The ISN for a connection `local` ↔ `remote` (IPv4 or IPv6) opened at `now`; a uint32. */
  isn(now: Instant, local: Endpoint<IpAddress>, remote: Endpoint<IpAddress>): number {
    // M: 250 ticks per millisecond is one per 4 µs.
    const m = Math.floor(now * 250) >>> 0;
    const ports = ((local.port << 16) | remote.port) >>> 0;
    const la = local.addr;
    const ra = remote.addr;
    const f =
      typeof la === 'number' && typeof ra === 'number'
        ? this.#f.hash(la, ra, ports, 0, 3)
        : this.#f.hashAddresses(asIpv6(la), asIpv6(ra), ports, 0, 1);
    return (m + f) >>> 0;
  }

  /** The timestamp offset for connections `local` ↔ `remote` (every incarnation); a uint32. */
  tsOffset(local: Endpoint<IpAddress>, remote: Endpoint<IpAddress>): number {
    const ports = ((local.port << 16) | remote.port) >>> 0;
    const la = local.addr;
    const ra = remote.addr;
    if (typeof la === 'number' && typeof ra === 'number') return this.#f.hash(la, ra, ports, TS_OFFSET_DOMAIN, 4);
    return this.#f.hashAddresses(asIpv6(la), asIpv6(ra), ports, TS_OFFSET_DOMAIN, 2);
  }
}

/**
 * An address as IPv6 octets for the IPv6 form of the hashes (an IPv4 one only when the two ends
 * of a 4-tuple differ in family, which a stack does not make).
 */
export function asIpv6(a: IpAddress): Uint8Array {
  return typeof a === 'number' ? ipv4ToMapped(a) : a;
}
