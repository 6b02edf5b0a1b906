/**
 * Send-buffer autotuning (`sendBufferAutoSize`, Linux's `tcp_sndbuf_expand`): `send()` accepts
 * about twice the congestion window, not the whole `sendBufferSize`, so a connection whose
 * window is small (slow start on a long path, a slow reader) holds little in its ring, and the
 * transfer is not slower for it.
 */
import { expect } from 'chai';
import { Pair, fillStream, type LinkOptions } from './__tests__/pair.js';
import { SendBuffer } from './send-buffer.js';
import { SNDBUF_MIN_BYTES } from './connection/sender.js';
import type { TcpConfig } from './types.js';
import { bytes } from './__tests__/trace.js';

const KiB = 1024;
const SIZE = 1024 * KiB;
const STREAM = fillStream(new Uint8Array(SIZE), 0, 29);

interface Sample {
  readonly ms: number;
  readonly ringMax: number;
  readonly ringMean: number;
  readonly blockMax: number;
}

/** a sends SIZE octets as fast as `send()` takes them; b reads (at most `readKiBPerMs` per ms). */
function bulk(link: Partial<LinkOptions>, config: Partial<TcpConfig>, readKiBPerMs = 0): Sample {
  const pair = new Pair({ seed: 11, link, configA: config, deadlineMs: 600_000 });
  let sent = 0;
  let received = 0;
  let nextRead = 0;
  let ringMax = 0;
  let ringSum = 0;
  let samples = 0;
  let blockMax = 0;
  let doneAt = 0;
  const read = (): void => {
    const conn = pair.b;
    if (conn === undefined) return;
    if (readKiBPerMs > 0 && pair.now < nextRead) return;
    const chunk = conn.recv(readKiBPerMs > 0 ? readKiBPerMs * KiB : undefined);
    if (chunk === undefined) return;
    if (readKiBPerMs > 0) nextRead = pair.now + 1;
    for (let i = 0; i < chunk.length; i++) if (chunk[i] !== STREAM[received + i]) throw new Error(`octet ${received + i} differs`);
    received += chunk.length;
    if (received === SIZE) doneAt = pair.now;
  };
  pair.app = {
    onEvent(side, _conn, ev) {
      if (side === 'b' && (ev.type === 'readable' || ev.type === 'end')) read();
    },
    wakeAt: () => (readKiBPerMs > 0 && (pair.b?.readableLength ?? 0) > 0 ? nextRead : undefined),
    pump(side, conn) {
      if (side === 'b') {
        read();
        if (conn.state === 'CLOSE-WAIT') conn.close();
        return;
      }
      if (!conn.canSend) return;
      while (sent < SIZE && conn.sendCapacity > 0) sent += conn.send(STREAM.subarray(sent));
      if (sent === SIZE) conn.close();
      const s = conn.stats;
      const queued = conn.sendQueued;
      // The limit, as sendBufferAutoSize promises: never more than 2 × max(10, cwnd) segments
      // (and the 16 KiB floor), never more than sendBufferSize.
      if (config.sendBufferAutoSize !== false && conn.state === 'ESTABLISHED') {
        const bound = Math.max(SNDBUF_MIN_BYTES, 2 * Math.max(10, Math.ceil(s.cwnd / s.sendMss)) * s.sendMss);
        if (queued > bound) throw new Error(`sendQueued ${queued} > 2 × cwnd bound ${bound} at t=${pair.now}`);
      }
      ringMax = Math.max(ringMax, queued);
      blockMax = Math.max(blockMax, conn.bufferedMemory);
      ringSum += queued;
      samples++;
    },
  };
  pair.run(() => pair.a.state === 'CLOSED' && pair.b?.state === 'CLOSED');
  expect(received).to.equal(SIZE);
  return { ms: doneAt, ringMax, ringMean: ringSum / samples, blockMax };
}

describe('send-buffer autotuning (sendBufferAutoSize, as Linux tcp_sndbuf_expand)', () => {
  it('SendBuffer: write() stops at the limit; raiseLimit only raises, up to capacity; blocks follow the limit', () => {
    const b = new SendBuffer(100_000, 20_000);
    expect(b.write(bytes(30_000))).to.equal(20_000);
    expect([b.free, b.sizeLimit]).to.deep.equal([0, 20_000]);
    // A ring for 20,000 octets needs a 32 KiB block, not one of capacity's size.
    expect(b.allocated).to.equal(32 * KiB);
    b.raiseLimit(10_000);
    expect(b.sizeLimit).to.equal(20_000);
    b.raiseLimit(1 << 30);
    expect(b.sizeLimit).to.equal(100_000);
    expect(b.write(bytes(90_000))).to.equal(80_000);
    expect(b.allocated).to.equal(100_000);
    expect(Array.from(b.slice(19_998, 4))).to.deep.equal([30, 31, 0, 1]);
  });

  it('accepts 16 KiB before the handshake, 2 × IW after it, grows with cwnd, and takes sendBufferSize at once when off', () => {
    const pair = new Pair({ seed: 3, link: { delayMs: 10 } });
    const conn = pair.a;
    expect(conn.sendCapacity).to.equal(SNDBUF_MIN_BYTES);
    pair.run(() => conn.state === 'ESTABLISHED');
    const mss = conn.stats.sendMss;
    expect(conn.sendCapacity).to.equal(2 * 10 * mss);
    const off = new Pair({ seed: 3, configA: { sendBufferAutoSize: false } });
    expect(off.a.sendCapacity).to.equal(256 * KiB);
  });

  it('slow start over a 20 ms RTT: the ring stays near 2 × cwnd, well below sendBufferSize, and the transfer is not slower', () => {
    const auto = bulk({ delayMs: 10 }, {});
    const fixed = bulk({ delayMs: 10 }, { sendBufferAutoSize: false });
    console.log(`      auto: ${auto.ms} ms, ring max ${(auto.ringMax / KiB).toFixed(0)} KiB mean ${(auto.ringMean / KiB).toFixed(0)} KiB; fixed: ${fixed.ms} ms, max ${(fixed.ringMax / KiB).toFixed(0)} mean ${(fixed.ringMean / KiB).toFixed(0)} KiB`);
    expect(auto.ms).to.be.at.most(fixed.ms * 1.05);
    expect(auto.ringMean).to.be.below(fixed.ringMean * 0.6);
  });

  it('a slow reader (rwnd-limited): as Linux, a window that grew first keeps the limit up; the bound holds and the speed is the same', () => {
    // cwnd grows during the first round trips, before the reader falls behind, and the limit
    // never drops (tcp_sndbuf_expand only expands): the ring is as full as without autotuning.
    const auto = bulk({ delayMs: 0.05, bytesPerMs: 1_000_000 }, {}, 50);
    const fixed = bulk({ delayMs: 0.05, bytesPerMs: 1_000_000 }, { sendBufferAutoSize: false }, 50);
    console.log(`      auto: ${auto.ms} ms, ring max ${(auto.ringMax / KiB).toFixed(0)} KiB mean ${(auto.ringMean / KiB).toFixed(0)} KiB; fixed: ${fixed.ms} ms, max ${(fixed.ringMax / KiB).toFixed(0)} mean ${(fixed.ringMean / KiB).toFixed(0)} KiB`);
    expect(auto.ms).to.be.at.most(fixed.ms * 1.05);
    expect(auto.ringMax).to.be.at.most(256 * KiB);
  });

  it('a path of 100 MB/s at 2 ms RTT: at the same speed', () => {
    const auto = bulk({ delayMs: 1, bytesPerMs: 100_000 }, {});
    const fixed = bulk({ delayMs: 1, bytesPerMs: 100_000 }, { sendBufferAutoSize: false });
    console.log(`      auto: ${auto.ms} ms, ring max ${(auto.ringMax / KiB).toFixed(0)} KiB mean ${(auto.ringMean / KiB).toFixed(0)} KiB; fixed: ${fixed.ms} ms, max ${(fixed.ringMax / KiB).toFixed(0)} mean ${(fixed.ringMean / KiB).toFixed(0)} KiB`);
    expect(auto.ms).to.be.at.most(fixed.ms * 1.05);
  });
});
