import { expect } from 'chai';
import { ipv6FromString, ipv6ToString } from './address6.js';
import { pseudoHeaderSum6, verifyChecksum } from './checksum.js';
import {
  IPV6_HEADER_LENGTH,
  Ipv6Packet,
  Ipv6ParseTarget,
  emitIpv6,
  makeIpv6Repr,
  parseIpv6,
  parseIpv6Into,
} from './ipv6.js';
import { atOffset } from './__tests__/captured.js';
import * as F from './__tests__/fixtures6.js';
import { withSeed } from '../../../testing/random.js';

describe('IPv6 fixed header (RFC 8200 §3)', () => {
  it('reads every field of a captured echo request', () => {
    const r = parseIpv6(atOffset(F.ECHO_REQUEST, 3));
    if (!r.ok) throw new Error(r.reason);
    expect(ipv6ToString(r.repr.src)).to.equal('fd01::1');
    expect(ipv6ToString(r.repr.dst)).to.equal('fd02::1');
    expect(r.repr.nextHeader).to.equal(58);
    expect(r.repr.hopLimit).to.equal(64);
    expect(r.repr.payloadLength).to.equal(64);
    expect(r.repr.flowLabel).to.equal(0xa8698);
    expect(r.repr.dscp).to.equal(0);
    expect(r.repr.ecn).to.equal(0);
    expect(r.payload.length).to.equal(64);
    expect(r.payload[0]).to.equal(128);
  });

  it('reads the traffic class (DSCP + ECN) and flow label of a captured packet', () => {
    const r = parseIpv6(F.LO_ECHO_REQUEST_TRAFFIC_CLASS);
    if (!r.ok) throw new Error(r.reason);
    expect(r.repr.dscp).to.equal(46);
    expect(r.repr.ecn).to.equal(1);
    expect(r.repr.flowLabel).to.equal(0x27426);
    const view = new Ipv6Packet(F.LO_ECHO_REQUEST_TRAFFIC_CLASS);
    expect(view.version).to.equal(6);
    expect(view.trafficClass).to.equal(0xb9);
    expect(view.dscp).to.equal(46);
    expect(view.ecn).to.equal(1);
    expect(view.flowLabel).to.equal(0x27426);
    expect(view.payloadLength).to.equal(64);
    expect(view.nextHeader).to.equal(58);
    expect(view.hopLimit).to.equal(64);
    expect(ipv6ToString(view.src)).to.equal('::1');
    expect(ipv6ToString(view.dst)).to.equal('::1');
    expect(view.payload.length).to.equal(64);
  });

  it('agrees with the kernel on the pseudo-header sum (RFC 8200 §8.1)', () => {
    // The kernel left TCP and UDP checksums to offload (CHECKSUM_PARTIAL): the field holds
    // the folded pseudo-header sum alone, which is exactly what pseudoHeaderSum6 computes.
    for (const [bytes, protocol, field] of [[F.TCP_SYN, 6, 16], [F.LO_TCP_SYN, 6, 16], [F.UDP_TO_CLOSED_PORT, 17, 6]] as const) {
      const r = parseIpv6(bytes);
      if (!r.ok) throw new Error(r.reason);
      const stored = (r.payload[field]! << 8) | r.payload[field + 1]!;
      expect(pseudoHeaderSum6(r.repr.src, r.repr.dst, protocol, r.payload.length)).to.equal(stored);
    }
    // This UDP datagram (behind an 8-octet hop-by-hop header) carries a complete checksum.
    const r = parseIpv6(F.UDP_HOP_BY_HOP);
    if (!r.ok) throw new Error(r.reason);
    const udp = r.payload.subarray(8);
    expect(verifyChecksum(udp, pseudoHeaderSum6(r.repr.src, r.repr.dst, 17, udp.length))).to.equal(true);
    expect(verifyChecksum(udp, pseudoHeaderSum6(r.repr.src, ipv6FromString('fd02::2'), 17, udp.length))).to.equal(false);
  });

  const all = Object.entries(F).filter((e): e is [string, Uint8Array] => e[1] instanceof Uint8Array);
  for (const [name, bytes] of all) {
    it(`${name}: parse → Repr → emit gives the same 40 octets`, () => {
      const r = parseIpv6(bytes);
      if (!r.ok) throw new Error(r.reason);
      const out = new Uint8Array(IPV6_HEADER_LENGTH + 4).fill(0xa5);
      expect(emitIpv6(r.repr, out)).to.equal(IPV6_HEADER_LENGTH);
      expect(Array.from(out.subarray(0, 40))).to.deep.equal(Array.from(bytes.subarray(0, 40)));
      expect(out[40]).to.equal(0xa5);
    });
  }

  it('writes fields through the view setters', () => {
    const bytes = F.LO_ECHO_REQUEST_TRAFFIC_CLASS.slice();
    const v = new Ipv6Packet(bytes);
    v.ecn = 3;
    expect(v.dscp).to.equal(46);
    v.dscp = 10;
    expect(v.ecn).to.equal(3);
    v.flowLabel = 0xfffff;
    expect(v.trafficClass).to.equal((10 << 2) | 3);
    expect(v.version).to.equal(6);
    v.hopLimit = 1;
    v.nextHeader = 6;
    v.payloadLength = 0;
    v.src = ipv6FromString('fd00::1');
    v.dst = ipv6FromString('fd00::2');
    const r = parseIpv6(bytes);
    if (!r.ok) throw new Error(r.reason);
    expect(r.repr).to.include({ dscp: 10, ecn: 3, flowLabel: 0xfffff, hopLimit: 1, nextHeader: 6, payloadLength: 0 });
    expect(ipv6ToString(r.repr.src)).to.equal('fd00::1');
    expect(ipv6ToString(r.repr.dst)).to.equal('fd00::2');
  });

  it('builds with defaults and emits every field', () => {
    const repr = makeIpv6Repr({ src: ipv6FromString('fd00::1'), dst: ipv6FromString('fd00::2'), nextHeader: 6, payloadLength: 20 });
    expect(repr).to.include({ hopLimit: 64, dscp: 0, ecn: 0, flowLabel: 0 });
    const out = new Uint8Array(40).fill(0xa5);
    emitIpv6({ ...repr, dscp: 63, ecn: 2, flowLabel: 0x12345 }, out);
    expect(Array.from(out.subarray(0, 8))).to.deep.equal([0x6f, 0xe1, 0x23, 0x45, 0, 20, 6, 64]);
  });

  it('drops with a reason: truncated, bad version, payload length beyond the buffer, multicast source', () => {
    expect(parseIpv6(F.ECHO_REQUEST.subarray(0, 39))).to.deep.equal({ ok: false, reason: 'truncated' });
    const v4 = F.ECHO_REQUEST.slice();
    v4[0] = 0x45;
    expect(parseIpv6(v4)).to.deep.equal({ ok: false, reason: 'bad-version' });
    expect(parseIpv6(F.ECHO_REQUEST.subarray(0, F.ECHO_REQUEST.length - 1))).to.deep.equal({ ok: false, reason: 'bad-payload-length' });
    expect(Ipv6Packet.check(F.ECHO_REQUEST.subarray(0, 50))).to.equal('bad-payload-length');
    expect(Ipv6Packet.check(F.ECHO_REQUEST.subarray(0, 20))).to.equal('truncated');
    expect(Ipv6Packet.check(F.ECHO_REQUEST)).to.equal(undefined);
    const multicastSource = F.ECHO_REQUEST.slice();
    multicastSource[8] = 0xff;
    expect(parseIpv6(multicastSource)).to.deep.equal({ ok: false, reason: 'bad-source' });
  });

  it('ignores link padding after Payload Length', () => {
    const padded = new Uint8Array(F.ECHO_REQUEST.length + 6);
    padded.set(F.ECHO_REQUEST);
    const r = parseIpv6(padded);
    if (!r.ok) throw new Error(r.reason);
    expect(r.payload.length).to.equal(64);
  });

  it('parses into a reused target without sharing memory with the input', () => {
    const target = new Ipv6ParseTarget();
    const bytes = F.TCP_SYN.slice();
    expect(parseIpv6Into(bytes, target)).to.equal(undefined);
    bytes.fill(0, 8, 40); // the receive buffer is reused
    expect(ipv6ToString(target.repr.src)).to.equal('fd01::1');
    expect(parseIpv6Into(F.TCP_SYN_ACK, target)).to.equal(undefined);
    expect(ipv6ToString(target.repr.src)).to.equal('fd02::1');
    expect(target.repr.hopLimit).to.equal(63);
  });

  it('refuses bad emit arguments with coded errors', () => {
    const repr = makeIpv6Repr({ src: ipv6FromString('fd00::1'), dst: ipv6FromString('fd00::2'), nextHeader: 6, payloadLength: 20 });
    expect(() => emitIpv6(repr, new Uint8Array(39))).to.throw(RangeError).with.property('code', 'ERR_BUFFER_OUT_OF_BOUNDS');
    for (const bad of [{ payloadLength: 0x10000 }, { flowLabel: 0x100000 }, { dscp: 64 }, { ecn: 4 }, { hopLimit: 256 }, { nextHeader: -1 }, { src: new Uint8Array(4) }]) {
      expect(() => emitIpv6({ ...repr, ...bad }, new Uint8Array(40)), JSON.stringify(bad)).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    }
  });

  it('never throws on random bytes and round-trips random headers', () => {
    withSeed((rng) => {
      const target = new Ipv6ParseTarget();
      for (let i = 0; i < 5000; i++) {
        const bytes = rng.bytes(rng.int(100));
        if (rng.chance(0.5) && bytes.length > 0) bytes[0] = 0x60 | (bytes[0]! & 0x0f);
        parseIpv6(bytes);
        parseIpv6Into(bytes, target);
      }
      for (let i = 0; i < 1000; i++) {
        const src = rng.bytes(16);
        src[0] = src[0]! & 0x7f; // not multicast
        const repr = makeIpv6Repr({
          src, dst: rng.bytes(16), nextHeader: rng.int(256), payloadLength: rng.int(64),
          hopLimit: rng.int(256), dscp: rng.int(64), ecn: rng.int(4), flowLabel: rng.int(0x100000),
        });
        const out = new Uint8Array(40 + repr.payloadLength);
        emitIpv6(repr, out);
        const r = parseIpv6(out);
        if (!r.ok) throw new Error(r.reason);
        expect(r.repr).to.deep.equal(repr);
      }
    });
  });
});
