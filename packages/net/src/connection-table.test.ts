import { expect } from 'chai';
import { ipv4ToMapped, ipv6FromString } from '@tcp-tun/ip';
import { ConnectionTable, Ipv6PortMap } from './connection-table.js';

describe('ConnectionTable', () => {
  it('keys by (remote address, remote port, local port) without collisions', () => {
    const t = new ConnectionTable<string>();
    t.set(0xffffffff, 65535, 65535, 'max');
    t.set(0xffffffff, 65535, 65534, 'other local port');
    t.set(0xfffffffe, 65535, 65535, 'other address');
    t.set(0, 0, 0, 'zero');
    expect(t.size).to.equal(4);
    expect(t.get(0xffffffff, 65535, 65535)).to.equal('max');
    expect(t.get(0xffffffff, 65535, 65534)).to.equal('other local port');
    expect(t.get(0xfffffffe, 65535, 65535)).to.equal('other address');
    expect(t.get(0, 0, 0)).to.equal('zero');
    expect(t.has(1, 2, 3)).to.equal(false);
    t.set(0, 0, 0, 'replaced');
    expect(t.size).to.equal(4);
    expect(t.delete(0xffffffff, 65535, 65535)).to.equal(true);
    expect(t.delete(0xffffffff, 65535, 65535)).to.equal(false);
    expect([...t.values()].sort()).to.deep.equal(['other address', 'other local port', 'replaced']);
  });
});

describe('ConnectionTable over IPv6', () => {
  const peer = ipv6FromString('2001:db8::2');
  const flipped = (bit: number): Uint8Array => {
    const out = peer.slice();
    out[bit >>> 3] = out[bit >>> 3]! ^ (0x80 >>> (bit & 7));
    return out;
  };

  it('keys IPv6 4-tuples by all 128 bits, apart from IPv4 ones with the same ports; an IPv4-mapped address is an IPv6 key', () => {
    const t = new ConnectionTable<string>();
    t.set(0x0a000002, 443, 50000, 'v4');
    t.set(peer, 443, 50000, 'v6');
    t.set(ipv4ToMapped(0x0a000002), 443, 50000, 'mapped');
    expect(t.size).to.equal(3);
    expect(t.get(0x0a000002, 443, 50000)).to.equal('v4');
    // Another array with the same octets is the same key.
    expect(t.get(ipv6FromString('2001:db8:0:0::2'), 443, 50000)).to.equal('v6');
    expect(t.get(ipv6FromString('::ffff:10.0.0.2'), 443, 50000)).to.equal('mapped');
    for (let bit = 0; bit < 128; bit++) expect(t.has(flipped(bit), 443, 50000), `bit ${bit}`).to.equal(false);
    expect(t.has(peer, 444, 50000)).to.equal(false);
    expect(t.has(peer, 443, 50001)).to.equal(false);
    t.set(peer, 443, 50001, 'v6 second local port');
    t.set(peer, 443, 50000, 'v6 replaced');
    expect(t.size).to.equal(4);
    expect([...t.values()].sort()).to.deep.equal(['mapped', 'v4', 'v6 replaced', 'v6 second local port']);
    expect(t.delete(peer, 443, 50000)).to.equal(true);
    expect(t.delete(peer, 443, 50000)).to.equal(false);
    expect(t.get(peer, 443, 50001)).to.equal('v6 second local port');
    expect(t.get(0x0a000002, 443, 50000)).to.equal('v4');
    expect(t.size).to.equal(3);
  });

  it('Ipv6PortMap: extreme addresses and ports do not collide, emptied levels are dropped', () => {
    const m = new Ipv6PortMap<number>();
    const keys = [
      ['::', 0], ['::', 65535], ['::1', 0], ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535], ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', 65535],
      ['ffff:ffff:ffff::', 0], ['0:0:0:ffff:ffff:ffff::', 0], ['::ffff:ffff', 0], ['::1:0', 0], ['fe80::1', 80],
    ] as const;
    keys.forEach(([a, port], i) => m.set(ipv6FromString(a), port, i));
    expect(m.size).to.equal(keys.length);
    keys.forEach(([a, port], i) => expect(m.get(ipv6FromString(a), port), `${a} ${port}`).to.equal(i));
    keys.forEach(([a, port]) => expect(m.delete(ipv6FromString(a), port)).to.equal(true));
    expect(m.size).to.equal(0);
    expect([...m.values()]).to.deep.equal([]);
    expect(() => m.set(new Uint8Array(4), 1, 0)).to.throw(RangeError);
  });
});
