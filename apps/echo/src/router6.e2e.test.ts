/**
 * Self-test of the IPv6 test harness (testing/netns6.ts, kpeer.py and kserver.mjs with -6),
 * with the Linux kernel at every end and no tcp-tun: the router topology's narrow hop answers
 * an oversized packet with ICMPv6 Packet Too Big, the kernel's path MTU discovery then carries a
 * TCP upload across it intact, and the IPv6 listeners accept. testing/ has no test runner of its
 * own, so the suite lives here beside apps/echo's other end-to-end tests.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { configureKernelIpv6, createTun6, RouterTopology } from '../../../testing/netns6.js';
import { Prng } from '../../../testing/random.js';

const KPEER = fileURLToPath(new URL('../../../testing/kpeer.py', import.meta.url));
const KSERVER = fileURLToPath(new URL('../../../testing/kserver.mjs', import.meta.url));

describe('IPv6 harness: router topology with a 1280-octet hop (kernel only)', function () {
  this.timeout(60_000);
  if (!requireNetns(this)) return;

  let topology: RouterTopology;
  let dir: string;
  before(() => {
    topology = RouterTopology.create('rt6');
    dir = mkdtempSync(join(tmpdir(), 'tcptun-rt6-'));
  });
  after(async () => {
    await topology?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the router answers a 1448-octet packet with Packet Too Big, mtu 1280', async () => {
    const { server } = topology.addresses;
    // -M do: never fragment locally, so the oversized echo request reaches the router.
    const r = await topology.stack.run('ping', ['-6', '-n', '-M', 'do', '-s', '1400', '-c', '3', '-i', '0.3', '-W', '1', server], 20_000);
    const text = `${r.stdout}${r.stderr}`;
    expect(r.code, text).to.not.equal(0);
    expect(text).to.match(/Packet too big: mtu=1280|message too long, mtu[:=] ?1280/i);
    // The stack namespace's kernel keeps the learned path MTU (RFC 8201 §4).
    expect(topology.stack.execSync('ip', ['-6', 'route', 'get', server])).to.match(/mtu 1280/);
    // A packet that fits goes through.
    const small = await topology.stack.run('ping', ['-6', '-n', '-M', 'do', '-s', '1200', '-c', '1', '-W', '2', server], 10_000);
    expect(small.code, small.stdout + small.stderr).to.equal(0);
  });

  it('a TCP upload across the hop arrives intact after path MTU discovery (kserver -6 /upload)', async () => {
    const { server, routerDown } = topology.addresses;
    // A fresh path: forget what the ping taught, so this transfer has to learn it itself.
    topology.stack.execSync('ip', ['-6', 'route', 'flush', 'cache']);
    const tooBigs = (): number => Number(/^Icmp6OutPktTooBigs\s+(\d+)/m.exec(topology.router.execSync('cat', ['/proc/net/snmp6']))?.[1] ?? 'NaN');
    const before = tooBigs();
    // Fixed seed: the content only has to be checkable, not varied.
    const body = new Prng(61).bytes(2 << 20);
    const file = join(dir, 'up.bin');
    writeFileSync(file, body);
    const kserver = topology.server.spawn('node', [KSERVER, '-6', '8080', file]);
    await waitForLine(kserver, /ready/);
    const r = await topology.stack.run('curl', ['-6', '-sS', '--max-time', '30', '-T', file, `http://[${server}]:8080/upload`], 40_000);
    expect(r.code, r.stderr).to.equal(0);
    const answer = JSON.parse(r.stdout) as { bytes: number; sha256: string; peer: string; family: string };
    expect(answer).to.deep.equal({
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      peer: topology.addresses.stackVeth,
      family: 'IPv6',
    });
    // The server advertised MSS 1440 (advmss), so the sender's first full segments were too big
    // for the hop: it learned 1280 from the router's Packet Too Big.
    expect(topology.stack.execSync('ip', ['-6', 'route', 'get', server])).to.match(/mtu 1280/);
    expect(tooBigs() - before, `router ${routerDown} sent Packet Too Big during the upload`).to.be.above(0);
    // And the download direction crosses the hop too.
    const down = await topology.stack.run('sh', ['-c', `curl -6 -sS --max-time 30 http://[${server}]:8080/file | sha256sum`], 40_000);
    expect(down.stdout.split(' ')[0]).to.equal(createHash('sha256').update(body).digest('hex'));
  });

  it('kpeer -6 listens on ::; kpeer -4 refuses an IPv6 literal as curl -4 does', async () => {
    const { server } = topology.addresses;
    const serve = topology.server.spawn('python3', [KPEER, '-6', 'serve', '9000', '65536', '3']);
    // All of its output, from the start (waitForLine reads only while it waits).
    let served = '';
    serve.stdout?.setEncoding('utf8').on('data', (d: string) => (served += d));
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    await waitForLine(serve, /"ready": true/);
    // A client that sends nothing and reads to the end: the kernel's own nc, bounded.
    const r = await topology.stack.run('sh', ['-c', `timeout 20 python3 -c "
import socket,sys
s=socket.create_connection(('${server}',9000),timeout=10)
s.shutdown(socket.SHUT_WR)
n=0
while True:
    b=s.recv(65536)
    if not b: break
    n+=len(b)
print(n)"`], 30_000);
    expect(r.stdout.trim(), r.stderr).to.equal('65536');
    await exited;
    const report = served.split('\n').find((l) => l.includes('"sent"')) ?? '{}';
    expect(JSON.parse(report), served).to.include({ sent: 65536, received: 0 });
    const refused = await topology.stack.run('python3', [KPEER, '-4', 'refused', server, '9'], 20_000);
    // getaddrinfo finds no IPv4 address for it (EAI_ADDRFAMILY): nothing is sent.
    expect((JSON.parse(refused.stdout) as { result: string }).result, refused.stderr).to.match(/^oserror/);
    const v6 = await topology.stack.run('python3', [KPEER, '-6', 'refused', server, '9'], 20_000);
    expect((JSON.parse(v6.stdout) as { result: string }).result, v6.stderr).to.equal('refused');
  });
});

describe('IPv6 harness: a TUN prepared by hand (createTun6, configureKernelIpv6)', function () {
  this.timeout(30_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  before(() => {
    ns = Namespace.create('tun6h');
  });
  after(async () => {
    await ns?.delete();
  });

  it('gives the kernel side its address (nodad, peer form), no link-local address, the quiet sysctls', () => {
    createTun6(ns, 'tun6h0', { address: 'fd00:5::1', peer: 'fd00:5::2', mtu: 1400 });
    const addresses = ns.execSync('ip', ['-6', '-o', 'addr', 'show', 'dev', 'tun6h0']);
    expect(addresses).to.match(/inet6 fd00:5::1 peer fd00:5::2\/128 scope global nodad/);
    expect(addresses).not.to.contain('fe80');
    expect(ns.execSync('ip', ['-6', 'route', 'show', 'dev', 'tun6h0']), 'the route to the peer (linkdown until attached)').to.match(/^fd00:5::2 /m);
    expect(ns.execSync('cat', ['/proc/sys/net/ipv6/conf/tun6h0/router_solicitations']).trim()).to.equal('0');
    expect(ns.execSync('cat', ['/sys/class/net/tun6h0/mtu']).trim()).to.equal('1400');
    // The bare helper works on any interface, here a veth, and without a peer: /128.
    ns.execSync('ip', ['link', 'add', 'v6h0', 'type', 'veth', 'peer', 'name', 'v6h1']);
    configureKernelIpv6(ns, 'v6h0', 'fd00:6::1');
    expect(ns.execSync('ip', ['-6', '-o', 'addr', 'show', 'dev', 'v6h0'])).to.match(/inet6 fd00:6::1\/128 scope global nodad/);
  });
});
