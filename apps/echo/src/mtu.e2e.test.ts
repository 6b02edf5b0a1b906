/**
 * End-to-end at jumbo MTUs: the TUN at 9000 and at 65535 octets, the kernel echoing 16 MiB
 * through apps/echo. MSS follows the MTU (MTU − 40), and nothing is fragmented or lost.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { appReport } from '../../../testing/report.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const KPEER = fileURLToPath(new URL('../../../testing/kpeer.py', import.meta.url));
const ADDR = '10.0.0.2';

for (const mtu of [9000, 65535]) {
  describe(`end-to-end at TUN MTU ${mtu}`, function () {
    this.timeout(120_000);
    if (!requireNetns(this)) return;

    let ns: Namespace;
    let app: ChildProcess;
    before(async () => {
      ns = Namespace.create(`mtu${mtu}`);
      app = ns.spawn('node', [MAIN, '--addr', ADDR, '--mtu', String(mtu)]);
      const line = await waitForLine(app, /listening on/);
      expect(line).to.contain(`mtu ${mtu}`);
    });
    after(async () => {
      await ns?.delete();
    });

    it('echoes 16 MiB intact with segments sized to the MTU', async () => {
      expect(ns.execSync('cat', [`/sys/class/net/tun0/mtu`]).trim()).to.equal(String(mtu));
      const r = await ns.run('python3', [KPEER, 'echo', ADDR, '7', String(16 << 20), '5'], 100_000);
      expect(r.stdout, r.stderr).to.contain('"identical": true');
      const s = (await appReport<{ stats: { packetsIn: number; bytesIn: number; drops: Record<string, number> } }>(app)).stats;
      // The kernel used the large MSS we advertised: far fewer packets than at 1500 octets.
      expect(s.bytesIn / s.packetsIn, `average inbound packet of ${Math.round(s.bytesIn / s.packetsIn)} octets`).to.be.above(3000);
      expect(s.drops['ipv4-truncated'] ?? 0).to.equal(0);
    });
  });
}
