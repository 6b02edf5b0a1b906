/**
 * End-to-end through the fault-injecting link: apps/echo runs with `--drop 0.05 --reorder
 * 0.02 --duplicate 0.01` (both directions, seeded) and the Linux kernel, as the client,
 * echoes 64 MiB through it. Every byte must come back intact. The run's duration and the
 * connection's recovery counters (retransmits, RTO expiries, from SIGUSR1) are printed.
 * Inside a namespace of its own.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { appReport, lastJson, type Json } from '../../../testing/report.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const KPEER = here('../../../testing/kpeer.py');
const MAIN = here('../dist/main.js');
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';
const BYTES = 64 * 1024 * 1024;
const FAULT_SEED = Number(process.env.FAULT_SEED ?? 7);
/** The kernel client gives up after this long; the test's own timeout is a little longer. */
const DEADLINE_S = 540;

interface ConnectionRow {
  localPort: number;
  remotePort: number;
  state: string;
  retransmits: number;
  rtoCount: number;
  cwnd: number;
  rttMs: number | undefined;
  rtoMs: number;
}

describe('end-to-end: 64 MiB echo through 5% loss, 2% reordering, 1% duplication', function () {
  this.timeout((DEADLINE_S + 60) * 1000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let app: ChildProcess;

  before(async () => {
    ns = Namespace.create('fault');
    app = ns.spawn('node', [
      MAIN, '--addr', ADDR, '--peer', PEER, '--port', '7',
      '--drop', '0.05', '--reorder', '0.02', '--duplicate', '0.01', '--fault-seed', String(FAULT_SEED),
    ]);
    await waitForLine(app, /listening on/);
  });

  after(async () => {
    await ns?.delete();
  });

  it('echoes every byte back intact', async () => {
    const started = performance.now();
    const client = ns.spawn('python3', [KPEER, 'echo', ADDR, '7', String(BYTES), '11', String(DEADLINE_S)]);
    let out = '';
    client.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    let errOut = '';
    client.stderr?.setEncoding('utf8').on('data', (d: string) => (errOut += d));
    const done = new Promise<number | null>((resolve) => client.once('close', (code) => resolve(code)));
    // Sample the connection's counters while it runs: it is gone from the table at the end.
    let last: ConnectionRow | undefined;
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 2000))]);
      if (finished) break;
      const status = await appReport<{ connections: ConnectionRow[]; stats: Json }>(app);
      last = status.connections.find((c) => c.localPort === 7) ?? last;
    }
    const code = await done;
    const seconds = (performance.now() - started) / 1000;
    const status = await appReport<{ connections: ConnectionRow[]; stats: Json }>(app);
    const drops = status.stats.drops as Record<string, number>;
    process.stdout.write(
      `      64 MiB echoed in ${seconds.toFixed(1)} s; last sample of the connection: ${JSON.stringify(last)}; ` +
        `stack packets in/out ${String(status.stats.packetsIn)}/${String(status.stats.packetsOut)}, drops ${JSON.stringify(drops)}\n`,
    );
    expect(code, errOut).to.equal(0);
    const r = lastJson(out);
    expect(r.received).to.equal(BYTES);
    expect(r.sha_received).to.equal(r.sha_sent);
    expect(r.identical).to.equal(true);
    expect(drops['internal-error'] ?? 0).to.equal(0);
  });
});
