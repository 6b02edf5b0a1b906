import { expect } from 'chai';
import { ipv4ToMapped, ipv6FromString } from '@tcp-tun/ip';
import { ConnectionTable, Ipv6AddressMap, Ipv6PortMap, type TableEntry } from './connection-table.js';

/** A table entry named `name` for the given ports. */
interface Named extends TableEntry {
  readonly name: string;
}

/** A table of named entries, set and read by name (the ports are the key's). */
function namedTable(): {
  t: ConnectionTable<Named>;
  set(addr: number | Uint8Array, remotePort: number, localPort: number, name: string): void;
  get(addr: number | Uint8Array, remotePort: number, localPort: number): string | undefined;
  names(): string[];
} {
  const t = new ConnectionTable<Named>();
  return {
    t,
    set: (addr, remotePort, localPort, name) => t.set(addr, remotePort, localPort, { remoteAddr: addr, remotePort, localPort, name }),
    get: (addr, remotePort, localPort) => t.get(addr, remotePort, localPort)?.name,
    names: () => [...t.values()].map((e) => e.name).sort(),
  };
}

describe('ConnectionTable', () => {
  it('keys by (remote address, remote port, local port) without collisions', () => {
    const { t, set, get, names } = namedTable();
    set(0xffffffff, 65535, 65535, 'max');
    set(0xffffffff, 65535, 65534, 'other local port');
    set(0xfffffffe, 65535, 65535, 'other address');
    set(0, 0, 0, 'zero');
    set(0x7fffffff, 32768, 1, 'sign bits');
    set(0x7fffffff, 32767, 1, 'below the sign bits');
    expect(t.size).to.equal(6);
    expect(get(0xffffffff, 65535, 65535)).to.equal('max');
    expect(get(0xffffffff, 65535, 65534)).to.equal('other local port');
    expect(get(0xfffffffe, 65535, 65535)).to.equal('other address');
    expect(get(0, 0, 0)).to.equal('zero');
    expect(get(0x7fffffff, 32768, 1)).to.equal('sign bits');
    expect(get(0x7fffffff, 32767, 1)).to.equal('below the sign bits');
    expect(t.has(1, 2, 3)).to.equal(false);
    expect(t.has(0xfffffffe, 65535, 65534)).to.equal(false);
    set(0, 0, 0, 'replaced');
    expect(t.size).to.equal(6);
    expect(t.delete(0xffffffff, 65535, 65535)).to.equal(true);
    expect(t.delete(0xffffffff, 65535, 65535)).to.equal(false);
    expect(t.delete(0xfffffffe, 65535, 65534)).to.equal(false);
    expect(names()).to.deep.equal(['below the sign bits', 'other address', 'other local port', 'replaced', 'sign bits']);
    expect(t.size).to.equal(5);
  });

  it('holds many connections of one remote address, and one again after the others leave', () => {
    const { t, set, get, names } = namedTable();
    for (let port = 1024; port < 1124; port++) set(0x0a000001, port, 7, `c${port}`);
    set(0x0a000001, 1024, 8, 'other local port');
    expect(t.size).to.equal(101);
    for (let port = 1024; port < 1124; port++) expect(get(0x0a000001, port, 7)).to.equal(`c${port}`);
    for (let port = 1024; port < 1124; port++) expect(t.delete(0x0a000001, port, 7)).to.equal(true);
    expect(t.size).to.equal(1);
    expect(get(0x0a000001, 1024, 8)).to.equal('other local port');
    expect(get(0x0a000001, 1024, 7)).to.equal(undefined);
    expect(names()).to.deep.equal(['other local port']);
    set(0x0a000001, 1025, 8, 'second');
    expect(t.delete(0x0a000001, 1024, 8)).to.equal(true);
    expect(names()).to.deep.equal(['second']);
    expect(t.delete(0x0a000001, 1025, 8)).to.equal(true);
    expect(t.size).to.equal(0);
    expect(names()).to.deep.equal([]);
  });

  it('refuses an entry whose ports are not its key', () => {
    const t = new ConnectionTable<Named>();
    expect(() => t.set(1, 2, 3, { remoteAddr: 1, remotePort: 2, localPort: 4, name: 'x' })).to.throw(RangeError);
    expect(() => t.set(1, 2, 3, { remoteAddr: new Uint8Array(16), remotePort: 2, localPort: 3, name: 'x' })).to.throw(RangeError);
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
    const { t, set, get, names } = namedTable();
    set(0x0a000002, 443, 50000, 'v4');
    set(peer, 443, 50000, 'v6');
    set(ipv4ToMapped(0x0a000002), 443, 50000, 'mapped');
    expect(t.size).to.equal(3);
    expect(get(0x0a000002, 443, 50000)).to.equal('v4');
    // Another array with the same octets is the same key.
    expect(get(ipv6FromString('2001:db8:0:0::2'), 443, 50000)).to.equal('v6');
    expect(get(ipv6FromString('::ffff:10.0.0.2'), 443, 50000)).to.equal('mapped');
    for (let bit = 0; bit < 128; bit++) expect(t.has(flipped(bit), 443, 50000), `bit ${bit}`).to.equal(false);
    expect(t.has(peer, 444, 50000)).to.equal(false);
    expect(t.has(peer, 443, 50001)).to.equal(false);
    set(peer, 443, 50001, 'v6 second local port');
    set(peer, 443, 50000, 'v6 replaced');
    expect(t.size).to.equal(4);
    expect(names()).to.deep.equal(['mapped', 'v4', 'v6 replaced', 'v6 second local port']);
    expect(t.delete(peer, 443, 50000)).to.equal(true);
    expect(t.delete(peer, 443, 50000)).to.equal(false);
    expect(get(peer, 443, 50001)).to.equal('v6 second local port');
    expect(get(0x0a000002, 443, 50000)).to.equal('v4');
    expect(t.size).to.equal(3);
    for (let bit = 0; bit < 128; bit++) set(flipped(bit), 443, 50001, `bit ${bit}`);
    for (let bit = 0; bit < 128; bit++) expect(get(flipped(bit), 443, 50001)).to.equal(`bit ${bit}`);
    for (let bit = 0; bit < 128; bit++) expect(t.delete(flipped(bit), 443, 50001)).to.equal(true);
    expect(names()).to.deep.equal(['mapped', 'v4', 'v6 second local port']);
  });

  it("remoteAddress6: the address object of a connection from the same peer, whichever is left", () => {
    const t = new ConnectionTable<Named>();
    const first = ipv6FromString('2001:db8::2');
    expect(t.remoteAddress6(first)).to.equal(undefined);
    t.set(first, 1000, 80, { remoteAddr: first, remotePort: 1000, localPort: 80, name: 'a' });
    const again = ipv6FromString('2001:db8::2');
    expect(t.remoteAddress6(again)).to.equal(first);
    t.set(again, 1001, 80, { remoteAddr: again, remotePort: 1001, localPort: 80, name: 'b' });
    t.delete(first, 1000, 80);
    expect(t.remoteAddress6(first)).to.equal(again);
    expect(t.remoteAddress6(ipv6FromString('2001:db8::3'))).to.equal(undefined);
    t.delete(again, 1001, 80);
    expect(t.remoteAddress6(first)).to.equal(undefined);
  });

  it('Ipv6AddressMap: extreme addresses do not collide, emptied levels are dropped', () => {
    const m = new Ipv6AddressMap<number>();
    const keys = ['::', '::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', '8000::', '::8000:0', '0:0:8000::', 'fe80::1'];
    keys.forEach((a, i) => m.set(ipv6FromString(a), i));
    keys.forEach((a, i) => expect(m.get(ipv6FromString(a)), a).to.equal(i));
    expect([...m.values()].sort((x, y) => x - y)).to.deep.equal(keys.map((_, i) => i));
    keys.forEach((a) => m.delete(ipv6FromString(a)));
    keys.forEach((a) => expect(m.get(ipv6FromString(a)), a).to.equal(undefined));
    expect([...m.values()]).to.deep.equal([]);
    expect(() => m.set(new Uint8Array(4), 0)).to.throw(RangeError);
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
