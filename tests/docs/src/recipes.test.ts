// The recipes of docs/recipes: each example file is type-checked (tsc strict, checkJs) and run,
// and its output checked; the TUN recipe runs inside a network namespace this test creates,
// with the kernel (curl, a Python socket) as the peer.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { ROOT, typecheckSources } from './check.js';

const RECIPES = join(ROOT, 'docs/recipes');


/** Runs `node file` from the repository root; resolves with its exit code and output. */
function runNode(file: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('recipes (docs/recipes)', function () {
  this.timeout(120_000);

  it('has a page for every example and an example for every page', () => {
    const names = readdirSync(RECIPES);
    const examples = names.filter((n) => n.endsWith('.mjs')).map((n) => n.slice(0, -4));
    const pages = names.filter((n) => n.endsWith('.md') && n !== 'README.md').map((n) => n.slice(0, -3));
    expect(examples.sort()).to.deep.equal(pages.sort());
    expect(examples).to.include.members(['tun-stack', 'http', 'undici', 'ws', 'tls']);
  });

  it('type-check under tsc --strict (checkJs): a tcp-tun socket is a net.Socket to TypeScript', () => {
    const files = readdirSync(RECIPES).filter((n) => n.endsWith('.mjs'));
    const problems: string[] = [];
    for (const [path, found] of typecheckSources(files.map((n) => join(RECIPES, n)))) {
      for (const p of found) problems.push(`${path.slice(RECIPES.length + 1)}: ${p}`);
    }
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('http: Node http server and client (an Agent with createConnection), keep-alive reused', async () => {
    const r = await runNode('docs/recipes/http.mjs');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^200 GET \/hello from 10\.0\.0\.1:\d+, 0 bytes$/m);
    expect(r.stdout).to.match(/^200 POST \/upload from 10\.0\.0\.1:\d+, 100000 bytes$/m);
    expect(r.stdout).to.include('second request reused the connection: true');
  });

  it('undici: fetch, global fetch and request through a custom connector', async () => {
    const r = await runNode('docs/recipes/undici.mjs');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include("fetch: 200 { path: '/with-fetch', via: '10.0.0.1' }");
    expect(r.stdout).to.include("global fetch: 200 { path: '/with-global-fetch', via: '10.0.0.1' }");
    expect(r.stdout).to.include("request: 200 { path: '/with-request', via: '10.0.0.1' }");
  });

  it('ws: a text and a 70,000-byte binary message echoed, clean close', async () => {
    const r = await runNode('docs/recipes/ws.mjs');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.deep.equal(['echo: hello over tcp-tun', '70000 binary bytes']);
  });

  it('tls: tls.connect({ socket }) to a tls.TLSSocket server, and https, certificate verified', async () => {
    const r = await runNode('docs/recipes/tls.mjs');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^authorized: true; hello over TLSv1\.3, cipher \S+$/m);
    expect(r.stdout).to.include('https /secure');
  });

  describe('tun-stack: a Stack on a TUN device, the kernel as the client', function () {
    if (!requireNetns(this)) return;

    it('answers ping, echo and http from the kernel, then stops on SIGTERM', async () => {
      const ns = Namespace.create('recipe');
      try {
        const app = ns.spawn('node', [join(RECIPES, 'tun-stack.mjs'), '60']);
        let out = '';
        app.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
        await waitForLine(app, /^ready: 10\.0\.0\.2 on tun0/);
        const ping = await ns.run('ping', ['-c', '2', '-W', '2', '10.0.0.2'], 15_000);
        expect(ping.code, ping.stdout + ping.stderr).to.equal(0);
        const curl = await ns.run('curl', ['-sS', '--max-time', '10', 'http://10.0.0.2/recipe'], 15_000);
        expect(curl.stdout + curl.stderr).to.equal('tcp-tun on tun0 answered /recipe\n');
        const py = 'import socket; s=socket.create_connection(("10.0.0.2",7),timeout=10); s.sendall(b"x"*100000); s.shutdown(1)\nd=b""\nwhile True:\n  c=s.recv(65536)\n  if not c: break\n  d+=c\nprint(len(d))';
        const echo = await ns.run('python3', ['-c', py], 20_000);
        expect(echo.stdout.trim(), echo.stderr).to.equal('100000');
        const exited = new Promise<number | null>((resolve) => app.once('exit', resolve));
        app.kill('SIGTERM');
        // `ip netns exec` execs node, so the signal reaches the recipe itself.
        expect(await exited).to.equal(0);
        expect(out).to.match(/stopped \(SIGTERM\): \d+ packets in, \d+ out/);
      } finally {
        await ns.delete();
      }
    });
  });
});
