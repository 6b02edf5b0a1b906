import { expect } from 'chai';
import { internetChecksum, onesComplementSum, pseudoHeaderSum, pseudoHeaderSum6, verifyChecksum } from './checksum.js';
import { ipv6FromString } from './address6.js';
import { KERNEL_ECHO_REQUEST, KERNEL_TCP_SYN, atOffset, hex } from './__tests__/captured.js';
import { withSeed } from '../../../testing/random.js';

/** Textbook RFC 1071 sum: 16-bit words, carries folded after every addition. */
function referenceSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return sum;
}

describe('checksum (RFC 1071)', () => {
  it('matches the worked example of RFC 1071 §3', () => {
    // 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2 (one's complement), checksum 0x220d.
    const bytes = hex('0001f203f4f5f6f7');
    expect(onesComplementSum(bytes)).to.equal(0xddf2);
    expect(internetChecksum(bytes)).to.equal(0x220d);
  });

  it('reproduces the header checksum the kernel wrote', () => {
    const header = KERNEL_ECHO_REQUEST.slice(0, 20);
    expect(verifyChecksum(header)).to.equal(true);
    const stored = (header[10]! << 8) | header[11]!;
    header[10] = 0;
    header[11] = 0;
    expect(internetChecksum(header)).to.equal(stored);
  });

  it('verifies a captured TCP segment with the pseudo-header', () => {
    const segment = KERNEL_TCP_SYN.subarray(20);
    const initial = pseudoHeaderSum(0x0a000001, 0x0a000002, 6, segment.length);
    expect(verifyChecksum(segment, initial)).to.equal(true);
    expect(verifyChecksum(segment, pseudoHeaderSum(0x0a000001, 0x0a000003, 6, segment.length))).to.equal(false);
  });

  it('pads an odd trailing octet with zero', () => {
    expect(onesComplementSum(hex('01'))).to.equal(0x0100);
    expect(onesComplementSum(hex('0102ab'))).to.equal(0x0102 + 0xab00);
    expect(onesComplementSum(new Uint8Array(0))).to.equal(0);
    expect(internetChecksum(new Uint8Array(0))).to.equal(0xffff);
  });

  it('accepts both encodings of a computed zero checksum (0x0000 and 0xffff)', () => {
    // Data whose sum is 0xffff has checksum 0; Linux stores such a zero as 0xffff.
    const data = hex('fffe0001');
    expect(internetChecksum(data)).to.equal(0);
    expect(verifyChecksum(hex('fffe0001 0000'))).to.equal(true);
    expect(verifyChecksum(hex('fffe0001 ffff'))).to.equal(true);
    expect(verifyChecksum(hex('fffe0001 0001'))).to.equal(false);
  });

  it('chains partial sums across even-length pieces and honours start/end', () => {
    const a = hex('4500003c1c4640004006');
    const b = hex('b1e6ac100a63ac100a0c01');
    const whole = new Uint8Array([...a, ...b]);
    expect(onesComplementSum(b, onesComplementSum(a))).to.equal(onesComplementSum(whole));
    expect(onesComplementSum(whole, 0, 3, 9)).to.equal(onesComplementSum(whole.subarray(3, 9)));
  });

  it('computes the pseudo-header sum as the 12-octet pseudo-header would', () => {
    const pseudo = hex('c0a80001 0a000002 00 06 05dc');
    expect(pseudoHeaderSum(0xc0a80001, 0x0a000002, 6, 1500)).to.equal(onesComplementSum(pseudo));
    const big = hex('ffffffff ffffffff 00 11 ffff');
    expect(pseudoHeaderSum(0xffffffff, 0xffffffff, 17, 0xffff)).to.equal(onesComplementSum(big));
    // Over 65,535 (a BIG TCP super-packet) the length counts whole: 0x1_0004 adds 0x0001 + 0x0004.
    expect(pseudoHeaderSum(0x0a000001, 0x0a000002, 6, 0x10004)).to.equal(pseudoHeaderSum(0x0a000001, 0x0a000002, 6, 5));
  });

  it('computes the IPv6 pseudo-header sum as the 40-octet pseudo-header would (RFC 8200 §8.1)', () => {
    const src = ipv6FromString('fd00::1');
    const dst = ipv6FromString('2001:db8:ffff::ffff:2');
    const pseudo = new Uint8Array(40);
    pseudo.set(src, 0);
    pseudo.set(dst, 16);
    for (const [length, next] of [[1500, 6], [0x12345, 58], [0, 17], [0xffffffff, 6]] as const) {
      new DataView(pseudo.buffer).setUint32(32, length);
      pseudo.set([0, 0, 0, next], 36);
      expect(pseudoHeaderSum6(src, dst, next, length), `length ${length}`).to.equal(onesComplementSum(pseudo));
    }
  });

  it('equals a textbook implementation on random data, lengths, offsets and initial sums', () => {
    withSeed((rng) => {
      for (let n = 0; n < 3000; n++) {
        const len = rng.int(n < 100 ? 8 : 1600);
        const bytes = atOffset(rng.bytes(len), rng.int(8));
        const initial = rng.chance(0.5) ? rng.int(0x10000) : 0;
        const expected = referenceSum(bytes, initial);
        const got = onesComplementSum(bytes, initial);
        // Both fold to the same representative: 0 only for all-zero input, else 1..0xffff.
        expect(got, `len ${len}`).to.equal(expected);
        // A filled-in checksum always verifies.
        if (len % 2 === 0) {
          const withSum = new Uint8Array(len + 2);
          withSum.set(bytes);
          const c = internetChecksum(withSum, initial);
          withSum[len] = c >>> 8;
          withSum[len + 1] = c & 0xff;
          expect(verifyChecksum(withSum, initial)).to.equal(true);
        }
      }
    });
  });

  it('handles a full 64 KiB buffer without losing carries', () => {
    const bytes = new Uint8Array(65535).fill(0xff);
    expect(onesComplementSum(bytes)).to.equal(referenceSum(bytes));
  });

  it('sums aligned ranges by 32-bit words exactly as the byte loop does (offsets, lengths, two buffers)', () => {
    withSeed((rng) => {
      // Two buffers used in turn, as a stack's receive pool and transmit scratch are.
      const pools = [new Uint8Array(4096), new Uint8Array(8192)];
      for (const p of pools) p.set(rng.bytes(p.length));
      for (let n = 0; n < 2000; n++) {
        const pool = pools[n & 1]!;
        const start = rng.int(64) * 4 + (rng.chance(0.2) ? rng.int(4) : 0);
        const len = rng.int(pool.length - start);
        const view = pool.subarray(start, start + len);
        const initial = rng.chance(0.5) ? rng.int(0x10000) : 0;
        expect(onesComplementSum(view, initial), `start ${start} len ${len}`).to.equal(referenceSum(view, initial));
        // start/end inside the view, aligned or not
        const a = rng.int(len + 1);
        const b = a + rng.int(len - a + 1);
        expect(onesComplementSum(view, 0, a, b), `start ${start} [${a}, ${b})`).to.equal(referenceSum(view.subarray(a, b)));
      }
    });
  });

  it('folds long word runs without losing carries (more than 2^20 words)', () => {
    const bytes = new Uint8Array(5 * 1024 * 1024 + 6).fill(0xff);
    bytes[12345] = 0x12;
    expect(onesComplementSum(bytes)).to.equal(referenceSum(bytes));
    expect(onesComplementSum(new Uint8Array(4096))).to.equal(0); // all zero stays 0
  });
});
