import { expect } from 'chai';
import { EphemeralPorts } from './ephemeral-ports.js';
import { IsnGenerator } from './isn.js';

const secret = Uint8Array.from({ length: 16 }, (_, i) => i * 7);

describe('EphemeralPorts (RFC 6056 algorithm 4)', () => {
  it('chooses distinct ports in range for successive connections to one peer', () => {
    const ports = new EphemeralPorts(secret);
    const used = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const p = ports.choose(0x0a000001, 0x0a000002, 80, (q) => !used.has(q));
      expect(p).to.be.within(49152, 65535);
      used.add(p as number);
    }
    expect(used.size).to.equal(1000);
  });

  it('skips ports in use and reports exhaustion', () => {
    const ports = new EphemeralPorts(secret, [1000, 1003]);
    const used = new Set([1000, 1002]);
    const got = new Set<number>();
    for (let i = 0; i < 4; i++) got.add(ports.choose(1, 2, 3, (q) => !used.has(q)) as number);
    expect([...got].sort()).to.deep.equal([1001, 1003]);
    expect(ports.choose(1, 2, 3, () => false)).to.equal(undefined);
  });

  it('starts at different offsets for different peers and secrets', () => {
    const a = new EphemeralPorts(secret);
    const b = new EphemeralPorts(Uint8Array.from({ length: 16 }, (_, i) => i));
    const free = (): boolean => true;
    const fromA = [80, 81, 82, 83].map((port) => a.choose(1, 2, port, free));
    expect(new Set(fromA).size).to.be.greaterThan(1);
    expect(b.choose(1, 2, 80, free)).not.to.equal(new EphemeralPorts(secret).choose(1, 2, 80, free));
  });

  it('rejects a bad range', () => {
    expect(() => new EphemeralPorts(secret, [5, 4])).to.throw(RangeError);
    expect(() => new EphemeralPorts(secret, [0, 4])).to.throw(RangeError);
  });
});

describe('IsnGenerator (RFC 6528)', () => {
  const local = { addr: 0x0a000001, port: 40000 };
  const remote = { addr: 0x0a000002, port: 80 };
  it('advances with the 4 µs clock for one 4-tuple', () => {
    const g = new IsnGenerator(secret.subarray(0, 8));
    const i0 = g.isn(1000, local, remote);
    expect(((g.isn(1001, local, remote) - i0) >>> 0)).to.equal(250);
    expect(g.isn(1000, local, remote)).to.equal(i0);
  });
  it('differs between 4-tuples and secrets', () => {
    const g = new IsnGenerator(secret.subarray(0, 8));
    const h = new IsnGenerator(secret.subarray(8, 16));
    expect(g.isn(5, local, remote)).not.to.equal(g.isn(5, local, { ...remote, port: 81 }));
    expect(g.isn(5, local, remote)).not.to.equal(h.isn(5, local, remote));
  });
});
