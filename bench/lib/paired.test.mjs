// Tests of bench/lib/paired.mjs: the run order of twins, the paired ratios, their summary and
// the 10 % judgement.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipv6Stacks } from './family.mjs';
import { judgeRatio, pairedOrder, pairedRatios, poolPaired, summarizeRatios } from './paired.mjs';

const V4 = ['ours', 'plain', 'lwip', 'kernel'].map((id) => ({ id, family: 4 }));
const ALL = [...V4, ...ipv6Stacks('1')];
const ids = (units) => units.map((u) => u.map((s) => s.id));

test('twins run back to back, IPv4 first in even reps and IPv6 first in odd ones; units rotate', () => {
  assert.deepEqual(ids(pairedOrder(ALL, 0)), [['ours', 'ours6'], ['plain', 'plain6'], ['lwip'], ['kernel', 'kernel6']]);
  assert.deepEqual(ids(pairedOrder(ALL, 1)), [['plain6', 'plain'], ['lwip'], ['kernel6', 'kernel'], ['ours6', 'ours']]);
  assert.deepEqual(ids(pairedOrder(ALL, 2)), [['lwip'], ['kernel', 'kernel6'], ['ours', 'ours6'], ['plain', 'plain6']]);
  // Over any two consecutive reps each family goes first once in every pair.
  for (let rep = 0; rep < 6; rep++) {
    const firsts = new Set([rep, rep + 1].flatMap((r) => pairedOrder(ALL, r).filter((u) => u.length === 2).map((u) => u[0].id)));
    assert.deepEqual([...firsts].sort(), ['kernel', 'kernel6', 'ours', 'ours6', 'plain', 'plain6']);
  }
  // Every stack exactly once per rep.
  for (let rep = 0; rep < 5; rep++) assert.deepEqual(pairedOrder(ALL, rep).flat().map((s) => s.id).sort(), ALL.map((s) => s.id).sort());
});

test('one family alone, or a twin left out (NOOFFLOAD=0): stacks run alone', () => {
  assert.deepEqual(ids(pairedOrder(V4, 1)), [['plain'], ['lwip'], ['kernel'], ['ours']]);
  const v6 = ipv6Stacks('1');
  assert.deepEqual(ids(pairedOrder(v6, 0)), [['ours6'], ['plain6'], ['kernel6']]);
  const noPlain = ALL.filter((s) => s.id !== 'plain');
  assert.deepEqual(ids(pairedOrder(noPlain, 1)), [['lwip'], ['kernel6', 'kernel'], ['plain6'], ['ours6', 'ours']]);
});

test('paired ratios are per rep; a failed run of either twin gives NaN for that rep only', () => {
  assert.deepEqual(pairedRatios([100, 200, 400], [90, 220, 400]), [0.9, 1.1, 1]);
  assert.deepEqual(pairedRatios([100, NaN, 400, 0], [50, 10, undefined, 5]), [0.5, NaN, NaN, NaN]);
  assert.deepEqual(pairedRatios([100, 100], [80]), [0.8, NaN]);
});

test('summary: median of the finite ratios, min–max, and the sign-test confidence 1 − 2^(1−n)', () => {
  assert.deepEqual(summarizeRatios([1.2, 0.8, 1.0]), { median: 1.0, min: 0.8, max: 1.2, n: 3, confidence: 0.75 });
  assert.deepEqual(summarizeRatios([0.9, NaN, 1.1, 0.7, 1.3]), { median: 1.0, min: 0.7, max: 1.3, n: 4, confidence: 0.875 });
  assert.equal(summarizeRatios([0.9, 0.95, 1, 1.05, 1.1]).confidence, 0.9375);
  assert.deepEqual(summarizeRatios([0.5]), { median: 0.5, min: 0.5, max: 0.5, n: 1, confidence: 0 });
  assert.ok(Number.isNaN(summarizeRatios([NaN]).median));
  assert.equal(summarizeRatios([]).n, 0);
});

test('the goal is judged on the median: ≥ 0.9× where higher is better, ≤ 1.1× where lower is; clear when the interval agrees', () => {
  assert.deepEqual(judgeRatio({ median: 0.95, min: 0.92, max: 1.0, n: 3 }, true), { met: true, line: 0.9, clear: true });
  assert.deepEqual(judgeRatio({ median: 0.93, min: 0.85, max: 1.0, n: 3 }, true), { met: true, line: 0.9, clear: false });
  assert.deepEqual(judgeRatio({ median: 0.85, min: 0.8, max: 0.89, n: 3 }, true), { met: false, line: 0.9, clear: true });
  assert.equal(judgeRatio({ median: 0.9, min: 0.9, max: 0.9, n: 1 }, true).met, true);
  assert.deepEqual(judgeRatio({ median: 1.05, min: 0.9, max: 1.2, n: 5 }, false), { met: true, line: 1.1, clear: false });
  assert.equal(judgeRatio({ median: 1.15, min: 1.12, max: 1.3, n: 5 }, false).clear, true);
  assert.equal(judgeRatio({ median: NaN, min: NaN, max: NaN, n: 0 }, true).met, false);
});

test('poolPaired: the ratios of every run in one list; a failed pair or a missing row is a miss', () => {
  const run = (ours6, plain6) => ({ kbench: { discard: { ours6: { ratios: ours6 }, plain6: { ratios: plain6 } } } });
  const runs = [run([0.95, 0.85, 0.97], [0.91, 0.92, 0.93]), run([0.88, 0.99, 0.93], [0.95, NaN, 0.96])];
  const [ours, plain] = poolPaired(runs, ['discard'], ['ours6', 'plain6']);
  // Pooled: 0.85 0.88 0.93 0.95 0.97 0.99 → median 0.94, though one run's own median is 0.93 and
  // the other's 0.95.
  assert.equal(ours.n, 6);
  assert.ok(Math.abs(ours.median - 0.94) < 1e-12);
  assert.equal(ours.met, true);
  // The NaN is a 0: 0 0.91 0.92 0.93 0.95 0.96 → median 0.925, still met; min 0.
  assert.equal(plain.min, 0);
  assert.ok(Math.abs(plain.median - 0.925) < 1e-12);
  const low = poolPaired([run([0.85, 0.89, 0.95], [1, 1, 1])], ['discard'], ['ours6']);
  assert.equal(low[0].met, false);
  const missing = poolPaired([...runs, { kbench: {} }], ['discard'], ['ours6']);
  assert.equal(missing[0].missing, 1);
  assert.equal(missing[0].met, false);
  const spread = poolPaired([{ kbench: { 'fair-spread': { ours6: { ratios: [1.05, NaN, 1.02] } } } }], ['fair-spread'], ['ours6'], ['fair-spread']);
  assert.equal(spread[0].max, Number.MAX_VALUE);
  assert.equal(spread[0].met, true);
});
