/**
 * End-to-end, seeing inside (issue 12): the kernel's curl reads `/metrics` from apps/echo's http
 * service on a real TUN device, and a transfer's `--trace` and `--pcap` are complete after
 * SIGTERM. Inside a namespace of its own.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTrace, type TraceSegmentRecord } from '@tcp-tun/net';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('end-to-end: apps/echo /metrics, --trace and --pcap on a TUN device', function () {
  this.timeout(120_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let dir: string;
  let app: ChildProcess;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-seeing-'));
    ns = Namespace.create('seeing');
    app = ns.spawn('node', [MAIN, '--addr', ADDR, '--peer', PEER, '--services', 'http', '--http-port', '8080', '--trace', join(dir, 'echo.trace'), '--pcap', join(dir, 'echo.pcap')]);
    await waitForLine(app, /listening on/);
  });
  after(async () => {
    await ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves /metrics to the kernel curl, with device counters and connections by state', async () => {
    const big = await ns.run('curl', ['-sS', '--max-time', '30', '-o', '/dev/null', '-w', '%{size_download}', `http://${ADDR}:8080/bytes/2000000`]);
    expect(big.stdout, big.stderr).to.equal('2000000');
    const r = await ns.run('curl', ['-sS', '--max-time', '30', '-D', '-', `http://${ADDR}:8080/metrics`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/content-type: text\/plain; version=0\.0\.4; charset=utf-8/i);
    const value = (series: string): number => {
      const m = new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(r.stdout);
      expect(m, series).to.not.equal(null);
      return Number(m![1]);
    };
    expect(value('tcptun_bytes_out_total')).to.be.greaterThan(2_000_000);
    expect(value('tcptun_connections_accepted_total')).to.equal(2);
    expect(value('tcptun_connections{state="ESTABLISHED"}')).to.be.at.least(1);
    expect(value('tcptun_device_rx_packets_total')).to.be.greaterThan(10);
    expect(value('tcptun_device_tx_bytes_total')).to.be.greaterThan(2_000_000);
  });

  it('leaves a complete trace and capture after SIGTERM', async () => {
    const done = exited(app);
    app.kill('SIGTERM');
    expect(await done).to.equal(0);
    const records = parseTrace(readFileSync(join(dir, 'echo.trace'), 'utf8'));
    expect(records[0]?.type).to.equal('trace');
    expect(records.at(-1)?.type).to.equal('end');
    const conns = records.filter((r) => r.type === 'conn');
    expect(conns).to.have.length(2);
    const out = records.filter((r): r is TraceSegmentRecord => r.type === 'seg' && r.conn === 1 && r.dir === 'out');
    const highest = Math.max(...out.map((s) => s.seq + s.len));
    // The response: headers and 2,000,000 octets, from relative sequence number 1.
    expect(highest).to.be.greaterThan(2_000_000);
    expect(records.some((r) => r.type === 'info' && r.conn === 1 && r.cwnd > 0)).to.equal(true);
    expect(statSync(join(dir, 'echo.trace')).mode & 0o777).to.equal(0o600);
    expect(statSync(join(dir, 'echo.pcap')).size).to.be.greaterThan(2_000_000);
  });
});
