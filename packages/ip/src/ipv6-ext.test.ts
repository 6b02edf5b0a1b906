import { expect } from 'chai';
import { Ipv6HeaderChain, walkIpv6Headers, walkIpv6HeadersFrom } from './ipv6-ext.js';
import { parseIcmpv6 } from './icmpv6.js';
import { parseIpv6 } from './ipv6.js';
import * as F from './__tests__/fixtures6.js';
import { chainPacket, fragmentBody } from './__tests__/chain6.js';
import { withSeed } from '../../../testing/random.js';

function walk(packet: Uint8Array, options?: Parameters<typeof walkIpv6Headers>[2]): Ipv6HeaderChain {
  const chain = new Ipv6HeaderChain();
  walkIpv6Headers(packet, chain, options);
  return chain;
}

/** The Parameter Problem the kernel sent for a fixture: [code, pointer]. */
function kernelAnswer(answer: Uint8Array): [number, number] {
  const r = parseIpv6(answer);
  if (!r.ok) throw new Error(r.reason);
  const icmp = parseIcmpv6(r.payload, r.repr.src, r.repr.dst);
  if (!icmp.ok || icmp.repr.type !== 'parameter-problem') throw new Error('not a parameter problem');
  return [icmp.repr.code, icmp.repr.pointer];
}

describe('IPv6 extension headers (RFC 8200 §4)', () => {
  describe('captured packets', () => {
    it('a packet without extension headers goes straight to its upper layer', () => {
      expect(walk(F.TCP_SYN)).to.include({ kind: 'upper', protocol: 6, offset: 40, end: 80, nextHeaderFieldOffset: 6, headers: 0 });
    });

    it('hop-by-hop with PadN, and with router alert (an MLDv2 report), is walked past', () => {
      expect(walk(F.UDP_HOP_BY_HOP)).to.include({ kind: 'upper', protocol: 17, offset: 48, nextHeaderFieldOffset: 40, headers: 1 });
      expect(walk(F.MLD2_REPORT)).to.include({ kind: 'upper', protocol: 58, offset: 48 });
    });

    it('an unknown option with action 00 is skipped (§4.2), as the kernel did', () => {
      expect(walk(F.UDP_DEST_OPTIONS_SKIP)).to.include({ kind: 'upper', protocol: 17, offset: 48 });
    });

    it('an unknown option with action 10: Parameter Problem code 2 at the option, as the kernel answered', () => {
      const chain = walk(F.UDP_DEST_OPTIONS_DISCARD);
      expect(chain).to.include({ kind: 'drop', reason: 'unknown-option' });
      expect([chain.icmpCode, chain.icmpPointer]).to.deep.equal(kernelAnswer(F.PARAM_PROBLEM_OPTION));
    });

    it('an unknown next header: Parameter Problem code 1 at the Next Header field, as the kernel answered', () => {
      const chain = walk(F.UNKNOWN_NEXT_HEADER);
      expect(chain).to.include({ kind: 'drop', reason: 'unknown-next-header' });
      expect([chain.icmpCode, chain.icmpPointer]).to.deep.equal(kernelAnswer(F.PARAM_PROBLEM_NEXT_HEADER));
    });

    it('routing type 0 (RFC 5095) and an unknown type with segments left: code 0 at the routing type, as the kernel answered', () => {
      for (const [packet, answer] of [[F.ROUTING_TYPE0, F.PARAM_PROBLEM_ROUTING_TYPE0], [F.ROUTING_TYPE253, F.PARAM_PROBLEM_ROUTING]] as const) {
        const chain = walk(packet);
        expect(chain).to.include({ kind: 'drop', reason: 'unknown-routing-type' });
        expect([chain.icmpCode, chain.icmpPointer]).to.deep.equal(kernelAnswer(answer));
      }
    });

    it('stops at a fragment header and reports its fields', () => {
      expect(walk(F.FRAGMENTED_ECHO_REQUEST_1)).to.include({
        kind: 'fragment', protocol: 58, offset: 48, fragmentHeaderOffset: 40, nextHeaderFieldOffset: 6,
        fragmentOffset: 0, moreFragments: true, identification: 0x7fc376da, end: 1280,
      });
      expect(walk(F.FRAGMENTED_ECHO_REQUEST_2)).to.include({ kind: 'fragment', fragmentOffset: 1232, moreFragments: false });
    });
  });

  describe('option actions (§4.2)', () => {
    const withOption = (type: number, dst?: string): Uint8Array => chainPacket([{ type: 60, body: [type, 2, 0xab, 0xcd] }], 17, undefined, dst);
    it('01: discard silently', () => {
      expect(walk(withOption(0x5e))).to.include({ kind: 'drop', reason: 'unknown-option', icmpCode: -1 });
    });
    it('10: Parameter Problem code 2 even to multicast', () => {
      expect(walk(withOption(0x9e, 'ff02::1'))).to.include({ kind: 'drop', icmpCode: 2, icmpPointer: 42 });
    });
    it('11: Parameter Problem code 2 unless the destination is multicast', () => {
      expect(walk(withOption(0xde))).to.include({ kind: 'drop', icmpCode: 2, icmpPointer: 42 });
      expect(walk(withOption(0xde, 'ff02::1'))).to.include({ kind: 'drop', reason: 'unknown-option', icmpCode: -1 });
    });
    it('Pad1, PadN and router alert are known', () => {
      expect(walk(chainPacket([{ type: 0, body: [0, 5, 2, 0, 0, 1, 0] }], 6, new Uint8Array(20)))).to.include({ kind: 'upper', protocol: 6 });
    });
    it('an option running past its header is malformed', () => {
      expect(walk(chainPacket([{ type: 60, body: [0x1e, 9, 0, 0] }], 17))).to.include({ kind: 'drop', reason: 'bad-option', icmpCode: -1 });
      expect(walk(chainPacket([{ type: 60, body: [0, 0, 0, 0, 0, 0x1e] }], 17))).to.include({ kind: 'drop', reason: 'bad-option' });
    });
  });

  describe('chain rules', () => {
    it('a routing header with segments left 0 is ignored (§4.4)', () => {
      expect(walk(chainPacket([{ type: 43, body: [0, 0, 0, 0, 0, 0] }], 17))).to.include({ kind: 'upper', protocol: 17, offset: 48 });
    });
    it('hop-by-hop anywhere but first is an unrecognised next header (§4.3)', () => {
      expect(walk(chainPacket([{ type: 60, body: [] }, { type: 0, body: [] }], 17))).to.include({
        kind: 'drop', reason: 'unknown-next-header', icmpCode: 1, icmpPointer: 40,
      });
    });
    it('no next header (59) is dropped and counted (§4.7)', () => {
      expect(walk(chainPacket([{ type: 60, body: [] }], 59))).to.include({ kind: 'drop', reason: 'no-next-header', icmpCode: -1 });
    });
    it('the caller decides which upper layers it knows', () => {
      const udp = chainPacket([], 17);
      expect(walk(udp, { isUpperLayer: (n) => n === 6 })).to.include({ kind: 'drop', icmpCode: 1, icmpPointer: 6 });
      expect(walk(chainPacket([], 99), { isUpperLayer: () => true })).to.include({ kind: 'upper', protocol: 99 });
    });
    it('a header running past the payload is truncated', () => {
      const p = chainPacket([{ type: 60, body: new Array(14).fill(0) }], 17, new Uint8Array(0));
      p[41] = 3; // claims 32 octets, 16 present
      expect(walk(p)).to.include({ kind: 'drop', reason: 'truncated', icmpCode: -1 });
      expect(walk(F.ECHO_REQUEST.subarray(0, 50))).to.include({ kind: 'drop', reason: 'truncated' });
    });
    it('is bounded: header count and chain length', () => {
      const many = chainPacket(new Array(20).fill({ type: 60, body: [] }), 17);
      expect(walk(many)).to.include({ kind: 'drop', reason: 'too-many-headers' });
      expect(walk(many, { maxHeaders: 32 })).to.include({ kind: 'upper', headers: 20 });
      const long = chainPacket([{ type: 60, body: new Array(1400).fill(0) }], 17);
      expect(walk(long)).to.include({ kind: 'drop', reason: 'chain-too-long' });
      expect(walk(long, { maxChainLength: 2048 })).to.include({ kind: 'upper' });
    });
    it('fragment length and reach are checked (§4.5)', () => {
      const odd = chainPacket([{ type: 44, body: fragmentBody(0, true, 1) }], 17, new Uint8Array(12));
      expect(walk(odd)).to.include({ kind: 'drop', reason: 'bad-fragment', icmpCode: 0, icmpPointer: 4 });
      const far = chainPacket([{ type: 44, body: fragmentBody(65528, false, 1) }], 17, new Uint8Array(16));
      expect(walk(far)).to.include({ kind: 'drop', reason: 'bad-fragment', icmpCode: 0, icmpPointer: 42 });
      const lastOdd = chainPacket([{ type: 44, body: fragmentBody(8, false, 1) }], 17, new Uint8Array(13));
      expect(walk(lastOdd)).to.include({ kind: 'fragment', fragmentOffset: 8, moreFragments: false });
    });
    it('walks from the middle of a packet, and refuses impossible starts', () => {
      const chain = new Ipv6HeaderChain();
      expect(walkIpv6HeadersFrom(F.FRAGMENTED_ECHO_REQUEST_1, 48, 40, 1280, chain)).to.equal('upper');
      expect(chain).to.include({ protocol: 58, offset: 48 });
      expect(walkIpv6HeadersFrom(F.ECHO_REQUEST, 200, 6, 100, chain)).to.equal('drop');
      expect(walkIpv6HeadersFrom(F.ECHO_REQUEST, 40, 6, 5000, chain)).to.equal('drop');
    });
  });

  it('never throws and always terminates on random chains', () => {
    withSeed((rng) => {
      const chain = new Ipv6HeaderChain();
      for (let i = 0; i < 20000; i++) {
        const p = new Uint8Array(40 + rng.int(200));
        p.set(rng.bytes(p.length));
        p[0] = 0x60;
        const len = rng.chance(0.8) ? p.length - 40 : rng.int(0x10000);
        p[4] = len >>> 8;
        p[5] = len & 0xff;
        if (rng.chance(0.7)) p[6] = rng.pick([0, 43, 44, 60, 59, 6, 17, 58]);
        const kind = walkIpv6Headers(p, chain);
        expect(['upper', 'fragment', 'drop']).to.include(kind);
        if (kind === 'upper') expect(chain.offset).to.be.at.most(chain.end);
      }
    });
  });
});
