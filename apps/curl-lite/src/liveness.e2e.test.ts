/**
 * End-to-end liveness (issue 10): a curl-lite download with `--keepalive-time 2` from a kernel
 * HTTP server that vanishes silently mid-transfer exits non-zero within 40 s. The server
 * "vanishes" when the test removes its address from the TUN's kernel side: the stack's packets
 * to it are then dropped without an ICMP error (a host that is not forwarding drops packets
 * for an address it does not have silently), as a crashed host or a cut cable would.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const KSERVER = fileURLToPath(new URL('../../../testing/kserver.mjs', import.meta.url));
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';

describe('end-to-end liveness: curl-lite and a server that vanishes', function () {
  this.timeout(120_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-vanish-'));
    writeFileSync(join(dir, 'served.bin'), randomBytes(16 * 1024 * 1024));
    ns = Namespace.create('vanish');
    const server = ns.spawn('node', [KSERVER, '8000', join(dir, 'served.bin')]);
    await waitForLine(server, /ready/);
  });
  after(async () => {
    await ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--keepalive-time 2: the download exits non-zero within 40 s once the server is gone silently', async () => {
    const out = join(dir, 'partial.bin');
    // --rate slows the transfer (~2 MB/s) so that the server can vanish in the middle of it.
    const curl = ns.run('node', [MAIN, '--keepalive-time', '2', '--rate', '2000000', '--addr', ADDR, '--peer', PEER, '-o', out, `http://${PEER}:8000/file`], 90_000);
    const deadline = Date.now() + 30_000;
    while (!(existsSync(out) && statSync(out).size > 1024 * 1024) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(out).size, 'the transfer was under way').to.be.above(1024 * 1024);
    const vanished = Date.now();
    ns.execSync('ip', ['addr', 'del', PEER, 'peer', ADDR, 'dev', 'tun0']);
    const r = await curl;
    const seconds = (Date.now() - vanished) / 1000;
    expect(r.code, r.stderr).to.not.equal(0);
    expect(r.code, 'curl: CURLE_RECV_ERROR').to.equal(56);
    expect(statSync(out).size, 'the download did not complete').to.be.below(16 * 1024 * 1024);
    // 2 s idle + 9 probes 2 s apart ≈ 20 s; 40 s is the bound.
    expect(seconds, r.stderr).to.be.below(40);
    expect(r.stderr).to.match(/curl-lite: \(56\)/);
  });
});
