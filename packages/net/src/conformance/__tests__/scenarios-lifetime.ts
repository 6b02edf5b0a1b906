/**
 * Process lifetime (issue 9 behaviour 4): each scenario runs `fixtures/lifetime.ts` as a child
 * process on the scenario's target and records what it printed and whether it exited by itself
 * within a grace period after printing `armed`, or was still alive (then it is killed by PID).
 * Ported from Node v20's test-net-server-unref, -server-unref-persistent,
 * -persistent-ref-unref, -socket-timeout-unref, and the issue's "an awaited response".
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { scenario } from './common.js';
import type { Ctx, Scenario } from './harness.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/lifetime.ts', import.meta.url));
// After `armed`, how long the child gets to exit by itself before it counts as alive.
const GRACE_MS = 600;
// Startup through tsx on a loaded machine, plus the case itself.
const STARTUP_BOUND_MS = 15_000;

/** Runs the case in a child; records its stdout lines and `exited code=N` or `alive`. */
function runChild(ctx: Ctx, which: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ctx.target, which], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    let grace: NodeJS.Timeout | undefined;
    const bound = setTimeout(() => {
      ctx.rec('process', 'no exit and never armed (killed)');
      child.kill('SIGKILL');
    }, STARTUP_BOUND_MS);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        ctx.rec('process', `stdout ${line}`);
        if (line === 'armed' && !armed) {
          armed = true;
          grace = setTimeout(() => {
            ctx.rec('process', `alive ${GRACE_MS} ms after armed (killed)`);
            child.kill('SIGKILL');
          }, GRACE_MS);
        }
      }
    });
    child.stderr.on('data', (d: string) => (err += d));
    child.on('exit', (code, signal) => {
      clearTimeout(bound);
      clearTimeout(grace);
      if (signal === null) ctx.rec('process', `exited code=${String(code)}`);
      const first = err.split('\n').find((l) => l.trim() !== '' && !l.includes('ExperimentalWarning'));
      if (first !== undefined && signal === null) ctx.rec('process', `stderr ${first}`);
      resolve();
    });
  });
}

function lifetime(which: string, want: readonly string[], from: string): Scenario {
  return scenario({
    id: `lifetime-${which}`,
    covers: [4],
    from,
    boundMs: STARTUP_BOUND_MS + GRACE_MS + 2000,
    rerun: false,
    child: true,
    run: (ctx) => runChild(ctx, which),
    expect(t) {
      expect(t['process']).to.deep.equal(want);
    },
  });
}

const ALIVE = `alive ${GRACE_MS} ms after armed (killed)`;

export const LIFETIME_SCENARIOS: Scenario[] = [
  lifetime('listening-server', ['stdout listening', 'stdout armed', ALIVE], 'test-net-server-unref (the ref\'d case)'),
  lifetime('unref-server', ['stdout listening, unref', 'stdout armed', 'exited code=0'], 'test-net-server-unref'),
  lifetime('unref-then-ref-server', ['stdout listening, unref, ref', 'stdout armed', ALIVE], 'test-net-persistent-ref-unref'),
  lifetime('unref-before-listen', ['stdout listening after unref', 'stdout armed', 'exited code=0'], 'test-net-server-unref-persistent'),
  lifetime('open-connection', ['stdout connected, server unref', 'stdout armed', ALIVE], 'issue 9 behaviour 4: ref\'d sockets'),
  lifetime('all-unref', ['stdout connected, all unref', 'stdout armed', 'exited code=0'], 'test-net-persistent-ref-unref'),
  lifetime('await-echo-then-close', ['stdout got "hello"', 'stdout closed', 'stdout armed', 'exited code=0'], 'issue 9 behaviour 4: an awaited response'),
  lifetime('await-http-response', ['stdout response 200 hi /x', 'stdout armed', 'exited code=0'], 'issue 9 behaviour 4: http with an awaited response'),
  lifetime('unref-socket-with-timeout', ['stdout connected, unref with a 10 s idle timer', 'stdout armed', 'exited code=0'], 'test-net-socket-timeout-unref'),
  lifetime('client-ends-server-never-reads', ['stdout client finished', 'stdout armed', 'exited code=0'], 'issue 9 behaviours 1 and 4'),
];
