/**
 * Reading the IPv6 and ICMPv6 counters of a Stack's `stats()` (as apps/echo's SIGUSR1 report and
 * curl-lite's `--stats` print them) in end-to-end tests: `stats.ipv6` and `stats.icmpv6`, each an
 * object of counters, some grouped by reason or type in nested objects.
 */
import type { Json } from './report.js';

/**
 * The sum of the numeric counters under `stats[group]` whose key (at any depth) matches
 * `key`; 0 when the group or no such counter exists, so a test's `above(0)` fails loudly rather
 * than throwing on a missing field (its message should print the group).
 */
export function counterIn(stats: Json, group: string, key: RegExp): number {
  const walk = (value: unknown, name: string): number => {
    if (typeof value === 'number') return key.test(name) ? value : 0;
    if (value === null || typeof value !== 'object') return 0;
    let sum = 0;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // A nested group whose own name matches counts whole (e.g. `{ packetTooBig: { … } }`).
      sum += typeof v === 'object' && v !== null && key.test(k) ? walk(v, k) || countAll(v) : walk(v, k);
    }
    return sum;
  };
  return walk(stats[group], group);
}

function countAll(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === null || typeof value !== 'object') return 0;
  return Object.values(value as Record<string, unknown>).reduce<number>((sum, v) => sum + countAll(v), 0);
}

/** {@link counterIn} for `stats.ipv6`. */
export function ipv6Counter(stats: Json, key: RegExp): number {
  return counterIn(stats, 'ipv6', key);
}

/** {@link counterIn} for `stats.icmpv6`. */
export function icmpv6Counter(stats: Json, key: RegExp): number {
  return counterIn(stats, 'icmpv6', key);
}
