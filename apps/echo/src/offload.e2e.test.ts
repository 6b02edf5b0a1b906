/**
 * End-to-end with `--offload`: the TUN device is opened with IFF_VNET_HDR and TSO4, so the
 * kernel hands the stack TCP super-segments of up to 64 KiB (one IPv4 packet each, larger than
 * the 1500-octet MTU) instead of MTU-sized segments. The stack must accept them, and what it
 * sends must still fit the MTU. Runs in a namespace the test creates, the kernel as the peer.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { appReport, python } from '../../../testing/report.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const KPEER = here('../../../testing/kpeer.py');
const KBENCH = here('../../../bench/kbench.py');
const MAIN = here('../dist/main.js');
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';
const MTU = 1500;
const MIB16 = 16 * 1024 * 1024;

interface Counters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  checksumFailures: number;
  drops: Record<string, number>;
}

/** Average inbound IPv4 packet size between two reports. */
function averageIn(before: Counters, after: Counters): number {
  return (after.bytesIn - before.bytesIn) / Math.max(1, after.packetsIn - before.packetsIn);
}

/** Each record of a pcap file (LINKTYPE_RAW, little-endian as our writer makes it). */
function pcapRecords(file: Uint8Array): { length: number; captured: Uint8Array }[] {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  expect(v.getUint32(0, true)).to.equal(0xa1b2c3d4);
  const out: { length: number; captured: Uint8Array }[] = [];
  for (let i = 24; i + 16 <= file.length; ) {
    const included = v.getUint32(i + 8, true);
    const length = v.getUint32(i + 12, true);
    out.push({ length, captured: file.subarray(i + 16, i + 16 + included) });
    i += 16 + included;
  }
  return out;
}

describe('end-to-end: apps/echo --offload (TCP super-segments from the kernel)', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let app: ChildProcess;

  before(async () => {
    ns = Namespace.create('offload');
    app = ns.spawn('node', [MAIN, '--offload', '--dev', 'tun0', '--addr', ADDR, '--peer', PEER, '--mtu', String(MTU), '--services', 'echo,discard']);
    const line = await waitForLine(app, /listening on/);
    expect(line).to.contain(`listening on ${ADDR}:7`);
  });

  after(async () => {
    await ns?.delete();
  });

  it('echoes 16 MiB of random bytes back identical while receiving super-segments', async () => {
    const before = (await appReport<{ stats: Counters }>(app)).stats;
    const r = await python(ns, KPEER, ['echo', ADDR, '7', String(MIB16), '42']);
    const after = (await appReport<{ stats: Counters }>(app)).stats;
    expect(r.received).to.equal(MIB16);
    expect(r.sha_received).to.equal(r.sha_sent);
    expect(r.identical).to.equal(true);
    // Inbound are the 16 MiB plus the kernel's pure ACKs of what we echo (up to one per
    // MTU-sized segment we send): without offload the average stays below the MTU.
    const avg = averageIn(before, after);
    console.log(`      echo: ${after.packetsIn - before.packetsIn} packets in, average ${avg.toFixed(0)} octets`);
    expect(avg, `average inbound packet ${avg.toFixed(0)} octets`).to.be.above(MTU);
    expect(after.checksumFailures).to.equal(before.checksumFailures);
    // Everything we sent fits the MTU (the device does not segment what we write).
    expect((after.bytesOut - before.bytesOut) / (after.packetsOut - before.packetsOut)).to.be.at.most(MTU);
  });

  it('takes 16 MiB at the discard service in super-segments averaging well above the MTU', async () => {
    const before = (await appReport<{ stats: Counters }>(app)).stats;
    const r = await python(ns, KBENCH, ['send', ADDR, '9', String(MIB16)]);
    const after = (await appReport<{ stats: Counters }>(app)).stats;
    expect(r.bytes).to.equal(MIB16);
    expect(after.bytesIn - before.bytesIn).to.be.at.least(MIB16);
    const avg = averageIn(before, after);
    console.log(`      discard: ${after.packetsIn - before.packetsIn} packets in, average ${avg.toFixed(0)} octets`);
    expect(avg, `average inbound packet ${avg.toFixed(0)} octets`).to.be.above(4 * MTU);
    expect(after.checksumFailures).to.equal(before.checksumFailures);
    expect(after.drops).to.deep.equal(before.drops);
  });

  it('captures inbound packets larger than the MTU and sends none larger (--pcap)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-offload-'));
    try {
      const pcap = join(dir, 'offload.pcap');
      // A second device in the same namespace, so the capture holds only this transfer.
      const second = ns.spawn('node', [MAIN, '--offload', '--dev', 'tun1', '--addr', '10.0.1.2', '--peer', '10.0.1.1', '--pcap', pcap]);
      await waitForLine(second, /listening on/);
      const r = await python(ns, KPEER, ['echo', '10.0.1.2', '7', String(2 * 1024 * 1024), '7']);
      expect(r.identical).to.equal(true);
      const exited = new Promise<void>((resolve) => second.once('exit', () => resolve()));
      second.kill('SIGTERM'); // the pcap is flushed on exit
      await exited;
      const records = pcapRecords(readFileSync(pcap));
      const dst = (p: Uint8Array): string => Array.from(p.subarray(16, 20)).join('.');
      const inbound = records.filter((r) => dst(r.captured) === '10.0.1.2').map((r) => r.length);
      const outbound = records.filter((r) => dst(r.captured) === '10.0.1.1').map((r) => r.length);
      expect(inbound.length + outbound.length).to.equal(records.length);
      console.log(`      pcap: ${inbound.length} in (largest ${Math.max(...inbound)}), ${outbound.length} out (largest ${Math.max(...outbound)})`);
      expect(Math.max(...inbound)).to.be.above(MTU).and.at.most(65535);
      expect(Math.max(...outbound)).to.be.at.most(MTU);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
