/**
 * Ephemeral port selection, RFC 6056 §3.3.4 "Algorithm 4: Double-Hash Port Selection": the
 * search for a free port starts at an offset that is a keyed hash of the connection's
 * addresses and remote port, plus a per-bucket counter, so ports are hard to guess off-path
 * yet successive connections to one peer walk the range instead of colliding.
 *
 * IPv6: the addresses enter F and G whole (`KeyedHash.hashAddresses`); IPv4 inputs hash as they
 * always did. Both families share the counter table and the range (a port is free or not
 * whatever the family, as the stack's `isFree` decides).
 */
import type { IpAddress } from '@tcp-tun/tcp';
import { asIpv6 } from './isn.js';
import { KeyedHash } from './keyed-hash.js';

/** Size of the table of per-bucket counters (RFC 6056 suggests a few hundred entries). */
const TABLE_LENGTH = 256;

/** The default ephemeral range, IANA's dynamic ports (RFC 6335 §6). */
export const DEFAULT_EPHEMERAL_RANGE: readonly [number, number] = [49152, 65535];

/** Chooses local ports for active opens. */
export class EphemeralPorts {
  readonly min: number;
  readonly max: number;
  readonly #f: KeyedHash;
  readonly #g: KeyedHash;
  readonly #table = new Uint16Array(TABLE_LENGTH);

  /** `secret` needs 16 octets (two independent 8-octet keys for F and G). */
  constructor(secret: Uint8Array, range: readonly [number, number] = DEFAULT_EPHEMERAL_RANGE) {
    const [min, max] = range;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new RangeError(`bad ephemeral port range ${min}-${max}`);
    }
    this.min = min;
    this.max = max;
    this.#f = new KeyedHash(secret.subarray(0, 8));
    this.#g = new KeyedHash(secret.subarray(8, 16));
  }

  /**
   * Returns a port for a connection from `localAddr` to `remoteAddr:remotePort` (IPv4 numbers or
   * IPv6 addresses; for a listener's port the remote is unspecified, 0 or `::`) for which
   * `isFree(port)` holds, or undefined when the whole range is in use (EADDRNOTAVAIL).
   */
  choose(localAddr: IpAddress, remoteAddr: IpAddress, remotePort: number, isFree: (port: number) => boolean): number | undefined {
    const count = this.max - this.min + 1;
    let offset: number;
    let index: number;
    if (typeof localAddr === 'number' && typeof remoteAddr === 'number') {
      offset = this.#f.hash(localAddr, remoteAddr, remotePort, 0, 3);
      index = this.#g.hash(localAddr, remoteAddr, remotePort, 0, 3) % TABLE_LENGTH;
    } else {
      const l = asIpv6(localAddr);
      const r = asIpv6(remoteAddr);
      offset = this.#f.hashAddresses(l, r, remotePort, 0, 1);
      index = this.#g.hashAddresses(l, r, remotePort, 0, 1) % TABLE_LENGTH;
    }
    for (let i = 0; i < count; i++) {
      const next = this.#table[index] as number;
      // §3.3.4: the counter advances on every probe, so the next search starts past this port.
      this.#table[index] = (next + 1) & 0xffff;
      const port = this.min + ((offset + next) % count);
      if (isFree(port)) return port;
    }
    return undefined;
  }
}
