/**
 * End-to-end: the Linux kernel is the peer. Each suite makes its own network namespace, in it
 * a TUN device served by apps/echo (or by a stack client), and drives the kernel side with
 * Python sockets, ping and ss. Nothing runs in the machine's own namespace.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { appReport, lastJson, python, type Json } from '../../../testing/report.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const KPEER = here('../../../testing/kpeer.py');
const MAIN = here('../dist/main.js');
const STACK_CLIENT = here('./__tests__/stack-client.ts');
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';

describe('end-to-end: kernel client ⇄ TUN ⇄ apps/echo', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let app: ChildProcess;

  before(async () => {
    ns = Namespace.create('echo');
    app = ns.spawn('node', [MAIN, '--dev', 'tun0', '--addr', ADDR, '--peer', PEER, '--port', '7']);
    const line = await waitForLine(app, /listening on/);
    expect(line).to.contain(`listening on ${ADDR}:7`);
  });

  after(async () => {
    await ns?.delete();
  });

  it('answers ping of the stack address', async () => {
    const result = await ns.run('ping', ['-c', '3', '-i', '0.2', '-W', '2', ADDR], 20_000);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    expect(result.stdout).to.match(/3 packets transmitted, 3 received/);
  });

  it('echoes 16 MiB of random bytes back identical', async () => {
    const r = await python(ns, KPEER, ['echo', ADDR, '7', String(16 * 1024 * 1024), '42']);
    expect(r.received).to.equal(16 * 1024 * 1024);
    expect(r.sha_received).to.equal(r.sha_sent);
    expect(r.identical).to.equal(true);
  });

  it('serves 50 concurrent connections × 64 KiB, all intact', async () => {
    const r = await python(ns, KPEER, ['many', ADDR, '7', '50', String(64 * 1024)]);
    expect(r.failures).to.deep.equal([]);
    expect(r.ok).to.equal(50);
  });

  it('accepts 200 sequential connections', async () => {
    const r = await python(ns, KPEER, ['seq', ADDR, '7', '200']);
    expect(r.errors).to.deep.equal([]);
    expect(r.ok).to.equal(200);
  });

  it('negotiates window scaling, SACK, timestamps and ECN with Linux (as `ss -tio` shows)', async () => {
    ns.execSync('sysctl', ['-qw', 'net.ipv4.tcp_ecn=1']);
    const r = await python(ns, KPEER, ['options', ADDR, '7']);
    const ss = String(r.ss);
    expect(r.echoed).to.equal(4096);
    expect(ss, ss).to.match(/\bwscale:\d+,\d+/);
    expect(ss, ss).to.match(/\bsack\b/);
    expect(ss, ss).to.match(/\bts\b/);
    expect(ss, ss).to.match(/\becn\b/);
  });

  it('refuses a connect to a closed port at once', async () => {
    const r = await python(ns, KPEER, ['refused', ADDR, '8081']);
    expect(r.result).to.equal('refused');
    expect(r.seconds as number).to.be.below(1);
  });

  it('sends its FIN after the client closes: the kernel leaves FIN-WAIT-2 and our side reaches CLOSED', async () => {
    const r = await python(ns, KPEER, ['closewait', ADDR, '7']);
    expect(r.echoed).to.equal(true);
    const states = r.states as string[];
    expect(states.at(-1), `kernel states ${states.join(' → ')}`).to.be.oneOf(['TIME-WAIT', 'GONE']);
    expect(r.seconds as number).to.be.below(1);
    // Every earlier connection of this suite is finished too: the table must be empty.
    let status = await appReport<{ connections: unknown[]; stats: Json }>(app);
    for (let i = 0; i < 20 && status.connections.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await appReport<{ connections: unknown[]; stats: Json }>(app);
    }
    expect(status.connections).to.deep.equal([]);
  });
});

describe('end-to-end: the stack as a client of a kernel server', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  before(() => {
    ns = Namespace.create('client');
  });
  after(async () => {
    await ns?.delete();
  });

  it('moves 16 MiB each way intact', async () => {
    const bytes = 16 * 1024 * 1024;
    const server = ns.spawn('python3', [KPEER, 'serve', '5001', String(bytes), '7']);
    let serverOut = '';
    server.stdout?.setEncoding('utf8').on('data', (d: string) => (serverOut += d));
    const serverDone = new Promise<void>((resolve) => server.once('close', () => resolve()));
    await waitForLine(server, /"ready": true/);
    const client = await ns.run('node', ['--import', 'tsx', STACK_CLIENT, 'tun0', ADDR, PEER, '5001', String(bytes)], 150_000);
    expect(client.code, client.stderr + client.stdout).to.equal(0);
    await serverDone;
    const c = lastJson(client.stdout);
    const s = lastJson(serverOut);
    expect(s.received).to.equal(bytes);
    expect(c.received).to.equal(bytes);
    expect(s.sha_received).to.equal(c.sha_sent);
    expect(c.sha_received).to.equal(s.sha_sent);
  });
});
