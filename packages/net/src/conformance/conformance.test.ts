/**
 * The differential conformance suite (issue 9): every scenario of `__tests__/scenarios-*.ts`
 * runs on the real `node:net` over 127.0.0.1 and on tcp-tun (two stacks over a link pair, and
 * one stack talking to itself), and the tcp-tun traces must equal node:net's, label by label.
 * See `__tests__/harness.ts` for what is recorded and what is normalised.
 *
 * One mocha test per scenario and target. The node:net test runs the scenario twice (the
 * traces must be equal: a scenario must be deterministic on the referee) and asserts its key
 * expectations; the tcp-tun tests compare with the node:net trace (computed once and cached).
 */
import { expect } from 'chai';
import { BEHAVIOURS, runScenario, type Scenario, type TargetName, type Traces } from './__tests__/harness.js';
import { SCENARIOS } from './__tests__/scenarios.js';

const reference = new Map<string, Promise<Traces>>();

function nodeTraces(s: Scenario): Promise<Traces> {
  let p = reference.get(s.id);
  if (p === undefined) reference.set(s.id, (p = runScenario(s, 'node:net')));
  return p;
}

function show(t: Traces): string {
  return Object.entries(t)
    .map(([label, list]) => `${label}:\n${list.map((e) => `    ${e}`).join('\n')}`)
    .join('\n');
}

describe('conformance: node:net vs tcp-tun', function () {
  this.timeout(20_000);

  describe('the suite', () => {
    it('has at least 90 scenarios with unique ids', () => {
      expect(SCENARIOS.length).to.be.at.least(90);
      expect(new Set(SCENARIOS.map((s) => s.id)).size).to.equal(SCENARIOS.length);
    });
    it("covers each of issue 9's nine behaviours", () => {
      const covered = new Set(SCENARIOS.flatMap((s) => s.covers));
      expect(BEHAVIOURS.filter((b) => !covered.has(b))).to.deep.equal([]);
    });
  });

  for (const s of SCENARIOS) {
    describe(`${s.id} [${s.covers.join(',')}]`, () => {
      it('node:net', async () => {
        const first = await nodeTraces(s);
        if (s.rerun ?? true) {
          const again = await runScenario(s, 'node:net');
          expect(show(again), 'node:net is not deterministic on this scenario').to.equal(show(first));
        }
        s.expect(first);
      });
      for (const target of ['tcp-tun pair', 'tcp-tun loopback'] as const satisfies readonly TargetName[]) {
        it(target, async () => {
          const want = await nodeTraces(s);
          const got = await runScenario(s, target);
          expect(show(got)).to.equal(show(want));
        });
      }
    });
  }
});
