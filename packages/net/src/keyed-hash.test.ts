import { expect } from 'chai';
import { KeyedHash } from './keyed-hash.js';

describe('KeyedHash (HalfSipHash-2-4)', () => {
  const key = Uint8Array.from({ length: 8 }, (_, i) => i);

  it('matches the reference vector for the empty message', () => {
    // vectors_hsip32[0] of the reference implementation: a9 35 9f 5b (little-endian output).
    expect(new KeyedHash(key).hash(0, 0, 0, 0, 0)).to.equal(0x5b9f35a9);
  });

  it('depends on the key and on every word', () => {
    const a = new KeyedHash(key);
    const b = new KeyedHash(Uint8Array.from({ length: 8 }, (_, i) => i + 1));
    expect(a.hash(1, 2, 3, 4)).to.equal(a.hash(1, 2, 3, 4));
    expect(a.hash(1, 2, 3, 4)).not.to.equal(b.hash(1, 2, 3, 4));
    for (const h of [a.hash(9, 2, 3, 4), a.hash(1, 9, 3, 4), a.hash(1, 2, 9, 4), a.hash(1, 2, 3, 9)]) {
      expect(h).not.to.equal(a.hash(1, 2, 3, 4));
      expect(h).to.be.within(0, 0xffffffff);
    }
  });

  it('hashAddresses is HalfSipHash-2-4 of the 32 address octets then the words: reference vectors for 32, 36 and 40 octets', () => {
    // vectors_hsip32[32], [36], [40] of the reference implementation: message octets 0, 1, 2, …
    const msg = Uint8Array.from({ length: 40 }, (_, i) => i);
    const word = (i: number): number => (msg[i]! | (msg[i + 1]! << 8) | (msg[i + 2]! << 16) | (msg[i + 3]! << 24)) >>> 0;
    const h = new KeyedHash(key);
    const a = msg.subarray(0, 16);
    const b = msg.subarray(16, 32);
    expect(h.hashAddresses(a, b, 0, 0, 0)).to.equal(0x1221e7fe); // fe e7 21 12
    expect(h.hashAddresses(a, b, word(32), 0, 1)).to.equal(0xecc65ce7); // e7 5c c6 ec
    expect(h.hashAddresses(a, b, word(32), word(36), 2)).to.equal(0x4018bcb6); // b6 bc 18 40
    // The 16-octet words are read from the address octets, wherever the arrays sit in their buffers.
    const shifted = new Uint8Array(48);
    shifted.set(msg.subarray(0, 32), 5);
    expect(h.hashAddresses(shifted.subarray(5, 21), shifted.subarray(21, 37), 0, 0, 0)).to.equal(0x1221e7fe);
    expect(() => h.hashAddresses(msg.subarray(0, 4), b)).to.throw(RangeError);
  });

  it('hashAddresses depends on every one of the 256 address bits', () => {
    const h = new KeyedHash(key);
    const a = Uint8Array.from({ length: 16 }, (_, i) => 0x20 + i);
    const b = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
    const base = h.hashAddresses(a, b, 80, 0, 1);
    const seen = new Set<number>([base]);
    for (let bit = 0; bit < 256; bit++) {
      const x = a.slice();
      const y = b.slice();
      const t = bit < 128 ? x : y;
      t[(bit & 127) >>> 3] = t[(bit & 127) >>> 3]! ^ (1 << (bit & 7));
      seen.add(h.hashAddresses(x, y, 80, 0, 1));
    }
    expect(seen.size).to.equal(257);
  });
});
