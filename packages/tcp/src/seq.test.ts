import { expect } from 'chai';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from './seq.js';

describe('sequence arithmetic', () => {
  it('compares across the 2^32 wrap', () => {
    const a = 0xffff_fff0;
    const b = seqAdd(a, 0x20); // 0x10 after the wrap
    expect(b).to.equal(0x10);
    expect(seqLt(a, b)).to.equal(true);
    expect(seqGt(b, a)).to.equal(true);
    expect(seqLe(a, a) && seqGe(a, a)).to.equal(true);
    expect(seqDiff(b, a)).to.equal(0x20);
    expect(seqDiff(a, b)).to.equal(-0x20);
    expect(seqMax(a, b)).to.equal(b);
    expect(seqMin(a, b)).to.equal(a);
    expect(seqAdd(5, -10)).to.equal(0xffff_fffb);
  });
});
