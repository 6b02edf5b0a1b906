/**
 * Fuzzing the live stack (see `__tests__/fuzz-bed.ts`): random and mutated IPv4/TCP/ICMP
 * packets against a `Stack` with listeners, established connections carrying data both ways
 * and connections of its own. After every packet: nothing escaped, the stack's
 * `internal-error` counter is still 0 (its own try/catch hid nothing), every connection's
 * state and queues are within their bounds, the table within `maxConnections`; after each
 * run the reassembler within its caps and the heap did not grow.
 *
 * IPv6 (`__tests__/fuzz-bed6.ts`): random octets, extension-header chains, mutated segments of
 * live IPv6 connections, fragments and ICMPv6 against a dual-stack stack, 300,000 more.
 *
 * Over 1,000,000 fuzzed packets in all. Seeded: a failure prints its seed, replay with
 * `SEED=n pnpm exec mocha src/fuzz.test.ts`. Soak for minutes with
 * `FUZZ_SOAK_SECONDS=300 pnpm exec mocha src/fuzz.test.ts` (a fresh random seed per round,
 * printed as it goes).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { FUZZ_LIMITS, FuzzBed, type FuzzMix } from './__tests__/fuzz-bed.js';
import { FuzzBed6, type FuzzMix6 } from './__tests__/fuzz-bed6.js';

const BASE_SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : 20_251_125;
const SOAK_SECONDS = Number(process.env.FUZZ_SOAK_SECONDS ?? 0);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface RunResult {
  readonly bed: FuzzBed;
  readonly heapGrowth: number;
  readonly packetsPerSecond: number;
}

/** Runs `count` fuzzed packets of `mix` on a fresh bed; annotates a failure with the seed. */
async function fuzz(seed: number, mix: FuzzMix, count: number, replay = `SEED=${BASE_SEED} pnpm exec mocha src/fuzz.test.ts`): Promise<RunResult> {
  const bed = new FuzzBed(seed, mix);
  let baseline = 0;
  const warmup = Math.floor(count / 10);
  const started = performance.now();
  const onUncaught = (): void => {
    process.stderr.write(`\nfuzz: an uncaught exception during the run of seed ${seed}; replay: ${replay}\n`);
  };
  process.prependListener('uncaughtException', onUncaught);
  try {
    await bed.run(count, (i) => {
      if (i === warmup) baseline = heapUsed();
    });
    // Let the last drains and stream callbacks run: they must not throw either.
    await new Promise<void>((resolve) => setImmediate(resolve));
    bed.check(-1);
  } catch (err) {
    await bed.close();
    const e = err as Error;
    e.message = `${e.message}\n      seed ${seed} (replay: ${replay})`;
    throw e;
  } finally {
    process.removeListener('uncaughtException', onUncaught);
  }
  const elapsed = (performance.now() - started) / 1000;
  const heapGrowth = heapUsed() - baseline;
  const stats = bed.stack.stats();
  await bed.close();
  const r = stats.reassembly;
  expect(r.bytesHeld, 'reassembly bytes').to.be.at.most(FUZZ_LIMITS.reassembly.maxTotalBytes);
  expect(r.datagramsHeld, 'reassembly datagrams').to.be.at.most(FUZZ_LIMITS.reassembly.maxDatagrams);
  expect(stats.drops['internal-error'] ?? 0).to.equal(0);
  return { bed, heapGrowth, packetsPerSecond: (bed.counts.fuzzed + bed.counts.conversation) / elapsed };
}

function report(name: string, r: RunResult): void {
  const c = r.bed.counts;
  if (process.env.FUZZ_VERBOSE) {
    process.stdout.write(
      `      ${name}: ${c.fuzzed} fuzzed + ${c.conversation} valid packets, ${Math.round(r.packetsPerSecond)}/s, ` +
        `${c.peerOpens}+${c.stackOpens} opens, ${c.bytesFromStack} octets from the stack, heap ${(r.heapGrowth / 1048576).toFixed(1)} MiB\n`,
    );
  }
}

/** Heap growth allowed over a run: the caps bound the stack far below this. */
const HEAP_BOUND = 24 * 1024 * 1024;

describe('fuzzing the live stack', function () {
  this.timeout(120_000);

  it('random octets and random IPv4 datagrams (250k)', async () => {
    const r = await fuzz(BASE_SEED + 1, { random: 1, mutated: 0, flipped: 0, fragments: 0, icmp: 0 }, 250_000);
    report('random', r);
    const drops = r.bed.stack.stats().drops;
    expect(drops['ipv4-truncated'] ?? 0).to.be.above(1000);
    expect(drops['ipv4-bad-version'] ?? 0).to.be.above(1000);
    expect(r.bed.counts.bytesFromStack).to.be.above(0);
    expect(r.heapGrowth).to.be.below(HEAP_BOUND);
  });

  it('segments of live connections with mutated fields (350k)', async () => {
    const r = await fuzz(BASE_SEED + 2, { random: 0, mutated: 1, flipped: 0, fragments: 0, icmp: 0 }, 350_000);
    report('mutated', r);
    const s = r.bed.stack.stats();
    expect(s.connectionsAccepted).to.be.above(100);
    expect(s.connectionsOpened).to.be.above(10);
    expect(r.bed.counts.bytesFromStack).to.be.above(1_000_000);
    expect(r.heapGrowth).to.be.below(HEAP_BOUND);
  });

  it('valid segments with flipped header and option octets, checksums fixed (150k)', async () => {
    const r = await fuzz(BASE_SEED + 3, { random: 0, mutated: 0, flipped: 1, fragments: 0, icmp: 0 }, 150_000);
    report('flipped', r);
    expect(r.bed.stack.stats().drops['tcp-bad-data-offset'] ?? 0).to.be.above(100);
    expect(r.heapGrowth).to.be.below(HEAP_BOUND);
  });

  it('fragments: overlapping, duplicated, missing, oversized, floods (150k)', async () => {
    const r = await fuzz(BASE_SEED + 4, { random: 0, mutated: 0, flipped: 0, fragments: 1, icmp: 0 }, 150_000);
    report('fragments', r);
    const s = r.bed.stack.stats();
    expect(s.reassembly.datagramsCompleted).to.be.above(300);
    expect(s.drops['fragment-overlap'] ?? 0).to.be.above(100);
    expect(s.reassembly.datagramsEvicted, 'a full table evicts its oldest datagram').to.be.above(100);
    expect(s.drops['fragment-timeout'] ?? 0).to.be.above(10);
    expect(r.heapGrowth).to.be.below(HEAP_BOUND);
  });

  it('ICMP echo requests, errors quoting our connections and unknown types (100k)', async () => {
    const r = await fuzz(BASE_SEED + 5, { random: 0, mutated: 0, flipped: 0, fragments: 0, icmp: 1 }, 100_000);
    report('icmp', r);
    const s = r.bed.stack.stats();
    expect(s.icmpEchoReplies).to.be.above(1000);
    expect(r.heapGrowth).to.be.below(HEAP_BOUND);
  });

  it('everything mixed (100k)', async () => {
    const r = await fuzz(BASE_SEED + 6, { random: 2, mutated: 4, flipped: 2, fragments: 1, icmp: 1 }, 100_000);
    report('mixed', r);
    expect(r.heapGrowth).to.be.below(HEAP_BOUND);
  });

  /** Runs `count` IPv6 packets of `mix` on a fresh IPv6 bed; annotates a failure with the seed. */
  async function fuzz6(seed: number, mix: FuzzMix6, count: number): Promise<FuzzBed6> {
    const bed = new FuzzBed6(seed, mix);
    process.stdout.write(`      seed ${seed} (SEED=${BASE_SEED} to replay)\n`);
    try {
      await bed.run(count);
      await new Promise<void>((resolve) => setImmediate(resolve));
      bed.check();
      return bed;
    } catch (err) {
      const e = err as Error;
      e.message = `${e.message}\n      seed ${seed} (replay: SEED=${BASE_SEED} pnpm exec mocha src/fuzz.test.ts -g IPv6)`;
      throw e;
    } finally {
      await bed.close();
    }
  }

  it('IPv6: random octets and extension-header chains (100k)', async () => {
    const bed = await fuzz6(BASE_SEED + 11, { random: 1, chains: 2, mutated: 0, fragments: 0, icmp: 0 }, 100_000);
    const d = bed.stack.stats().ipv6?.drops ?? {};
    expect(d['truncated'] ?? 0, 'truncated').to.be.above(100);
    expect(d['unknown-next-header'] ?? 0, 'unknown next header').to.be.above(100);
    expect(d['unknown-option'] ?? 0, 'unknown option').to.be.above(10);
    expect(d['mapped-address'] ?? 0, 'mapped').to.be.above(10);
    expect(bed.stack.stats().icmpv6?.errorsSent ?? 0).to.be.above(10);
  });

  it('IPv6: segments of live connections with mutated fields (100k)', async () => {
    const bed = await fuzz6(BASE_SEED + 12, { random: 0, chains: 0, mutated: 1, fragments: 0, icmp: 0 }, 100_000);
    const s = bed.stack.stats();
    expect(s.connectionsAccepted, 'accepted').to.be.above(20);
    expect(bed.counts.bytesFromStack, 'data from the stack').to.be.above(100_000);
  });

  it('IPv6: fragments (reordered, duplicated, overlapping, lost, floods) and ICMPv6 (100k)', async () => {
    const bed = await fuzz6(BASE_SEED + 13, { random: 0, chains: 0, mutated: 1, fragments: 2, icmp: 2 }, 100_000);
    const s = bed.stack.stats();
    expect(s.ipv6?.reassembly.datagramsCompleted ?? 0, 'reassembled').to.be.above(100);
    expect(s.icmpv6?.echoReplies ?? 0, 'echo replies').to.be.above(100);
    expect(Object.keys(s.ipv6?.ndpMldDropped ?? {}).length, 'NDP/MLD types').to.be.above(5);
  });

  if (SOAK_SECONDS > 0) {
    it(`soak: one stack under mixed fuzz for ${SOAK_SECONDS} s (FUZZ_SOAK_SECONDS)`, async function () {
      this.timeout((SOAK_SECONDS + 120) * 1000);
      // One long-lived stack, so that a slow leak shows as heap growth between chunks.
      const seed = process.env.SEED !== undefined ? BASE_SEED : (Math.random() * 2 ** 31) >>> 0;
      process.stdout.write(`      soak: seed ${seed} (replay: SEED=${seed} FUZZ_SOAK_SECONDS=${SOAK_SECONDS} pnpm run soak)\n`);
      const bed = new FuzzBed(seed, { random: 2, mutated: 4, flipped: 2, fragments: 1, icmp: 1 });
      const end = performance.now() + SOAK_SECONDS * 1000;
      const chunk = 200_000;
      let baseline = 0;
      try {
        for (let target = chunk; performance.now() < end; target += chunk) {
          const t0 = performance.now();
          await bed.run(target);
          const heap = heapUsed();
          if (target === chunk) baseline = heap;
          const rate = Math.round(chunk / ((performance.now() - t0) / 1000));
          process.stdout.write(`        ${bed.counts.fuzzed} fuzzed, ${rate} fuzzed/s, ${bed.stack.connections().length} connections, heap ${(heap / 1048576).toFixed(1)} MiB\n`);
          expect(heap - baseline, 'heap growth since the first chunk').to.be.below(HEAP_BOUND);
        }
      } catch (err) {
        const e = err as Error;
        e.message = `${e.message}\n      seed ${seed} (replay: SEED=${seed} FUZZ_SOAK_SECONDS=${SOAK_SECONDS} pnpm run soak)`;
        throw e;
      } finally {
        await bed.close();
      }
    });
  }
});
