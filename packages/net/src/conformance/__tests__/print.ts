/**
 * Prints the traces of scenarios on a target, for writing expectations and reading failures:
 * `node --import tsx src/conformance/__tests__/print.ts <id-substring> [target] [runs]`.
 */
import { runScenario, TARGETS, type TargetName } from './harness.js';
import { SCENARIOS } from './scenarios.js';

const [filter = '', targetArg = 'node:net', runsArg = '1'] = process.argv.slice(2);
const target = TARGETS.find((t) => t === targetArg) as TargetName | undefined;
if (target === undefined) throw new Error(`target must be one of ${TARGETS.join(', ')}`);
for (const s of SCENARIOS.filter((x) => x.id.includes(filter))) {
  const seen = new Set<string>();
  for (let i = 0; i < Number(runsArg); i++) seen.add(JSON.stringify(await runScenario(s, target), null, 1));
  process.stdout.write(`== ${s.id} on ${target}${seen.size > 1 ? ` NOT DETERMINISTIC (${seen.size} variants)` : ''}\n${[...seen].join('\n--\n')}\n`);
}
