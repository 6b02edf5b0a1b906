/**
 * Initial sequence numbers, RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), where M is a timer that ticks every 4 microseconds (so sequence spaces of
 * successive incarnations of one 4-tuple still advance, RFC 9293 §3.4.1) and F is a keyed hash
 * whose secret an off-path attacker does not know.
 */
import type { Endpoint, Instant } from '@tcp-tun/tcp';
import { KeyedHash } from './keyed-hash.js';

/** Makes ISNs for one stack. */
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
}
