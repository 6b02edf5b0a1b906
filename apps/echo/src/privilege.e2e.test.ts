/**
 * End-to-end, least privilege (issue 14): apps/echo without root, in the three ways the README
 * documents, each in a namespace the test creates, with kernel clients:
 * - as nobody on a TUN device root created for nobody (configured by root, or `--no-configure`);
 * - as nobody with CAP_NET_ADMIN as its only capability (ambient, or a file capability on a
 *   private copy of node): it creates and configures;
 * - started as root with `--user nobody`: after start-up it is nobody (read from /proc).
 * And without privilege and without a usable device: one error line with a code and the command
 * that fixes it, a non-zero exit, nothing left behind.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, processIds, requireNetns, unprivileged, waitForLine } from '../../../testing/netns.js';
import { python } from '../../../testing/report.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const KPEER = here('../../../testing/kpeer.py');
const MAIN = here('../dist/main.js');
const NOBODY = 65534;
const MiB = 1024 * 1024;

/** sha256 of the body of /bytes/N of the http service (byte i is i % 251). */
function patternSha(n: number): string {
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = i % 251;
  return createHash('sha256').update(body).digest('hex');
}

/** Fetches /bytes/N from the http service with the kernel's curl and returns its sha256. */
async function curlSha(ns: Namespace, addr: string, n: number): Promise<string> {
  const r = await ns.run('sh', ['-c', `curl -sS --max-time 60 http://${addr}/bytes/${n} | sha256sum`], 90_000);
  expect(r.code, r.stderr).to.equal(0);
  return r.stdout.split(' ')[0] ?? '';
}

/** Root, in the namespace, makes a persistent TUN for nobody and configures its kernel side. */
function prepareDevice(ns: Namespace, dev: string, kernelSide: string, stack: string): void {
  ns.execSync('ip', ['tuntap', 'add', 'dev', dev, 'mode', 'tun', 'user', 'nobody']);
  ns.execSync('ip', ['addr', 'add', kernelSide, 'peer', stack, 'dev', dev]);
  ns.execSync('ip', ['link', 'set', 'dev', dev, 'up']);
}

function collectStderr(app: ChildProcess): () => string {
  let text = '';
  app.stderr?.setEncoding('utf8').on('data', (d: string) => (text += d));
  return () => text;
}

describe('end-to-end: apps/echo with least privilege', function () {
  this.timeout(240_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  beforeEach(() => {
    ns = Namespace.create('echopriv');
  });
  afterEach(async () => {
    await ns?.delete();
  });

  it('as nobody on a TUN created for nobody: serves a 16 MiB echo and an HTTP fetch, warning once about the defaults it may not set', async () => {
    prepareDevice(ns, 'tun0', '10.0.0.1', '10.0.0.2');
    const [cmd, args] = unprivileged(['node', MAIN, '--dev', 'tun0', '--addr', '10.0.0.2', '--peer', '10.0.0.1', '--services', 'echo,http']);
    const app = ns.spawn(cmd, args);
    const stderr = collectStderr(app);
    await waitForLine(app, /listening on 10\.0\.0\.2:7/);
    const ids = processIds(app.pid!);
    expect(ids.uid, 'real, effective, saved, fs uid').to.deep.equal([NOBODY, NOBODY, NOBODY, NOBODY]);
    expect(ids.capEff, 'no capability').to.equal(0n);
    const r = await python(ns, KPEER, ['echo', '10.0.0.2', '7', String(16 * MiB), '14']);
    expect(r.received).to.equal(16 * MiB);
    expect(r.identical).to.equal(true);
    expect(await curlSha(ns, '10.0.0.2', MiB)).to.equal(patternSha(MiB));
    const warnings = stderr().split('\n').filter((l) => l.includes('not allowed to change defaults'));
    expect(warnings, stderr()).to.have.length(1);
    expect(warnings[0]).to.contain('txqueuelen').and.to.contain('disable_ipv6');
    expect(ns.execSync('cat', ['/sys/class/net/tun0/tx_queue_len']).trim(), 'left as root made it').to.equal('500');
  });

  it('as nobody with --no-configure: uses the device as it is (its MTU) and serves', async () => {
    prepareDevice(ns, 'tun0', '10.0.0.1', '10.0.0.2');
    ns.execSync('ip', ['link', 'set', 'dev', 'tun0', 'mtu', '1400']);
    const [cmd, args] = unprivileged(['node', MAIN, '--no-configure', '--dev', 'tun0', '--addr', '10.0.0.2', '--peer', '10.0.0.1', '--services', 'echo,http']);
    const app = ns.spawn(cmd, args);
    const stderr = collectStderr(app);
    const line = await waitForLine(app, /listening on/);
    expect(line).to.contain('mtu 1400');
    const r = await python(ns, KPEER, ['echo', '10.0.0.2', '7', String(2 * MiB), '15']);
    expect(r.identical).to.equal(true);
    expect(await curlSha(ns, '10.0.0.2', 100_000)).to.equal(patternSha(100_000));
    expect(stderr(), 'nothing to warn about: nothing was attempted').to.equal('');
  });

  it('with only CAP_NET_ADMIN as ambient capability (not root): creates and configures its device and serves', async () => {
    const [cmd, args] = unprivileged(['node', MAIN, '--dev', 'tcap0', '--addr', '10.0.0.2', '--peer', '10.0.0.1', '--services', 'echo,http'], { netAdmin: true });
    const app = ns.spawn(cmd, args);
    const stderr = collectStderr(app);
    await waitForLine(app, /listening on 10\.0\.0\.2:7/);
    const ids = processIds(app.pid!);
    expect(ids.uid).to.deep.equal([NOBODY, NOBODY, NOBODY, NOBODY]);
    expect(ids.capEff, 'CAP_NET_ADMIN (bit 12) only').to.equal(1n << 12n);
    expect(ns.execSync('cat', ['/sys/class/net/tcap0/tx_queue_len']).trim()).to.equal('10000');
    expect(ns.execSync('cat', ['/proc/sys/net/ipv6/conf/tcap0/disable_ipv6']).trim()).to.equal('1');
    expect(ns.execSync('ip', ['-4', '-o', 'addr', 'show', 'dev', 'tcap0'])).to.contain('inet 10.0.0.1 peer 10.0.0.2/32');
    const r = await python(ns, KPEER, ['echo', '10.0.0.2', '7', String(4 * MiB), '16']);
    expect(r.identical).to.equal(true);
    expect(await curlSha(ns, '10.0.0.2', 100_000)).to.equal(patternSha(100_000));
    expect(stderr()).to.equal('');
  });

  it('with CAP_NET_ADMIN as a file capability on a copy of node (setcap), run as nobody: creates its device and serves', async () => {
    // A private copy: the machine's node binary is never given the capability.
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-setcap-'));
    try {
      chmodSync(dir, 0o755);
      const node = join(dir, 'node-netadmin');
      copyFileSync(realpathSync(process.execPath), node);
      chmodSync(node, 0o755);
      execFileSync('setcap', ['cap_net_admin+ep', node]);
      const [cmd, args] = unprivileged([node, MAIN, '--dev', 'tfcap0', '--addr', '10.0.0.2', '--peer', '10.0.0.1']);
      const app = ns.spawn(cmd, args);
      await waitForLine(app, /listening on 10\.0\.0\.2:7/);
      const ids = processIds(app.pid!);
      expect(ids.uid).to.deep.equal([NOBODY, NOBODY, NOBODY, NOBODY]);
      expect(ids.capEff, 'CAP_NET_ADMIN (bit 12) only').to.equal(1n << 12n);
      expect(ns.execSync('cat', ['/sys/class/net/tfcap0/tx_queue_len']).trim()).to.equal('10000');
      const r = await python(ns, KPEER, ['echo', '10.0.0.2', '7', String(MiB), '18']);
      expect(r.identical).to.equal(true);
      const exited = new Promise<void>((resolve) => app.once('exit', () => resolve()));
      app.kill('SIGTERM');
      await exited;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('started as root with --user nobody: real and effective uid are nobody\'s after start-up, the pcap is 0600, and it serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-priv-'));
    try {
      const pcap = join(dir, 'run.pcap');
      const app = ns.spawn('node', [MAIN, '--user', 'nobody', '--pcap', pcap, '--dev', 'tun0', '--addr', '10.0.0.2', '--peer', '10.0.0.1', '--services', 'echo,http']);
      await waitForLine(app, /listening on 10\.0\.0\.2:7/);
      const ids = processIds(app.pid!);
      expect(ids.uid, 'real, effective, saved, fs uid').to.deep.equal([NOBODY, NOBODY, NOBODY, NOBODY]);
      expect(ids.gid).to.deep.equal([NOBODY, NOBODY, NOBODY, NOBODY]);
      expect(ids.capEff, 'setuid from root cleared the capabilities').to.equal(0n);
      const r = await python(ns, KPEER, ['echo', '10.0.0.2', '7', String(4 * MiB), '17']);
      expect(r.identical).to.equal(true);
      expect(await curlSha(ns, '10.0.0.2', 100_000)).to.equal(patternSha(100_000));
      const exited = new Promise<number | null>((resolve) => app.once('exit', (code) => resolve(code)));
      app.kill('SIGTERM');
      expect(await exited).to.equal(0);
      const st = statSync(pcap);
      expect(st.mode & 0o777).to.equal(0o600);
      expect(st.size, 'packets were captured after the drop').to.be.above(4 * MiB);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to run on when asked to drop and the drop fails, leaving no capture file', async () => {
    prepareDevice(ns, 'tun0', '10.0.0.1', '10.0.0.2');
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-priv-'));
    chmodSync(dir, 0o777);
    const pcap = join(dir, 'refused.pcap');
    // nobody may not become daemon: setgroups/setgid/setuid all fail with EPERM.
    const [cmd, args] = unprivileged(['node', MAIN, '--user', 'daemon', '--pcap', pcap, '--dev', 'tun0', '--addr', '10.0.0.2', '--peer', '10.0.0.1']);
    const r = await ns.run(cmd, args, 30_000);
    const left = existsSync(pcap);
    rmSync(dir, { recursive: true, force: true });
    expect(left, 'the capture file it created was removed').to.equal(false);
    expect(r.code).to.not.equal(0);
    expect(r.stdout).not.to.contain('listening');
    const errors = r.stderr.trim().split('\n').filter((l) => !l.includes('not allowed to change defaults'));
    expect(errors, r.stderr).to.have.length(1);
    expect(errors[0]).to.match(/^tcp-tun-echo: cannot drop privileges to daemon .*\(ERR_PRIVILEGE_DROP\)$/);
  });

  it('without privilege and without a usable device: one error line with a code and the fixing command, exit 1, nothing left behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-priv-'));
    try {
      const pcap = join(dir, 'never.pcap');
      const [cmd, args] = unprivileged(['node', MAIN, '--dev', 'tmiss0', '--pcap', pcap, '--addr', '10.0.0.2', '--peer', '10.0.0.1']);
      const r = await ns.run(cmd, args, 30_000);
      expect(r.code).to.equal(1);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
      expect(r.stderr).to.contain('ip tuntap add dev tmiss0 mode tun user nobody').and.to.match(/\(ERR_TUN_PERMISSION\)$/m);
      expect(ns.execSync('ip', ['-o', 'link', 'show'])).not.to.contain('tmiss0');
      expect(existsSync(pcap), 'no capture file').to.equal(false);
      // With the clone device as this machine may have it (0600): the fix is its mode.
      const [cmd2, args2] = unprivileged(['node', MAIN, '--dev', 'tmiss0'], { openTunNode: false });
      const r2 = await ns.run(cmd2, args2, 30_000);
      expect(r2.code).to.equal(1);
      expect(r2.stderr.trim().split('\n'), r2.stderr).to.have.length(1);
      if (r2.stderr.includes('/dev/net/tun')) expect(r2.stderr).to.contain('chmod 0666 /dev/net/tun').and.to.contain('(ERR_TUN_PERMISSION)');
      else expect(r2.stderr).to.contain('ip tuntap add dev tmiss0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
