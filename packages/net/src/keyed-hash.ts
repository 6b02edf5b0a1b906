/**
 * HalfSipHash-2-4 (the 32-bit SipHash variant of Aumasson and Bernstein) over 32-bit words: the
 * keyed hash F() behind ephemeral port selection (RFC 6056 §3.3.4), initial sequence numbers
 * (RFC 6528 §3), timestamp offsets and SYN cookies. It is fast (no allocation, a few dozen
 * integer operations per word) and, with a secret key, an off-path attacker cannot predict its
 * output, which is what those RFCs require.
 *
 * IPv6 4-tuples are hashed whole (`hashAddresses`): both 128-bit addresses go in octet for octet,
 * so no two distinct 4-tuples give the same message and which ones give the same output depends
 * on the key; an attacker cannot pick addresses that collide, as truncating or XOR-folding the
 * addresses to 32 bits would let him. Messages of IPv4 and IPv6 4-tuples have different lengths,
 * and the length is part of the last block, so the two families never share an input.
 */

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/** The little-endian 32-bit word at `i` of `a` (the octet order HalfSipHash reads its message in). */
function le32(a: Uint8Array, i: number): number {
  return a[i]! | (a[i + 1]! << 8) | (a[i + 2]! << 16) | (a[i + 3]! << 24);
}

/** A keyed 32-bit hash of a short list of 32-bit words. */
export class KeyedHash {
  readonly #k0: number;
  readonly #k1: number;
  // The SipHash state of the hash being computed (the object is used by one caller at a time).
  #v0 = 0;
  #v1 = 0;
  #v2 = 0;
  #v3 = 0;

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
    this.#init();
    if (count > 0) this.#absorb(w0 | 0);
    if (count > 1) this.#absorb(w1 | 0);
    if (count > 2) this.#absorb(w2 | 0);
    if (count > 3) this.#absorb(w3 | 0);
    return this.#finish(count * 4);
  }

  /**
   * HalfSipHash-2-4 of the 32 octets of two IPv6 addresses `a` and `b` (network order, as they
   * are) followed by `count` (0–2) words as little-endian octets; returns a uint32. Every octet of
   * both addresses enters the hash.
   * @throws RangeError unless both addresses hold 16 octets.
   */
  hashAddresses(a: Uint8Array, b: Uint8Array, w0 = 0, w1 = 0, count = 2): number {
    if (a.length !== 16 || b.length !== 16) throw new RangeError('hashAddresses needs two 16-octet IPv6 addresses');
    this.#init();
    for (let i = 0; i < 16; i += 4) this.#absorb(le32(a, i));
    for (let i = 0; i < 16; i += 4) this.#absorb(le32(b, i));
    if (count > 0) this.#absorb(w0 | 0);
    if (count > 1) this.#absorb(w1 | 0);
    return this.#finish(32 + Math.min(count, 2) * 4);
  }

  #init(): void {
    this.#v0 = this.#k0 | 0;
    this.#v1 = this.#k1 | 0;
    this.#v2 = 0x6c796765 ^ this.#k0;
    this.#v3 = 0x74656462 ^ this.#k1;
  }

  #round(): void {
    let v0 = this.#v0;
    let v1 = this.#v1;
    let v2 = this.#v2;
    let v3 = this.#v3;
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
    this.#v0 = v0;
    this.#v1 = v1;
    this.#v2 = v2;
    this.#v3 = v3;
  }

  #absorb(m: number): void {
    this.#v3 ^= m;
    this.#round();
    this.#round();
    this.#v0 ^= m;
  }

  /** The final block (the message length in octets in the top byte; no partial word) and the output. */
  #finish(octets: number): number {
    this.#absorb((octets & 0xff) << 24);
    this.#v2 ^= 0xff;
    this.#round();
    this.#round();
    this.#round();
    this.#round();
    return (this.#v1 ^ this.#v3) >>> 0;
  }
}
