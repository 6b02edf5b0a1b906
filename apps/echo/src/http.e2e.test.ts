/**
 * End-to-end over HTTP and pcap: the kernel's curl against apps/echo's http service, and a
 * capture written by apps/echo during an echo, checked by tshark. Inside a namespace of its own.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { patternByte } from './services.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const KPEER = fileURLToPath(new URL('../../../testing/kpeer.py', import.meta.url));
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';

function patternDigest(n: number): string {
  const h = createHash('sha256');
  const block = Buffer.alloc(251 * 4096);
  for (let i = 0; i < block.length; i++) block[i] = patternByte(i);
  for (let off = 0; off < n; off += block.length) h.update(block.subarray(0, Math.min(block.length, n - off)));
  return h.digest('hex');
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('end-to-end: kernel curl ⇄ apps/echo http service', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-http-'));
    ns = Namespace.create('http');
    const app = ns.spawn('node', [MAIN, '--addr', ADDR, '--peer', PEER, '--services', 'echo,http', '--http-port', '8080']);
    const line = await waitForLine(app, /listening on/);
    expect(line).to.contain(`${ADDR}:7 (echo)`).and.contain(`${ADDR}:8080 (http)`);
  });
  after(async () => {
    await ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET /bytes/16777216 returns 16 MiB with the right sha256', async () => {
    const n = 16 * 1024 * 1024;
    const file = join(dir, 'bytes.bin');
    const r = await ns.run('curl', ['-sS', '--max-time', '60', '-o', file, '-w', '%{http_code} %{size_download}', `http://${ADDR}:8080/bytes/${n}`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`200 ${n}`);
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).to.equal(patternDigest(n));
  });

  it('serves 20 parallel curl requests with keep-alive, all intact', async () => {
    const urls: string[] = [];
    for (let i = 0; i < 40; i++) urls.push(`http://${ADDR}:8080/${i % 2 ? 'chunked' : 'bytes'}/${100_000 + i}`, '-o', join(dir, `p${i}`));
    const r = await ns.run('curl', ['-sS', '--max-time', '60', '--parallel', '--parallel-max', '20', '-w', '%{http_code} %{num_connects}\\n', ...urls]);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).to.have.length(40);
    expect(lines.every((l) => l.startsWith('200 '))).to.equal(true);
    // Keep-alive: 40 transfers over at most 20 connections means connections were reused.
    const connects = lines.reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);
    expect(connects).to.be.at.most(20);
    for (let i = 0; i < 40; i++) {
      const n = 100_000 + i;
      expect(createHash('sha256').update(readFileSync(join(dir, `p${i}`))).digest('hex'), `transfer ${i}`).to.equal(patternDigest(n));
    }
  });

  it('answers /, /chunked/N with chunked coding and /redirect with a 302', async () => {
    const index = await ns.run('curl', ['-sS', `http://${ADDR}:8080/`]);
    expect(index.stdout).to.contain('tcp-tun');
    const chunked = await ns.run('curl', ['-sS', '-D', '-', '-o', '/dev/null', `http://${ADDR}:8080/chunked/1000`]);
    expect(chunked.stdout).to.match(/transfer-encoding: chunked/i);
    const redirect = await ns.run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', `http://${ADDR}:8080/redirect?to=/bytes/5`]);
    expect(redirect.stdout).to.equal(`302 http://${ADDR}:8080/bytes/5`);
  });
});

describe('end-to-end: pcap written by apps/echo opens cleanly in tshark', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-pcap-'));
    ns = Namespace.create('pcap');
  });
  after(async () => {
    await ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records a 1 MiB echo with no malformed or bad-checksum packet and a complete stream', async () => {
    const file = join(dir, 'echo.pcap');
    // --no-offload: this capture is checked packet by packet at the MTU; with offload (the
    // default) records are super-packets whose outgoing TCP checksums the kernel finishes, which
    // tshark calls bad (offload.e2e.test.ts checks that capture).
    const app = ns.spawn('node', [MAIN, '--no-offload', '--addr', ADDR, '--peer', PEER, '--pcap', file]);
    await waitForLine(app, /listening on/);
    const echo = await ns.run('python3', [KPEER, 'echo', ADDR, '7', String(1 << 20), '3']);
    expect(echo.stdout).to.contain('"identical": true');
    await new Promise((resolve) => setTimeout(resolve, 300));
    app.kill('SIGTERM');
    expect(await exited(app)).to.equal(0);
    expect(existsSync(file)).to.equal(true);

    const tshark = (args: string[]) => ns.run('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', ...args]);
    const all = await tshark(['-T', 'fields', '-e', 'frame.number']);
    expect(all.code, all.stderr).to.equal(0);
    expect(all.stdout.trim().split('\n').length).to.be.above(700);
    const bad = await tshark(['-Y', '_ws.malformed || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || _ws.expert.severity >= "error"']);
    expect(bad.stdout.trim(), 'malformed or bad-checksum packets').to.equal('');
    const completeness = await tshark(['-Y', 'tcp.srcport == 7', '-T', 'fields', '-e', 'tcp.completeness']);
    // tshark accumulates the flags seen so far on each packet; the last packet has them all.
    // 31 = SYN, SYN-ACK, ACK, data and FIN seen: tshark's "complete" (32 would be a RST).
    const values = completeness.stdout.trim().split('\n').map(Number);
    expect(values.at(-1), `completeness ${[...new Set(values)].join(',')}`).to.equal(31);
  });
});
