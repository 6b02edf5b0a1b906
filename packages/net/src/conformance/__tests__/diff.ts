/**
 * Prints, for every scenario (or those whose id contains the filter), whether each tcp-tun
 * target's traces equal node:net's and, when not, the first differing entry of each label:
 * `node --import tsx src/conformance/__tests__/diff.ts [filter] [target]`. A to-do list for the
 * socket layer; the mocha suite is the authority.
 */
import { runScenario, type TargetName, type Traces } from './harness.js';
import { SCENARIOS } from './scenarios.js';

const [filter = '', only] = process.argv.slice(2);
const targets: TargetName[] = only === undefined ? ['tcp-tun pair', 'tcp-tun loopback'] : [only as TargetName];

function firstDiffs(want: Traces, got: Traces): string[] {
  const out: string[] = [];
  for (const label of [...new Set([...Object.keys(want), ...Object.keys(got)])].sort()) {
    const w = want[label] ?? [];
    const g = got[label] ?? [];
    const n = Math.max(w.length, g.length);
    for (let i = 0; i < n; i++) {
      if (w[i] !== g[i]) {
        out.push(`${label}[${i}]: node ${w[i] === undefined ? '(nothing)' : JSON.stringify(w[i])} | tcp-tun ${g[i] === undefined ? '(nothing)' : JSON.stringify(g[i])}`);
        break;
      }
    }
  }
  return out;
}

const passed = new Map<TargetName, number>(targets.map((t) => [t, 0]));
let count = 0;
for (const s of SCENARIOS.filter((x) => x.id.includes(filter))) {
  count++;
  const want = await runScenario(s, 'node:net');
  for (const target of targets) {
    const got = await runScenario(s, target);
    const diffs = firstDiffs(want, got);
    if (diffs.length === 0) passed.set(target, passed.get(target)! + 1);
    process.stdout.write(`${diffs.length === 0 ? 'PASS' : 'FAIL'} ${target} ${s.id} [${s.covers.join(',')}]\n${diffs.map((d) => `    ${d}\n`).join('')}`);
  }
}
process.stdout.write(`\n${count} scenarios; ${targets.map((t) => `${t}: ${passed.get(t)} equal`).join('; ')}\n`);
