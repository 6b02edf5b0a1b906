/**
 * Loss recovery end to end: two engines over the simulated link (src/__tests__/pair.ts) moving
 * bulk data one way under random loss, with a bandwidth limit so the congestion window matters.
 * With SACK both sides (RFC 2018, RFC 6675, RFC 8985 RACK-TLP) only lost segments may be
 * retransmitted and retransmission timeouts must be rare; without SACK (NewReno, RFC 6582) the
 * transfer must still complete intact. A failure names its seed; replay with `SEED=n`.
 */
import { expect } from 'chai';
import { runOneWay } from './__tests__/one-way.js';
import { Pair, fillStream, type LinkOptions } from './__tests__/pair.js';
import type { TcpConfig } from './types.js';

const MiB = 1024 * 1024;
const SALT = 29;
const STREAM = fillStream(new Uint8Array(4 * MiB), 0, SALT);

interface OneWay {
  readonly pair: Pair;
  readonly failure: string | undefined;
}

/** `a` sends `size` octets and closes; `b` reads everything, checks it, and closes too. */
function oneWay(seed: number, link: Partial<LinkOptions>, size: number, configA?: Partial<TcpConfig>, configB?: Partial<TcpConfig>): OneWay {
  const pair = new Pair({ seed, link, configA, configB, deadlineMs: 3_600_000 });
  return { pair, failure: runOneWay(pair, STREAM, size).failure };
}

function seeds(count: number, base: number): number[] {
  const env = process.env['SEED'];
  if (env !== undefined && env !== '') return [Number(env)];
  return Array.from({ length: count }, (_, i) => base + i);
}

/** 2% loss each way, 20 ms RTT, 10 Mbit/s with a 60 ms drop-tail queue. */
const LOSSY_2: Partial<LinkOptions> = { delayMs: 10, loss: 0.02, bytesPerMs: 1250, maxQueueMs: 60 };

describe('Loss recovery over a simulated link', function () {
  this.timeout(120_000);

  it('SACK + RACK-TLP at 2% loss: only lost segments are retransmitted, RTOs stay below 1 per 1000 segments (30 seeds × 2 MiB)', () => {
    let segments = 0;
    let rtos = 0;
    let retransmits = 0;
    let lost = 0;
    let tlps = 0;
    for (const seed of seeds(30, 100)) {
      const r = oneWay(seed, LOSSY_2, 2 * MiB);
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      const s = r.pair.a.stats;
      expect(s.sackEnabled && s.timestampsEnabled && s.recvWindowScale >= 0, `seed ${seed}: options`).to.equal(true);
      const droppedData = r.pair.droppedData.a;
      // Slack: a tail loss probe or a spurious RACK retransmission now and then.
      expect(s.retransmits, `seed ${seed} (replay: SEED=${seed}): ${s.retransmits} retransmits for ${droppedData} lost data segments`)
        .to.be.at.most(droppedData + 3 + Math.ceil(droppedData * 0.05));
      segments += s.segmentsOut;
      rtos += s.rtoCount;
      retransmits += s.retransmits;
      lost += droppedData;
      tlps += s.tlpProbes;
    }
    expect(rtos * 1000, `${rtos} RTOs in ${segments} segments`).to.be.below(segments);
    expect(retransmits).to.be.at.most(lost + 3 * 30);
    if (process.env['SEED'] === undefined) expect(tlps, 'tail loss probes were exercised').to.be.greaterThan(0);
  });

  it('without SACK (a NewReno peer) the same link still delivers every octet', () => {
    const off: Partial<TcpConfig> = { sack: false, timestamps: false, windowScaling: false, ecn: false, congestionControl: 'newreno' };
    for (const seed of seeds(10, 300)) {
      const r = oneWay(seed, LOSSY_2, MiB, off, off);
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      const s = r.pair.a.stats;
      expect([s.sackEnabled, s.timestampsEnabled, s.recvWindowScale], `seed ${seed}`).to.deep.equal([false, false, -1]);
    }
  });

  it('a SACK sender facing a peer without SACK falls back to NewReno-style recovery', () => {
    for (const seed of seeds(10, 400)) {
      const r = oneWay(seed, LOSSY_2, MiB, {}, { sack: false });
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      expect(r.pair.a.stats.sackEnabled, `seed ${seed}`).to.equal(false);
      expect(r.pair.a.stats.fastRetransmits, `seed ${seed}`).to.be.greaterThan(0);
    }
  });

  it('ECN: a marking bottleneck instead of a dropping one; the sender backs off without retransmitting', () => {
    for (const seed of seeds(5, 500)) {
      const r = oneWay(seed, { delayMs: 10, bytesPerMs: 1250, ceMarkQueueMs: 5 }, MiB);
      expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
      const a = r.pair.a.stats;
      const b = r.pair.b!.stats;
      expect(a.ecnEnabled && b.ecnEnabled, `seed ${seed}`).to.equal(true);
      expect(r.pair.ceMarked.a, `seed ${seed}`).to.be.greaterThan(0);
      expect(b.ceReceived, `seed ${seed}`).to.equal(r.pair.ceMarked.a);
      expect(a.eceReceived, `seed ${seed}`).to.be.greaterThan(0);
      expect(a.ecnReductions, `seed ${seed}`).to.be.greaterThan(0);
      expect(a.retransmits, `seed ${seed}`).to.equal(0);
    }
  });

  it('large MSS (65495, a 64 KiB MTU) with a 16 MiB receive buffer and window scale 9', () => {
    const cfg: Partial<TcpConfig> = { mss: 65495, recvBufferSize: 16 * MiB, sendBufferSize: 16 * MiB };
    const r = oneWay(7, { delayMs: 1, bytesPerMs: 100_000 }, 4 * MiB, cfg, cfg);
    expect(r.failure).to.equal(undefined);
    const s = r.pair.a.stats;
    // 65495 less the 12 octets of timestamps on every segment (RFC 6691); the harness checks every
    // segment's data + options against the peer's MSS.
    expect([s.sendMss, s.sendWindowScale, s.recvWindowScale]).to.deep.equal([65483, 9, 9]);
    expect(r.pair.a.stats.retransmits).to.equal(0);
  });
});
