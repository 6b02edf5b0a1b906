import { expect } from 'chai';
import { debugPacketLine } from './debug-line.js';

function tcp(flagsByte: number, options: number[] = [], payload = 0): Uint8Array {
  const opts = [...options];
  while (opts.length % 4 !== 0) opts.push(0);
  const total = 40 + opts.length + payload;
  const p = new Uint8Array(total);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, total);
  p[9] = 6;
  p.set([10, 0, 0, 1], 12);
  p.set([10, 0, 0, 2], 16);
  v.setUint16(20, 80);
  v.setUint16(22, 49152);
  v.setUint32(24, 4_000_000_000);
  v.setUint32(28, 17);
  p[32] = ((20 + opts.length) / 4) << 4;
  p[33] = flagsByte;
  v.setUint16(34, 64240);
  p.set(opts, 40);
  return p;
}

/** The IPv4 packet `p` as IPv6 (fd00::1 → fd00::2), the same TCP segment behind the fixed header. */
function as6(p: Uint8Array, nextHeader = 6): Uint8Array {
  const seg = p.subarray(20);
  const out = new Uint8Array(40 + seg.length);
  out[0] = 0x60;
  out[4] = seg.length >>> 8;
  out[5] = seg.length & 0xff;
  out[6] = nextHeader;
  out[7] = 64;
  out.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 8);
  out.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
  out.set(seg, 40);
  return out;
}

describe('debugPacketLine', () => {
  it('writes IPv6 endpoints as tcpdump does (RFC 5952 address, a dot, the port)', () => {
    expect(debugPacketLine(1, 'out', as6(tcp(0x02, [2, 4, 5, 0x8c])))).to.equal(
      '1.000 out fd00::1.80 > fd00::2.49152 Flags [S], seq 4000000000, win 64240, options [mss 1420], length 0',
    );
    expect(debugPacketLine(1, 'in', as6(tcp(0x10), 58))).to.equal('1.000 in  fd00::1 > fd00::2 ICMP6 type 0, length 60');
  });

  it('writes tcpdump-shaped lines with the time and the direction', () => {
    expect(debugPacketLine(1234.5678, 'in', tcp(0x12, [2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7]))).to.equal(
      '1234.568 in  10.0.0.1:80 > 10.0.0.2:49152 Flags [S.], seq 4000000000, ack 17, win 64240, options [mss 1460,sackOK,nop,wscale 7,eol], length 0',
    );
    const sack = [1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9];
    expect(debugPacketLine(0, 'out', tcp(0x18, sack, 5))).to.equal(
      '0.000 out 10.0.0.1:80 > 10.0.0.2:49152 Flags [P.], seq 4000000000, ack 17, win 64240, options [nop,nop,sack 1 {1:9}], length 5',
    );
  });

  it('never throws on what it cannot read', () => {
    expect(debugPacketLine(1, 'in', new Uint8Array(3))).to.equal('1.000 in  non-IPv4 packet, length 3');
    const icmp = tcp(0);
    icmp[9] = 1;
    expect(debugPacketLine(1, 'in', icmp)).to.equal('1.000 in  10.0.0.1 > 10.0.0.2 ICMP, length 40');
    const bad = tcp(0);
    bad[32] = 0xf0;
    expect(debugPacketLine(1, 'out', bad)).to.match(/TCP bad header length 60/);
    for (let i = 0; i < 2000; i++) {
      const junk = tcp(0, [], 8);
      junk[20 + (i % 28)] = (i * 37) & 0xff;
      junk[32] = ((i % 16) << 4) & 0xff;
      expect(() => debugPacketLine(i, 'in', junk)).to.not.throw();
    }
  });
});
