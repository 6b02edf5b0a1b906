/**
 * End-to-end, least privilege (issue 14): curl-lite as nobody on a TUN device root created for
 * nobody downloads 16 MiB from a kernel HTTP server; without privilege and without a usable
 * device it fails with one line naming the code and the fixing command. In a namespace the test
 * creates.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, unprivileged, waitForLine } from '../../../testing/netns.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const KSERVER = fileURLToPath(new URL('../../../testing/kserver.mjs', import.meta.url));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const NOBODY = 65534;

describe('end-to-end: curl-lite with least privilege', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let dir: string;
  let file: Buffer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-curlpriv-'));
    // nobody writes the download here (the directory is private to root otherwise).
    chownSync(dir, NOBODY, NOBODY);
    file = randomBytes(16 * 1024 * 1024);
    writeFileSync(join(dir, 'served.bin'), file);
    ns = Namespace.create('curlpriv');
    // Two devices for nobody, as a machine running both apps would have; curl-lite uses the second.
    for (const [dev, kernel, stack] of [['tun0', '10.0.0.1', '10.0.0.2'], ['tun1', '10.0.1.1', '10.0.1.2']] as const) {
      ns.execSync('ip', ['tuntap', 'add', 'dev', dev, 'mode', 'tun', 'user', 'nobody']);
      ns.execSync('ip', ['addr', 'add', kernel, 'peer', stack, 'dev', dev]);
      ns.execSync('ip', ['link', 'set', 'dev', dev, 'up']);
    }
    const server = ns.spawn('node', [KSERVER, '8000', join(dir, 'served.bin')]);
    await waitForLine(server, /ready/);
  });
  after(async () => {
    await ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('as nobody on a TUN created for nobody: downloads 16 MiB from a kernel server, sha256 intact', async () => {
    const out = join(dir, 'got.bin');
    const [cmd, args] = unprivileged(['node', MAIN, '-s', '--dev', 'tun1', '--addr', '10.0.1.2', '--peer', '10.0.1.1', '-o', out, 'http://10.0.1.1:8000/file']);
    const r = await ns.run(cmd, args, 120_000);
    expect(r.code, r.stderr).to.equal(0);
    expect(statSync(out).uid, 'written by nobody').to.equal(NOBODY);
    expect(sha(readFileSync(out))).to.equal(sha(file));
  });

  it('without privilege and without a usable device: one error line with a code and the fixing command, exit 2', async () => {
    const [cmd, args] = unprivileged(['node', MAIN, '--dev', 'tmiss1', '--addr', '10.0.2.2', '--peer', '10.0.2.1', 'http://10.0.2.1:8000/file']);
    const r = await ns.run(cmd, args, 30_000);
    expect(r.code, 'curl: CURLE_FAILED_INIT').to.equal(2);
    expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
    expect(r.stderr).to.contain('ip tuntap add dev tmiss1 mode tun user nobody').and.to.match(/\(ERR_TUN_PERMISSION\)$/m);
    expect(ns.execSync('ip', ['-o', 'link', 'show'])).not.to.contain('tmiss1');
  });
});
