/**
 * End-to-end with `--tun-writer worker|auto` (the opt-in writer thread of packages/tun,
 * bench/PROFILE.md round 6): TCP through a real TUN in a namespace the test creates, the kernel
 * as the peer. Every byte must arrive intact and in order with the writes made by the thread,
 * with and without offload.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { appReport, python } from '../../../testing/report.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const KPEER = here('../../../testing/kpeer.py');
const MAIN = here('../dist/main.js');
const MIB4 = 4 * 1024 * 1024;

type Report = { device: { txPackets: number; txDropped: number; txQueued: number; txQueueFullWaits: number } };

describe('end-to-end: apps/echo with a TUN writer thread (--tun-writer)', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  const apps: ChildProcess[] = [];

  before(() => {
    ns = Namespace.create('tunwriter');
  });

  after(async () => {
    for (const app of apps) if (app.exitCode === null && app.signalCode === null) app.kill('SIGTERM');
    await ns?.delete();
  });

  const cases: Array<[string, string[], number]> = [
    ['worker', [], 0],
    ['worker', ['--no-offload'], 1],
    ['auto', [], 2],
    ['auto', ['--no-offload'], 3],
  ];
  for (const [mode, flags, n] of cases) {
    it(`${mode}${flags.length > 0 ? ` ${flags.join(' ')}` : ''}: echoes 4 MiB of random bytes back identical`, async () => {
      const addr = `10.0.${n}.2`;
      const app = ns.spawn('node', [MAIN, '--tun-writer', mode, ...flags, '--dev', `tun${n}`, '--addr', addr, '--peer', `10.0.${n}.1`, '--services', 'echo']);
      apps.push(app);
      await waitForLine(app, /listening on/);
      const r = await python(ns, KPEER, ['echo', addr, '7', String(MIB4), String(40 + n)]);
      expect(r.received).to.equal(MIB4);
      expect(r.identical).to.equal(true);
      const { device } = await appReport<Report>(app);
      // The thread wrote all of what left (worker), or some of it (auto), and nothing was lost.
      // With offload, auto may rightly write everything inline: super-packets of 8 KiB or more
      // go inline whenever the ring is empty, and so do the first packets of every batch.
      if (mode === 'worker') expect(device.txQueued).to.equal(device.txPackets);
      else if (flags.includes('--no-offload')) expect(device.txQueued).to.be.above(0);
      expect(device.txQueued).to.be.at.most(device.txPackets);
      expect(device.txPackets).to.be.above(0);
      expect(device.txDropped).to.equal(0);
      app.kill('SIGTERM');
    });
  }
});
