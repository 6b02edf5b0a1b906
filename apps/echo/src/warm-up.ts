/**
 * The echo app's warm-up before it reads the real device (issue 11: the first 500 connections
 * of a fresh process at ≥ 0.8× the warm rate; bench/PROFILE.md rounds 3 and 6).
 *
 * Two parts, each bounded in time (the second only with `--device-warm-up`: it brought no gain that
 * could be measured, and the idle process does some background CPU work after it, which the
 * zero-window e2e test's idle-CPU bound caught; bench/PROFILE.md round 6):
 * 1. in memory (`warmUp` of @tcp-tun/net over an in-memory pair with the device's GSO send):
 *    cheap per connection, so the stack, engine and socket code run often;
 * 2. over a device pair (`openWarmUpPair` of @tcp-tun/tun: two `TunDevice`s on a socketpair):
 *    the same connections, now also through the device's drain, reads to EAGAIN, writes and
 *    virtio-net headers, and the stack's egress into a device — code the in-memory part cannot
 *    reach, which round 3 found cold (TUN writes 240 µs per connection in the cold block against
 *    28 warm). Not the poll worker: the pair's ends learn of readability from a doorbell. Its
 *    devices are opened first, and the real device's worker is started by the caller
 *    (`prepareReader()`) before both parts, so no thread start-up falls into the first block.
 * The device part fails soft: where the socketpair (or anything else in it) fails, one warning
 * and the app serves as it would have without it.
 */
import { warmUp, type WarmUpReport } from '@tcp-tun/net';
import { openWarmUpPair } from '@tcp-tun/tun';

/** What the app warms, and the device it will serve on. */
export interface WarmUpPlan {
  /** The IP versions served. */
  readonly families: readonly (4 | 6)[];
  /** Whether the real link has GSO send (the device with offload). */
  readonly segmentationOffload: boolean;
  /** The real device, whose settings the device pair copies. */
  readonly device: { readonly mtu: number; readonly offload: boolean };
  /** `busyPollUs` of the real device (undefined: the default), for the pair. */
  readonly busyPollUs?: number | undefined;
  /** Run the device part (`--device-warm-up`; off by default). */
  readonly devicePair: boolean;
  /** Budget of the in-memory part in ms (default 150). */
  readonly inMemoryBudgetMs?: number;
  /** Budget of the device part in ms (default 150). */
  readonly deviceBudgetMs?: number;
}

/** What the warm-up did: the reports of the parts that ran. */
export interface WarmUpOutcome {
  readonly inMemory: WarmUpReport;
  /** Undefined when the device part was off or failed (then `warning` says why). */
  readonly device: WarmUpReport | undefined;
  /** The warning given when the device part failed. */
  readonly warning: string | undefined;
}

/** Replaceable for tests. */
export interface WarmUpDeps {
  readonly openPair: typeof openWarmUpPair;
  readonly warn: (message: string) => void;
}

const DEFAULT_DEPS: WarmUpDeps = {
  openPair: openWarmUpPair,
  warn: (message) => process.stderr.write(`tcp-tun-echo: ${message}\n`),
};

/**
 * Opens the device pair (its readiness workers start on the other core at once), runs the
 * in-memory part meanwhile, then the device part; never rejects because of the device part.
 */
export async function warmUpBeforeServing(plan: WarmUpPlan, deps: WarmUpDeps = DEFAULT_DEPS): Promise<WarmUpOutcome> {
  let links: ReturnType<typeof openWarmUpPair> | undefined;
  let failure: unknown;
  if (plan.devicePair) {
    try {
      links = deps.openPair({
        mtu: plan.device.mtu,
        offload: plan.device.offload,
        ...(plan.busyPollUs === undefined ? {} : { busyPollUs: plan.busyPollUs }),
      });
    } catch (error) {
      failure = error;
    }
  }
  const inMemory = await warmUp({
    segmentationOffload: plan.segmentationOffload,
    families: plan.families,
    budgetMs: plan.inMemoryBudgetMs ?? 150,
  });
  if (links !== undefined) {
    try {
      const device = await warmUp({ links, families: plan.families, budgetMs: plan.deviceBudgetMs ?? 150 });
      return { inMemory, device, warning: undefined };
    } catch (error) {
      failure = error;
      // The stacks close their links; if it failed before they were made, close them here.
      await Promise.all(links.map((l) => l.close().catch(() => undefined)));
    }
  }
  if (failure === undefined) return { inMemory, device: undefined, warning: undefined };
  const e = failure as { message?: unknown; code?: unknown };
  const warning = `device warm-up skipped (the first connections may run slower): ${String(e.message ?? failure)}${typeof e.code === 'string' ? ` (${e.code})` : ''}`;
  deps.warn(warning);
  return { inMemory, device: undefined, warning };
}
