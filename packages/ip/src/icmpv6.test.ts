import { expect } from 'chai';
import { ipv6FromString, ipv6ToString } from './address6.js';
import {
  ICMPV6_MAX_QUOTE,
  Icmpv6Packet,
  Icmpv6RateLimiter,
  type Icmpv6Repr,
  echoReplyFor6,
  emitIcmpv6,
  icmpv6Length,
  icmpv6Quote,
  mayAnswerWithIcmpv6Error,
  parseIcmpv6,
  parseQuotedPacket6,
} from './icmpv6.js';
import { Ipv6HeaderChain, walkIpv6Headers } from './ipv6-ext.js';
import { parseIpv6 } from './ipv6.js';
import * as F from './__tests__/fixtures6.js';
import { withSeed } from '../../../testing/random.js';

/** The ICMPv6 message of a captured packet with its addresses. */
function icmpOf(packet: Uint8Array): { src: Uint8Array; dst: Uint8Array; message: Uint8Array } {
  const ip = parseIpv6(packet);
  if (!ip.ok) throw new Error(ip.reason);
  const chain = new Ipv6HeaderChain();
  if (walkIpv6Headers(packet, chain) !== 'upper' || chain.protocol !== 58) throw new Error('not ICMPv6');
  return { src: ip.repr.src, dst: ip.repr.dst, message: packet.subarray(chain.offset, chain.end) };
}

function parsed(packet: Uint8Array): Icmpv6Repr {
  const { src, dst, message } = icmpOf(packet);
  const r = parseIcmpv6(message, src, dst);
  if (!r.ok) throw new Error(r.reason);
  return r.repr;
}

describe('ICMPv6 (RFC 4443)', () => {
  // Every type captured: parse → Repr → emit gives the same bytes, checksum included.
  const cases: [string, Uint8Array, Partial<Record<string, unknown>>][] = [
    ['echo request', F.ECHO_REQUEST, { type: 'echo-request', seqNo: 1 }],
    ['echo reply', F.ECHO_REPLY, { type: 'echo-reply', seqNo: 1 }],
    ['echo request on ::1', F.LO_ECHO_REQUEST, { type: 'echo-request' }],
    ['echo reply on ::1', F.LO_ECHO_REPLY, { type: 'echo-reply' }],
    ['destination unreachable, no route', F.DEST_UNREACHABLE_NO_ROUTE, { type: 'dest-unreachable', code: 0 }],
    ['destination unreachable, prohibited', F.DEST_UNREACHABLE_PROHIBITED, { type: 'dest-unreachable', code: 1 }],
    ['destination unreachable, address', F.DEST_UNREACHABLE_ADDRESS, { type: 'dest-unreachable', code: 3 }],
    ['destination unreachable, port', F.DEST_UNREACHABLE_PORT, { type: 'dest-unreachable', code: 4 }],
    ['packet too big', F.PACKET_TOO_BIG, { type: 'packet-too-big', mtu: 1280 }],
    ['time exceeded, hop limit', F.TIME_EXCEEDED_HOP_LIMIT, { type: 'time-exceeded', code: 0 }],
    ['time exceeded, reassembly', F.TIME_EXCEEDED_REASSEMBLY, { type: 'time-exceeded', code: 1 }],
    ['parameter problem, field', F.PARAM_PROBLEM_ROUTING, { type: 'parameter-problem', code: 0, pointer: 42 }],
    ['parameter problem, next header', F.PARAM_PROBLEM_NEXT_HEADER, { type: 'parameter-problem', code: 1, pointer: 6 }],
    ['parameter problem, option', F.PARAM_PROBLEM_OPTION, { type: 'parameter-problem', code: 2, pointer: 42 }],
    ['router solicitation', F.ROUTER_SOLICITATION, { type: 'neighbour-discovery', msgType: 133 }],
    ['neighbour solicitation', F.NEIGHBOUR_SOLICITATION, { type: 'neighbour-discovery', msgType: 135 }],
    ['neighbour solicitation (DAD)', F.NEIGHBOUR_SOLICITATION_DAD, { type: 'neighbour-discovery', msgType: 135 }],
    ['neighbour advertisement', F.NEIGHBOUR_ADVERTISEMENT, { type: 'neighbour-discovery', msgType: 136 }],
    ['MLDv2 report', F.MLD2_REPORT, { type: 'multicast-listener', msgType: 143 }],
    ['MLDv2 report from ::', F.MLD2_REPORT_FROM_UNSPECIFIED, { type: 'multicast-listener', msgType: 143 }],
  ];
  for (const [name, packet, fields] of cases) {
    it(`${name}: parse → Repr → emit gives the captured bytes`, () => {
      const { src, dst, message } = icmpOf(packet);
      const r = parseIcmpv6(message, src, dst);
      if (!r.ok) throw new Error(r.reason);
      expect(r.repr).to.include(fields);
      expect(icmpv6Length(r.repr)).to.equal(message.length);
      const out = new Uint8Array(message.length + 3).fill(0xa5);
      expect(emitIcmpv6(r.repr, src, dst, out)).to.equal(message.length);
      expect(Array.from(out.subarray(0, message.length))).to.deep.equal(Array.from(message));
      expect(out[message.length]).to.equal(0xa5);
      expect(new Icmpv6Packet(message).verifyChecksum(src, dst)).to.equal(true);
    });
  }

  it('reads echo fields and answers an echo request as the kernel did', () => {
    const request = parsed(F.LO_ECHO_REQUEST);
    if (request.type !== 'echo-request') throw new Error(request.type);
    expect(request).to.include({ ident: 25235, seqNo: 1 });
    expect(request.data.length).to.equal(56);
    const reply = echoReplyFor6(request);
    const { src, dst, message } = icmpOf(F.LO_ECHO_REPLY);
    const out = new Uint8Array(message.length);
    emitIcmpv6(reply, src, dst, out);
    expect(Array.from(out)).to.deep.equal(Array.from(message));
  });

  it('quotes as much as fits in 1280 octets: the captured Packet Too Big is exactly that', () => {
    const ptb = parsed(F.PACKET_TOO_BIG);
    if (ptb.type !== 'packet-too-big') throw new Error(ptb.type);
    expect(ptb.quoted.length).to.equal(ICMPV6_MAX_QUOTE);
    expect(F.PACKET_TOO_BIG.length).to.equal(1280);
    expect(Array.from(icmpv6Quote(F.BIG_ECHO_REQUEST))).to.deep.equal(Array.from(ptb.quoted));
    expect(icmpv6Quote(F.ECHO_REQUEST).length).to.equal(F.ECHO_REQUEST.length);
  });

  it('finds the connection in a quoted packet, through a Fragment header too', () => {
    const unreachable = parsed(F.DEST_UNREACHABLE_PORT);
    if (unreachable.type !== 'dest-unreachable') throw new Error(unreachable.type);
    const q = parseQuotedPacket6(unreachable.quoted);
    if (q === undefined) throw new Error('no quote');
    expect(ipv6ToString(q.src)).to.equal('fd01::1');
    expect(ipv6ToString(q.dst)).to.equal('fd02::1');
    expect(q.protocol).to.equal(17);
    expect((q.transport[2]! << 8) | q.transport[3]!).to.equal(9); // UDP destination port
    const timeout = parsed(F.TIME_EXCEEDED_REASSEMBLY);
    if (timeout.type !== 'time-exceeded') throw new Error(timeout.type);
    expect(parseQuotedPacket6(timeout.quoted)).to.include({ protocol: 17 });
    expect(parseQuotedPacket6(timeout.quoted.subarray(0, 50))).to.equal(undefined);
    expect(parseQuotedPacket6(F.FRAGMENTED_ECHO_REQUEST_2)).to.equal(undefined); // not a first fragment
    expect(parseQuotedPacket6(new Uint8Array(60))).to.equal(undefined);
  });

  it('drops with a reason: truncated, bad checksum, unknown informational type', () => {
    const { src, dst, message } = icmpOf(F.ECHO_REQUEST);
    expect(parseIcmpv6(message.subarray(0, 3), src, dst)).to.deep.equal({ ok: false, reason: 'truncated', msgType: -1 });
    expect(parseIcmpv6(message.subarray(0, 7), src, dst)).to.deep.equal({ ok: false, reason: 'truncated', msgType: 128 });
    const bad = message.slice();
    bad[10] = bad[10]! ^ 1;
    expect(parseIcmpv6(bad, src, dst)).to.deep.equal({ ok: false, reason: 'bad-checksum', msgType: 128 });
    expect(parseIcmpv6(message, src, ipv6FromString('fd02::2'))).to.include({ ok: false, reason: 'bad-checksum' });
    const unknown = new Uint8Array(8);
    emitIcmpv6({ type: 'neighbour-discovery', msgType: 200, code: 0, body: new Uint8Array(4) }, src, dst, unknown);
    expect(parseIcmpv6(unknown, src, dst)).to.deep.equal({ ok: false, reason: 'unsupported-type', msgType: 200 });
  });

  it('passes an unknown error type up with its quote (RFC 4443 §2.4 (b))', () => {
    const src = ipv6FromString('fd00::1');
    const dst = ipv6FromString('fd00::2');
    const out = new Uint8Array(8 + F.ECHO_REQUEST.length);
    emitIcmpv6({ type: 'unknown-error', msgType: 100, code: 7, word: 0xdeadbeef, quoted: F.ECHO_REQUEST }, src, dst, out);
    const r = parseIcmpv6(out, src, dst);
    if (!r.ok) throw new Error(r.reason);
    expect(r.repr).to.include({ type: 'unknown-error', msgType: 100, code: 7, word: 0xdeadbeef });
  });

  it('refuses bad emit arguments with coded errors', () => {
    const src = ipv6FromString('fd00::1');
    expect(() => emitIcmpv6({ type: 'echo-request', ident: 1, seqNo: 2, data: new Uint8Array(4) }, src, src, new Uint8Array(11)))
      .to.throw(RangeError).with.property('code', 'ERR_BUFFER_OUT_OF_BOUNDS');
    expect(() => emitIcmpv6({ type: 'echo-request', ident: 0x10000, seqNo: 2, data: new Uint8Array(0) }, src, src, new Uint8Array(8)))
      .to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => emitIcmpv6({ type: 'dest-unreachable', code: 256, quoted: new Uint8Array(0) }, src, src, new Uint8Array(8)))
      .to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => emitIcmpv6({ type: 'packet-too-big', mtu: -1, quoted: new Uint8Array(0) }, src, src, new Uint8Array(8)))
      .to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => emitIcmpv6({ type: 'time-exceeded', code: 0, quoted: new Uint8Array(0) }, new Uint8Array(4), src, new Uint8Array(8)))
      .to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
  });

  describe('when an error may be sent (RFC 4443 §2.4 (e))', () => {
    const chainOf = (packet: Uint8Array): Ipv6HeaderChain => {
      const chain = new Ipv6HeaderChain();
      walkIpv6Headers(packet, chain);
      return chain;
    };
    it('answers an ordinary unicast packet', () => {
      expect(mayAnswerWithIcmpv6Error(F.UDP_TO_CLOSED_PORT, 1, 4, chainOf(F.UDP_TO_CLOSED_PORT))).to.equal(true);
      expect(mayAnswerWithIcmpv6Error(F.ECHO_REQUEST, 2, 0, chainOf(F.ECHO_REQUEST))).to.equal(true);
    });
    it('never answers an ICMPv6 error or a redirect (e.1, e.2)', () => {
      expect(mayAnswerWithIcmpv6Error(F.PACKET_TOO_BIG, 4, 0, chainOf(F.PACKET_TOO_BIG))).to.equal(false);
      expect(mayAnswerWithIcmpv6Error(F.PARAM_PROBLEM_OPTION, 1, 0, chainOf(F.PARAM_PROBLEM_OPTION))).to.equal(false);
      const redirect = F.NEIGHBOUR_ADVERTISEMENT.slice();
      redirect[40] = 137;
      expect(mayAnswerWithIcmpv6Error(redirect, 1, 0, chainOf(redirect))).to.equal(false);
    });
    it('never answers a packet to multicast (e.3) but Packet Too Big and Parameter Problem code 2', () => {
      const toMulticast = F.UDP_TO_CLOSED_PORT.slice();
      toMulticast.set(ipv6FromString('ff02::1'), 24);
      expect(mayAnswerWithIcmpv6Error(toMulticast, 1, 4)).to.equal(false);
      expect(mayAnswerWithIcmpv6Error(toMulticast, 4, 0)).to.equal(false);
      expect(mayAnswerWithIcmpv6Error(toMulticast, 2, 0)).to.equal(true);
      expect(mayAnswerWithIcmpv6Error(toMulticast, 4, 2)).to.equal(true);
    });
    it('never answers the unspecified or a multicast source (e.6)', () => {
      expect(mayAnswerWithIcmpv6Error(F.MLD2_REPORT_FROM_UNSPECIFIED, 4, 2)).to.equal(false);
      const fromMulticast = F.UDP_TO_CLOSED_PORT.slice();
      fromMulticast[8] = 0xff;
      expect(mayAnswerWithIcmpv6Error(fromMulticast, 1, 4)).to.equal(false);
      expect(mayAnswerWithIcmpv6Error(new Uint8Array(10), 1, 4)).to.equal(false);
    });
  });

  describe('rate limiter (RFC 4443 §2.4 (f))', () => {
    it('allows a burst, then the average rate', () => {
      const limiter = new Icmpv6RateLimiter({ ratePerSecond: 10, burst: 3 });
      expect([1, 2, 3, 4].map(() => limiter.allow(0))).to.deep.equal([true, true, true, false]);
      expect(limiter.allow(50)).to.equal(false);
      expect(limiter.allow(100)).to.equal(true); // one token per 100 ms
      expect(limiter.allow(100)).to.equal(false);
      expect(limiter.allow(10_000)).to.equal(true); // refilled, but never above the burst
      expect([1, 2, 3].map(() => limiter.allow(10_000))).to.deep.equal([true, true, false]);
      expect(limiter.refused).to.equal(4);
    });
    it('reads an injected clock, and ignores time going backwards', () => {
      let now = 0;
      const limiter = new Icmpv6RateLimiter({ ratePerSecond: 1, burst: 1, clock: () => now });
      expect(limiter.allow()).to.equal(true);
      expect(limiter.allow()).to.equal(false);
      now = -5000;
      expect(limiter.allow()).to.equal(false);
      now = 1000;
      expect(limiter.allow()).to.equal(true);
      expect(() => new Icmpv6RateLimiter().allow()).to.throw(TypeError).with.property('code', 'ERR_MISSING_ARGS');
      expect(() => new Icmpv6RateLimiter({ burst: 0 })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    });
  });

  it('never throws on random messages, and round-trips random echoes', () => {
    withSeed((rng) => {
      for (let i = 0; i < 5000; i++) {
        const src = rng.bytes(16);
        const dst = rng.bytes(16);
        const bytes = rng.bytes(rng.int(80));
        if (bytes.length >= 8) {
          bytes[0] = rng.pick([1, 2, 3, 4, 128, 129, 133, 135, 143, 100, 200]);
          // Echo and Packet Too Big codes are 0 (RFC 4443 §3.2, §4.1) and not kept in the Repr.
          if (bytes[0] === 2 || bytes[0] === 128 || bytes[0] === 129) bytes[1] = 0;
          if (bytes[0] === 1 || bytes[0] === 3) bytes.fill(0, 4, 8); // "unused", zero from senders (§3.1, §3.3)
          new Icmpv6Packet(bytes).fillChecksum(src, dst);
        }
        const r = parseIcmpv6(bytes, src, dst);
        if (r.ok) {
          const out = new Uint8Array(icmpv6Length(r.repr));
          emitIcmpv6(r.repr, src, dst, out);
          expect(Array.from(out)).to.deep.equal(Array.from(bytes));
        }
        parseQuotedPacket6(bytes);
      }
    });
  });
});
