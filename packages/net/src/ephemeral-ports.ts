/**
 * Ephemeral port selection, RFC 6056 §3.3.4 "Algorithm 4: Double-Hash Port Selection": the
 * search for a free port starts at an offset that is a keyed hash of the connection's
 * addresses and remote port, plus a per-bucket counter, so ports are hard to guess off-path
 * yet successive connections to one peer walk the range instead of colliding.
 */
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
   * Returns a port for a connection from `localAddr` to `remoteAddr:remotePort` for which
   * `isFree(port)` holds, or undefined when the whole range is in use (EADDRNOTAVAIL).
   */
  choose(localAddr: number, remoteAddr: number, remotePort: number, isFree: (port: number) => boolean): number | undefined {
    const count = this.max - this.min + 1;
    const offset = this.#f.hash(localAddr, remoteAddr, remotePort, 0, 3);
    const index = this.#g.hash(localAddr, remoteAddr, remotePort, 0, 3) % TABLE_LENGTH;
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
