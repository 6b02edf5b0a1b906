/**
 * Two engines joined by a simulated link (src/__tests__/pair.ts): bulk transfers both ways with
 * a half-close in the middle, under loss, reordering, duplication and a bandwidth limit. Every
 * octet is checked, both sides must end CLOSED without errors. A failure names its seed;
 * replay it with `SEED=n pnpm exec mocha`.
 */
import { expect } from 'chai';
import { Pair, fillStream, type LinkOptions, type Side } from './__tests__/pair.js';
import type { PairConnection } from './__tests__/pair.js';
import type { TcpConfig } from './types.js';

const MiB = 1024 * 1024;
const SALT: Record<Side, number> = { a: 17, b: 101 };
const STREAMS: Record<Side, Uint8Array> = {
  a: fillStream(new Uint8Array(MiB), 0, SALT.a),
  b: fillStream(new Uint8Array(MiB), 0, SALT.b),
};

interface TransferResult {
  readonly pair: Pair;
  /** Every state either side was seen in after a drain. */
  readonly states: Set<string>;
  readonly failure: string | undefined;
  readonly virtualMs: number;
}

/**
 * `a` sends `size` octets then closes its direction; `b` sends half of its `size` octets at once
 * and the rest only after `a`'s FIN arrived (so it keeps sending into a half-closed connection),
 * then closes. Returns a description of the first thing that went wrong, if any.
 */
function transfer(seed: number, link: Partial<LinkOptions>, size: number, extra: {
  configA?: Partial<TcpConfig>;
  configB?: Partial<TcpConfig>;
  throughCodec?: boolean;
  /** b sends everything at once and closes when done, so the FINs may cross (simultaneous close). */
  together?: boolean;
  /** a reads at most `octets` every `intervalMs` (its window closes; b must probe). */
  slowReader?: { octets: number; intervalMs: number };
  /** IP version (default 4). */
  family?: 4 | 6;
} = {}): TransferResult {
  const pair = new Pair({ seed, link, deadlineMs: 3_600_000, ...extra });
  const states = new Set<string>();
  const sendOff: Record<Side, number> = { a: 0, b: 0 };
  const recvOff: Record<Side, number> = { a: 0, b: 0 };
  const ended: Record<Side, boolean> = { a: false, b: false };
  let failure: string | undefined;
  const fail = (msg: string): void => {
    failure ??= msg;
  };
  const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');

  let nextSlowRead = 0;
  const readSome = (side: Side, conn: PairConnection): void => {
    const expected = STREAMS[other(side)];
    const slow = side === 'a' ? extra.slowReader : undefined;
    if (slow !== undefined && pair.now < nextSlowRead) return;
    const chunk = conn.recv(slow?.octets);
    if (chunk === undefined) return;
    if (slow !== undefined) nextSlowRead = pair.now + slow.intervalMs;
    const base = recvOff[side];
    if (base + chunk.length > size) {
      fail(`${side}: received ${base + chunk.length} > ${size} octets`);
      return;
    }
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== expected[base + i]) {
        fail(`${side}: octet ${base + i} is ${chunk[i]}, expected ${expected[base + i]}`);
        return;
      }
    }
    recvOff[side] = base + chunk.length;
    if (slow === undefined) readSome(side, conn);
  };

  pair.app = {
    onEvent(side, conn, ev) {
      if (ev.type === 'error') fail(`${side}: error ${ev.code} in ${conn.state} at t=${pair.now}`);
      if (ev.type === 'end') {
        if (ended[side]) fail(`${side}: second 'end'`);
        ended[side] = true;
        if (recvOff[side] + conn.readableLength !== size) fail(`${side}: 'end' before all data was readable`);
      }
      if (ev.type === 'readable' || ev.type === 'end') readSome(side, conn);
    },
    wakeAt() {
      return extra.slowReader !== undefined && pair.a.readableLength > 0 ? nextSlowRead : undefined;
    },
    pump(side, conn) {
      states.add(conn.state);
      if (extra.slowReader !== undefined && side === 'a') readSome(side, conn);
      if (!conn.canSend) return;
      // b holds back its second half until a's FIN arrived: the half-close happens mid-transfer.
      const limit = side === 'b' && !ended.b && extra.together !== true ? size >> 1 : size;
      while (sendOff[side] < limit && conn.sendCapacity > 0) {
        sendOff[side] += conn.send(STREAMS[side].subarray(sendOff[side], limit));
      }
      if (sendOff[side] === size) conn.close();
    },
  };

  try {
    pair.run(() => failure !== undefined ||
      (pair.a.state === 'CLOSED' && pair.b?.state === 'CLOSED' && pair.a.readableLength === 0 && pair.b.readableLength === 0));
  } catch (e) {
    fail(`harness: ${(e as Error).message}`);
  }
  if (failure === undefined) {
    for (const side of ['a', 'b'] as const) {
      const evs = pair.events[side];
      if (recvOff[side] !== size) fail(`${side}: received ${recvOff[side]} of ${size} octets`);
      if (!ended[side]) fail(`${side}: no 'end'`);
      const closed = evs.filter((e) => e.type === 'closed').length;
      if (closed !== 1 || evs[evs.length - 1]?.type !== 'closed') fail(`${side}: 'closed' not exactly once and last`);
      // A clean close: each side's FIN was acknowledged, announced exactly once before 'closed'.
      const finAcked = evs.filter((e) => e.type === 'fin-acked').length;
      if (finAcked !== 1) fail(`${side}: 'fin-acked' ${finAcked} times, not once`);
      if (evs[0]?.type !== 'connected') fail(`${side}: first event is ${evs[0]?.type}, not 'connected'`);
    }
  }
  return { pair, states, failure, virtualMs: pair.now };
}

const LOSSY: Partial<LinkOptions> = {
  delayMs: 10,
  jitterMs: 30,
  reorder: 0.1,
  loss: 0.1,
  duplicate: 0.02,
  bytesPerMs: 2000,
  maxQueueMs: 0,
};

function seedsFromEnv(count: number, base: number): number[] {
  const env = process.env['SEED'];
  if (env !== undefined && env !== '') return [Number(env)];
  return Array.from({ length: count }, (_, i) => base + i);
}

describe('Pair: two engines over a simulated link', function () {
  this.timeout(120_000);

  it('clean link: 1 MiB each way through the wire codec, both sides CLOSED', () => {
    for (const seed of seedsFromEnv(3, 1)) {
      const r = transfer(seed, { delayMs: 5, bytesPerMs: 10_000 }, MiB, { throughCodec: true });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      const s = r.pair.a.stats;
      expect(s.retransmits, `seed ${seed}`).to.equal(0);
      expect(r.pair.b!.stats.retransmits, `seed ${seed}`).to.equal(0);
    }
  });

  it('IPv6: clean link, 1 MiB each way through the wire codec (RFC 8200 §8.1 pseudo-header), full segments of MTU − 60', () => {
    for (const seed of seedsFromEnv(3, 21)) {
      const r = transfer(seed, { delayMs: 5, bytesPerMs: 10_000 }, MiB, { throughCodec: true, family: 6 });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      const a = r.pair.a.stats;
      expect(a.retransmits, `seed ${seed}`).to.equal(0);
      expect(r.pair.b!.stats.retransmits, `seed ${seed}`).to.equal(0);
      // 1500-octet packets: MSS 1440 each way, 1428 octets of data with timestamps (RFC 6691).
      expect(r.pair.a.config.mss).to.equal(1440);
      expect(r.pair.b!.config.mss).to.equal(1440);
      expect(a.sendMss).to.equal(1428);
    }
  });

  it('IPv6: 10% loss, reordering, duplication and bit corruption caught by the IPv6 checksum: 20 seeds', () => {
    for (const seed of seedsFromEnv(20, 23_000)) {
      const r = transfer(seed, { ...LOSSY, corrupt: 0.05 }, 256 * 1024, { family: 6 });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      expect(r.pair.corrupted.a + r.pair.corrupted.b, `seed ${seed}: corrupted segments dropped`).to.be.greaterThan(0);
    }
  });

  it('clean link with a drop-tail bottleneck: congestion losses are recovered', () => {
    for (const seed of seedsFromEnv(3, 50)) {
      const r = transfer(seed, { delayMs: 20, bytesPerMs: 500, maxQueueMs: 40 }, MiB);
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
    }
  });

  it('10% loss, reordering, duplication: 1 MiB each way, 200 seeds, every octet intact (SACK, timestamps, window scale, ECN, CUBIC)', () => {
    let fastRetransmits = 0;
    let rtos = 0;
    let ipv6Runs = 0;
    for (const seed of seedsFromEnv(Number(process.env['SWEEP'] ?? 200), 1000)) {
      // Every fourth seed over IPv6; the others are the IPv4 runs they always were.
      const family = seed % 4 === 3 ? 6 : 4;
      if (family === 6) ipv6Runs++;
      const r = transfer(seed, LOSSY, MiB, { family });
      expect(r.failure, `seed ${seed}, IPv${family} (replay: SEED=${seed})`).to.equal(undefined);
      expect(r.pair.a.stats.sackEnabled && r.pair.b!.stats.timestampsEnabled, `seed ${seed}: options negotiated`).to.equal(true);
      fastRetransmits += r.pair.a.stats.fastRetransmits + r.pair.b!.stats.fastRetransmits;
      rtos += r.pair.a.stats.rtoCount + r.pair.b!.stats.rtoCount;
    }
    if (process.env['SEED'] === undefined) expect(ipv6Runs, 'IPv6 runs').to.equal(Math.floor(Number(process.env['SWEEP'] ?? 200) / 4));
    // Both loss-recovery paths were exercised.
    expect(fastRetransmits).to.be.greaterThan(0);
    expect(rtos).to.be.greaterThan(0);
  });

  it('10% loss with every option off both sides (no SACK, timestamps, window scale or ECN; NewReno): 60 seeds', () => {
    const off: Partial<TcpConfig> = { sack: false, timestamps: false, windowScaling: false, ecn: false, congestionControl: 'newreno' };
    let fastRetransmits = 0;
    for (const seed of seedsFromEnv(Number(process.env['SWEEP'] ?? 60), 3000)) {
      const r = transfer(seed, LOSSY, MiB, { configA: off, configB: off });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      expect(r.pair.a.stats.sackEnabled || r.pair.a.stats.timestampsEnabled, `seed ${seed}`).to.equal(false);
      fastRetransmits += r.pair.a.stats.fastRetransmits + r.pair.b!.stats.fastRetransmits;
    }
    expect(fastRetransmits).to.be.greaterThan(0);
  });

  it('10% loss with a modern side and a plain side (each option declined): 40 seeds', () => {
    const off: Partial<TcpConfig> = { sack: false, timestamps: false, windowScaling: false, ecn: false };
    for (const seed of seedsFromEnv(40, 3500)) {
      const r = transfer(seed, LOSSY, MiB, seed % 2 === 0 ? { configB: off } : { configA: off });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
    }
  });

  it('small buffers and MSS (window closes often): 256 KiB each way under loss', () => {
    const config: Partial<TcpConfig> = { mss: 536, recvBufferSize: 4096, sendBufferSize: 8192, maxOutOfOrderBytes: 2048 };
    for (const seed of seedsFromEnv(20, 5000)) {
      const r = transfer(seed, LOSSY, 256 * 1024, { configA: config, configB: config });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
    }
  });

  it('both sides close as soon as their data is out: crossing FINs (CLOSING) under loss', () => {
    const seen = new Set<string>();
    for (const seed of seedsFromEnv(40, 9000)) {
      const r = transfer(seed, { ...LOSSY, bytesPerMs: 0 }, 20_000, { together: true });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      for (const st of r.states) seen.add(st);
    }
    if (process.env['SEED'] === undefined) {
      // Both sides queue everything and close() while still in SYN-SENT / SYN-RECEIVED.
      expect([...seen]).to.include.members(['SYN-SENT', 'SYN-RECEIVED', 'FIN-WAIT-1', 'CLOSING', 'TIME-WAIT', 'CLOSED']);
    }
  });

  it('a slow reader closes its window: zero-window probes keep the transfer going, even with lost updates', () => {
    let probes = 0;
    for (const seed of seedsFromEnv(20, 11_000)) {
      const r = transfer(seed, LOSSY, 128 * 1024, { slowReader: { octets: 3000, intervalMs: 100 }, configA: { recvBufferSize: 8000 } });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      probes += r.pair.b!.stats.persistProbes;
    }
    if (process.env['SEED'] === undefined) expect(probes).to.be.greaterThan(0);
  });

  it('25% loss: 64 KiB each way still completes', () => {
    for (const seed of seedsFromEnv(20, 13_000)) {
      const r = transfer(seed, { ...LOSSY, loss: 0.25 }, 64 * 1024);
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
    }
  });

  it('delayed ACKs enabled: transfer completes under loss', () => {
    const config: Partial<TcpConfig> = { delayedAckMs: 40 };
    for (const seed of seedsFromEnv(10, 7000)) {
      const r = transfer(seed, LOSSY, 256 * 1024, { configA: config, configB: config });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
    }
  });
});
