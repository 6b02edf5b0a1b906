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
 */
import type { Endpoint, Instant } from '@tcp-tun/tcp';
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

  /** The ISN for a connection `local` ↔ `remote` opened at `now`; a uint32. */
  isn(now: Instant, local: Endpoint, remote: Endpoint): number {
    // M: 250 ticks per millisecond is one per 4 µs.
    const m = Math.floor(now * 250) >>> 0;
    const f = this.#f.hash(local.addr, remote.addr, ((local.port << 16) | remote.port) >>> 0, 0, 3);
    return (m + f) >>> 0;
  }

  /** The timestamp offset for connections `local` ↔ `remote` (every incarnation); a uint32. */
  tsOffset(local: Endpoint, remote: Endpoint): number {
    return this.#f.hash(local.addr, remote.addr, ((local.port << 16) | remote.port) >>> 0, TS_OFFSET_DOMAIN, 4);
  }
}
