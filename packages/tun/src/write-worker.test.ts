/**
 * The writer thread's ring (write-worker.ts) against a plain file instead of a TUN fd: every
 * record is one write(2) appended to the file, so the file's bytes show order and content. The
 * device test (device-writer.test.ts) checks packet boundaries through a real TUN.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUTO_INLINE_MAX, AUTO_INLINE_MIN_BYTES, MIN_RING_BYTES, TunWriter, writerMode } from './write-worker.js';
import { MAX_BIG_TSO_PACKET } from './vnet.js';
import { VNET_HEADER_SIZE } from './vnet.js';
import { tcp6Partial, tcpPartial } from './__tests__/packets.js';

/** Deterministic packets: lengths and contents from a fixed LCG (seed printed on failure). */
function packets(count: number, seed: number, maxLength: number): Uint8Array[] {
  let x = seed >>> 0;
  const next = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const p = new Uint8Array(1 + (next() % maxLength));
    for (let j = 0; j < p.length; j++) p[j] = next() & 0xff;
    out.push(p);
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

/** An IPv4/TCP packet: 20-byte IP header, 20-byte TCP header (data offset 5), `payload` octets. */
function tcpPacket(payload: number): Uint8Array {
  const p = new Uint8Array(40 + payload);
  p[0] = 0x45;
  p[9] = 6;
  p[32] = 5 << 4;
  for (let i = 40; i < p.length; i++) p[i] = i & 0xff;
  return p;
}

describe('TunWriter (the writer thread and its ring)', function () {
  this.timeout(20_000);
  let dir: string;
  let fds: number[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-writer-'));
  });

  afterEach(() => {
    for (const fd of fds) closeSync(fd);
    fds = [];
    rmSync(dir, { recursive: true, force: true });
  });

  function file(name: string): { fd: number; path: string } {
    const path = join(dir, name);
    const fd = openSync(path, 'w');
    fds.push(fd);
    return { fd, path };
  }

  it('writes every packet, in order and intact, one write per packet (seed 7)', async () => {
    const { fd, path } = file('order');
    const writer = new TunWriter(fd, { mode: 'worker' });
    const sent = packets(3000, 7, 3000);
    for (let i = 0; i < sent.length; i++) {
      expect(writer.route()).to.equal(true);
      writer.push(sent[i]!, 0);
      if (i % 37 === 0) writer.flush();
    }
    writer.flush();
    await writer.close();
    expect(readFileSync(path).equals(concat(sent)), 'file = packets in order (seed 7)').to.equal(true);
    const stats = writer.stats;
    expect(stats).to.include({ txPackets: 3000, txQueued: 3000, txDropped: 0, txBytes: concat(sent).length });
  });

  it('a full ring makes the main thread wait for room: nothing dropped or reordered (seed 11)', async () => {
    const { fd, path } = file('full');
    const writer = new TunWriter(fd, { mode: 'worker', ringBytes: MIN_RING_BYTES });
    // ~4 MiB through a 256 KiB ring without one flush: only the waits for room wake the worker.
    const sent = packets(3000, 11, 2800);
    for (const p of sent) {
      writer.route();
      writer.push(p, 0);
    }
    await writer.close();
    expect(readFileSync(path).equals(concat(sent)), 'file = packets in order (seed 11)').to.equal(true);
    expect(writer.stats.txQueueFullWaits).to.be.greaterThan(0);
    expect(writer.stats.txPackets).to.equal(3000);
  });

  it('wraps records of every size around the end of the ring (seed 5)', async () => {
    const { fd, path } = file('wrap');
    const writer = new TunWriter(fd, { mode: 'worker', ringBytes: MIN_RING_BYTES });
    // Up to 65535-byte records: the ring holds at most seven, so most reservations wrap or wait.
    const sent = packets(300, 5, 65535 - VNET_HEADER_SIZE);
    for (const p of sent) {
      writer.route();
      writer.push(p, VNET_HEADER_SIZE);
    }
    await writer.close();
    const expected = concat(sent.map((p) => concat([new Uint8Array(VNET_HEADER_SIZE), p])));
    expect(readFileSync(path).equals(expected), 'zero header + packet, in order (seed 5)').to.equal(true);
    expect(writer.stats.txBytes, 'bytes without the virtio-net headers').to.equal(concat(sent).length);
  });

  it('queues GSO packets behind their virtio-net header and counts their segments', async () => {
    const { fd, path } = file('tso');
    const writer = new TunWriter(fd, { mode: 'worker' });
    const big = tcpPacket(14_000);
    const small = tcpPacket(100);
    writer.route();
    expect(writer.pushTso(big, 1400)).to.equal(10);
    writer.route();
    expect(writer.pushTso(small, 1400)).to.equal(1);
    writer.route();
    expect(writer.pushTso(new Uint8Array(30), 1400), 'not a TCP packet: nothing queued').to.equal(0);
    await writer.close();
    const bytes = readFileSync(path);
    expect(bytes.length).to.equal(2 * VNET_HEADER_SIZE + big.length + small.length);
    expect(bytes[0], 'NEEDS_CSUM').to.equal(1);
    expect(bytes[1], 'GSO TCPV4').to.equal(1);
    expect(bytes.readUInt16LE(4), 'gso_size').to.equal(1400);
    expect(bytes.subarray(VNET_HEADER_SIZE, VNET_HEADER_SIZE + big.length).equals(Buffer.from(big))).to.equal(true);
    expect(bytes[VNET_HEADER_SIZE + big.length + 1], 'GSO_NONE for one segment').to.equal(0);
    expect(writer.stats).to.include({ txPackets: 2, txSuperSegments: 1, txSegments: 10, txChecksumsOffloaded: 2, txQueued: 2 });
  });

  it("'auto' routes the first packets of a batch inline while the ring is empty, the rest to the ring", async () => {
    const { fd } = file('auto');
    const writer = new TunWriter(fd, { mode: 'auto' });
    const routes: boolean[] = [];
    for (let i = 0; i < AUTO_INLINE_MAX + 2; i++) routes.push(writer.route());
    expect(routes).to.deep.equal([false, false, true, true]);
    expect(writer.route(AUTO_INLINE_MIN_BYTES), 'a large packet goes inline while the ring is empty').to.equal(false);
    writer.flush();
    expect(writer.route(), 'a new batch starts inline').to.equal(false);
    // With packets in the ring every packet queues behind them, whatever the batch count.
    writer.flush();
    for (let i = 0; i < 200; i++) writer.push(new Uint8Array(60_000), 0);
    writer.flush();
    if (writer.busy) expect(writer.route(), 'ring not empty: queue (order)').to.equal(true);
    await writer.close();
    expect(writer.stats.txPackets).to.equal(200);
  });

  it('counts failed writes as dropped, as inline writes are', async () => {
    const path = join(dir, 'ro');
    closeSync(openSync(path, 'w'));
    const fd = openSync(path, 'r');
    fds.push(fd);
    const writer = new TunWriter(fd, { mode: 'worker' });
    for (let i = 0; i < 5; i++) {
      writer.route();
      writer.push(new Uint8Array(100), 0);
    }
    await writer.close();
    expect(writer.stats).to.include({ txPackets: 0, txDropped: 5 });
  });

  it('close() writes what is queued, ends the thread and is idempotent', async () => {
    const { fd, path } = file('close');
    const writer = new TunWriter(fd, { mode: 'worker' });
    const sent = packets(500, 3, 1500);
    for (const p of sent) {
      writer.route();
      writer.push(p, 0);
    }
    // No flush: close() itself wakes the worker.
    const a = writer.close();
    expect(writer.close()).to.equal(a);
    await a;
    expect(readFileSync(path).equals(concat(sent))).to.equal(true);
  });

  it('process.exit() without close() writes what is queued and exits promptly', function () {
    const { path } = file('exit');
    const module = fileURLToPath(new URL('./write-worker.ts', import.meta.url));
    const script = `
      import { openSync } from 'node:fs';
      import { TunWriter } from ${JSON.stringify(module)};
      const fd = openSync(${JSON.stringify(path)}, 'w');
      const w = new TunWriter(fd, { mode: 'worker' });
      for (let i = 0; i < 1000; i++) { w.route(); w.push(new Uint8Array(1000).fill(i & 0xff), 0); }
      process.exit(0);
    `;
    const started = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(Date.now() - started).to.be.below(10_000);
    expect(readFileSync(path).length, 'all 1000 packets written before exit').to.equal(1000 * 1000);
  });

  it('queues BIG TCP super-packets (up to 131072 octets) through the smallest ring, wrapping, and counts them', async () => {
    const { fd, path } = file('big');
    const writer = new TunWriter(fd, { mode: 'worker', ringBytes: MIN_RING_BYTES });
    const spec = (n: number, seq: number) => ({ srcPort: 1, dstPort: 9, seq, ack: 0, flags: 0x08, window: 1000, payload: new Uint8Array(n).fill(seq & 0xff) });
    const sent: Uint8Array[] = [];
    // Sizes chosen so records land at every offset of the ring, the largest twice in a row.
    for (let i = 0; i < 24; i++) {
      const payload = [MAX_BIG_TSO_PACKET - 40, MAX_BIG_TSO_PACKET - 40, 100_000, 70_000, 3000][i % 5]!;
      const p = i % 2 === 0 ? tcpPartial('10.0.0.2', '10.0.0.1', spec(payload, i)) : tcp6Partial('fd00::2', 'fd00::1', spec(Math.min(payload, MAX_BIG_TSO_PACKET - 68), i));
      writer.route(p.length);
      expect(writer.pushTso(p, 1000), `packet ${i}`).to.be.greaterThan(1);
      sent.push(p);
    }
    await writer.close();
    const bytes = readFileSync(path);
    let at = 0;
    for (const [i, p] of sent.entries()) {
      expect(bytes[at], `packet ${i}: NEEDS_CSUM`).to.equal(1);
      expect(bytes.subarray(at + VNET_HEADER_SIZE, at + VNET_HEADER_SIZE + p.length).equals(Buffer.from(p)), `packet ${i} intact`).to.equal(true);
      at += VNET_HEADER_SIZE + p.length;
    }
    expect(at).to.equal(bytes.length);
    const big = sent.filter((p) => p.length > 65535).length;
    expect(big).to.equal(20);
    expect(writer.stats).to.include({ txPackets: 24, txSuperSegments: 24, txBigSuperPackets: big, txDropped: 0 });
    expect(Math.max(...sent.map((p) => p.length))).to.equal(MAX_BIG_TSO_PACKET);
  });

  it('validates the mode and the ring size', () => {
    expect(writerMode(undefined)).to.equal('inline');
    expect(writerMode('auto')).to.equal('auto');
    expect(() => writerMode('threads')).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(() => new TunWriter(1, { mode: 'worker', ringBytes: 1000 })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
  });
});
