import { expect } from 'chai';
import { internetChecksum, ipv4ToMapped, ipv6FromString, onesComplementSum, pseudoHeaderSum, pseudoHeaderSum6 } from '@tcp-tun/ip';
import {
  TCP_HEADER_LENGTH, TcpFlags, TcpParseTarget, TcpSegment, emitTcp, parseTcp, parseTcpInto, tcpHeaderLength, tcpPseudoHeaderSum, type TcpDropReason,
} from './segment.js';
import type { SackBlock, TcpControl, TcpRepr } from './types.js';
import {
  KERNEL_TCP6_SYN, KERNEL_TCP6_SYN_ACK, KERNEL_TCP_RST_ACK, KERNEL_TCP_SYN, KERNEL_TCP_SYN_ACK, atOffset, hex,
} from './__tests__/segment-fixtures.js';
import { withSeed, type Prng } from '../../../testing/random.js';

const KERNEL = 0x0a000001; // 10.0.0.1
const PEER = 0x0a000002; // 10.0.0.2
const SYN = KERNEL_TCP_SYN.subarray(20);
const SYN_ACK = KERNEL_TCP_SYN_ACK.subarray(20);
const RST_ACK = KERNEL_TCP_RST_ACK.subarray(20);

/** Every field present, as parseTcp produces it. */
function full(repr: Partial<TcpRepr> & Pick<TcpRepr, 'srcPort' | 'dstPort' | 'control' | 'seq' | 'ack' | 'window'>): TcpRepr {
  return {
    urgent: undefined, ece: false, cwr: false, mss: undefined, windowScale: undefined,
    sackPermitted: undefined, sackBlocks: undefined, timestamp: undefined, ...repr,
  };
}

const SYN_REPR = full({
  srcPort: 49510, dstPort: 80, control: 'syn', seq: 0x9319e13d, ack: undefined, window: 64240,
  mss: 1460, sackPermitted: true, timestamp: { tsVal: 0x4fe758ed, tsEcr: 0 }, windowScale: 10,
});
const SYN_ACK_REPR = full({
  srcPort: 8080, dstPort: 40000, control: 'syn', seq: 0x754e9d4c, ack: 1001, window: 65160,
  mss: 1460, sackPermitted: true, timestamp: { tsVal: 0x107962e3, tsEcr: 12345 }, windowScale: 10,
});
const RST_ACK_REPR = full({ srcPort: 81, dstPort: 40001, control: 'rst', seq: 0, ack: 5001, window: 0 });

const KERNEL6 = ipv6FromString('fd00::1');
const PEER6 = ipv6FromString('fd00::2');
const SYN6 = KERNEL_TCP6_SYN.subarray(40);
const SYN_ACK6 = KERNEL_TCP6_SYN_ACK.subarray(40);
const SYN6_REPR = full({
  srcPort: 49908, dstPort: 80, control: 'syn', seq: 0xeba5048f, ack: undefined, window: 64800,
  mss: 1440, sackPermitted: true, timestamp: { tsVal: 0x94840d13, tsEcr: 0 }, windowScale: 10,
});
const SYN_ACK6_REPR = full({
  srcPort: 8080, dstPort: 40000, control: 'syn', seq: 0x7ffca976, ack: 1001, window: 64260,
  mss: 1440, sackPermitted: true, timestamp: { tsVal: 0xa648d190, tsEcr: 12345 }, windowScale: 10,
});

/** Recomputes the checksum of a segment in place (to reach checks after the checksum). */
function fixChecksum(seg: Uint8Array, src = KERNEL, dst = PEER): Uint8Array {
  seg[16] = 0;
  seg[17] = 0;
  const c = internetChecksum(seg, pseudoHeaderSum(src, dst, 6, seg.length));
  seg[16] = c >>> 8;
  seg[17] = c & 0xff;
  return seg;
}

/** A bare 20-octet header + `options` (padded by the caller), flags and a valid checksum. */
function segment(flags: number, options = '', payload = ''): Uint8Array {
  const opt = hex(options);
  const hl = 20 + opt.length;
  const b = hex(`1f90 0050 00000064 000000c8 ${(hl / 4).toString(16)}0 ${flags.toString(16).padStart(2, '0')} ffff 0000 0000`);
  const out = new Uint8Array(hl + hex(payload).length);
  out.set(b);
  out.set(opt, 20);
  out.set(hex(payload), hl);
  return fixChecksum(out);
}

function emitted(repr: TcpRepr, payload: Uint8Array = new Uint8Array(0), fill = 0xa5): Uint8Array {
  const out = new Uint8Array(tcpHeaderLength(repr) + payload.length + 8).fill(fill);
  const n = emitTcp(repr, payload, KERNEL, PEER, out);
  expect(n).to.equal(tcpHeaderLength(repr) + payload.length);
  expect(out.subarray(n).every((b) => b === fill), 'wrote past the segment').to.equal(true);
  return out.subarray(0, n);
}

describe('TCP segment codec', () => {
  describe('the captured kernel SYN (MSS, SACK-Permitted, timestamps, window scale)', () => {
    for (const offset of [0, 3]) {
      it(`reads every field through the view (byteOffset ${offset})`, () => {
        const bytes = atOffset(SYN, offset);
        expect(TcpSegment.check(bytes)).to.equal(undefined);
        const s = new TcpSegment(bytes);
        expect(s.srcPort).to.equal(49510);
        expect(s.dstPort).to.equal(80);
        expect(s.seq).to.equal(0x9319e13d);
        expect(s.ackNumber).to.equal(0);
        expect(s.headerLength).to.equal(40);
        expect(s.flags).to.equal(TcpFlags.SYN);
        expect([s.fin, s.syn, s.rst, s.psh, s.ack, s.urg, s.ece, s.cwr]).to.deep.equal([false, true, false, false, false, false, false, false]);
        expect(s.window).to.equal(64240);
        expect(s.checksum).to.equal(0x5a27);
        expect(s.urgentPointer).to.equal(0);
        expect(Array.from(s.options)).to.deep.equal(Array.from(hex('020405b4 0402 080a 4fe758ed 00000000 01 03030a')));
        expect(s.payload.length).to.equal(0);
        expect(s.verifyChecksum(KERNEL, PEER)).to.equal(true);
        expect(s.verifyChecksum(KERNEL, PEER + 1)).to.equal(false);
      });

      it(`parses into the expected Repr (byteOffset ${offset})`, () => {
        const r = parseTcp(atOffset(SYN, offset), KERNEL, PEER);
        expect(r).to.deep.equal({ ok: true, repr: SYN_REPR, payload: new Uint8Array(0) });
      });
    }

    it('emits byte-identical octets (checksum included) from the Repr into a 0xa5-filled buffer', () => {
      expect(Array.from(emitted(SYN_REPR))).to.deep.equal(Array.from(SYN));
    });

    it('builds the same octets through the view setters', () => {
      const s = new TcpSegment(new Uint8Array(40).fill(0xa5));
      s.srcPort = 49510;
      s.dstPort = 80;
      s.seq = 0x9319e13d;
      s.ackNumber = 0;
      s.headerLength = 40;
      s.flags = TcpFlags.SYN;
      s.window = 64240;
      s.urgentPointer = 0;
      s.bytes.set(hex('020405b4 0402 080a 4fe758ed 00000000 01 03030a'), 20);
      s.fillChecksum(KERNEL, PEER);
      expect(Array.from(s.bytes)).to.deep.equal(Array.from(SYN));
    });
  });

  it('parses and re-emits the captured kernel SYN-ACK byte for byte', () => {
    const r = parseTcp(SYN_ACK, KERNEL, PEER);
    expect(r.ok && r.repr).to.deep.equal(SYN_ACK_REPR);
    expect(Array.from(emitted(SYN_ACK_REPR))).to.deep.equal(Array.from(SYN_ACK));
  });

  it('parses and re-emits the captured kernel RST+ACK byte for byte', () => {
    const r = parseTcp(RST_ACK, KERNEL, PEER);
    expect(r.ok && r.repr).to.deep.equal(RST_ACK_REPR);
    expect(Array.from(emitted(RST_ACK_REPR))).to.deep.equal(Array.from(RST_ACK));
  });

  describe('over IPv6 (RFC 8200 §8.1 pseudo-header)', () => {
    it('reads the captured kernel IPv6 SYN through the view and verifies its checksum over the IPv6 pseudo-header only', () => {
      for (const offset of [0, 3]) {
        const s = new TcpSegment(atOffset(SYN6, offset));
        expect(TcpSegment.check(s.bytes)).to.equal(undefined);
        expect([s.srcPort, s.dstPort, s.seq, s.ackNumber, s.headerLength, s.flags, s.window, s.checksum, s.urgentPointer]).to.deep.equal([
          49908, 80, 0xeba5048f, 0, 40, TcpFlags.SYN, 64800, 0xfbda, 0,
        ]);
        expect(Array.from(s.options)).to.deep.equal(Array.from(hex('020405a0 0402 080a 94840d13 00000000 01 03030a')));
        expect(s.verifyChecksum(KERNEL6, PEER6)).to.equal(true);
        // Any other address, or the addresses swapped in role, changes the sum.
        expect(s.verifyChecksum(PEER6, ipv6FromString('fd00::3'))).to.equal(false);
        expect(s.verifyChecksum(ipv6FromString('fd00:0:0:1::1'), PEER6)).to.equal(false);
      }
    });

    it('parses the captured kernel IPv6 SYN and SYN-ACK and re-emits them byte for byte into a 0xa5-filled buffer', () => {
      for (const [bytes, repr] of [[SYN6, SYN6_REPR], [SYN_ACK6, SYN_ACK6_REPR]] as const) {
        for (const offset of [0, 5]) {
          const r = parseTcp(atOffset(bytes, offset), KERNEL6, PEER6);
          expect(r).to.deep.equal({ ok: true, repr, payload: new Uint8Array(0) });
          const target = new TcpParseTarget();
          const wide = atOffset(bytes, offset);
          expect(parseTcpInto(wide, KERNEL6, PEER6, target)).to.equal(undefined);
          expect(target.repr).to.deep.equal(repr);
        }
        const out = new Uint8Array(bytes.length + 8).fill(0xa5);
        expect(emitTcp(repr, new Uint8Array(0), KERNEL6, PEER6, out)).to.equal(bytes.length);
        expect(Array.from(out.subarray(0, bytes.length))).to.deep.equal(Array.from(bytes));
        expect(out.subarray(bytes.length).every((b) => b === 0xa5)).to.equal(true);
        // The view computes the same checksum.
        const copy = bytes.slice();
        copy[16] = 0x12;
        new TcpSegment(copy).fillChecksum(KERNEL6, PEER6);
        expect(Array.from(copy)).to.deep.equal(Array.from(bytes));
      }
    });

    it('an IPv6 segment fails the IPv4 checksum and the reverse (the pseudo-headers differ)', () => {
      expect(parseTcp(SYN6, 0x0a000001, 0x0a000002)).to.deep.equal({ ok: false, reason: 'bad-checksum' });
      expect(parseTcp(SYN, KERNEL6, PEER6)).to.deep.equal({ ok: false, reason: 'bad-checksum' });
      // An IPv4-mapped address is an IPv6 address to the codec and gets the IPv6 pseudo-header,
      // whose sum equals the IPv4 one: the ::ffff prefix adds 0xffff twice, zero in one's
      // complement (the prefix is checksum neutral). So the family of a
      // segment cannot be told from its checksum; the tables keep the families apart instead.
      expect(tcpPseudoHeaderSum(ipv4ToMapped(KERNEL), ipv4ToMapped(PEER), 40)).to.equal(tcpPseudoHeaderSum(KERNEL, PEER, 40));
      expect(parseTcp(SYN, ipv4ToMapped(KERNEL), ipv4ToMapped(PEER)).ok).to.equal(true);
    });

    it('tcpPseudoHeaderSum: the IPv4 or IPv6 sum by the addresses (what CHECKSUM_PARTIAL leaves in the field); mixed versions throw', () => {
      expect(tcpPseudoHeaderSum(KERNEL, PEER, 40)).to.equal(pseudoHeaderSum(KERNEL, PEER, 6, 40));
      expect(tcpPseudoHeaderSum(KERNEL6, PEER6, 40)).to.equal(pseudoHeaderSum6(KERNEL6, PEER6, 6, 40));
      // The IPv6 length is 32 bits: a segment longer than 65535 octets (a GSO super-packet) still sums right.
      expect(tcpPseudoHeaderSum(KERNEL6, PEER6, 70000)).to.equal(pseudoHeaderSum6(KERNEL6, PEER6, 6, 70000));
      expect(onesComplementSum(SYN6, tcpPseudoHeaderSum(KERNEL6, PEER6, SYN6.length))).to.equal(0xffff);
      expect(() => tcpPseudoHeaderSum(KERNEL, PEER6, 40)).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      expect(() => tcpPseudoHeaderSum(KERNEL6, PEER, 40)).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      expect(() => emitTcp(SYN6_REPR, new Uint8Array(0), KERNEL, PEER6, new Uint8Array(60))).to.throw(TypeError);
    });

    it('never throws on random bytes, random headers or mutated IPv6 captures with valid IPv6 checksums; what parses re-emits', () => {
      const fix6 = (seg: Uint8Array): void => {
        seg[16] = 0;
        seg[17] = 0;
        const c = internetChecksum(seg, pseudoHeaderSum6(KERNEL6, PEER6, 6, seg.length));
        seg[16] = c >>> 8;
        seg[17] = c & 0xff;
      };
      withSeed((rng) => {
        const seen = new Set<string>();
        for (let n = 0; n < 20000; n++) {
          let bytes: Uint8Array;
          if (n % 3 === 0) {
            bytes = rng.bytes(rng.int(80));
          } else if (n % 3 === 1) {
            bytes = rng.bytes(20 + rng.int(60));
            bytes[12] = (5 + rng.int(Math.min(11, (bytes.length - 20) / 4 + 1))) << 4;
            fix6(bytes);
          } else {
            bytes = rng.pick([SYN6, SYN_ACK6]).slice();
            for (let k = rng.int(4); k >= 0; k--) bytes[rng.int(bytes.length)] = rng.u32() & 0xff;
            if (rng.chance(0.8)) fix6(bytes);
          }
          const r = parseTcp(atOffset(bytes, rng.int(4)), KERNEL6, PEER6);
          seen.add(r.ok ? 'ok' : r.reason);
          if (r.ok) {
            const out = new Uint8Array(tcpHeaderLength(r.repr) + r.payload.length);
            emitTcp(r.repr, r.payload, KERNEL6, PEER6, out);
            expect(parseTcp(out, KERNEL6, PEER6).ok).to.equal(true);
          }
        }
        expect([...seen]).to.include.members(['ok', 'truncated', 'bad-data-offset', 'bad-checksum', 'bad-option']);
      });
    });

    it('round-trips random Reprs and payloads between random IPv6 addresses; one flipped bit always fails the checksum', () => {
      withSeed((rng) => {
        for (let n = 0; n < 2000; n++) {
          const repr = full({
            srcPort: 1 + rng.int(65535), dstPort: 1 + rng.int(65535), control: rng.pick<TcpControl>(['none', 'psh', 'fin', 'rst']),
            seq: rng.u32(), ack: rng.chance(0.8) ? rng.u32() : undefined, window: rng.int(65536),
            timestamp: rng.chance(0.6) ? { tsVal: rng.u32(), tsEcr: rng.u32() } : undefined,
          });
          const payload = rng.bytes(rng.int(1440));
          const src = rng.bytes(16);
          const dst = rng.bytes(16);
          const out = atOffset(new Uint8Array(tcpHeaderLength(repr) + payload.length), rng.int(4));
          emitTcp(repr, payload, src, dst, out);
          const r = parseTcp(out, src, dst);
          if (!r.ok) throw new Error(`${r.reason} for ${JSON.stringify(repr)}`);
          expect(r.repr).to.deep.equal(repr);
          expect(Array.from(r.payload)).to.deep.equal(Array.from(payload));
          const bit = rng.int(out.length * 8);
          out[bit >>> 3] = out[bit >>> 3]! ^ (1 << (bit & 7));
          expect(parseTcp(out, src, dst).ok, `bit ${bit} flipped`).to.equal(false);
          // An address differing in any one bit fails too (all 128 bits are summed).
          out[bit >>> 3] = out[bit >>> 3]! ^ (1 << (bit & 7));
          const other = src.slice();
          const abit = rng.int(128);
          other[abit >>> 3] = other[abit >>> 3]! ^ (1 << (abit & 7));
          expect(parseTcp(out, other, dst).ok, `address bit ${abit} flipped`).to.equal(false);
        }
      });
    });
  });

  it('returns the payload as a zero-copy subarray', () => {
    const seg = atOffset(segment(TcpFlags.ACK | TcpFlags.PSH, '', '68656c6c6f'), 1);
    const r = parseTcp(seg, KERNEL, PEER);
    if (!r.ok) throw new Error(r.reason);
    expect(r.repr.control).to.equal('psh');
    expect(new TextDecoder().decode(r.payload)).to.equal('hello');
    expect(r.payload.buffer).to.equal(seg.buffer);
    expect(r.payload.byteOffset).to.equal(seg.byteOffset + 20);
  });

  it('returns a plain Uint8Array payload view for a subclass input too (as a Node Buffer is)', () => {
    class Subclass extends Uint8Array {}
    const seg = segment(TcpFlags.ACK | TcpFlags.PSH, '', '68656c6c6f');
    const buf = new Subclass(seg.length);
    buf.set(seg);
    const r = parseTcp(buf, KERNEL, PEER);
    if (!r.ok) throw new Error(r.reason);
    expect(Object.getPrototypeOf(r.payload)).to.equal(Uint8Array.prototype);
    expect(r.payload.buffer).to.equal(buf.buffer);
    expect(r.payload.byteOffset).to.equal(buf.byteOffset + 20);
    expect(new TextDecoder().decode(r.payload)).to.equal('hello');
  });

  it('takes NOP, NOP, Timestamps (the usual layout, parsed without the option loop) as the general parser would', () => {
    const ts = '080a 01020304 a0b0c0d0';
    const usual = parseTcp(segment(TcpFlags.ACK, `0101 ${ts}`, 'aa'), KERNEL, PEER);
    const reordered = parseTcp(segment(TcpFlags.ACK, `${ts} 0101`, 'aa'), KERNEL, PEER);
    if (!usual.ok || !reordered.ok) throw new Error('not parsed');
    expect(usual.repr.timestamp).to.deep.equal({ tsVal: 0x01020304, tsEcr: 0xa0b0c0d0 });
    expect(usual.repr).to.deep.equal(reordered.repr);
    expect(Array.from(usual.payload)).to.deep.equal([0xaa]);
    // A timestamp option with a wrong length in the same place is still refused.
    const bad = parseTcp(segment(TcpFlags.ACK, '0101 0809 01020304 a0b0c0d0'), KERNEL, PEER);
    expect(bad.ok || bad.reason).to.equal('bad-option');
  });

  describe('checksum', () => {
    it('accepts both encodings of a computed zero checksum (Linux writes 0xffff)', () => {
      const seg = segment(TcpFlags.ACK, '', 'abcd');
      seg[16] = 0;
      seg[17] = 0;
      // Put the would-be checksum into the (ignored, URG is off) urgent pointer: the sum of
      // everything becomes 0xffff, so the correct checksum is zero.
      const c = internetChecksum(seg, pseudoHeaderSum(KERNEL, PEER, 6, seg.length));
      seg[18] = c >>> 8;
      seg[19] = c & 0xff;
      expect(internetChecksum(seg, pseudoHeaderSum(KERNEL, PEER, 6, seg.length))).to.equal(0);
      expect(parseTcp(seg, KERNEL, PEER).ok).to.equal(true);
      seg[16] = 0xff;
      seg[17] = 0xff;
      expect(parseTcp(seg, KERNEL, PEER).ok).to.equal(true);
      expect(new TcpSegment(seg).verifyChecksum(KERNEL, PEER)).to.equal(true);
    });

    it('emits a verifiable checksum even when it computes to zero', () => {
      const base = full({ srcPort: 1, dstPort: 2, control: 'none', seq: 0, ack: 0, window: 0 });
      const first = emitted(base, hex('0000'));
      const c = (first[16]! << 8) | first[17]!;
      const payload = hex(c.toString(16).padStart(4, '0')); // adds ~sum: the new checksum is 0
      const seg = emitted(base, payload);
      expect((seg[16]! << 8) | seg[17]!).to.be.oneOf([0, 0xffff]);
      expect(onesComplementSum(seg, pseudoHeaderSum(KERNEL, PEER, 6, seg.length))).to.equal(0xffff);
      expect(parseTcp(seg, KERNEL, PEER).ok).to.equal(true);
    });
  });

  describe('flags ↔ control', () => {
    const cases: Array<[number, TcpControl, boolean]> = [
      [TcpFlags.SYN, 'syn', false],
      [TcpFlags.SYN | TcpFlags.ACK, 'syn', true],
      [TcpFlags.SYN | TcpFlags.PSH, 'syn', false],
      [TcpFlags.FIN | TcpFlags.ACK, 'fin', true],
      [TcpFlags.FIN | TcpFlags.PSH | TcpFlags.ACK, 'fin', true],
      [TcpFlags.RST, 'rst', false],
      [TcpFlags.RST | TcpFlags.ACK, 'rst', true],
      [TcpFlags.RST | TcpFlags.PSH | TcpFlags.ACK, 'rst', true], // RFC 9293 §3.5.3: RST may carry data
      [TcpFlags.PSH | TcpFlags.ACK, 'psh', true],
      [TcpFlags.ACK, 'none', true],
      [0, 'none', false],
    ];
    for (const [flags, control, hasAck] of cases) {
      it(`0x${flags.toString(16).padStart(2, '0')} → ${control}${hasAck ? ' + ack' : ''}`, () => {
        const r = parseTcp(segment(flags), KERNEL, PEER);
        if (!r.ok) throw new Error(r.reason);
        expect(r.repr.control).to.equal(control);
        expect(r.repr.ack).to.equal(hasAck ? 200 : undefined);
      });
    }

    it('reads URG, ECE and CWR', () => {
      const seg = segment(TcpFlags.URG | TcpFlags.ECE | TcpFlags.CWR | TcpFlags.ACK);
      seg[18] = 0x12;
      seg[19] = 0x34;
      const r = parseTcp(fixChecksum(seg), KERNEL, PEER);
      expect(r.ok && r.repr).to.include({ urgent: 0x1234, ece: true, cwr: true, ack: 200, control: 'none' });
    });

    it('emits PSH with a FIN that carries data, not with a bare FIN', () => {
      const fin = full({ srcPort: 1, dstPort: 2, control: 'fin', seq: 5, ack: 9, window: 100 });
      expect(emitted(fin)[13]).to.equal(TcpFlags.FIN | TcpFlags.ACK);
      expect(emitted(fin, hex('01'))[13]).to.equal(TcpFlags.FIN | TcpFlags.ACK | TcpFlags.PSH);
      expect(emitted({ ...fin, control: 'psh', ack: undefined, urgent: 3, ece: true, cwr: true })[13]).to.equal(
        TcpFlags.PSH | TcpFlags.URG | TcpFlags.ECE | TcpFlags.CWR,
      );
    });
  });

  describe('options', () => {
    it('skips unknown options, stops at EOL and ignores what follows it', () => {
      // MPTCP-ish kind 30 (length 4), then TS, then EOL followed by garbage.
      const r = parseTcp(segment(TcpFlags.ACK, '1e04abcd 0101080a 00000001 00000002 00ff0203'), KERNEL, PEER);
      expect(r.ok && r.repr.timestamp).to.deep.equal({ tsVal: 1, tsEcr: 2 });
    });

    it('clamps a window scale above 14 to 14 (RFC 7323 §2.3)', () => {
      const r = parseTcp(segment(TcpFlags.SYN, '01030310'), KERNEL, PEER);
      expect(r.ok && r.repr.windowScale).to.equal(14);
    });

    it('ignores MSS, window scale and SACK-Permitted on a segment without SYN', () => {
      const r = parseTcp(segment(TcpFlags.ACK, '020405b4 01030307 01010402'), KERNEL, PEER);
      expect(r.ok && r.repr).to.include({ mss: undefined, windowScale: undefined, sackPermitted: undefined });
    });

    it('reads 1 to 4 SACK blocks', () => {
      for (let n = 1; n <= 4; n++) {
        let opt = `0101 05${(2 + 8 * n).toString(16).padStart(2, '0')}`;
        for (let k = 0; k < n; k++) opt += ` ${(1000 * k + 1).toString(16).padStart(8, '0')} ${(1000 * k + 501).toString(16).padStart(8, '0')}`;
        const r = parseTcp(segment(TcpFlags.ACK, opt), KERNEL, PEER);
        const expected: SackBlock[] = Array.from({ length: n }, (_, k) => ({ left: 1000 * k + 1, right: 1000 * k + 501 }));
        expect(r.ok && r.repr.sackBlocks).to.deep.equal(expected);
      }
    });

    it('round-trips every combination of options, header aligned and at most 60 octets', () => {
      let combos = 0;
      for (let mask = 0; mask < 16; mask++) {
        for (let blocks = 0; blocks <= 4; blocks++) {
          const syn = (mask & 7) !== 0 || blocks === 0;
          const sackBlocks = Array.from({ length: blocks }, (_, k) => ({ left: (0xfffffff0 + k * 100) >>> 0, right: (0xfffffff0 + k * 100 + 50) >>> 0 }));
          const repr = full({
            srcPort: 443, dstPort: 50000, control: syn ? 'syn' : 'none', seq: 0xfffffffe, ack: 7, window: 1234,
            mss: mask & 1 ? 1400 : undefined,
            windowScale: mask & 2 ? 7 : undefined,
            sackPermitted: mask & 4 ? true : undefined,
            timestamp: mask & 8 ? { tsVal: 0xdeadbeef, tsEcr: 0x01020304 } : undefined,
            sackBlocks: blocks > 0 ? sackBlocks : undefined,
          });
          const seg = emitted(repr, hex('0102030405'));
          const hl = tcpHeaderLength(repr);
          expect(hl % 4).to.equal(0);
          expect(hl).to.be.at.most(60);
          expect(new TcpSegment(seg).headerLength).to.equal(hl);
          // Every octet written: emitting over 0x00 gives the same bytes as over 0xa5.
          expect(Array.from(emitted(repr, hex('0102030405'), 0))).to.deep.equal(Array.from(seg));
          const r = parseTcp(seg, KERNEL, PEER);
          if (!r.ok) throw new Error(r.reason);
          const fit = Math.min(blocks, Math.floor((40 - 4 - (hl - 20 - (r.repr.sackBlocks ? 4 + 8 * r.repr.sackBlocks.length : 0))) / 8));
          expect(r.repr).to.deep.equal({ ...repr, sackBlocks: fit > 0 ? sackBlocks.slice(0, fit) : undefined });
          expect(Array.from(r.payload)).to.deep.equal([1, 2, 3, 4, 5]);
          combos++;
        }
      }
      expect(combos).to.equal(80);
    });

    it('fits 3 SACK blocks beside timestamps and 4 without (RFC 2018 §3)', () => {
      const blocks = [1, 2, 3, 4].map((k) => ({ left: k * 10, right: k * 10 + 5 }));
      const base = full({ srcPort: 1, dstPort: 2, control: 'none', seq: 1, ack: 1, window: 1, sackBlocks: blocks });
      expect(tcpHeaderLength(base)).to.equal(20 + 4 + 32);
      const withTs = { ...base, timestamp: { tsVal: 1, tsEcr: 2 } };
      expect(tcpHeaderLength(withTs)).to.equal(20 + 12 + 4 + 24);
      const r = parseTcp(emitted(withTs), KERNEL, PEER);
      expect(r.ok && r.repr.sackBlocks).to.deep.equal(blocks.slice(0, 3));
      // MSS + SACK-Permitted/TS + WS leave room for two blocks (a SYN never carries blocks, but the codec copes).
      const crowded = { ...withTs, mss: 1, windowScale: 1, sackPermitted: true };
      expect(tcpHeaderLength(crowded)).to.equal(20 + 4 + 12 + 4 + 4 + 16);
      const c = parseTcp(emitted({ ...crowded, control: 'syn' }), KERNEL, PEER);
      expect(c.ok && c.repr.sackBlocks).to.deep.equal(blocks.slice(0, 2));
      expect(tcpHeaderLength({ ...base, sackBlocks: [] })).to.equal(TCP_HEADER_LENGTH);
    });
  });

  describe('drops', () => {
    const cases: Array<[TcpDropReason, string, () => Uint8Array]> = [
      ['truncated', '19 octets', () => SYN.slice(0, 19)],
      ['truncated', 'empty', () => new Uint8Array(0)],
      ['bad-data-offset', 'data offset 4', () => fixChecksum(Object.assign(segment(TcpFlags.ACK), { 12: 0x40 }))],
      ['bad-data-offset', 'data offset beyond the segment', () => fixChecksum(SYN.slice(0, 36))],
      ['bad-checksum', 'one flipped bit', () => Object.assign(SYN.slice(), { 30: SYN[30]! ^ 0x10 })],
      ['bad-port', 'source port 0', () => fixChecksum(Object.assign(segment(TcpFlags.ACK), { 0: 0, 1: 0 }))],
      ['bad-port', 'destination port 0', () => fixChecksum(Object.assign(segment(TcpFlags.ACK), { 2: 0, 3: 0 }))],
      ['bad-flags', 'SYN+FIN', () => segment(TcpFlags.SYN | TcpFlags.FIN)],
      ['bad-flags', 'SYN+RST', () => segment(TcpFlags.SYN | TcpFlags.RST | TcpFlags.ACK)],
      ['bad-flags', 'FIN+RST', () => segment(TcpFlags.FIN | TcpFlags.RST)],
      ['bad-option', 'length 1', () => segment(TcpFlags.SYN, '02010000')],
      ['bad-option', 'length past the header', () => segment(TcpFlags.SYN, '0101 1e08')],
      ['bad-option', 'missing length octet', () => segment(TcpFlags.SYN, '010101 02')],
      ['bad-option', 'MSS of length 3', () => segment(TcpFlags.SYN, '020305 00')],
      ['bad-option', 'window scale of length 4', () => segment(TcpFlags.SYN, '03040700')],
      ['bad-option', 'SACK-Permitted of length 3', () => segment(TcpFlags.SYN, '04030000')],
      ['bad-option', 'timestamps of length 9', () => segment(TcpFlags.ACK, '0101 0809 0000000000000000')],
      ['bad-option', 'SACK of length 11', () => segment(TcpFlags.ACK, '01 050b' + '00'.repeat(9))],
      ['bad-option', 'SACK of length 42 (5 blocks never fit)', () => segment(TcpFlags.ACK, '052a' + '00'.repeat(38))],
      ['bad-option', 'SACK with no block', () => segment(TcpFlags.ACK, '01 0502 00')],
    ];
    for (const [reason, name, make] of cases) {
      it(`${reason}: ${name}`, () => {
        expect(parseTcp(make(), KERNEL, PEER)).to.deep.equal({ ok: false, reason });
      });
    }

    it('TcpSegment.check reports length problems', () => {
      expect(TcpSegment.check(SYN.subarray(0, 19))).to.equal('truncated');
      expect(TcpSegment.check(SYN.subarray(0, 39))).to.equal('bad-data-offset');
      expect(TcpSegment.check(RST_ACK)).to.equal(undefined);
    });
  });

  describe('emit', () => {
    it('does not copy a payload already placed after the header, and produces the same octets', () => {
      const repr = full({ srcPort: 1, dstPort: 2, control: 'psh', seq: 1, ack: 2, window: 3, timestamp: { tsVal: 4, tsEcr: 5 } });
      const hl = tcpHeaderLength(repr);
      const out = new Uint8Array(hl + 5).fill(0xa5);
      out.set(hex('0102030405'), hl);
      expect(emitTcp(repr, out.subarray(hl), KERNEL, PEER, out)).to.equal(hl + 5);
      expect(Array.from(out)).to.deep.equal(Array.from(emitted(repr, hex('0102030405'))));
    });

    it('throws coded errors for bad arguments', () => {
      const ok = full({ srcPort: 1, dstPort: 2, control: 'none', seq: 1, ack: 2, window: 3 });
      const out = new Uint8Array(100);
      expect(() => emitTcp(ok, new Uint8Array(0), KERNEL, PEER, new Uint8Array(19))).to.throw(RangeError).with.property('code', 'ERR_BUFFER_OUT_OF_BOUNDS');
      const bad: Array<Partial<TcpRepr>> = [
        { srcPort: 65536 }, { dstPort: -1 }, { window: 1.5 }, { seq: 2 ** 32 }, { ack: -1 }, { urgent: 70000 },
        { mss: 65536 }, { windowScale: 15 }, { timestamp: { tsVal: -1, tsEcr: 0 } },
        { sackBlocks: [{ left: 0, right: 2 ** 32 }] }, { control: 'bogus' as TcpControl },
      ];
      for (const b of bad) {
        expect(() => emitTcp({ ...ok, ...b }, new Uint8Array(0), KERNEL, PEER, out), JSON.stringify(b)).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
      }
      expect(() => emitTcp(ok, new Uint8Array(65516), KERNEL, PEER, new Uint8Array(70000))).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    });
  });

  describe('properties', () => {
    function randomRepr(rng: Prng): TcpRepr {
      const control = rng.pick<TcpControl>(['none', 'psh', 'syn', 'fin', 'rst']);
      const syn = control === 'syn';
      const blocks = !syn && rng.chance(0.3) ? 1 + rng.int(4) : 0;
      return full({
        srcPort: 1 + rng.int(65535),
        dstPort: 1 + rng.int(65535),
        control,
        seq: rng.u32(),
        ack: rng.chance(0.8) ? rng.u32() : undefined,
        window: rng.int(65536),
        urgent: rng.chance(0.1) ? rng.int(65536) : undefined,
        ece: rng.chance(0.2),
        cwr: rng.chance(0.2),
        mss: syn && rng.chance(0.7) ? rng.int(65536) : undefined,
        windowScale: syn && rng.chance(0.5) ? rng.int(15) : undefined,
        sackPermitted: syn && rng.chance(0.5) ? true : undefined,
        timestamp: rng.chance(0.6) ? { tsVal: rng.u32(), tsEcr: rng.u32() } : undefined,
        sackBlocks: blocks > 0 ? Array.from({ length: blocks }, () => ({ left: rng.u32(), right: rng.u32() })) : undefined,
      });
    }

    it('round-trips random Reprs and payloads at random offsets and addresses', () => {
      withSeed((rng) => {
        for (let n = 0; n < 5000; n++) {
          const repr = randomRepr(rng);
          const payload = rng.bytes(rng.chance(0.5) ? 0 : rng.int(1500));
          const src = rng.u32();
          const dst = rng.u32();
          const hl = tcpHeaderLength(repr);
          const out = atOffset(new Uint8Array(hl + payload.length).fill(0xa5), rng.int(4));
          expect(emitTcp(repr, payload, src, dst, out)).to.equal(out.length);
          const r = parseTcp(out, src, dst);
          if (!r.ok) throw new Error(`${r.reason} for ${JSON.stringify(repr)}`);
          const room = Math.floor((40 - 4 - (repr.timestamp ? 12 : 0)) / 8);
          const sackBlocks = repr.sackBlocks?.slice(0, room);
          expect(r.repr).to.deep.equal({ ...repr, sackBlocks });
          expect(Array.from(r.payload)).to.deep.equal(Array.from(payload));
        }
      });
    });

    it('never throws on random bytes, random headers with valid checksums, or mutated captures', () => {
      withSeed((rng) => {
        const seen = new Set<string>();
        for (let n = 0; n < 30000; n++) {
          let bytes: Uint8Array;
          switch (n % 3) {
            case 0:
              bytes = rng.bytes(rng.int(80));
              break;
            case 1: {
              // Plausible header: sane data offset, random options area, checksum fixed.
              bytes = rng.bytes(20 + rng.int(60));
              bytes[12] = (5 + rng.int(Math.min(11, (bytes.length - 20) / 4 + 1))) << 4;
              fixChecksum(bytes);
              break;
            }
            default: {
              bytes = rng.pick([SYN, SYN_ACK, RST_ACK]).slice();
              for (let k = rng.int(4); k >= 0; k--) bytes[rng.int(bytes.length)] = rng.u32() & 0xff;
              if (rng.chance(0.8)) fixChecksum(bytes);
            }
          }
          const r = parseTcp(atOffset(bytes, rng.int(4)), KERNEL, PEER);
          seen.add(r.ok ? 'ok' : r.reason);
          if (r.ok) {
            expect(r.payload.length).to.be.at.most(bytes.length - 20);
            // Whatever parses can be emitted again and parses to the same Repr.
            const again = parseTcp(emitted(r.repr, r.payload), KERNEL, PEER);
            expect(again.ok).to.equal(true);
          }
        }
        expect([...seen]).to.include.members(['ok', 'truncated', 'bad-data-offset', 'bad-checksum', 'bad-option']);
      });
    });

    it('parseTcpInto one reused target, inside a larger buffer, agrees with parseTcp', () => {
      withSeed((rng) => {
        const target = new TcpParseTarget();
        const seen = new Set<string>();
        for (let n = 0; n < 20000; n++) {
          let seg: Uint8Array;
          if (n % 2 === 0) {
            const repr = randomRepr(rng);
            const payload = rng.bytes(rng.chance(0.5) ? 0 : rng.int(300));
            seg = new Uint8Array(tcpHeaderLength(repr) + payload.length);
            emitTcp(repr, payload, KERNEL, PEER, seg);
            if (rng.chance(0.3)) seg[rng.int(seg.length)] = rng.u32() & 0xff;
          } else {
            seg = rng.pick([SYN, SYN_ACK, RST_ACK]).slice();
            for (let k = rng.int(3); k >= 0; k--) seg[rng.int(seg.length)] = rng.u32() & 0xff;
            if (rng.chance(0.7)) fixChecksum(seg);
            seg = seg.subarray(0, rng.int(seg.length + 1));
          }
          // The segment sits inside a larger buffer, as in a received IPv4 packet.
          const before = rng.int(30);
          const outer = new Uint8Array(before + seg.length + rng.int(8)).fill(0x5a);
          outer.set(seg, before);
          const expected = parseTcp(seg, KERNEL, PEER);
          const reason = parseTcpInto(outer, KERNEL, PEER, target, before, before + seg.length);
          seen.add(reason ?? 'ok');
          if (!expected.ok) {
            expect(reason).to.equal(expected.reason);
            continue;
          }
          expect(reason).to.equal(undefined);
          expect({ ...target.repr }).to.deep.equal(expected.repr);
          expect(Array.from(outer.subarray(target.payloadStart, before + seg.length))).to.deep.equal(Array.from(expected.payload));
        }
        expect([...seen]).to.include.members(['ok', 'truncated', 'bad-checksum']);
      });
    });

    it('parseTcpInto with checksumTrusted skips the checksum only: a partial sum parses, the other checks still run', () => {
      const target = new TcpParseTarget();
      const partial = SYN.slice();
      // The checksum field as Linux leaves it for CHECKSUM_PARTIAL: the pseudo-header sum.
      const sum = tcpPseudoHeaderSum(KERNEL, PEER, partial.length);
      partial[16] = sum >>> 8;
      partial[17] = sum & 0xff;
      expect(parseTcpInto(partial, KERNEL, PEER, target)).to.equal('bad-checksum');
      expect(parseTcpInto(partial, KERNEL, PEER, target, 0, partial.length, false)).to.equal('bad-checksum');
      expect(parseTcpInto(partial, KERNEL, PEER, target, 0, partial.length, true)).to.equal(undefined);
      expect({ ...target.repr }).to.deep.equal((parseTcp(SYN, KERNEL, PEER) as { repr: object }).repr);
      const portZero = partial.slice();
      portZero[0] = 0;
      portZero[1] = 0;
      expect(parseTcpInto(portZero, KERNEL, PEER, target, 0, portZero.length, true)).to.equal('bad-port');
      expect(parseTcpInto(partial.subarray(0, 19), KERNEL, PEER, target, 0, 19, true)).to.equal('truncated');
    });

    it('parseTcpInto throws a coded RangeError for a range outside the bytes', () => {
      const target = new TcpParseTarget();
      for (const [start, end] of [[-1, 10], [5, 4], [0, SYN.length + 1]] as const) {
        expect(() => parseTcpInto(SYN, KERNEL, PEER, target, start, end)).to.throw(RangeError).with.property('code', 'ERR_OUT_OF_RANGE');
      }
    });
  });
});
