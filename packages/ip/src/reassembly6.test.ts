import { expect } from 'chai';
import { Ipv6HeaderChain, walkIpv6Headers } from './ipv6-ext.js';
import { parseIcmpv6 } from './icmpv6.js';
import { parseIpv6 } from './ipv6.js';
import { Ipv6Reassembler, type Ipv6ReassemblyResult } from './reassembly6.js';
import * as F from './__tests__/fixtures6.js';
import { chainPacket, fragmentBody } from './__tests__/chain6.js';
import { withSeed } from '../../../testing/random.js';

/** Walks `packet` and offers it to `r` (it must be a fragment). */
function offer(r: Ipv6Reassembler, now: number, packet: Uint8Array): Ipv6ReassemblyResult {
  const chain = new Ipv6HeaderChain();
  expect(walkIpv6Headers(packet, chain)).to.equal('fragment');
  return r.add(now, packet, chain);
}

/** A UDP fragment: `data` at `offset` of datagram `id`, behind a Fragment header. */
function udpFragment(id: number, offset: number, more: boolean, data: Uint8Array): Uint8Array {
  return chainPacket([{ type: 44, body: fragmentBody(offset, more, id) }], 17, data);
}

const filled = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

describe('IPv6 reassembly (RFC 8200 §4.5)', () => {
  it('reassembles the captured 2008-octet echo request in either order, checksum intact', () => {
    for (const order of [[F.FRAGMENTED_ECHO_REQUEST_1, F.FRAGMENTED_ECHO_REQUEST_2], [F.FRAGMENTED_ECHO_REQUEST_2, F.FRAGMENTED_ECHO_REQUEST_1]]) {
      const r = new Ipv6Reassembler();
      expect(offer(r, 0, order[0]!)).to.deep.equal({ kind: 'pending' });
      const done = offer(r, 10, order[1]!);
      if (done.kind !== 'complete') throw new Error(done.kind);
      expect(done.packet.length).to.equal(40 + 8 + 2000); // `ping -s 2000`: 2000 data octets
      const ip = parseIpv6(done.packet);
      if (!ip.ok) throw new Error(ip.reason);
      expect(ip.repr.payloadLength).to.equal(2008);
      expect(ip.repr.nextHeader).to.equal(58); // the Fragment header is gone
      const chain = new Ipv6HeaderChain();
      expect(walkIpv6Headers(done.packet, chain)).to.equal('upper');
      const icmp = parseIcmpv6(done.packet.subarray(chain.offset, chain.end), ip.repr.src, ip.repr.dst);
      if (!icmp.ok) throw new Error(icmp.reason);
      expect(icmp.repr).to.include({ type: 'echo-request', seqNo: 1 });
      if (icmp.repr.type === 'echo-request') expect(icmp.repr.data.length).to.equal(2000);
      expect(r.stats).to.include({ datagramsCompleted: 1, datagramsHeld: 0, bytesHeld: 0, fragmentsReceived: 2 });
    }
  });

  it('keeps headers before the Fragment header in the reassembled packet', () => {
    const dest = { type: 60, body: [0x1e, 2, 1, 2] };
    const a = chainPacket([dest, { type: 44, body: fragmentBody(0, true, 7) }], 17, filled(16, 1));
    const b = chainPacket([dest, { type: 44, body: fragmentBody(16, false, 7) }], 17, filled(5, 2));
    const r = new Ipv6Reassembler();
    offer(r, 0, a);
    const done = offer(r, 0, b);
    if (done.kind !== 'complete') throw new Error(done.kind);
    const chain = new Ipv6HeaderChain();
    expect(walkIpv6Headers(done.packet, chain)).to.equal('upper');
    expect(chain).to.include({ protocol: 17, offset: 48, end: 48 + 21 });
    expect(done.packet[40]).to.equal(17); // the destination options' Next Header now names UDP
  });

  it('processes atomic fragments alone and never mixes them with a reassembly (RFC 6946)', () => {
    const r = new Ipv6Reassembler();
    expect(offer(r, 0, udpFragment(9, 0, true, filled(16, 1)))).to.deep.equal({ kind: 'pending' });
    const atomic = offer(r, 1, udpFragment(9, 0, false, filled(12, 3)));
    if (atomic.kind !== 'complete') throw new Error(atomic.kind);
    expect(atomic.packet.length).to.equal(40 + 12);
    expect(atomic.packet[6]).to.equal(17);
    expect(r.stats).to.include({ atomicFragments: 1, datagramsHeld: 1 });
    const done = offer(r, 2, udpFragment(9, 16, false, filled(8, 2)));
    expect(done.kind).to.equal('complete');
  });

  it('discards the whole datagram on any overlap, and its later fragments (RFC 5722)', () => {
    const r = new Ipv6Reassembler();
    offer(r, 0, udpFragment(1, 0, true, filled(16, 1)));
    expect(offer(r, 0, udpFragment(1, 8, true, filled(16, 1)))).to.deep.equal({ kind: 'drop', reason: 'overlap', icmpCode: -1 });
    expect(offer(r, 0, udpFragment(1, 16, false, filled(8, 1)))).to.include({ kind: 'drop', reason: 'discarded' });
    expect(r.stats).to.include({ datagramsDiscarded: 1, bytesHeld: 0 });
  });

  it('ignores an exact duplicate, but a same-place fragment with other bytes is an overlap', () => {
    const r = new Ipv6Reassembler();
    offer(r, 0, udpFragment(2, 0, true, filled(16, 1)));
    expect(offer(r, 0, udpFragment(2, 0, true, filled(16, 1)))).to.include({ kind: 'drop', reason: 'duplicate' });
    expect(offer(r, 0, udpFragment(2, 0, true, filled(16, 9)))).to.include({ kind: 'drop', reason: 'overlap' });
  });

  it('last fragments that disagree on the end are overlaps', () => {
    const r = new Ipv6Reassembler();
    offer(r, 0, udpFragment(3, 16, false, filled(8, 1)));
    expect(offer(r, 0, udpFragment(3, 32, false, filled(8, 1)))).to.include({ reason: 'overlap' });
    const r2 = new Ipv6Reassembler();
    offer(r2, 0, udpFragment(3, 16, false, filled(8, 1)));
    expect(offer(r2, 0, udpFragment(3, 24, true, filled(8, 1)))).to.include({ reason: 'overlap' });
  });

  it('drops a first fragment without the whole header chain (RFC 7112), code 3', () => {
    const r = new Ipv6Reassembler();
    // Destination options inside the fragment, but the TCP header is not there.
    const noUpper = chainPacket([{ type: 44, body: fragmentBody(0, true, 4) }, { type: 60, body: new Array(14).fill(0) }], 6, new Uint8Array(0));
    expect(offer(r, 0, noUpper)).to.deep.equal({ kind: 'drop', reason: 'incomplete-chain', icmpCode: 3 });
    // Only 8 octets of the 20-octet TCP header.
    const shortTcp = udpFragment(5, 0, true, new Uint8Array(8));
    shortTcp[40] = 6;
    expect(offer(r, 0, shortTcp)).to.include({ reason: 'incomplete-chain' });
    expect(r.stats).to.include({ datagramsHeld: 0 });
  });

  it('on timeout with the first fragment held, offers a Time Exceeded quote matching the kernel\'s', () => {
    const r = new Ipv6Reassembler();
    expect(offer(r, 1000, F.LONE_FIRST_FRAGMENT)).to.deep.equal({ kind: 'pending' });
    expect(r.nextDeadline).to.equal(61_000);
    expect(r.expire(60_999)).to.equal(0);
    expect(r.expire(61_000)).to.equal(1);
    const quote = r.pollTimeExceeded();
    if (quote === undefined) throw new Error('no quote');
    expect(r.pollTimeExceeded()).to.equal(undefined);
    // The kernel's Time Exceeded quotes the same fragment, received one hop later.
    const answer = parseIpv6(F.TIME_EXCEEDED_REASSEMBLY);
    if (!answer.ok) throw new Error(answer.reason);
    const icmp = parseIcmpv6(answer.payload, answer.repr.src, answer.repr.dst);
    if (!icmp.ok || icmp.repr.type !== 'time-exceeded') throw new Error('bad fixture');
    const kernelQuote = icmp.repr.quoted.slice();
    kernelQuote[7] = quote[7]!; // hop limit 63 there, 64 here
    expect(Array.from(quote)).to.deep.equal(Array.from(kernelQuote));
    expect(r.stats).to.include({ datagramsTimedOut: 1, bytesHeld: 0, timeExceededPending: 0 });
  });

  it('refuses a chain that does not describe a fragment of this packet', () => {
    const r = new Ipv6Reassembler();
    const chain = new Ipv6HeaderChain();
    walkIpv6Headers(F.TCP_SYN, chain);
    expect(r.add(0, F.TCP_SYN, chain)).to.include({ kind: 'drop', reason: 'bad-fragment' });
    walkIpv6Headers(F.FRAGMENTED_ECHO_REQUEST_1, chain);
    expect(r.add(0, F.FRAGMENTED_ECHO_REQUEST_1.subarray(0, 100), chain)).to.include({ kind: 'drop', reason: 'bad-fragment' });
  });

  it('times out silently without the first fragment', () => {
    const r = new Ipv6Reassembler();
    offer(r, 0, udpFragment(6, 16, false, filled(8, 1)));
    expect(r.expire(60_000)).to.equal(1);
    expect(r.pollTimeExceeded()).to.equal(undefined);
  });

  it('enforces its caps: bytes and fragments per datagram, total memory, table size', () => {
    const r = new Ipv6Reassembler({ maxBytesPerDatagram: 64, maxFragmentsPerDatagram: 2, maxTotalBytes: 300, maxDatagrams: 2 });
    expect(offer(r, 0, udpFragment(1, 64, false, filled(8, 1)))).to.include({ reason: 'too-big' });
    offer(r, 0, udpFragment(2, 0, true, filled(8, 1)));
    offer(r, 0, udpFragment(2, 8, true, filled(8, 1)));
    expect(offer(r, 0, udpFragment(2, 16, true, filled(8, 1)))).to.include({ reason: 'too-big' });
    offer(r, 0, udpFragment(3, 0, true, filled(8, 1)));
    offer(r, 0, udpFragment(4, 0, true, filled(8, 1))); // evicts the oldest
    expect(r.stats.datagramsHeld).to.equal(2);
    expect(r.stats.datagramsEvicted).to.be.greaterThan(0);
    expect(() => new Ipv6Reassembler({ maxDatagrams: 0 })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => new Ipv6Reassembler({ maxBytesPerDatagram: 70000 })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
  });

  it('a flood of 100,000 distinct fragments stays within the memory cap, and a real datagram still completes', () => {
    withSeed((rng) => {
      // Default caps (the table binds first), then a small memory cap that binds first.
      for (const caps of [{}, { maxTotalBytes: 16_384, maxDatagrams: 1024 }]) {
        const r = new Ipv6Reassembler(caps);
        const { maxTotalBytes, maxDatagrams } = r.options;
        const chain = new Ipv6HeaderChain();
        let maxHeld = 0;
        // One buffer rewritten per fragment (the reassembler copies what it keeps).
        const template = udpFragment(0, 0, true, new Uint8Array(8 * 161));
        for (let i = 0; i < 100_000; i++) {
          const length = 8 * (1 + rng.int(160));
          const offset = rng.chance(0.3) ? 0 : 8 * (1 + rng.int(100));
          const id = rng.u32();
          template.set([(length + 8) >>> 8, (length + 8) & 0xff], 4);
          template.set([offset >>> 8, (offset & 0xff) | 1, id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff], 42);
          const p = template.subarray(0, 48 + length);
          if (walkIpv6Headers(p, chain) !== 'fragment') throw new Error('not a fragment');
          r.add(i, p, chain); // 1 ms apart: some time out, most are evicted
          if (i % 1000 === 0) while (r.pollTimeExceeded() !== undefined) { /* drained as a stack would */ }
          {
            maxHeld = Math.max(maxHeld, r.stats.bytesHeld);
            if (maxHeld > maxTotalBytes) throw new Error(`holds ${maxHeld} octets after ${i} fragments`);
          }
        }
        const s = r.stats;
        expect(s.datagramsHeld).to.be.at.most(maxDatagrams);
        expect(s.timeExceededPending).to.be.at.most(maxDatagrams);
        expect(maxHeld).to.be.at.most(maxTotalBytes);
        offer(r, 100_000, udpFragment(42, 0, true, filled(16, 1)));
        expect(offer(r, 100_001, udpFragment(42, 16, false, filled(8, 2))).kind).to.equal('complete');
        expect(maxHeld, 'the flood filled the reassembler').to.be.greaterThan(maxTotalBytes / 64);
      }
    });
  });
});
