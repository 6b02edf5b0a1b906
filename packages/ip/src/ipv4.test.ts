import { expect } from 'chai';
import { ipv4FromString } from './address.js';
import { internetChecksum } from './checksum.js';
import {
  IPV4_HEADER_LENGTH, IpProtocol, Ipv4Packet, Ipv4ParseTarget, emitIpv4, makeIpv4Repr, parseIpv4, parseIpv4Into, type Ipv4Repr,
} from './ipv4.js';
import { KERNEL_ECHO_REQUEST, KERNEL_FRAGMENTS, KERNEL_PORT_UNREACHABLE, atOffset, hex } from './__tests__/captured.js';
import { withSeed, type Prng } from '../../../testing/random.js';

const KERNEL = ipv4FromString('10.0.0.1');
const PEER = ipv4FromString('10.0.0.2');

/** The captured echo request as a Repr. */
const ECHO_REQUEST_REPR: Ipv4Repr = {
  src: KERNEL,
  dst: PEER,
  protocol: IpProtocol.Icmp,
  ttl: 64,
  payloadLength: 64,
  ident: 0x36da,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  dscp: 0,
  ecn: 0,
};

/** Sets the header checksum of a 20+-octet header in place. */
function fixChecksum(bytes: Uint8Array): Uint8Array {
  const hl = (bytes[0]! & 0x0f) * 4;
  bytes[10] = 0;
  bytes[11] = 0;
  const c = internetChecksum(bytes, 0, 0, hl);
  bytes[10] = c >>> 8;
  bytes[11] = c & 0xff;
  return bytes;
}

function randomRepr(rng: Prng): Ipv4Repr {
  const fragmented = rng.chance(0.3);
  const moreFragments = fragmented && rng.chance(0.5);
  let payloadLength = rng.int(1500);
  if (moreFragments) payloadLength = 8 * (1 + rng.int(180));
  return {
    src: rng.chance(0.9) ? (rng.u32() & 0xdfffffff) >>> 0 : 0, // not multicast or broadcast
    dst: rng.u32(),
    protocol: rng.int(256),
    ttl: rng.int(256),
    payloadLength,
    ident: rng.int(0x10000),
    dontFragment: !fragmented && rng.chance(0.7),
    moreFragments,
    fragmentOffset: fragmented ? 8 * rng.int(6000) : 0,
    dscp: rng.int(64),
    ecn: rng.int(4),
  };
}

describe('IPv4 (RFC 791)', () => {
  describe('a captured kernel echo request', () => {
    for (const offset of [0, 3]) {
      it(`reads every field through the view (byteOffset ${offset})`, () => {
        const bytes = atOffset(KERNEL_ECHO_REQUEST, offset);
        expect(Ipv4Packet.check(bytes)).to.equal(undefined);
        const p = new Ipv4Packet(bytes);
        expect(p.version).to.equal(4);
        expect(p.headerLength).to.equal(20);
        expect(p.dscp).to.equal(0);
        expect(p.ecn).to.equal(0);
        expect(p.totalLength).to.equal(84);
        expect(p.ident).to.equal(0x36da);
        expect(p.dontFragment).to.equal(true);
        expect(p.moreFragments).to.equal(false);
        expect(p.fragmentOffset).to.equal(0);
        expect(p.ttl).to.equal(64);
        expect(p.protocol).to.equal(IpProtocol.Icmp);
        expect(p.checksum).to.equal(0xefcc);
        expect(p.src).to.equal(KERNEL);
        expect(p.dst).to.equal(PEER);
        expect(p.options.length).to.equal(0);
        expect(p.payload.length).to.equal(64);
        expect(p.payload[0]).to.equal(8); // ICMP echo request type
        expect(p.verifyChecksum()).to.equal(true);
      });

      it(`parses into the expected Repr (byteOffset ${offset})`, () => {
        const bytes = atOffset(KERNEL_ECHO_REQUEST, offset);
        const r = parseIpv4(bytes);
        expect(r.ok).to.equal(true);
        if (!r.ok) return;
        expect(r.repr).to.deep.equal(ECHO_REQUEST_REPR);
        expect(r.headerLength).to.equal(20);
        expect(r.payload.buffer).to.equal(bytes.buffer); // zero-copy
        expect(r.payload.byteOffset).to.equal(bytes.byteOffset + 20);
        expect(Array.from(r.payload)).to.deep.equal(Array.from(KERNEL_ECHO_REQUEST.subarray(20)));
      });
    }

    it('returns a plain Uint8Array payload view for a subclass input too (as a Node Buffer is)', () => {
      class Subclass extends Uint8Array {}
      const bytes = new Subclass(KERNEL_ECHO_REQUEST.length + 4);
      bytes.set(KERNEL_ECHO_REQUEST); // 4 octets of link padding after Total Length
      const r = parseIpv4(bytes);
      if (!r.ok) throw new Error(r.reason);
      expect(Object.getPrototypeOf(r.payload)).to.equal(Uint8Array.prototype);
      expect(r.payload.buffer).to.equal(bytes.buffer);
      expect(r.payload.byteOffset).to.equal(20);
      expect(Array.from(r.payload)).to.deep.equal(Array.from(KERNEL_ECHO_REQUEST.subarray(20)));
    });

    it('emits the same header octets from the Repr into a 0xa5-filled buffer', () => {
      const out = new Uint8Array(40).fill(0xa5);
      const view = out.subarray(5, 25);
      expect(emitIpv4(ECHO_REQUEST_REPR, view)).to.equal(IPV4_HEADER_LENGTH);
      expect(Array.from(view)).to.deep.equal(Array.from(KERNEL_ECHO_REQUEST.subarray(0, 20)));
      expect(out.subarray(0, 5).every((b) => b === 0xa5)).to.equal(true);
      expect(out.subarray(25).every((b) => b === 0xa5)).to.equal(true);
    });

    it('builds the same header through the view setters', () => {
      const p = new Ipv4Packet(new Uint8Array(84).fill(0xa5));
      p.version = 4;
      p.headerLength = 20;
      p.dscp = 0;
      p.ecn = 0;
      p.totalLength = 84;
      p.ident = 0x36da;
      p.dontFragment = true;
      p.moreFragments = false;
      p.fragmentOffset = 0;
      p.bytes[6] = p.bytes[6]! & 0x7f; // the reserved flag bit has no setter: clear it by hand
      p.ttl = 64;
      p.protocol = IpProtocol.Icmp;
      p.src = KERNEL;
      p.dst = PEER;
      p.fillChecksum();
      expect(Array.from(p.bytes.subarray(0, 20))).to.deep.equal(Array.from(KERNEL_ECHO_REQUEST.subarray(0, 20)));
    });
  });

  it('reads a captured fragment and a captured header with DSCP', () => {
    const f1 = parseIpv4(KERNEL_FRAGMENTS[1]!);
    expect(f1.ok && f1.repr).to.include({ moreFragments: false, fragmentOffset: 1480, payloadLength: 528, dontFragment: false });
    const f0 = parseIpv4(KERNEL_FRAGMENTS[0]!);
    expect(f0.ok && f0.repr).to.include({ moreFragments: true, fragmentOffset: 0, payloadLength: 1480 });
    const u = parseIpv4(KERNEL_PORT_UNREACHABLE);
    expect(u.ok && u.repr).to.include({ dscp: 48, ecn: 0, dontFragment: false, protocol: IpProtocol.Icmp });
  });

  it('ignores trailing link padding beyond Total Length', () => {
    const padded = new Uint8Array(KERNEL_ECHO_REQUEST.length + 10).fill(0x99);
    padded.set(KERNEL_ECHO_REQUEST);
    const r = parseIpv4(padded);
    expect(r.ok && r.payload.length).to.equal(64);
    expect(new Ipv4Packet(padded).payload.length).to.equal(64);
  });

  it('skips IP options (IHL > 5)', () => {
    // 24-octet header: a Router Alert option (RFC 2113), then 4 payload octets.
    const bytes = fixChecksum(hex('4600001c 0001 0000 40 11 0000 0a000002 0a000001 94040000 deadbeef'));
    const r = parseIpv4(bytes);
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.headerLength).to.equal(24);
    expect(r.repr.payloadLength).to.equal(4);
    expect(Array.from(r.payload)).to.deep.equal([0xde, 0xad, 0xbe, 0xef]);
    expect(Array.from(new Ipv4Packet(bytes).options)).to.deep.equal([0x94, 0x04, 0x00, 0x00]);
  });

  it('accepts the 0xffff encoding of a zero header checksum', () => {
    // Find an ident that makes the computed checksum zero, then store it as 0xffff.
    const bytes = hex('45000014 0000 0000 40 06 0000 0a000002 0a000001');
    const c = internetChecksum(bytes);
    bytes[4] = c >>> 8; // ident = previous checksum: the sum becomes 0xffff → checksum 0
    bytes[5] = c & 0xff;
    expect(internetChecksum(bytes)).to.equal(0);
    expect(parseIpv4(bytes).ok).to.equal(true);
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    expect(parseIpv4(bytes).ok).to.equal(true);
  });

  describe('drops', () => {
    const valid = (): Uint8Array => KERNEL_ECHO_REQUEST.slice();
    const cases: Array<[string, () => Uint8Array]> = [
      ['truncated', () => valid().subarray(0, 19)],
      ['truncated', () => valid().subarray(0, 83)], // shorter than Total Length
      ['truncated', () => fixChecksum(hex('4f000014 0000 0000 40 06 0000 0a000002 0a000001'))], // IHL 60 > 20 octets
      ['bad-version', () => fixChecksum(Object.assign(valid(), { 0: 0x65 }))],
      ['bad-header-length', () => fixChecksum(Object.assign(valid(), { 0: 0x44 }))],
      ['bad-total-length', () => fixChecksum(Object.assign(valid(), { 2: 0, 3: 19 }))],
      ['bad-checksum', () => Object.assign(valid(), { 8: 63 })],
      ['bad-source', () => fixChecksum(Object.assign(valid(), { 12: 255, 13: 255, 14: 255, 15: 255 }))],
      ['bad-source', () => fixChecksum(Object.assign(valid(), { 12: 224 }))],
      ['bad-fragment', () => fixChecksum(Object.assign(valid(), { 6: 0x20, 2: 0, 3: 83 }).subarray(0, 83))], // MF, 63 octets
      ['bad-fragment', () => fixChecksum(Object.assign(valid(), { 6: 0x1f, 7: 0xff }))], // offset 65528 + 64
    ];
    for (const [reason, make] of cases) {
      it(`${reason}: ${make().length} octets`, () => {
        expect(parseIpv4(make())).to.deep.equal({ ok: false, reason });
      });
    }
  });

  describe('emit', () => {
    it('fills defaults with makeIpv4Repr', () => {
      expect(makeIpv4Repr({ src: 1, dst: 2, protocol: 6, payloadLength: 0 })).to.deep.equal({
        src: 1, dst: 2, protocol: 6, ttl: 64, payloadLength: 0, ident: 0,
        dontFragment: true, moreFragments: false, fragmentOffset: 0, dscp: 0, ecn: 0,
      });
    });

    it('throws coded errors for bad arguments', () => {
      const out = new Uint8Array(20);
      expect(() => emitIpv4(ECHO_REQUEST_REPR, new Uint8Array(19))).to.throw(RangeError).with.property('code', 'ERR_BUFFER_OUT_OF_BOUNDS');
      for (const bad of [
        { payloadLength: 65516 }, { payloadLength: -1 }, { ttl: 256 }, { protocol: 1.5 }, { ident: 0x10000 },
        { fragmentOffset: 3 }, { fragmentOffset: 65536 }, { dscp: 64 }, { ecn: 4 }, { src: -1 }, { dst: 2 ** 32 },
      ]) {
        expect(() => emitIpv4({ ...ECHO_REQUEST_REPR, ...bad }, out), JSON.stringify(bad)).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
      }
    });
  });

  describe('properties', () => {
    it('round-trips random Reprs through emit and parse at random offsets', () => {
      withSeed((rng) => {
        for (let n = 0; n < 5000; n++) {
          const repr = randomRepr(rng);
          const offset = rng.int(4);
          const buf = new Uint8Array(offset + 20 + repr.payloadLength).fill(0xa5);
          const view = buf.subarray(offset);
          emitIpv4(repr, view);
          const r = parseIpv4(view);
          if (repr.fragmentOffset + repr.payloadLength + 20 > 0xffff) {
            expect(r).to.deep.equal({ ok: false, reason: 'bad-fragment' });
            continue;
          }
          expect(r.ok, JSON.stringify(repr)).to.equal(true);
          if (r.ok) expect(r.repr).to.deep.equal(repr);
        }
      });
    });

    it('never throws on random bytes or on mutations of valid datagrams', () => {
      withSeed((rng) => {
        let accepted = 0;
        for (let n = 0; n < 20000; n++) {
          let bytes: Uint8Array;
          if (rng.chance(0.5)) {
            bytes = atOffset(rng.bytes(rng.int(80)), rng.int(4));
          } else {
            bytes = atOffset(KERNEL_ECHO_REQUEST, rng.int(4));
            for (let k = rng.int(4); k >= 0; k--) bytes[rng.int(20)] = rng.u32() & 0xff;
            if (rng.chance(0.5)) fixChecksum(bytes.subarray(0, Math.max(20, (bytes[0]! & 0xf) * 4)));
            bytes = bytes.subarray(0, rng.int(bytes.length + 1));
          }
          const r = parseIpv4(bytes);
          if (r.ok) {
            accepted++;
            expect(r.headerLength + r.repr.payloadLength).to.be.at.most(bytes.length);
            expect(r.payload.length).to.equal(r.repr.payloadLength);
          } else {
            expect(r.reason).to.be.a('string');
          }
        }
        expect(accepted).to.be.greaterThan(0);
      });
    });

    it('parseIpv4Into one reused target agrees with parseIpv4 on valid, mutated and random datagrams', () => {
      withSeed((rng) => {
        const target = new Ipv4ParseTarget();
        for (let n = 0; n < 10000; n++) {
          let bytes: Uint8Array;
          const kind = rng.int(3);
          if (kind === 0) {
            const repr = randomRepr(rng);
            bytes = new Uint8Array(20 + repr.payloadLength);
            emitIpv4(repr, bytes);
          } else if (kind === 1) {
            bytes = atOffset(KERNEL_ECHO_REQUEST, rng.int(4));
            for (let k = rng.int(3); k >= 0; k--) bytes[rng.int(20)] = rng.u32() & 0xff;
            if (rng.chance(0.7)) fixChecksum(bytes.subarray(0, Math.max(20, (bytes[0]! & 0xf) * 4)));
          } else {
            bytes = atOffset(rng.bytes(rng.int(80)), rng.int(4));
          }
          const expected = parseIpv4(bytes);
          const reason = parseIpv4Into(bytes, target);
          if (!expected.ok) {
            expect(reason).to.equal(expected.reason);
            continue;
          }
          expect(reason).to.equal(undefined);
          expect({ ...target.repr }).to.deep.equal(expected.repr);
          expect(target.headerLength).to.equal(expected.headerLength);
        }
      });
    });
  });
});
