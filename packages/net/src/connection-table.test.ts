import { expect } from 'chai';
import { ConnectionTable } from './connection-table.js';

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
