/**
 * The stack's keys, all derived from one secret (`StackOptions.secret`, default 32 random
 * octets): octets 0–15 key the ephemeral port choice (RFC 6056 §3.3.4), 16–23 the initial
 * sequence numbers and timestamp offsets (RFC 6528, RFC 7323 §5.4), 24–31 the SYN cookies
 * (RFC 4987 §3.6; derived from the ISN key when the secret has only 24 octets). A fixed secret
 * makes a stack's choices reproducible, for tests.
 */
import { randomBytes } from 'node:crypto';
import { argumentError } from './errors.js';
import { EphemeralPorts } from './ephemeral-ports.js';
import { IsnGenerator } from './isn.js';
import { KeyedHash } from './keyed-hash.js';

/** The keyed parts of a stack. */
export interface StackSecrets {
  /** Ephemeral port selection for active opens and `listen(0)`. */
  readonly ports: EphemeralPorts;
  /** Initial sequence numbers and timestamp offsets per 4-tuple. */
  readonly isn: IsnGenerator;
  /** Keyed hash behind SYN cookies (the secret makes them unforgeable). */
  readonly cookieHash: KeyedHash;
  /**
   * Keyed hash behind IPv6 flow labels (RFC 6437 §3: a hash of the 4-tuple with a secret, so a
   * label is stable for a connection's life and unpredictable off-path).
   */
  readonly flowLabel: KeyedHash;
}

/**
 * Builds the keyed parts from `secret` (or 32 random octets).
 * @throws ERR_INVALID_ARG_VALUE when the secret is not a Uint8Array of at least 24 octets.
 */
export function deriveSecrets(secret: Uint8Array | undefined, ephemeralPortRange: readonly [number, number] | undefined): StackSecrets {
  const key = secret ?? randomBytes(32);
  if (!(key instanceof Uint8Array) || key.length < 24) {
    throw argumentError('ERR_INVALID_ARG_VALUE', 'The "options.secret" argument must hold 24 octets', 'range');
  }
  return {
    ports: new EphemeralPorts(key.subarray(0, 16), ephemeralPortRange),
    isn: new IsnGenerator(key.subarray(16, 24)),
    cookieHash: new KeyedHash(key.length >= 32 ? key.subarray(24, 32) : deriveKey(key.subarray(16, 24))),
    flowLabel: new KeyedHash(deriveKey(key.subarray(16, 24), FLOW_LABEL_DOMAIN)),
  };
}

/** The words that make the flow-label key differ from the cookie key derived from the same octets. */
const FLOW_LABEL_DOMAIN: readonly [number, number] = [0x666c6f77, 0x6c61626c];

/** Eight key octets derived from `key` by the keyed hash itself (keys of unrelated uses differ). */
function deriveKey(key: Uint8Array, domain: readonly [number, number] = [0x636f6f6b, 0x69653031]): Uint8Array {
  const h = new KeyedHash(key);
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, h.hash(domain[0], domain[1], 0, 0, 2), true);
  view.setUint32(4, h.hash(domain[0], (domain[1] + 1) >>> 0, 0, 0, 2), true);
  return out;
}
