import { expect } from 'chai';
import { ipv4ToMapped, ipv6FromString } from '@tcp-tun/ip';
import type { Endpoint, IpAddress } from '@tcp-tun/tcp';
import { EphemeralPorts } from './ephemeral-ports.js';
import { IsnGenerator } from './isn.js';
import { KeyedHash } from './keyed-hash.js';

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

describe('IPv6 4-tuples in the keyed hashes (RFC 6056, RFC 6528 over IPv6)', () => {
  const l6 = ipv6FromString('fd00::1');
  const r6 = ipv6FromString('2001:db8:aaaa:bbbb:cccc:dddd:eeee:2');
  const flipped = (a: Uint8Array, bit: number): Uint8Array => {
    const out = a.slice();
    out[bit >>> 3] = out[bit >>> 3]! ^ (0x80 >>> (bit & 7));
    return out;
  };

  it('IPv4 ISNs, timestamp offsets and port offsets are what they were: the hash of the IPv4 words', () => {
    const k = secret.subarray(0, 8);
    const g = new IsnGenerator(k);
    const f = new KeyedHash(k);
    const local: Endpoint<IpAddress> = { addr: 0x0a000001, port: 40000 };
    const remote: Endpoint<IpAddress> = { addr: 0x0a000002, port: 80 };
    expect(g.isn(0, local, remote)).to.equal(f.hash(0x0a000001, 0x0a000002, ((40000 << 16) | 80) >>> 0, 0, 3));
    expect(g.tsOffset(local, remote)).to.equal(f.hash(0x0a000001, 0x0a000002, ((40000 << 16) | 80) >>> 0, 0x74736f66, 4));
  });

  it('an IPv6 ISN and timestamp offset depend on all 128 bits of both addresses; an IPv4-mapped peer is not its IPv4 number', () => {
    const g = new IsnGenerator(secret.subarray(0, 8));
    const local: Endpoint<IpAddress> = { addr: l6, port: 40000 };
    const remote: Endpoint<IpAddress> = { addr: r6, port: 80 };
    const isn = g.isn(1000, local, remote);
    const off = g.tsOffset(local, remote);
    expect(g.isn(1000, local, remote)).to.equal(isn);
    expect(((g.isn(1001, local, remote) - isn) >>> 0)).to.equal(250);
    const isns = new Set<number>([isn]);
    const offs = new Set<number>([off]);
    for (let bit = 0; bit < 128; bit++) {
      isns.add(g.isn(1000, local, { ...remote, addr: flipped(r6, bit) }));
      isns.add(g.isn(1000, { ...local, addr: flipped(l6, bit) }, remote));
      offs.add(g.tsOffset(local, { ...remote, addr: flipped(r6, bit) }));
    }
    expect(isns.size).to.equal(257);
    expect(offs.size).to.equal(129);
    expect(off).to.not.equal(isn - 250_000);
    const mapped = g.isn(1000, { addr: ipv4ToMapped(0x0a000001), port: 40000 }, { addr: ipv4ToMapped(0x0a000002), port: 80 });
    expect(mapped).to.not.equal(g.isn(1000, { addr: 0x0a000001, port: 40000 }, { addr: 0x0a000002, port: 80 }));
  });

  it('ephemeral ports for IPv6 peers: in range, distinct in succession, offsets keyed on the whole address', () => {
    const ports = new EphemeralPorts(secret);
    const used = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const p = ports.choose(l6, r6, 443, (q) => !used.has(q));
      expect(p).to.be.within(49152, 65535);
      used.add(p as number);
    }
    expect(used.size).to.equal(500);
    // A fresh allocator: the first offset follows the address, every bit of it.
    const free = (): boolean => true;
    const first = (remote: IpAddress): number => new EphemeralPorts(secret).choose(l6, remote, 443, free)!;
    const offsets = new Set<number>();
    for (let bit = 0; bit < 128; bit += 9) offsets.add(first(flipped(r6, bit)));
    expect(offsets.size).to.be.greaterThan(10);
    // A listener's port: the remote unspecified (::).
    expect(new EphemeralPorts(secret).choose(l6, ipv6FromString('::'), 0, free)).to.be.within(49152, 65535);
  });
});
