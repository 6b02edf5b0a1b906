import { expect } from 'chai';
import { giveBlock, POOL_BYTES_PER_SIZE, pooledBlockBytes, takeBlock } from './block-pool.js';
import { SendBuffer } from './send-buffer.js';

describe('block pool', () => {
  it('hands a released block to the next taker of that size', () => {
    const a = takeBlock(4096);
    a[0] = 7;
    const before = pooledBlockBytes();
    giveBlock(a);
    expect(pooledBlockBytes()).to.equal(before + 4096);
    const b = takeBlock(4096);
    expect(b).to.equal(a);
    expect(pooledBlockBytes()).to.equal(before);
    expect(takeBlock(8192)).to.not.equal(a);
  });

  it('keeps neither views, odd sizes, nor more than its bound per size', () => {
    const before = pooledBlockBytes();
    giveBlock(new Uint8Array(8192).subarray(0, 4096));
    giveBlock(new Uint8Array(3000));
    expect(pooledBlockBytes()).to.equal(before);
    const size = 64 * 1024;
    for (let i = 0; i < 2 * (POOL_BYTES_PER_SIZE / size); i++) giveBlock(new Uint8Array(size));
    expect(pooledBlockBytes() - before).to.be.at.most(POOL_BYTES_PER_SIZE);
    // Drain what this test put in, so other tests see the pool as before.
    while (pooledBlockBytes() > before) takeBlock(size);
  });

  it('still takes back a large block after thousands of small ones were released', () => {
    // 10,000 closing connections hand back small scoreboard blocks; a busy connection's large
    // receive ring must still be reused, not allocated afresh on every cycle.
    const before = pooledBlockBytes();
    for (let i = 0; i < 10_000; i++) giveBlock(new Uint8Array(512));
    const ring = new Uint8Array(256 * 1024);
    giveBlock(ring);
    expect(takeBlock(256 * 1024)).to.equal(ring);
    while (pooledBlockBytes() > before) takeBlock(512);
  });

  it('lets a send buffer emptied on every round trip reuse its storage', () => {
    const b = new SendBuffer(64 * 1024);
    b.write(new Uint8Array(64).fill(1));
    const first = b.slice(0, 64);
    b.consume(64);
    b.write(new Uint8Array(64).fill(2));
    const second = b.slice(0, 64);
    expect(second.buffer).to.equal(first.buffer);
    expect([...second.subarray(0, 3)]).to.deep.equal([2, 2, 2]);
  });
});
