import { expect } from 'chai';
import { RecvBuffer } from './recv-buffer.js';
import { SendBuffer } from './send-buffer.js';
import { bytes } from './__tests__/trace.js';
import { mulberry32 } from './__tests__/pair.js';

describe('SendBuffer', () => {
  it('accepts up to capacity, slices by offset, consumes from the front', () => {
    const b = new SendBuffer(100);
    expect(b.write(bytes(70))).to.equal(70);
    expect(b.write(bytes(70, 70))).to.equal(30);
    expect([b.length, b.free]).to.deep.equal([100, 0]);
    expect(Array.from(b.slice(95, 10))).to.deep.equal(Array.from(bytes(5, 95)));
    b.consume(60);
    expect(b.write(bytes(50, 100))).to.equal(50);
    expect(Array.from(b.slice(0, 90))).to.deep.equal(Array.from(bytes(90, 60))); // spans the ring's end
    b.consume(1000);
    expect(b.length).to.equal(0);
  });

  it('grows its storage and keeps content across random writes, slices and consumes', () => {
    const rng = mulberry32(7);
    const b = new SendBuffer(100_000);
    let head = 0;
    let tail = 0;
    for (let i = 0; i < 2000; i++) {
      const n = b.write(bytes(Math.floor(rng() * 5000), tail));
      tail += n;
      const off = Math.floor(rng() * b.length);
      const len = Math.floor(rng() * 3000);
      const s = b.slice(off, len);
      expect(s.length).to.equal(Math.min(len, b.length - off));
      for (let j = 0; j < s.length; j++) if (s[j] !== ((head + off + j) & 0xff)) throw new Error(`mismatch at iteration ${i}`);
      const c = Math.floor(rng() * 6000);
      b.consume(c);
      head = Math.min(tail, head + c);
    }
  });
});

describe('SendBuffer memory', () => {
  it('allocates on the first write and releases its storage once everything is consumed', () => {
    const b = new SendBuffer(1 << 20);
    expect(b.allocated).to.equal(0);
    b.write(bytes(100));
    expect(b.allocated).to.equal(16 * 1024);
    b.write(bytes(40_000));
    expect(b.allocated).to.equal(64 * 1024);
    b.consume(40_100);
    expect(b.allocated).to.equal(0);
    b.write(bytes(10, 7));
    expect(b.allocated).to.equal(64 * 1024); // the size last used: no re-growing
    expect(Array.from(b.slice(0, 10))).to.deep.equal(Array.from(bytes(10, 7)));
  });
});

describe('RecvBuffer memory', () => {
  it('grows its ring on demand (moving held data once), keeps out-of-order data, releases when drained', () => {
    const r = new RecvBuffer(1 << 20);
    expect(r.allocated).to.equal(0);
    expect(r.write(0, bytes(1000), 1 << 20, 8)).to.equal(1000);
    expect(r.allocated).to.equal(4096);
    expect(r.write(20_000, bytes(1000, 21_000 & 0xff), 1 << 20, 8)).to.equal(0); // out of order, beyond the ring
    expect(r.allocated).to.equal(32_768);
    expect(r.write(0, bytes(20_000, 1000 & 0xff), 1 << 20, 8)).to.equal(21_000); // fills the hole
    const out = r.read(1 << 20)!;
    expect(out.length).to.equal(22_000);
    expect(Array.from(out.subarray(0, 1000))).to.deep.equal(Array.from(bytes(1000)));
    expect(Array.from(out.subarray(21_000))).to.deep.equal(Array.from(bytes(1000, 21_000 & 0xff)));
    expect(r.allocated).to.equal(0);
  });
});

describe('RecvBuffer ring reuse', () => {
  it('a released ring serves the next buffer of the same size; its stale octets are never read', () => {
    const a = new RecvBuffer(1 << 20);
    a.write(0, new Uint8Array(3000).fill(0xee), 1 << 20, 8);
    expect(a.allocated).to.equal(4096);
    expect(a.read(1 << 20)!.every((b) => b === 0xee)).to.equal(true);
    expect(a.allocated).to.equal(0); // released: kept as a spare

    const b = new RecvBuffer(1 << 20);
    // Out of order first, so the ring holds a hole of stale octets below it.
    expect(b.write(1000, bytes(500, 1000 & 0xff), 1 << 20, 8)).to.equal(0);
    expect(b.allocated).to.equal(4096);
    expect(b.read(1 << 20)).to.equal(undefined); // nothing in order yet
    expect(b.write(0, bytes(1000), 1 << 20, 8)).to.equal(1500);
    expect(Array.from(b.read(1 << 20)!)).to.deep.equal(Array.from(bytes(1500)));
  });

  it('readInto copies into the caller\'s memory, across the ring\'s end, and says how much', () => {
    const r = new RecvBuffer(64);
    let written = 0;
    let readTotal = 0;
    const rng = mulberry32(11);
    const out = new Uint8Array(50);
    for (let i = 0; i < 300; i++) {
      written += r.write(0, bytes(Math.min(Math.floor(rng() * 40), r.space), written), 0, 0);
      const want = Math.floor(rng() * 50);
      const before = r.readable;
      const n = r.readInto(out.subarray(0, want));
      expect(n).to.equal(Math.min(want, before));
      for (let j = 0; j < n; j++) if (out[j] !== ((readTotal + j) & 0xff)) throw new Error(`mismatch at ${readTotal + j}`);
      readTotal += n;
    }
    expect(readTotal).to.be.greaterThan(1000);
    expect(new RecvBuffer(10).readInto(out)).to.equal(0);
  });
});

describe('RecvBuffer', () => {
  it('reassembles out-of-order ranges; the hole filling makes all contiguous data readable', () => {
    const r = new RecvBuffer(100);
    expect(r.write(20, bytes(10, 20), 100, 8)).to.equal(0);
    expect(r.write(40, bytes(10, 40), 100, 8)).to.equal(0);
    expect(r.write(25, bytes(20, 25), 100, 8)).to.equal(0); // bridges the two ranges
    expect([r.outOfOrderBytes, r.outOfOrderRanges]).to.deep.equal([30, 1]);
    expect(r.write(0, bytes(20), 100, 8)).to.equal(50);
    expect([r.readable, r.outOfOrderBytes, r.outOfOrderRanges]).to.deep.equal([50, 0, 0]);
    expect(Array.from(r.read(100)!)).to.deep.equal(Array.from(bytes(50)));
    expect(r.read(10)).to.equal(undefined);
  });

  it('refuses out-of-order data beyond the octet or range bounds', () => {
    const r = new RecvBuffer(1000);
    expect(r.write(10, bytes(10), 15, 8)).to.equal(0);
    expect(r.write(100, bytes(10), 15, 8)).to.equal(-1); // 20 > 15 octets
    expect(r.write(15, bytes(10), 15, 8)).to.equal(0); // overlapping: only 5 new
    expect(r.outOfOrderBytes).to.equal(15);
    const s = new RecvBuffer(1000);
    expect(s.write(10, bytes(1), 100, 2)).to.equal(0);
    expect(s.write(20, bytes(1), 100, 2)).to.equal(0);
    expect(s.write(30, bytes(1), 100, 2)).to.equal(-1); // a third range
  });

  it('wraps around its ring and never writes past free space', () => {
    const r = new RecvBuffer(64);
    let sent = 0;
    let read = 0;
    const rng = mulberry32(3);
    for (let i = 0; i < 500; i++) {
      const n = Math.min(Math.floor(rng() * 40), r.space);
      sent += r.write(0, bytes(n, sent), 0, 0);
      const out = r.read(Math.floor(rng() * 50));
      if (out !== undefined) {
        for (let j = 0; j < out.length; j++) if (out[j] !== ((read + j) & 0xff)) throw new Error(`mismatch at ${read + j}`);
        read += out.length;
      }
    }
    expect(read).to.be.greaterThan(1000);
    const before = r.readable;
    expect(r.write(0, bytes(200), 0, 0)).to.equal(64 - before); // clipped to the free space
    expect(r.readable).to.equal(64);
  });
});
