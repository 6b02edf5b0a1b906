/**
 * End-to-end over IPv6 (issue 13, "Done when"): the Linux kernel is the peer of apps/echo over
 * IPv6 on a dual-stack TUN device (--addr/--peer and --addr6/--peer6), in a namespace each suite
 * makes and deletes. ping -6, a 16 MiB echo, 50 concurrent and 200 sequential connections,
 * curl -6 against the http service, and IPv4 beside IPv6 on the same device at the same time;
 * the 16 MiB echo with offload as shipped and with --no-offload. The kernel's side is
 * testing/kpeer.py (Python sockets), ping and curl; every client is bounded in time.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { appReport, python } from '../../../testing/report.js';
import type { StackStats } from '@tcp-tun/net';
import { patternByte } from './services.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const KPEER = here('../../../testing/kpeer.py');
const MAIN = here('../dist/main.js');
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';
// Unique local addresses (RFC 4193), only ever inside the test's namespace.
const ADDR6 = 'fd00:6::2';
const PEER6 = 'fd00:6::1';
const MIB16 = 16 * 1024 * 1024;

interface Report {
  stats: StackStats;
  offload: { state: string };
  device: { superSegmentsIn: number; txSuperSegments: number; txDropped: number };
  connections: unknown[];
}

function patternDigest(n: number): string {
  const h = createHash('sha256');
  const block = Buffer.alloc(251 * 4096);
  for (let i = 0; i < block.length; i++) block[i] = patternByte(i);
  for (let off = 0; off < n; off += block.length) h.update(block.subarray(0, Math.min(block.length, n - off)));
  return h.digest('hex');
}

/** Starts apps/echo on a dual-stack TUN in `ns` and waits for its ready line (both families named). */
async function startEcho(ns: Namespace, extra: readonly string[]): Promise<ChildProcess> {
  const app = ns.spawn('node', [MAIN, '--addr', ADDR, '--peer', PEER, '--addr6', ADDR6, '--peer6', PEER6, ...extra]);
  const line = await waitForLine(app, /listening on/);
  expect(line).to.contain(`${ADDR}:7 (echo)`).and.contain(`[${ADDR6}]:7 (echo)`);
  return app;
}

async function echo16MiB(ns: Namespace, host: string, seed: number): Promise<void> {
  const r = await python(ns, KPEER, ['echo', host, '7', String(MIB16), String(seed), '90']);
  expect(r.received, JSON.stringify(r)).to.equal(MIB16);
  expect(r.sha_received).to.equal(r.sha_sent);
  expect(r.identical).to.equal(true);
}

describe('end-to-end over IPv6: kernel ⇄ dual-stack TUN ⇄ apps/echo (offload as shipped)', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let app: ChildProcess;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-ipv6-'));
    ns = Namespace.create('ipv6');
    app = await startEcho(ns, ['--services', 'echo,http', '--http-port', '8080']);
  });
  after(async () => {
    await ns?.delete();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('runs with the offloads on, as shipped', async () => {
    expect((await appReport<Report>(app)).offload.state).to.equal('on');
  });

  it('answers ping -6 of its IPv6 address with the payload intact', async () => {
    const before = await appReport<Report>(app);
    // -p: a fill pattern ping checks in every reply ("wrong data byte" otherwise); 1200 octets
    // of payload make a 1248-octet packet, under the MTU.
    const r = await ns.run('ping', ['-6', '-n', '-c', '5', '-i', '0.2', '-W', '2', '-s', '1200', '-p', 'a55a0ff0', ADDR6], 20_000);
    const text = r.stdout + r.stderr;
    expect(r.code, text).to.equal(0);
    expect(text).to.match(/5 packets transmitted, 5 received/);
    expect(text).to.match(/1208 bytes from fd00:6::2/);
    expect(text).not.to.match(/wrong data|DUP!/);
    const after = await appReport<Report>(app);
    expect((after.stats.icmpv6?.echoReplies ?? 0) - (before.stats.icmpv6?.echoReplies ?? 0), JSON.stringify(after.stats.icmpv6)).to.equal(5);
  });

  it('echoes 16 MiB of random bytes over IPv6 back identical, in super-segments each way', async () => {
    const before = (await appReport<Report>(app)).device;
    await echo16MiB(ns, ADDR6, 61);
    const after = (await appReport<Report>(app)).device;
    // Offload carries IPv6 too (no IPv4 has moved yet): TCPV6 super-segments in, GSO
    // super-packets out, none refused by the device.
    expect(after.superSegmentsIn - before.superSegmentsIn, JSON.stringify(after)).to.be.above(0);
    expect(after.txSuperSegments - before.txSuperSegments, JSON.stringify(after)).to.be.above(0);
    expect(after.txDropped, JSON.stringify(after)).to.equal(0);
  });

  it('serves 50 concurrent IPv6 connections × 64 KiB, all intact', async () => {
    const r = await python(ns, KPEER, ['-6', 'many', ADDR6, '7', '50', String(64 * 1024)]);
    expect(r.failures).to.deep.equal([]);
    expect(r.ok).to.equal(50);
  });

  it('accepts 200 sequential IPv6 connections, each echoing 1 KiB intact', async () => {
    const r = await python(ns, KPEER, ['-6', 'seq', ADDR6, '7', '200']);
    expect(r.errors).to.deep.equal([]);
    expect(r.ok).to.equal(200);
  });

  it('refuses an IPv6 connect to a closed port at once', async () => {
    const r = await python(ns, KPEER, ['-6', 'refused', ADDR6, '8081']);
    expect(r.result).to.equal('refused');
    expect(r.seconds as number).to.be.below(1);
  });

  it('curl -6 fetches 16 MiB from Node\'s http on the stack, intact', async () => {
    const file = join(dir, 'bytes6.bin');
    const r = await ns.run('curl', ['-6', '-sS', '--max-time', '60', '-o', file, '-w', '%{http_code} %{size_download} %{remote_ip}', `http://[${ADDR6}]:8080/bytes/${MIB16}`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`200 ${MIB16} ${ADDR6}`);
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).to.equal(patternDigest(MIB16));
  });

  it('keeps IPv4 working on the same device at the same time: a v4 and a v6 echo of 8 MiB at once', async () => {
    const n = String(8 * 1024 * 1024);
    const [v4, v6] = await Promise.all([
      python(ns, KPEER, ['-4', 'echo', ADDR, '7', n, '4', '90']),
      python(ns, KPEER, ['-6', 'echo', ADDR6, '7', n, '6', '90']),
      // And ping of each family during the transfers.
      ns.run('ping', ['-4', '-n', '-c', '3', '-i', '0.2', '-W', '2', ADDR], 20_000).then((r) => expect(r.stdout).to.match(/3 packets transmitted, 3 received/)),
    ]);
    expect(v4.identical, JSON.stringify(v4)).to.equal(true);
    expect(v6.identical, JSON.stringify(v6)).to.equal(true);
    expect(v4.sha_received).to.equal(v4.sha_sent);
    expect(v6.sha_received).to.equal(v6.sha_sent);
  });

  it('counts its IPv6 traffic, and every connection has ended', async () => {
    let report = await appReport<Report>(app);
    for (let i = 0; i < 20 && report.connections.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      report = await appReport<Report>(app);
    }
    expect(report.connections).to.deep.equal([]);
    // Tens of MiB went each way over IPv6 above: at least one received and one sent packet
    // per 64 KiB of them.
    const v6 = report.stats.ipv6;
    expect(v6?.packetsIn, JSON.stringify(v6)).to.be.above(500);
    expect(v6?.packetsOut, JSON.stringify(v6)).to.be.above(500);
    // The kernel sends nothing unasked into the quiet TUN, and nothing was malformed.
    expect(v6?.drops, JSON.stringify(v6)).to.deep.equal({});
    expect(report.device.txDropped, JSON.stringify(report.device)).to.equal(0);
  });
});

describe('end-to-end over IPv6 with --no-offload', function () {
  this.timeout(120_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let app: ChildProcess;
  before(async () => {
    ns = Namespace.create('ipv6p');
    app = await startEcho(ns, ['--no-offload']);
  });
  after(async () => {
    await ns?.delete();
  });

  it('echoes 16 MiB over IPv6 back identical, one MTU-sized packet per read and write', async () => {
    expect((await appReport<Report>(app)).offload.state).to.equal('off');
    await echo16MiB(ns, ADDR6, 62);
  });

  it('answers ping -6 with the payload intact', async () => {
    const r = await ns.run('ping', ['-6', '-n', '-c', '3', '-i', '0.2', '-W', '2', '-s', '1400', '-p', '5a', ADDR6], 20_000);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/3 packets transmitted, 3 received/);
    expect(r.stdout).not.to.match(/wrong data|DUP!/);
  });
});
