import { expect } from 'chai';
import { withFaults, seededRandom, type FaultOptions } from './fault.js';
import type { Link, LinkReceiver } from './link.js';

function fakeLink(): Link & { inject: (p: Uint8Array[]) => void; sent: Uint8Array[] } {
  let receiver: LinkReceiver | undefined;
  const link = {
    mtu: 1500,
    sent: [] as Uint8Array[],
    start: (r: LinkReceiver) => {
      receiver = r;
    },
    send: (p: Uint8Array) => {
      link.sent.push(p.slice());
    },
    close: async () => undefined,
    inject: (p: Uint8Array[]) => receiver?.(p),
  };
  return link;
}

const packets = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => Uint8Array.of(i & 0xff, i >> 8, 0xaa, 0x55));
const ids = (ps: Uint8Array[]): number[] => ps.map((p) => (p[0] ?? 0) | ((p[1] ?? 0) << 8));

function runOutbound(options: FaultOptions, n = 2000): { sent: Uint8Array[]; link: ReturnType<typeof withFaults> } {
  const inner = fakeLink();
  const link = withFaults(inner, options);
  link.start(() => undefined);
  for (const p of packets(n)) link.send(p);
  return { sent: inner.sent, link };
}

describe('withFaults', () => {
  const seed = Number(process.env.SEED ?? 7);

  it('passes everything through unchanged with no faults', () => {
    const { sent } = runOutbound({ seed });
    expect(ids(sent)).to.deep.equal(ids(packets(2000)));
  });

  it('drops about the given share, and the same packets for the same seed', () => {
    const a = runOutbound({ seed, drop: 0.1 });
    const b = runOutbound({ seed, drop: 0.1 });
    expect(ids(a.sent), `seed ${seed}`).to.deep.equal(ids(b.sent));
    expect(a.link.counters.outbound.dropped, `seed ${seed}`).to.be.within(120, 280);
    expect(a.sent.length + a.link.counters.outbound.dropped).to.equal(2000);
  });

  it('duplicates, and corrupts exactly one bit of a copy', () => {
    const { sent, link } = runOutbound({ seed, duplicate: 0.2, corrupt: 0.1 });
    expect(sent.length).to.equal(2000 + link.counters.outbound.duplicated);
    const corrupted = sent.filter((p) => {
      const id = (p[0] ?? 0) | ((p[1] ?? 0) << 8);
      const want = Uint8Array.of(id & 0xff, id >> 8, 0xaa, 0x55);
      let bits = 0;
      for (let i = 0; i < 4; i++) for (let x = (p[i] ?? 0) ^ (want[i] ?? 0); x; x &= x - 1) bits++;
      return bits > 0;
    });
    // A flip in the id bytes makes a packet look like another id, so count by the payload bytes too.
    expect(link.counters.outbound.corrupted, `seed ${seed}`).to.be.within(100, 320);
    expect(corrupted.length).to.be.at.most(link.counters.outbound.corrupted * 2);
  });

  it('reorders without losing packets', async () => {
    const { sent, link } = runOutbound({ seed, reorder: 0.1 });
    await new Promise((r) => setTimeout(r, 10));
    expect(sent.length).to.equal(2000);
    expect([...ids(sent)].sort((x, y) => x - y)).to.deep.equal(ids(packets(2000)));
    expect(ids(sent)).to.not.deep.equal(ids(packets(2000)));
    expect(link.counters.outbound.reordered).to.be.above(50);
  });

  it('delays inbound packets and drops oversize ones', async () => {
    const inner = fakeLink();
    const link = withFaults(inner, { seed, inbound: { delayMs: 30, maxPacketSize: 3 } });
    const got: number[] = [];
    link.start((ps) => got.push(...ps.map((p) => p.length)));
    const t = performance.now();
    inner.inject([new Uint8Array(2), new Uint8Array(10), new Uint8Array(3)]);
    expect(got).to.deep.equal([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(got).to.deep.equal([2, 3]);
    expect(performance.now() - t).to.be.at.least(29);
    expect(link.counters.inbound.tooBig).to.equal(1);
    await link.close();
  });

  it('rejects bad probabilities with a code', () => {
    expect(() => withFaults(fakeLink(), { drop: 1.5 })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => withFaults(fakeLink(), { outbound: { delayMs: -1 } })).to.throw(RangeError);
  });

  it('draws a repeatable sequence from a seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 5 }, a);
    expect(xs).to.deep.equal(Array.from({ length: 5 }, b));
    expect(xs.every((x) => x >= 0 && x < 1)).to.equal(true);
  });
});
