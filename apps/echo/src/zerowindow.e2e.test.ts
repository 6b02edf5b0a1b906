/**
 * End-to-end against a kernel peer that stops reading: apps/echo's `source` service sends
 * as fast as the peer takes it; the peer (kpeer.py zerowindow, small SO_RCVBUF) reads 1 MiB,
 * then reads nothing for 60 s, so its receive queue fills and the kernel advertises a zero
 * window. Meanwhile our sender must probe the window with exponential backoff
 * (RFC 9293 §3.8.6.1, RFC 6298 §5.5) — counted by `persistProbes` in the SIGUSR1 connection
 * list — and burn no CPU between probes (utime + stime of the app from /proc/PID/stat over a
 * quiet stretch). When the peer reads again, data must flow at once.
 * Inside a namespace of its own.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { appReport } from '../../../testing/report.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const KPEER = here('../../../testing/kpeer.py');
const MAIN = here('../dist/main.js');
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';
const PAUSE_S = 60;
const MIB = 1024 * 1024;
/** CPU ticks (normally 10 ms each) the idle app may use over the quiet stretch. */
const QUIET_TICKS_ALLOWED = 5;
const QUIET_MS = 20_000;

interface ConnectionRow {
  localPort: number;
  remotePort: number;
  state: string;
  persistProbes: number;
  sendQueued: number;
  retransmits: number;
  rtoCount: number;
}

/** utime + stime of `pid`, in clock ticks (proc(5): fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('end-to-end: a kernel peer that stops reading (zero window)', function () {
  this.timeout((PAUSE_S + 60) * 1000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let app: ChildProcess;

  before(async () => {
    ns = Namespace.create('zwin');
    app = ns.spawn('node', [MAIN, '--addr', ADDR, '--peer', PEER, '--services', 'echo,source']);
    await waitForLine(app, /listening on/);
  });

  after(async () => {
    await ns?.delete();
  });

  it('probes with backoff, idles between probes, and resumes at once', async () => {
    const peer = ns.spawn('python3', [KPEER, 'zerowindow', ADDR, '19', String(MIB), String(PAUSE_S), String(MIB)]);
    const paused = JSON.parse(await waitForLine(peer, /"phase": "paused"/, 20_000)) as { read: number; local_port: number };
    const resumed = waitForLine(peer, /"phase": "resumed"/, (PAUSE_S + 30) * 1000);
    expect(paused.read).to.equal(MIB);
    const pausedAt = performance.now();
    const row = async (): Promise<ConnectionRow> => {
      const r = ((await appReport<{ connections: ConnectionRow[] }>(app)).connections).find((c) => c.localPort === 19 && c.remotePort === paused.local_port);
      if (r === undefined) throw new Error('the source connection is gone');
      return r;
    };
    // Timeline of probes: a few early on (short intervals), then ever rarer (doubling).
    const at = async (s: number): Promise<ConnectionRow> => {
      await sleep(Math.max(0, pausedAt + s * 1000 - performance.now()));
      return row();
    };
    const p2 = await at(2);
    const p8 = await at(8);
    // A quiet stretch without SIGUSR1: the app must sleep between probes.
    const pid = app.pid as number;
    const ticksBefore = cpuTicks(pid);
    await sleep(QUIET_MS);
    const ticks = cpuTicks(pid) - ticksBefore;
    const p30 = await at(30);
    const p55 = await at(55);
    const timeline = [p2, p8, p30, p55].map((r) => r.persistProbes);
    process.stdout.write(
      `      persistProbes at 2/8/30/55 s: ${timeline.join('/')}; CPU over ${QUIET_MS / 1000} s idle: ${ticks} ticks; ` +
        `state ${p55.state}, sendQueued ${p55.sendQueued}, retransmits ${p55.retransmits}, rtoCount ${p55.rtoCount}\n`,
    );
    expect(p55.state).to.equal('ESTABLISHED');
    expect(p55.sendQueued, 'our send buffer stays full while the window is closed').to.be.above(0);
    // It probes: some probes early, and still probing late (not given up).
    expect(p2.persistProbes).to.be.at.least(1);
    expect(p55.persistProbes - p8.persistProbes).to.be.at.least(1);
    // With backoff: a fixed 200 ms interval would be ~275 probes in 55 s; doubling gives ~10.
    expect(p55.persistProbes).to.be.at.most(20);
    expect(p55.persistProbes - p30.persistProbes, 'at most a couple of probes in the last 25 s').to.be.at.most(2);
    expect(ticks, 'CPU ticks while idle').to.be.at.most(QUIET_TICKS_ALLOWED);
    // The peer reads again: 1 MiB more must arrive within a couple of seconds.
    const r = JSON.parse(await resumed) as { read: number; seconds: number };
    expect(r.read).to.equal(MIB);
    expect(r.seconds).to.be.below(2);
    process.stdout.write(`      after the pause: 1 MiB read in ${r.seconds.toFixed(3)} s\n`);
  });
});
