import { expect } from 'chai';
import { createLinkPair } from './link-pair.js';

describe('createLinkPair', () => {
  it('delivers copies asynchronously, one batch per turn', async () => {
    const [a, b] = createLinkPair({ mtu: 100 });
    const batches: Uint8Array[][] = [];
    b.start((packets) => batches.push(packets.map((p) => p.slice())));
    const p = new Uint8Array([1, 2, 3]);
    a.send(p);
    p[0] = 9; // the link copied it
    a.send(new Uint8Array([4]));
    a.send(new Uint8Array(101)); // over the MTU: dropped
    expect(batches).to.have.length(0);
    await new Promise((r) => setImmediate(r));
    expect(batches).to.have.length(1);
    expect(batches[0]?.map((x) => [...x])).to.deep.equal([[1, 2, 3], [4]]);
    expect(a.counters).to.deep.equal({ sent: 3, delivered: 0, dropped: 1 });
    expect(b.counters.delivered).to.equal(2);
    await a.close();
    await b.close();
  });

  it('honours a delay and drops towards a closed side', async () => {
    const [a, b] = createLinkPair({ delayMs: 20 });
    let got = 0;
    let at = 0;
    const start = performance.now();
    b.start((packets) => {
      got += packets.length;
      at = performance.now() - start;
    });
    a.send(new Uint8Array(20));
    await new Promise((r) => setTimeout(r, 60));
    expect(got).to.equal(1);
    expect(at).to.be.at.least(15);
    await b.close();
    a.send(new Uint8Array(20));
    expect(a.counters.dropped).to.equal(1);
    await a.close();
  });

  it('queues packets sent before start', async () => {
    const [a, b] = createLinkPair();
    a.send(new Uint8Array(20));
    await new Promise((r) => setImmediate(r));
    let got = 0;
    b.start((packets) => (got += packets.length));
    await new Promise((r) => setImmediate(r));
    expect(got).to.equal(1);
    await Promise.all([a.close(), b.close()]);
  });
});
