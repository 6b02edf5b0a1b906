/**
 * Seeded randomness for property tests. The seed comes from env SEED (to replay a failure)
 * or is fresh per run; `withSeed` prints it when the test body throws.
 */

/** A small fast PRNG (mulberry32): deterministic for a given seed. */
export class Prng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform uint32. */
  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  /** `n` random octets. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** The seed for this run: env SEED if set, else a fresh one. */
export function testSeed(): number {
  const env = process.env['SEED'];
  return env !== undefined && env !== '' ? Number(env) >>> 0 : (Math.random() * 0x100000000) >>> 0;
}

/** Runs `body` with a seeded PRNG; on failure the error message names the seed to replay. */
export function withSeed(body: (rng: Prng) => void): void {
  const seed = testSeed();
  try {
    body(new Prng(seed));
  } catch (err) {
    const message = `property failed with SEED=${seed} (replay: SEED=${seed} pnpm exec mocha)`;
    process.stderr.write(`\n${message}\n`);
    if (err instanceof Error) err.message = `${message}: ${err.message}`;
    throw err;
  }
}
