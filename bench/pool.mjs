#!/usr/bin/env node
// Issue 13's verdict ("IPv6 within 10 % of IPv4 on every workload") pooled over several recorded
// full runs of `pnpm bench`: one median per workload and configuration over the paired IPv6/IPv4
// ratios of all the runs together (bench/lib/paired.mjs poolPaired), because one 5-rep run judges
// ~20 row-and-configuration medians at once, each moving by ±5 % from run to run.
//   node bench/pool.mjs bench/recorded/bench-A.json bench/recorded/bench-B.json ...
// Judged: tcp-tun as shipped (ours6) and with --no-offload (plain6) on every workload below; idle
// memory per connection (lower is better) in each run. The kernel's own pairs are printed as the
// harness's noise floor, not judged. Exit status 0 when every line is met, 1 when not.
import { readFileSync } from 'node:fs';
import { poolPaired } from './lib/paired.mjs';

/** The workloads of issue 13's last line (conn-cold/-warm and cold/warm are parts of conn). */
const POOLED_ROWS = ['conn', 'discard', 'source', 'rr', 'fair', 'fair-spread', 'http1m-wrk', 'http1m-ab', 'small-wrk', 'small-h2load'];
const LOWER_IS_BETTER = ['fair-spread'];
const JUDGED = { ours6: 'shipped', plain6: '--no-offload' };

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/pool.mjs RUN.json [RUN.json ...]');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
const fmt = (x) => (x === Number.MAX_VALUE ? 'failed' : x.toFixed(3));
const cell = (v) => `${fmt(v.median)} [${fmt(v.min)}-${fmt(v.max)}] n=${v.n}${v.missing ? ` (${v.missing} run(s) without it)` : ''} ${v.met ? 'met' : 'NOT MET'}`;

const verdicts = poolPaired(runs.map((r) => r.paired ?? {}), POOLED_ROWS, Object.keys(JUDGED), LOWER_IS_BETTER);
const kernel = poolPaired(runs.map((r) => r.paired ?? {}), POOLED_ROWS, ['kernel6'], LOWER_IS_BETTER);
console.log(`Pooled over ${runs.length} run(s): ${files.join(', ')}`);
console.log('median [min-max] of the pooled paired IPv6/IPv4 ratios; line 0.9 (fair-spread: 1.1, lower is better)');
let allMet = true;
for (const row of POOLED_ROWS) {
  const parts = Object.entries(JUDGED).map(([stack, name]) => {
    const v = verdicts.find((x) => x.row === row && x.stack === stack);
    allMet &&= v.met;
    return `${name} ${cell(v)}`;
  });
  const k = kernel.find((x) => x.row === row);
  console.log(`  ${row.padEnd(13)} ${parts.join(' | ')} | the kernel's own ${k.n ? fmt(k.median) : '-'}`);
}
runs.forEach((r, i) => {
  const v4 = r.idle?.heapPerConnKiB;
  const v6 = r.idle6?.heapPerConnKiB;
  const ratio = Number.isFinite(v4) && Number.isFinite(v6) && v4 > 0 ? v6 / v4 : NaN;
  const met = ratio <= 1.1;
  allMet &&= met;
  console.log(`  idle (run ${i + 1}) IPv6 ${Number.isFinite(v6) ? v6.toFixed(2) : '-'} KiB / IPv4 ${Number.isFinite(v4) ? v4.toFixed(2) : '-'} KiB per connection = ${Number.isFinite(ratio) ? ratio.toFixed(3) : 'missing'} ${met ? 'met (≤ 1.1)' : 'NOT MET'}`);
});
console.log(allMet ? 'VERDICT: met' : 'VERDICT: not met');
process.exit(allMet ? 0 : 1);
