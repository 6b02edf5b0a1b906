/**
 * End-to-end with offload, on by default (`--offload` still accepted, `--no-offload` turns it
 * off): the TUN device is opened with IFF_VNET_HDR and TSO4, so the
 * kernel hands the stack TCP super-segments of up to 64 KiB (one IPv4 packet each, larger than
 * the 1500-octet MTU) instead of MTU-sized segments, and the stack hands the kernel super-packets
 * the same way (GSO send: one write with a virtio-net header asking for TCPV4 segmentation and a
 * partial checksum). Runs in a namespace the test creates, the kernel as the peer.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelTakesBigTso, MAX_BIG_TSO_PACKET } from '@tcp-tun/tun';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';
import { appReport, python } from '../../../testing/report.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

/** Whether the TCP checksum of the IPv4 packet `p` verifies (pseudo-header + segment, RFC 9293 §3.1). */
function tcpChecksumOk(p: Uint8Array): boolean {
  const ihl = (p[0]! & 0x0f) * 4;
  const total = (p[2]! << 8) | p[3]!;
  let sum = 6 + (total - ihl);
  for (let i = 12; i < 20; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
  for (let i = ihl; i < total; i += 2) sum += (p[i]! << 8) | (i + 1 < total ? p[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}
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
  superPacketsOut: number;
  superPacketSegmentsOut: number;
  checksumFailures: number;
  /** Present once the device vouched for a segment's checksum. */
  checksumsTrusted?: number;
  drops: Record<string, number>;
}

interface DeviceCounters {
  checksumsCompleted: number;
  checksumsTrusted: number;
  txPackets: number;
  txSuperSegments: number;
  txSegments: number;
  txDropped: number;
}

type Report = { stats: Counters; device: DeviceCounters; offload: { state: string; reason?: string } };

/**
 * Reads BYTES from HOST:PORT (the source service) and checks them: the service repeats one
 * random 64 KiB block, so every 64 KiB of the stream must equal the first.
 */
const SOURCE_CHECK = `
import hashlib, json, socket, sys
host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port), timeout=30)
buf = bytearray(total)
view = memoryview(buf)
got = 0
while got < total:
    n = s.recv_into(view[got:], total - got)
    if n == 0:
        break
    got += n
s.close()
block = bytes(buf[:65536])
periodic = all(buf[i:i + 65536] == block[:min(65536, got - i)] for i in range(0, got, 65536))
print(json.dumps({'received': got, 'periodic': periodic, 'sha_block': hashlib.sha256(block).hexdigest()}))
`;

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

describe('end-to-end: apps/echo with offload, on by default (TCP super-segments from the kernel)', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let app: ChildProcess;

  before(async () => {
    ns = Namespace.create('offload');
    // No flag: offload is on by default where the kernel takes it (it does here).
    app = ns.spawn('node', [MAIN, '--dev', 'tun0', '--addr', ADDR, '--peer', PEER, '--mtu', String(MTU), '--services', 'echo,discard,source']);
    const line = await waitForLine(app, /listening on/);
    expect(line).to.contain(`listening on ${ADDR}:7`);
  });

  after(async () => {
    await ns?.delete();
  });

  it("says in its report that offload is on by default ('auto' found IFF_VNET_HDR + TSO4)", async () => {
    const report = await appReport<Report>(app);
    expect(report.offload).to.deep.equal({ state: 'on' });
  });

  it('echoes 16 MiB of random bytes back identical, receiving super-segments and sending super-packets', async () => {
    const { stats: before, device: deviceBefore } = await appReport<Report>(app);
    const r = await python(ns, KPEER, ['echo', ADDR, '7', String(MIB16), '42']);
    const { stats: after, device: deviceAfter } = await appReport<Report>(app);
    expect(r.received).to.equal(MIB16);
    expect(r.sha_received).to.equal(r.sha_sent);
    expect(r.identical).to.equal(true);
    // Inbound are the 16 MiB plus the kernel's pure ACKs of what we echo (up to one per
    // MTU-sized segment we send): without offload the average stays below the MTU.
    const avg = averageIn(before, after);
    console.log(`      echo: ${after.packetsIn - before.packetsIn} packets in, average ${avg.toFixed(0)} octets`);
    expect(avg, `average inbound packet ${avg.toFixed(0)} octets`).to.be.above(MTU);
    expect(after.checksumFailures).to.equal(before.checksumFailures);
    // The echo went back in GSO super-packets the kernel cut (or took whole): counted alike by
    // the stack and the device, and each stood for several MSS-sized segments.
    const supers = after.superPacketsOut - before.superPacketsOut;
    const segments = after.superPacketSegmentsOut - before.superPacketSegmentsOut;
    console.log(`      echo: ${after.packetsOut - before.packetsOut} packets out, ${supers} super-packets of ${(segments / Math.max(1, supers)).toFixed(1)} segments on average`);
    expect(supers).to.be.above(0);
    expect(deviceAfter.txSuperSegments - deviceBefore.txSuperSegments).to.equal(supers);
    expect(deviceAfter.txSegments - deviceBefore.txSegments).to.equal(segments);
    expect(deviceAfter.txDropped).to.equal(deviceBefore.txDropped);
  });

  it('sends 16 MiB from the source service in super-packets, the kernel reading every byte intact', async () => {
    const { stats: before, device: deviceBefore } = await appReport<Report>(app);
    const result = await ns.run('python3', ['-c', SOURCE_CHECK, ADDR, '19', String(MIB16)]);
    expect(result.code, result.stderr).to.equal(0);
    const r = JSON.parse(result.stdout.trim()) as { received: number; periodic: boolean };
    const { stats: after, device: deviceAfter } = await appReport<Report>(app);
    expect(r.received).to.equal(MIB16);
    expect(r.periodic, 'every 64 KiB of the stream equals the first').to.equal(true);
    const writes = after.packetsOut - before.packetsOut;
    const supers = after.superPacketsOut - before.superPacketsOut;
    const segments = after.superPacketSegmentsOut - before.superPacketSegmentsOut;
    console.log(`      source: ${writes} packets out for ${MIB16 / 1448 | 0}+ segments, ${supers} super-packets of ${(segments / Math.max(1, supers)).toFixed(1)} segments on average`);
    expect(supers).to.be.above(0);
    // At least 16 MiB / 1448 octets of segments went out in far fewer writes.
    expect(segments).to.be.above((0.9 * MIB16) / 1448);
    expect(writes).to.be.below(MIB16 / 1448 / 4);
    expect(deviceAfter.txSuperSegments - deviceBefore.txSuperSegments).to.equal(supers);
    expect(deviceAfter.txDropped).to.equal(deviceBefore.txDropped);
    expect(after.checksumFailures).to.equal(before.checksumFailures);
  });

  it('takes 16 MiB at the discard service in super-segments averaging well above the MTU', async () => {
    const { stats: before, device: deviceBefore } = await appReport<Report>(app);
    const r = await python(ns, KBENCH, ['send', ADDR, '9', String(MIB16)]);
    const { stats: after, device: deviceAfter } = await appReport<Report>(app);
    expect(r.bytes).to.equal(MIB16);
    expect(after.bytesIn - before.bytesIn).to.be.at.least(MIB16);
    const avg = averageIn(before, after);
    console.log(`      discard: ${after.packetsIn - before.packetsIn} packets in, average ${avg.toFixed(0)} octets`);
    expect(avg, `average inbound packet ${avg.toFixed(0)} octets`).to.be.above(4 * MTU);
    expect(after.checksumFailures).to.equal(before.checksumFailures);
    expect(after.drops).to.deep.equal(before.drops);
    // The kernel's segments come from a local socket (NEEDS_CSUM): the device vouches for every
    // one and leaves its partial checksum (no capture, no faults), and the stack sums none of them.
    const packets = after.packetsIn - before.packetsIn;
    expect(deviceAfter.checksumsTrusted - deviceBefore.checksumsTrusted).to.equal(packets);
    expect(deviceAfter.checksumsCompleted).to.equal(deviceBefore.checksumsCompleted);
    expect((after.checksumsTrusted ?? 0) - (before.checksumsTrusted ?? 0)).to.equal(packets);
  });

  it('captures super-segments in and super-packets out as single records larger than the MTU (--pcap)', async () => {
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
      // What we send larger than the MTU are GSO super-packets, recorded as handed to the device:
      // up to 128 KiB where the kernel takes BIG TCP super-packets (Linux 6.3 on), else 64 KiB.
      expect(Math.max(...outbound)).to.be.above(MTU).and.at.most(kernelTakesBigTso(release()) ? MAX_BIG_TSO_PACKET : 65535);
      // With --pcap the device completes the kernel's partial checksums, so what the capture
      // shows verifies (RFC 9293 §3.1: pseudo-header + segment sums to 0xffff).
      const inboundTcp = records.filter((r) => dst(r.captured) === '10.0.1.2' && r.captured[9] === 6 && r.captured.length === r.length);
      expect(inboundTcp.length).to.be.above(0);
      expect(inboundTcp.filter((r) => !tcpChecksumOk(r.captured)).length, 'captured inbound segments with a bad checksum').to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--no-offload: MTU-sized packets each way, no super-packets, and the report says off', async () => {
    const plain = ns.spawn('node', [MAIN, '--no-offload', '--dev', 'tun2', '--addr', '10.0.2.2', '--peer', '10.0.2.1', '--services', 'echo,discard']);
    try {
      await waitForLine(plain, /listening on/);
      const before = await appReport<Report>(plain);
      expect(before.offload).to.deep.equal({ state: 'off' });
      const r = await python(ns, KPEER, ['echo', '10.0.2.2', '7', String(4 * 1024 * 1024), '5']);
      expect(r.identical).to.equal(true);
      const after = await appReport<Report>(plain);
      const avg = averageIn(before.stats, after.stats);
      console.log(`      --no-offload: ${after.stats.packetsIn - before.stats.packetsIn} packets in, average ${avg.toFixed(0)} octets`);
      expect(avg).to.be.at.most(MTU);
      expect(after.stats.superPacketsOut).to.equal(0);
      expect(after.device.txSuperSegments).to.equal(0);
    } finally {
      plain.kill('SIGTERM');
    }
  });

  it('the fault-injecting link works with offload on: 4 MiB echoed intact through loss, reordering and duplication', async () => {
    // The fault link passes super-segments in as whole packets (a drop loses all the segments of
    // one) and never offers GSO send, so what leaves is MTU-sized (packages/net fault.ts).
    const faulty = ns.spawn('node', [
      MAIN, '--dev', 'tun3', '--addr', '10.0.3.2', '--peer', '10.0.3.1', '--services', 'echo',
      '--drop', '0.02', '--reorder', '0.02', '--duplicate', '0.01', '--fault-seed', '5',
    ]);
    try {
      await waitForLine(faulty, /listening on/);
      const before = await appReport<Report>(faulty);
      expect(before.offload).to.deep.equal({ state: 'on' });
      const r = await python(ns, KPEER, ['echo', '10.0.3.2', '7', String(4 * 1024 * 1024), '9']);
      expect(r.identical).to.equal(true);
      const after = await appReport<Report>(faulty);
      const avg = averageIn(before.stats, after.stats);
      console.log(`      faults + offload: ${after.stats.packetsIn - before.stats.packetsIn} packets in, average ${avg.toFixed(0)} octets; ${after.device.txPackets} written`);
      expect(after.stats.superPacketsOut).to.equal(0);
    } finally {
      faulty.kill('SIGTERM');
    }
  });
});
