import { expect } from 'chai';
import { QUOTED_TCP_MIN_LENGTH, parseQuotedTcp } from './quoted.js';

/**
 * The first 8 octets of a SYN from 10.0.0.1:49152 to 10.0.0.2:80 with sequence number
 * 0x8a1b2c3d, followed by the rest of its header, as a router would quote it.
 */
const QUOTE = Uint8Array.from([
  0xc0, 0x00, 0x00, 0x50, 0x8a, 0x1b, 0x2c, 0x3d, // ports, seq: the 64 bits RFC 792 guarantees
  0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, // ack, offset, flags, window
]);

describe('parseQuotedTcp (the TCP header an ICMP error quotes)', () => {
  it('reads the ports and the sequence number of a full quote', () => {
    const r = parseQuotedTcp(QUOTE);
    expect(r).to.deep.equal({ ok: true, quoted: { srcPort: 49152, dstPort: 80, seq: 0x8a1b2c3d } });
  });

  it('needs only the 8 octets RFC 792 guarantees', () => {
    const r = parseQuotedTcp(QUOTE.subarray(0, 8));
    expect(r).to.deep.equal({ ok: true, quoted: { srcPort: 49152, dstPort: 80, seq: 0x8a1b2c3d } });
  });

  it('reads a quote that does not start at offset 0 of its buffer', () => {
    const framed = new Uint8Array(QUOTE.length + 5).fill(0xa5);
    framed.set(QUOTE, 5);
    const r = parseQuotedTcp(framed.subarray(5, 13));
    expect(r.ok && r.quoted.seq).to.equal(0x8a1b2c3d);
  });

  it('refuses every truncated quote (0 to 7 octets) without throwing', () => {
    for (let n = 0; n < QUOTED_TCP_MIN_LENGTH; n++) {
      expect(parseQuotedTcp(QUOTE.subarray(0, n)), `${n} octets`).to.deep.equal({ ok: false, reason: 'truncated' });
    }
  });

  it('reads a sequence number with the top bit set as an unsigned 32-bit number', () => {
    const q = Uint8Array.from([0, 1, 0, 2, 0xff, 0xff, 0xff, 0xfe]);
    expect(parseQuotedTcp(q)).to.deep.equal({ ok: true, quoted: { srcPort: 1, dstPort: 2, seq: 0xfffffffe } });
  });
});
