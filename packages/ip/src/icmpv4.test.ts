import { expect } from 'chai';
import { ipv4FromString } from './address.js';
import { internetChecksum } from './checksum.js';
import {
  Icmpv4Packet,
  Icmpv4UnreachableCode,
  echoReplyFor,
  emitIcmpv4,
  icmpv4Length,
  icmpv4Quote,
  parseIcmpv4,
  parseQuotedDatagram,
  type Icmpv4EchoRepr,
  type Icmpv4Repr,
} from './icmpv4.js';
import { IpProtocol } from './ipv4.js';
import { KERNEL_ECHO_REPLY, KERNEL_ECHO_REQUEST, KERNEL_PORT_UNREACHABLE, atOffset, hex } from './__tests__/captured.js';
import { withSeed, type Prng } from '../../../testing/random.js';

const ECHO_REQUEST_ICMP = KERNEL_ECHO_REQUEST.subarray(20);
const ECHO_REPLY_ICMP = KERNEL_ECHO_REPLY.subarray(20);
const UNREACHABLE_ICMP = KERNEL_PORT_UNREACHABLE.subarray(20);
const HELLO = new TextEncoder().encode('hello, kernel!');

function fixChecksum(bytes: Uint8Array): Uint8Array {
  bytes[2] = 0;
  bytes[3] = 0;
  const c = internetChecksum(bytes);
  bytes[2] = c >>> 8;
  bytes[3] = c & 0xff;
  return bytes;
}

function randomRepr(rng: Prng): Icmpv4Repr {
  switch (rng.int(4)) {
    case 0:
    case 1:
      return { type: rng.chance(0.5) ? 'echo-request' : 'echo-reply', ident: rng.int(0x10000), seqNo: rng.int(0x10000), data: rng.bytes(rng.int(200)) };
    case 2: {
      const code = rng.int(16);
      return { type: 'dest-unreachable', code, nextHopMtu: code === 4 ? rng.int(0x10000) : 0, quoted: rng.bytes(28 + rng.int(100)) };
    }
    default:
      return { type: 'time-exceeded', code: rng.int(2), quoted: rng.bytes(28 + rng.int(100)) };
  }
}

describe('ICMPv4 (RFC 792)', () => {
  describe('the captured kernel echo request', () => {
    for (const offset of [0, 1]) {
      it(`reads every field through the view and parses (byteOffset ${offset})`, () => {
        const bytes = atOffset(ECHO_REQUEST_ICMP, offset);
        expect(Icmpv4Packet.check(bytes)).to.equal(undefined);
        const p = new Icmpv4Packet(bytes);
        expect(p.msgType).to.equal(8);
        expect(p.code).to.equal(0);
        expect(p.checksum).to.equal(0x25f1);
        expect(p.echoIdent).to.equal(0x31b5);
        expect(p.echoSeqNo).to.equal(1);
        expect(p.data.length).to.equal(56);
        expect(p.verifyChecksum()).to.equal(true);
        const r = parseIcmpv4(bytes);
        expect(r.ok).to.equal(true);
        if (!r.ok || r.repr.type !== 'echo-request') throw new Error('not an echo request');
        expect(r.repr.ident).to.equal(0x31b5);
        expect(r.repr.seqNo).to.equal(1);
        expect(Array.from(r.repr.data)).to.deep.equal(Array.from(ECHO_REQUEST_ICMP.subarray(8)));
        expect(r.repr.data.byteOffset).to.equal(bytes.byteOffset + 8); // zero-copy
      });
    }

    it('emits the same octets from the Repr into a 0xa5-filled buffer', () => {
      const r = parseIcmpv4(ECHO_REQUEST_ICMP);
      if (!r.ok) throw new Error('parse failed');
      const out = new Uint8Array(100).fill(0xa5);
      const n = emitIcmpv4(r.repr, out.subarray(3));
      expect(n).to.equal(64).and.equal(icmpv4Length(r.repr));
      expect(Array.from(out.subarray(3, 3 + n))).to.deep.equal(Array.from(ECHO_REQUEST_ICMP));
      expect(out[3 + n]).to.equal(0xa5);
    });
  });

  it('answers an echo request exactly as the kernel did', () => {
    const request: Icmpv4EchoRepr = { type: 'echo-request', ident: 0x0bad, seqNo: 1, data: HELLO };
    const reply = echoReplyFor(request);
    expect(reply).to.deep.equal({ type: 'echo-reply', ident: 0x0bad, seqNo: 1, data: HELLO });
    const out = new Uint8Array(icmpv4Length(reply)).fill(0xa5);
    emitIcmpv4(reply, out);
    expect(Array.from(out)).to.deep.equal(Array.from(ECHO_REPLY_ICMP));
    const parsed = parseIcmpv4(ECHO_REPLY_ICMP);
    expect(parsed.ok && parsed.repr).to.deep.equal(reply);
  });

  it('reads the captured port unreachable and its quoted datagram', () => {
    const p = new Icmpv4Packet(UNREACHABLE_ICMP);
    expect([p.msgType, p.code, p.checksum]).to.deep.equal([3, 3, 0x226e]);
    const r = parseIcmpv4(UNREACHABLE_ICMP);
    if (!r.ok || r.repr.type !== 'dest-unreachable') throw new Error('not dest-unreachable');
    expect(r.repr.code).to.equal(Icmpv4UnreachableCode.PortUnreachable);
    expect(r.repr.nextHopMtu).to.equal(0);
    expect(r.repr.quoted.length).to.equal(32);
    const q = parseQuotedDatagram(r.repr.quoted);
    expect(q).to.not.equal(undefined);
    expect(q!.src).to.equal(ipv4FromString('10.0.0.2'));
    expect(q!.dst).to.equal(ipv4FromString('10.0.0.1'));
    expect(q!.protocol).to.equal(IpProtocol.Udp);
    expect(Array.from(q!.transport)).to.deep.equal([0x15, 0xb3, 0x00, 0x09, 0x00, 0x0c, 0x00, 0x00]);
    // Re-emit from the Repr: identical octets.
    const out = new Uint8Array(icmpv4Length(r.repr)).fill(0xa5);
    emitIcmpv4(r.repr, out);
    expect(Array.from(out)).to.deep.equal(Array.from(UNREACHABLE_ICMP));
  });

  it('quotes an offending datagram as header + 8 octets', () => {
    expect(icmpv4Quote(KERNEL_ECHO_REQUEST).length).to.equal(28);
    expect(icmpv4Quote(KERNEL_ECHO_REQUEST.subarray(0, 24)).length).to.equal(24);
    expect(parseQuotedDatagram(KERNEL_ECHO_REQUEST.subarray(0, 27))).to.equal(undefined);
    expect(parseQuotedDatagram(hex('65' + '00'.repeat(27)))).to.equal(undefined);
  });

  it('carries the next-hop MTU of "fragmentation needed" (RFC 1191)', () => {
    const repr: Icmpv4Repr = { type: 'dest-unreachable', code: 4, nextHopMtu: 1400, quoted: icmpv4Quote(KERNEL_ECHO_REQUEST) };
    const out = new Uint8Array(icmpv4Length(repr));
    emitIcmpv4(repr, out);
    expect(new Icmpv4Packet(out).nextHopMtu).to.equal(1400);
    expect(parseIcmpv4(out)).to.deep.equal({ ok: true, repr });
  });

  describe('drops', () => {
    it('truncated', () => expect(parseIcmpv4(ECHO_REQUEST_ICMP.subarray(0, 7))).to.deep.equal({ ok: false, reason: 'truncated' }));
    it('bad-checksum', () => {
      const b = ECHO_REQUEST_ICMP.slice();
      b[20] = b[20]! ^ 1;
      expect(parseIcmpv4(b)).to.deep.equal({ ok: false, reason: 'bad-checksum' });
    });
    it('unsupported-type (timestamp request, type 13)', () => {
      const b = fixChecksum(hex('0d00000012340001' + '00'.repeat(12)));
      expect(parseIcmpv4(b)).to.deep.equal({ ok: false, reason: 'unsupported-type' });
    });
    it('accepts both zero checksum encodings', () => {
      const b = hex('0800 0000 0000 0000 f7ff');
      expect(internetChecksum(b)).to.equal(0);
      expect(parseIcmpv4(b).ok).to.equal(true);
      b[2] = 0xff;
      b[3] = 0xff;
      expect(parseIcmpv4(b).ok).to.equal(true);
    });
  });

  it('throws coded errors for bad arguments', () => {
    const echo: Icmpv4EchoRepr = { type: 'echo-request', ident: 1, seqNo: 2, data: HELLO };
    expect(() => emitIcmpv4(echo, new Uint8Array(10))).to.throw(RangeError).with.property('code', 'ERR_BUFFER_OUT_OF_BOUNDS');
    expect(() => emitIcmpv4({ ...echo, ident: 0x10000 }, new Uint8Array(100))).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => emitIcmpv4({ type: 'time-exceeded', code: 256, quoted: HELLO }, new Uint8Array(100))).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
  });

  describe('properties', () => {
    it('round-trips random Reprs', () => {
      withSeed((rng) => {
        for (let n = 0; n < 3000; n++) {
          const repr = randomRepr(rng);
          const out = atOffset(new Uint8Array(icmpv4Length(repr)).fill(0xa5), rng.int(4));
          expect(emitIcmpv4(repr, out)).to.equal(out.length);
          expect(parseIcmpv4(out)).to.deep.equal({ ok: true, repr });
        }
      });
    });

    it('never throws on random bytes', () => {
      withSeed((rng) => {
        for (let n = 0; n < 20000; n++) {
          const bytes = rng.bytes(rng.int(72));
          if (bytes.length > 0 && rng.chance(0.5)) bytes[0] = rng.pick([0, 3, 8, 11]);
          if (bytes.length >= 8 && rng.chance(0.5)) fixChecksum(bytes);
          const r = parseIcmpv4(atOffset(bytes, rng.int(4)));
          if (r.ok && 'quoted' in r.repr) parseQuotedDatagram(r.repr.quoted);
        }
      });
    });
  });
});
