/**
 * HalfSipHash-2-4 (the 32-bit SipHash variant of Aumasson and Bernstein) over 32-bit words: the
 * keyed hash F() behind ephemeral port selection (RFC 6056 §3.3.4) and initial sequence numbers
 * (RFC 6528 §3). It is fast (no allocation, a few dozen integer operations) and, with a secret
 * key, an off-path attacker cannot predict its output, which is what both RFCs require.
 */

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/** A keyed 32-bit hash of a short list of 32-bit words. */
export class KeyedHash {
  readonly #k0: number;
  readonly #k1: number;

  /** `key` must hold at least 8 octets (the 64-bit HalfSipHash key, little-endian). */
  constructor(key: Uint8Array) {
    if (key.length < 8) throw new RangeError('KeyedHash needs an 8-octet key');
    const view = new DataView(key.buffer, key.byteOffset, 8);
    this.#k0 = view.getUint32(0, true);
    this.#k1 = view.getUint32(4, true);
  }

  /**
   * Hashes the words as the little-endian byte string they form (so the result equals
   * HalfSipHash-2-4 of those 4·n octets); returns a uint32.
   */
  hash(w0: number, w1 = 0, w2 = 0, w3 = 0, count = 4): number {
    let v0 = this.#k0 | 0;
    let v1 = this.#k1 | 0;
    let v2 = 0x6c796765 ^ this.#k0;
    let v3 = 0x74656462 ^ this.#k1;
    const round = (): void => {
      v0 = (v0 + v1) | 0;
      v1 = rotl(v1, 5) ^ v0;
      v0 = rotl(v0, 16);
      v2 = (v2 + v3) | 0;
      v3 = rotl(v3, 8) ^ v2;
      v0 = (v0 + v3) | 0;
      v3 = rotl(v3, 7) ^ v0;
      v2 = (v2 + v1) | 0;
      v1 = rotl(v1, 13) ^ v2;
      v2 = rotl(v2, 16);
    };
    const absorb = (m: number): void => {
      v3 ^= m;
      round();
      round();
      v0 ^= m;
    };
    if (count > 0) absorb(w0 | 0);
    if (count > 1) absorb(w1 | 0);
    if (count > 2) absorb(w2 | 0);
    if (count > 3) absorb(w3 | 0);
    // Final block: the message length in octets in the top byte (no trailing partial word).
    absorb(((count * 4) & 0xff) << 24);
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return (v1 ^ v3) >>> 0;
  }
}
