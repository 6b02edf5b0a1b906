/**
 * End-to-end over IPv6 (issue 13, "Done when"): curl-lite on the tcp-tun stack as the client of
 * kernel HTTP servers over IPv6, in namespaces each suite makes and deletes.
 *  - a 16 MiB download from Node's http on the kernel bound to `::` (testing/kserver.mjs -6),
 *    from an IPv6-only stack and from a dual-stack one with -6 and -4;
 *  - path MTU discovery (RFC 8201) through testing/netns6.ts's RouterTopology: a 16 MiB upload
 *    from the stack across a 1280-octet hop arrives intact after the router's Packet Too Big
 *    (RFC 4443 §3.2), with offload as shipped and with --no-offload.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { RouterTopology } from '../../../testing/netns6.js';
import { lastJson } from '../../../testing/report.js';
import type { StackStats } from '@tcp-tun/net';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const KSERVER = fileURLToPath(new URL('../../../testing/kserver.mjs', import.meta.url));
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';
// Unique local addresses (RFC 4193), only ever inside the test's namespaces.
const ADDR6 = 'fd00:7::2';
const PEER6 = 'fd00:7::1';
const MIB16 = 16 * 1024 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Upload {
  bytes: number;
  sha256: string;
  peer: string;
  family: string;
}

describe('end-to-end over IPv6: curl-lite ⇄ kernel http.server on ::', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let dir: string;
  let file: Buffer;
  const run = (args: string[]) => ns.run('node', [MAIN, ...args], 120_000);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-curl6-'));
    file = randomBytes(MIB16);
    writeFileSync(join(dir, 'served.bin'), file);
    ns = Namespace.create('curl6');
    const server = ns.spawn('node', [KSERVER, '-6', '8000', join(dir, 'served.bin')]);
    await waitForLine(server, /ready/);
  });
  after(async () => {
    await ns?.delete();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('an IPv6-only stack downloads 16 MiB from [peer6]:8000 with the right sha256', async () => {
    const out = join(dir, 'got6.bin');
    const r = await run(['--addr6', ADDR6, '--peer6', PEER6, '-s', '-o', out, `http://[${PEER6}]:8000/file`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(sha(readFileSync(out))).to.equal(sha(file));
  });

  it('a dual-stack stack reaches the same server with -6 as itself over IPv6, and with -4 over IPv4', async () => {
    const dual = ['--addr', ADDR, '--peer', PEER, '--addr6', ADDR6, '--peer6', PEER6, '-s'];
    const body = randomBytes(256 * 1024);
    const bodyFile = join(dir, 'body.bin');
    writeFileSync(bodyFile, body);
    const v6 = await run([...dual, '-6', '--data-binary', `@${bodyFile}`, `http://[${PEER6}]:8000/upload`]);
    expect(v6.code, v6.stderr).to.equal(0);
    expect(JSON.parse(v6.stdout) as Upload).to.deep.equal({ bytes: body.length, sha256: sha(body), peer: ADDR6, family: 'IPv6' });
    // The kernel's `::` socket takes IPv4 too and names the peer as an IPv4-mapped address.
    const v4 = await run([...dual, '-4', '--data-binary', `@${bodyFile}`, `http://${PEER}:8000/upload`]);
    expect(v4.code, v4.stderr).to.equal(0);
    expect(JSON.parse(v4.stdout) as Upload).to.deep.equal({ bytes: body.length, sha256: sha(body), peer: `::ffff:${ADDR}`, family: 'IPv6' });
  });

  it('exits 7 naming the address when an IPv6 connect is refused', async () => {
    const r = await run(['--addr6', ADDR6, '--peer6', PEER6, `http://[${PEER6}]:8009/`]);
    expect(r.code, r.stderr).to.equal(7);
    expect(r.stderr).to.match(/Failed to connect to fd00:7::1 port 8009|Failed to connect to \[?fd00:7::1\]?:8009/).and.match(/Connection refused/);
  });
});

for (const offload of [true, false]) {
  describe(`end-to-end over IPv6: path MTU discovery through a 1280-octet hop (${offload ? 'offload as shipped' : '--no-offload'})`, function () {
    this.timeout(180_000);
    if (!requireNetns(this)) return;

    let topology: RouterTopology;
    let dir: string;
    let body: Buffer;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tcptun-pmtu6-'));
      body = randomBytes(MIB16);
      writeFileSync(join(dir, 'up.bin'), body);
      // The server advertises MSS 1440 (RouterTopology's default advmss): the stack's first
      // full-sized segments are too big for the hop and only Packet Too Big can tell it so.
      topology = RouterTopology.create(offload ? 'pm6o' : 'pm6p');
      const server = topology.server.spawn('node', [KSERVER, '-6', '8080', join(dir, 'up.bin')]);
      await waitForLine(server, /ready/);
    });
    after(async () => {
      await topology?.delete();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    it('a 16 MiB upload from tcp-tun arrives intact after Packet Too Big, which the stack counted', async () => {
      const a = topology.addresses;
      const tooBigs = (): number => Number(/^Icmp6OutPktTooBigs\s+(\d+)/m.exec(topology.router.execSync('cat', ['/proc/net/snmp6']))?.[1] ?? 'NaN');
      const before = tooBigs();
      const r = await topology.stack.run('node', [
        MAIN, '--addr6', a.tunStack, '--peer6', a.tunKernel, ...(offload ? [] : ['--no-offload']),
        '-s', '--stats', '--max-time', '90', '--data-binary', `@${join(dir, 'up.bin')}`, `http://[${a.server}]:8080/upload`,
      ], 120_000);
      expect(r.code, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout) as Upload).to.deep.equal({ bytes: body.length, sha256: sha(body), peer: a.tunStack, family: 'IPv6' });
      const sent = tooBigs() - before;
      expect(sent, `router ${a.routerDown} sent Packet Too Big`).to.be.above(0);
      // Every Packet Too Big the stack took (matched to the connection by its quote) counts here.
      const stats = lastJson<{ stats: StackStats }>(r.stderr).stats;
      expect(stats.icmpv6?.errorsReceived, `the stack's ICMPv6 counters: ${JSON.stringify(stats.icmpv6)}`).to.be.above(0);
    });

    it('the download direction crosses the hop too (the server learns 1280 itself)', async () => {
      const a = topology.addresses;
      const out = join(dir, 'down.bin');
      const r = await topology.stack.run('node', [
        MAIN, '--addr6', a.tunStack, '--peer6', a.tunKernel, ...(offload ? [] : ['--no-offload']),
        '-s', '--max-time', '90', '-o', out, `http://[${a.server}]:8080/file`,
      ], 120_000);
      expect(r.code, r.stderr).to.equal(0);
      expect(sha(readFileSync(out))).to.equal(sha(body));
    });
  });
}
