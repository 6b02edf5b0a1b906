/**
 * End-to-end SYN flood (RFC 4987): 20,000 spoofed SYNs from sources that lead nowhere, sent
 * through the kernel into the stack, and then a real kernel client must still connect and move
 * data at once (SYN cookies), with the stack's state bounded. Inside a namespace of its own.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { appReport } from '../../../testing/report.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const KPEER = fileURLToPath(new URL('../../../testing/kpeer.py', import.meta.url));
const SYNFLOOD = fileURLToPath(new URL('../../../testing/synflood.py', import.meta.url));
const ADDR = '10.0.0.2';

interface Status {
  stats: { packetsIn: number; drops: Record<string, number>; connections: Record<string, number>; synCookiesSent: number; synCookiesAccepted: number };
  connections: unknown[];
  memory: { heapUsed: number };
}

describe('end-to-end: a SYN flood does not lock out real clients', function () {
  this.timeout(120_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let app: ChildProcess;
  before(async () => {
    ns = Namespace.create('synflood');
    app = ns.spawn('node', [MAIN, '--addr', ADDR]);
    await waitForLine(app, /listening on/);
  });
  after(async () => {
    await ns?.delete();
  });

  it('answers 20,000 spoofed SYNs with cookies and still serves a kernel client', async () => {
    const before = await appReport<Status>(app);
    const flood = await ns.run('python3', [SYNFLOOD, ADDR, '7', '20000'], 90_000);
    expect(flood.code, flood.stderr).to.equal(0);
    expect(JSON.parse(flood.stdout.trim()).sent).to.equal(20000);
    // What reached the stack (the kernel's TUN queue may drop part of a 20,000-packet burst):
    // every one of those SYNs got either one of the backlog's half-open slots or a cookie.
    const mid = await appReport<Status>(app);
    const arrived = mid.stats.packetsIn - before.stats.packetsIn;
    const cookies = mid.stats.synCookiesSent - before.stats.synCookiesSent;
    const slots = mid.stats.connections['SYN-RECEIVED'] ?? 0;
    const listenDrops = Object.entries(mid.stats.drops)
      .filter(([k]) => k.startsWith('listen-'))
      .reduce((n, [k, v]) => n + v - (before.stats.drops[k] ?? 0), 0);
    expect(arrived, 'SYNs that reached the stack').to.be.above(5000);
    expect(cookies + slots + listenDrops, `${arrived} SYNs: ${cookies} cookies, ${slots} half-open, ${listenDrops} dropped`).to.be.at.least(arrived - 5);
    expect(cookies, 'most of the flood was answered statelessly').to.be.above(arrived / 2);
    const t = performance.now();
    const echo = await ns.run('python3', [KPEER, 'echo', ADDR, '7', String(1 << 20), '9'], 30_000);
    const seconds = (performance.now() - t) / 1000;
    expect(echo.stdout, echo.stderr).to.contain('"identical": true');
    expect(seconds, 'the real client connected without waiting out the flood').to.be.below(5);
    const after = await appReport<Status>(app);
    // State stays bounded: half-open connections are capped by the backlog, the rest were cookies.
    const halfOpen = after.stats.connections['SYN-RECEIVED'] ?? 0;
    // The kernel client, arriving with the backlog full of the flood's half-open connections,
    // came in through a cookie.
    expect(after.stats.synCookiesAccepted - before.stats.synCookiesAccepted).to.be.at.least(1);
    expect(halfOpen).to.be.at.most(1024);
    expect(after.connections.length).to.be.at.most(1100);
    expect(after.memory.heapUsed - before.memory.heapUsed).to.be.below(64 * 1024 * 1024);
  });

  it('a kernel client that came in through a cookie keeps window scaling, SACK and timestamps (ss -ti)', async () => {
    // A flood of its own, so the backlog is full of half-open connections whatever came before.
    const flood = await ns.run('python3', [SYNFLOOD, ADDR, '7', '3000'], 60_000);
    expect(flood.code, flood.stderr).to.equal(0);
    const before = await appReport<Status>(app);
    const r = await ns.run('python3', [KPEER, 'options', ADDR, '7'], 30_000);
    const after = await appReport<Status>(app);
    expect(r.code, r.stderr).to.equal(0);
    const res = JSON.parse(r.stdout.trim()) as { echoed: number; ss: string };
    expect(after.stats.synCookiesAccepted - before.stats.synCookiesAccepted, 'the client came in through a cookie').to.equal(1);
    expect(res.echoed).to.equal(4096);
    // The kernel's own view: the options the cookie SYN-ACK agreed (TSval-encoded, RFC 4987 §3.6).
    expect(res.ss).to.match(/(^| )ts( |$)/);
    expect(res.ss).to.match(/(^| )sack( |$)/);
    expect(res.ss).to.match(/ wscale:\d+,\d+ /);
  });
});
