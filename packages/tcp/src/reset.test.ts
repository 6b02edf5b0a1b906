import { expect } from 'chai';
import { resetFor } from './reset.js';
import type { TcpRepr } from './types.js';

const base: TcpRepr = { srcPort: 1234, dstPort: 80, control: 'none', seq: 100, ack: undefined, window: 500 };

describe('resetFor (RFC 9293 §3.10.7.1)', () => {
  it('a segment with ACK gets <SEQ=SEG.ACK><CTL=RST>, ports swapped', () => {
    expect(resetFor({ ...base, ack: 777 }, 10)).to.deep.equal({ srcPort: 80, dstPort: 1234, control: 'rst', seq: 777, ack: undefined, window: 0 });
  });

  it('a SYN without ACK gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, the SYN counting one', () => {
    expect(resetFor({ ...base, control: 'syn' }, 0)).to.deep.equal({ srcPort: 80, dstPort: 1234, control: 'rst', seq: 0, ack: 101, window: 0 });
  });

  it('data and FIN count in SEG.LEN; the sum wraps', () => {
    expect(resetFor({ ...base, control: 'fin' }, 10)?.ack).to.equal(111);
    expect(resetFor({ ...base, seq: 0xffff_fffe }, 5)?.ack).to.equal(3);
  });

  it('a RST is never answered', () => {
    expect(resetFor({ ...base, control: 'rst' }, 0)).to.equal(undefined);
    expect(resetFor({ ...base, control: 'rst', ack: 5 }, 0)).to.equal(undefined);
  });
});
