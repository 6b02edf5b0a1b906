import { expect } from 'chai';
import { parseIcmpv4 } from './icmpv4.js';
import { parseIpv4, type Ipv4Repr } from './ipv4.js';
import { Ipv4Reassembler, type Ipv4ReassemblyResult } from './reassembly.js';
import { KERNEL_ECHO_REQUEST, KERNEL_FRAGMENTS } from './__tests__/captured.js';
import { withSeed } from '../../../testing/random.js';

const BASE: Ipv4Repr = {
  src: 0x0a000002,
  dst: 0x0a000001,
  protocol: 17,
  ttl: 64,
  payloadLength: 0,
  ident: 7,
  dontFragment: false,
  moreFragments: true,
  fragmentOffset: 0,
  dscp: 0,
  ecn: 0,
};

/** A fragment of `data` covering [offset, end), with MF unless it ends the datagram. */
function frag(data: Uint8Array, offset: number, end: number, over: Partial<Ipv4Repr> = {}): [Ipv4Repr, Uint8Array] {
  const payload = data.slice(offset, end);
  return [{ ...BASE, fragmentOffset: offset, moreFragments: end < data.length, payloadLength: payload.length, ...over }, payload];
}

function parsed(bytes: Uint8Array): [Ipv4Repr, Uint8Array] {
  const r = parseIpv4(bytes);
  if (!r.ok) throw new Error(`fixture does not parse: ${r.reason}`);
  return [r.repr, r.payload];
}

function data(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
}

describe('IPv4 reassembly (RFC 791 / RFC 815 / RFC 5722)', () => {
  it('reassembles the two captured kernel fragments, in either order', () => {
    for (const order of [[0, 1], [1, 0]]) {
      const r = new Ipv4Reassembler();
      const results: Ipv4ReassemblyResult[] = order.map((i) => r.add(1000, ...parsed(KERNEL_FRAGMENTS[i]!)));
      expect(results[0]).to.deep.equal({ kind: 'pending' });
      const done = results[1]!;
      if (done.kind !== 'complete') throw new Error(`expected complete, got ${JSON.stringify(done)}`);
      expect(done.repr).to.include({ payloadLength: 2008, moreFragments: false, fragmentOffset: 0, protocol: 1, ident: 0x3771 });
      // The ICMP checksum covers the whole reassembled message: it verifies only if every octet is in place.
      const icmp = parseIcmpv4(done.payload);
      expect(icmp.ok && icmp.repr.type === 'echo-request' && icmp.repr.data.length).to.equal(2000);
      expect(r.stats).to.include({ datagramsCompleted: 1, datagramsHeld: 0, bytesHeld: 0, fragmentsReceived: 2 });
    }
  });

  it('passes an unfragmented datagram through without copying', () => {
    const r = new Ipv4Reassembler();
    const [repr, payload] = parsed(KERNEL_ECHO_REQUEST);
    const res = r.add(0, repr, payload);
    expect(res.kind).to.equal('complete');
    if (res.kind === 'complete') expect(res.payload).to.equal(payload);
    expect(r.stats.fragmentsReceived).to.equal(0);
  });

  it('copies fragments, so the caller may reuse its buffer', () => {
    const r = new Ipv4Reassembler();
    const d = data(24);
    const [repr0, p0] = frag(d, 0, 16);
    r.add(0, repr0, p0);
    p0.fill(0);
    const res = r.add(0, ...frag(d, 16, 24));
    expect(res.kind === 'complete' && Array.from(res.payload)).to.deep.equal(Array.from(d));
  });

  it('keys datagrams by (src, dst, protocol, ident)', () => {
    const r = new Ipv4Reassembler();
    const d = data(16);
    expect(r.add(0, ...frag(d, 0, 8)).kind).to.equal('pending');
    expect(r.add(0, ...frag(d, 8, 16, { ident: 8 })).kind).to.equal('pending');
    expect(r.add(0, ...frag(d, 8, 16, { protocol: 6 })).kind).to.equal('pending');
    expect(r.add(0, ...frag(d, 8, 16, { src: 9 })).kind).to.equal('pending');
    expect(r.add(0, ...frag(d, 8, 16)).kind).to.equal('complete');
    expect(r.stats.datagramsHeld).to.equal(3);
  });

  it('ignores an exact duplicate and still completes', () => {
    const r = new Ipv4Reassembler();
    const d = data(24);
    r.add(0, ...frag(d, 0, 8));
    expect(r.add(0, ...frag(d, 0, 8))).to.deep.equal({ kind: 'drop', reason: 'duplicate' });
    r.add(0, ...frag(d, 8, 16));
    expect(r.add(0, ...frag(d, 16, 24)).kind).to.equal('complete');
  });

  describe('overlap discards the whole datagram and its later fragments (RFC 5722)', () => {
    const d = data(32);
    const cases: Array<[string, Array<[number, number]>, [number, number]]> = [
      ['overlapping the end of a held fragment', [[0, 16]], [8, 24]],
      ['overlapping the start of a held fragment', [[16, 32]], [8, 24]],
      ['inside a held fragment', [[0, 24]], [8, 16]],
      ['covering a held fragment', [[8, 16]], [0, 24]],
      ['same offset, different length', [[0, 16]], [0, 8]],
    ];
    for (const [name, held, bad] of cases) {
      it(name, () => {
        const r = new Ipv4Reassembler();
        for (const [a, b] of held) expect(r.add(0, ...frag(d, a, b)).kind).to.equal('pending');
        expect(r.add(0, ...frag(d, bad[0], bad[1]))).to.deep.equal({ kind: 'drop', reason: 'overlap' });
        expect(r.stats.bytesHeld).to.equal(0);
        expect(r.add(0, ...frag(d, 24, 32))).to.deep.equal({ kind: 'drop', reason: 'discarded' });
        expect(r.expire(30_000)).to.equal(1);
        expect(r.stats).to.include({ datagramsHeld: 0, datagramsTimedOut: 0, datagramsDiscarded: 1 });
      });
    }

    it('same range, different bytes', () => {
      const r = new Ipv4Reassembler();
      r.add(0, ...frag(d, 0, 8));
      const [repr, payload] = frag(d, 0, 8);
      payload[0] = payload[0]! ^ 0xff;
      expect(r.add(0, repr, payload)).to.deep.equal({ kind: 'drop', reason: 'overlap' });
    });

    it('a second, different last fragment', () => {
      const r = new Ipv4Reassembler();
      r.add(0, ...frag(d, 16, 32));
      expect(r.add(0, ...frag(d, 16, 24, { moreFragments: false }))).to.deep.equal({ kind: 'drop', reason: 'overlap' });
    });

    it('a fragment beyond the known end', () => {
      const r = new Ipv4Reassembler();
      r.add(0, ...frag(d, 16, 32));
      expect(r.add(0, ...frag(data(48), 32, 40))).to.deep.equal({ kind: 'drop', reason: 'overlap' });
    });
  });

  it('drops inconsistent fragments (bad-fragment)', () => {
    const r = new Ipv4Reassembler();
    const d = data(40);
    expect(r.add(0, ...frag(d, 0, 12))).to.deep.equal({ kind: 'drop', reason: 'bad-fragment' }); // MF, not ×8
    expect(r.add(0, ...frag(d, 4, 40))).to.deep.equal({ kind: 'drop', reason: 'bad-fragment' }); // offset not ×8
    const [repr, payload] = frag(d, 0, 8);
    expect(r.add(0, { ...repr, payloadLength: 9 }, payload)).to.deep.equal({ kind: 'drop', reason: 'bad-fragment' });
    expect(r.add(0, ...frag(new Uint8Array(65600), 65512, 65600))).to.deep.equal({ kind: 'drop', reason: 'bad-fragment' });
    expect(r.stats.fragmentsDropped).to.equal(4);
  });

  it('times out incomplete datagrams, oldest first', () => {
    const r = new Ipv4Reassembler({ timeoutMs: 1000 });
    const d = data(16);
    r.add(100, ...frag(d, 0, 8));
    r.add(600, ...frag(d, 0, 8, { ident: 9 }));
    expect(r.nextDeadline).to.equal(1100);
    expect(r.expire(1099)).to.equal(0);
    expect(r.expire(1100)).to.equal(1);
    expect(r.nextDeadline).to.equal(1600);
    // add() expires first: the late second half starts a new datagram instead of completing.
    expect(r.add(1700, ...frag(d, 8, 16, { ident: 9 })).kind).to.equal('pending');
    expect(r.stats).to.include({ datagramsTimedOut: 2, datagramsHeld: 1, bytesHeld: 8 });
    expect(new Ipv4Reassembler().nextDeadline).to.equal(undefined);
  });

  describe('memory bounds', () => {
    it('table full: the oldest datagram makes way, so a fragment flood cannot lock out real datagrams', () => {
      const r = new Ipv4Reassembler({ maxDatagrams: 2 });
      const d = data(16);
      r.add(0, ...frag(d, 0, 8, { ident: 1 }));
      r.add(0, ...frag(d, 0, 8, { ident: 2 }));
      expect(r.add(0, ...frag(d, 0, 8, { ident: 3 })).kind).to.equal('pending');
      expect(r.stats).to.include({ datagramsHeld: 2, datagramsEvicted: 1, bytesHeld: 16 });
      expect(r.add(0, ...frag(d, 8, 16, { ident: 3 })).kind).to.equal('complete');
      expect(r.add(0, ...frag(d, 8, 16, { ident: 2 })).kind).to.equal('complete'); // the newer one survived
      expect(r.add(0, ...frag(d, 8, 16, { ident: 1 })).kind).to.equal('pending'); // the evicted one starts afresh
      // A flood of junk first fragments, then a real two-fragment datagram: it still completes.
      const flooded = new Ipv4Reassembler({ maxDatagrams: 64 });
      for (let i = 0; i < 10_000; i++) flooded.add(0, ...frag(d, 0, 8, { ident: 1000 + i }));
      expect(flooded.add(0, ...frag(d, 0, 8, { ident: 7 })).kind).to.equal('pending');
      expect(flooded.add(0, ...frag(d, 8, 16, { ident: 7 })).kind).to.equal('complete');
      expect(flooded.stats.datagramsHeld).to.be.at.most(64);
    });

    it('too-big: maxBytesPerDatagram and maxFragmentsPerDatagram', () => {
      const r = new Ipv4Reassembler({ maxBytesPerDatagram: 1000, maxFragmentsPerDatagram: 3 });
      const d = data(2000);
      expect(r.add(0, ...frag(d, 992, 1008))).to.deep.equal({ kind: 'drop', reason: 'too-big' });
      for (let i = 0; i < 3; i++) expect(r.add(0, ...frag(d, i * 8, i * 8 + 8, { ident: 2 })).kind).to.equal('pending');
      expect(r.add(0, ...frag(d, 24, 32, { ident: 2 }))).to.deep.equal({ kind: 'drop', reason: 'too-big' });
      expect(r.stats.bytesHeld).to.equal(0);
    });

    it('memory-limit: at most maxTotalBytes held in all', () => {
      const r = new Ipv4Reassembler({ maxTotalBytes: 64 });
      const d = data(80);
      expect(r.add(0, ...frag(d, 0, 40, { ident: 1 })).kind).to.equal('pending');
      // The newer datagram takes the older one's room rather than being refused...
      expect(r.add(0, ...frag(d, 0, 40, { ident: 2 })).kind).to.equal('pending');
      expect(r.stats).to.include({ bytesHeld: 40, datagramsEvicted: 1, datagramsHeld: 1 });
      // ...but one datagram alone cannot exceed the cap.
      expect(r.add(0, ...frag(d, 40, 72, { ident: 2 }))).to.deep.equal({ kind: 'drop', reason: 'memory-limit' });
      expect(r.stats.bytesHeld).to.equal(0);
    });

    it('rejects bad limits with a coded error', () => {
      for (const bad of [{ maxDatagrams: 0 }, { timeoutMs: -1 }, { maxTotalBytes: 1.5 }, { maxBytesPerDatagram: 70000 }]) {
        expect(() => new Ipv4Reassembler(bad)).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
      }
    });
  });

  it('property: random fragmentations, orders and duplicates reassemble exactly once, byte for byte', () => {
    withSeed((rng) => {
      const r = new Ipv4Reassembler({ maxFragmentsPerDatagram: 200 });
      for (let n = 0; n < 500; n++) {
        const d = rng.bytes(1 + rng.int(4000));
        // Cut points on 8-octet boundaries.
        const cuts = new Set<number>([0, d.length]);
        for (let k = rng.int(12); k > 0; k--) cuts.add(Math.min(d.length, 8 * rng.int(Math.ceil(d.length / 8))));
        const points = [...cuts].sort((a, b) => a - b);
        const pieces: Array<[Ipv4Repr, Uint8Array]> = [];
        for (let k = 0; k + 1 < points.length; k++) pieces.push(frag(d, points[k]!, points[k + 1]!, { ident: n & 0xffff }));
        for (let k = pieces.length - 1; k > 0; k--) {
          const j = rng.int(k + 1);
          [pieces[k], pieces[j]] = [pieces[j]!, pieces[k]!];
        }
        if (pieces.length > 1 && rng.chance(0.3)) pieces.splice(rng.int(pieces.length - 1), 0, pieces[pieces.length - 1]!);
        let completed = 0;
        for (const [repr, payload] of pieces) {
          const res = r.add(n, repr, payload);
          if (res.kind === 'complete') {
            completed++;
            expect(Array.from(res.payload)).to.deep.equal(Array.from(d));
            expect(res.repr.payloadLength).to.equal(d.length);
          } else if (res.kind === 'drop') {
            expect(res.reason).to.equal('duplicate');
          }
        }
        // A duplicate of the last piece after completion would start a new datagram; count once.
        expect(completed).to.be.at.least(1);
        r.expire(n + 1_000_000);
      }
    });
  });
});
