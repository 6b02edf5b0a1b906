/**
 * End-to-end tests of virtio-net offloads and the transmit queue, against the Linux kernel inside
 * a network namespace the suite creates (see device.test.ts for the harness). The kernel's TCP
 * sender is driven by a minimal receiver in the child (tcp-sink.ts). Needs root/CAP_NET_ADMIN:
 * skipped loudly without it, and a failure when env CI is set.
 */
import { expect } from 'chai';
import { release } from 'node:os';
import { TunChild, UDP_SEND_SCRIPT, useTunSuite } from './__tests__/netns.js';
import {
  addressBytes, icmpEchoRequest, pseudoHeaderSum, readIpv4, readTcp, tcp, TcpFlags, transportChecksumOk,
} from './__tests__/packets.js';
import { TCP_SEND_SCRIPT } from './__tests__/tcp-sink.js';
import { kernelTakesBigTso } from './options.js';

const NS = `tcptun-off-${process.pid}`;
const IFF_VNET_HDR = 0x4000;
/** `tso.maxPacket` with offload and the default `bigTso: 'auto'`: 131072 on Linux ≥ 6.3 (big-tso.test.ts). */
const TSO_MAX = kernelTakesBigTso(release()) ? 131_072 : 65_535;

describe('TunDevice offloads and transmit queue in a network namespace', function () {
  this.timeout(30_000);
  const suite = useTunSuite(NS, 'TUN offload tests');

  const child = (options: object, env?: NodeJS.ProcessEnv): TunChild => suite.child(options, env);

  /**
   * Runs a kernel TCP sender of `total` bytes to `peer:port` through a device whose child
   * answers with a TcpSink, and returns every packet the device delivered plus the counters.
   */
  async function bulk(c: TunChild, peer: string, port: number, total: number) {
    c.command({ cmd: 'start', sink: { mss: 1460 } });
    await c.next('started');
    const out = await suite.ns().node(TCP_SEND_SCRIPT, [peer, String(port), String(total)], 20_000);
    expect(JSON.parse(out)).to.deep.equal({ sent: total });
    c.command({ cmd: 'sink' });
    const sink = await c.next('sink');
    c.command({ cmd: 'stats' });
    const report = await c.next('stats');
    const stats = report.stats as Record<string, number>;
    const flags = { trusted: report.trustedFlags as number, badArrays: report.badFlagArrays as number };
    return { packets: c.takePackets(), sink, stats, flags };
  }

  it('takes TCP super-segments larger than the MTU and completes their checksums', async () => {
    const c = child({ name: 'toff0', address: '10.110.0.1', peer: '10.110.0.2', offload: true });
    expect(await c.next('open')).to.include({ name: 'toff0', offload: true });
    expect(Number(suite.ns().read('/sys/class/net/toff0/tun_flags')) & IFF_VNET_HDR, 'IFF_VNET_HDR').to.equal(IFF_VNET_HDR);
    const total = 4 << 20;
    const { packets, sink, stats, flags } = await bulk(c, '10.110.0.2', 7000, total);
    expect(sink).to.include({ bytes: total, outOfOrder: 0, finished: 1 });

    const data = packets.filter((p) => p[9] === 6 && readTcp(p).payload.length > 0);
    const large = data.filter((p) => p.length > 1500);
    expect(large.length, 'super-segments delivered').to.be.at.least(1);
    expect(stats.superSegmentsIn).to.be.at.least(large.length);
    for (const p of large) {
      // Each is one valid IPv4 packet: total length is the read length, payload a multiple of gso_size.
      expect(new DataView(p.buffer, p.byteOffset).getUint16(2)).to.equal(p.length);
      expect(p.length).to.be.at.most(65535);
    }
    // Every TCP packet verifies when summed whole with the pseudo-header: the device completed
    // the partial checksums the kernel left (the kernel computes none itself with TUN_F_CSUM).
    const tcpPackets = packets.filter((p) => p[9] === 6);
    const bad = tcpPackets.filter((p) => !transportChecksumOk(p));
    expect(bad.length, 'packets with a bad checksum').to.equal(0);
    expect(stats.checksumsCompleted, 'all TCP packets had partial checksums').to.equal(tcpPackets.length);
    // ... and each was delivered flagged "checksum trusted" (NEEDS_CSUM), in arrays parallel to their batch.
    expect(stats.checksumsTrusted).to.equal(tcpPackets.length);
    expect(flags).to.deep.equal({ trusted: tcpPackets.length, badArrays: 0 });
    expect(stats.rxHeaderErrors).to.equal(0);
    expect(stats.rxPackets).to.equal(packets.length);
    // The payload arrived intact: the sender writes 'a' bytes only.
    const payload = Buffer.concat(data.map((p) => readTcp(p).payload));
    expect(payload.length).to.equal(total);
    expect(payload.every((b) => b === 0x61)).to.equal(true);
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('with completeChecksums: false, leaves the partial sums and flags every such packet trusted', async () => {
    const c = child({ name: 'toffk0', address: '10.118.0.1', peer: '10.118.0.2', offload: true, completeChecksums: false });
    await c.next('open');
    const total = 2 << 20;
    const { packets, sink, stats, flags } = await bulk(c, '10.118.0.2', 7003, total);
    // The sink does not verify checksums (as the stack does not for trusted packets).
    expect(sink).to.include({ bytes: total, outOfOrder: 0, finished: 1 });
    const tcpPackets = packets.filter((p) => p[9] === 6);
    expect(stats.checksumsCompleted).to.equal(0);
    expect(stats.checksumsTrusted).to.equal(tcpPackets.length);
    expect(flags).to.deep.equal({ trusted: tcpPackets.length, badArrays: 0 });
    // The field holds what Linux left: the folded pseudo-header sum over the TCP length.
    for (const p of tcpPackets) {
      const ip = readIpv4(p);
      const field = (p[20 + 16]! << 8) | p[20 + 17]!;
      expect(field).to.equal(pseudoHeaderSum(addressBytes(ip.src), addressBytes(ip.dst), 6, p.length - 20));
    }
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it("offload: 'auto' turns the offloads on where the kernel takes them, and says so", async () => {
    const c = child({ name: 'toffa', address: '10.117.0.1', peer: '10.117.0.2', offload: 'auto' });
    const open = await c.next('open');
    expect(open).to.deep.include({ name: 'toffa', offload: true, offloadStatus: { state: 'on' }, tso: { maxPacket: TSO_MAX } });
    expect(Number(suite.ns().read('/sys/class/net/toffa/tun_flags')) & IFF_VNET_HDR, 'IFF_VNET_HDR').to.equal(IFF_VNET_HDR);
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('completes the partial checksum of a UDP datagram from the kernel', async () => {
    const c = child({ name: 'toff1', address: '10.111.0.1', peer: '10.111.0.2', offload: true });
    await c.next('open');
    c.command({ cmd: 'start' });
    await c.next('started');
    await suite.ns().node(UDP_SEND_SCRIPT, ['10.111.0.2', '4000', '3', 'partial-udp']);
    const packets = await c.packets(3);
    for (const [i, p] of packets.entries()) {
      const ip = readIpv4(p);
      expect(ip).to.include({ protocol: 17, src: '10.111.0.1', dst: '10.111.0.2' });
      expect(Buffer.from(ip.payload.subarray(8)).toString()).to.equal(`partial-udp:${i}`);
      expect(transportChecksumOk(p), `datagram ${i} checksum`).to.equal(true);
    }
    c.command({ cmd: 'stats' });
    const stats = (await c.next('stats')).stats as Record<string, number>;
    expect(stats).to.include({ rxPackets: 3, checksumsCompleted: 3, superSegmentsIn: 0, rxHeaderErrors: 0 });
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('writes packets with a zeroed header that the kernel takes: an ICMP echo gets its reply', async () => {
    const c = child({ name: 'toff2', address: '10.112.0.1', peer: '10.112.0.2', offload: true });
    await c.next('open');
    c.command({ cmd: 'start' });
    await c.next('started');
    const data = Buffer.from('offload ping');
    const request = icmpEchoRequest('10.112.0.2', '10.112.0.1', 0x5151, 3, data);
    c.command({ cmd: 'send', hex: Buffer.from(request).toString('hex') });
    const sent = await c.next('sent');
    expect(sent.stats).to.include({ txPackets: 1, txBytes: request.length, txDropped: 0 });
    const [reply] = await c.packets(1);
    const ip = readIpv4(reply!);
    expect(ip).to.include({ protocol: 1, src: '10.112.0.1', dst: '10.112.0.2' });
    expect(ip.payload[0], 'echo reply').to.equal(0);
    expect(Buffer.from(ip.payload.subarray(8)).toString()).to.equal('offload ping');
    // A packet with a bad checksum is still refused by the kernel: the zeroed header claims nothing.
    const corrupt = icmpEchoRequest('10.112.0.2', '10.112.0.1', 0x5151, 4, data);
    corrupt[30] = (corrupt[30] ?? 0) ^ 0xff;
    c.command({ cmd: 'send', hex: Buffer.from(corrupt).toString('hex') });
    await c.next('sent');
    c.command({ cmd: 'send', hex: Buffer.from(icmpEchoRequest('10.112.0.2', '10.112.0.1', 0x5151, 5, data)).toString('hex') });
    await c.next('sent');
    const [next] = await c.packets(1);
    expect(new DataView(next!.buffer, next!.byteOffset).getUint16(26), 'reply to seq 5, none to the corrupt seq 4').to.equal(5);
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('sendTso: the kernel takes a TCP super-packet with a partial checksum whole (one RST covering all of it)', async () => {
    const c = child({ name: 'toff3', address: '10.116.0.1', peer: '10.116.0.2', offload: true });
    expect(await c.next('open')).to.deep.include({ offload: true, tso: { maxPacket: TSO_MAX } });
    c.command({ cmd: 'start' });
    await c.next('started');
    /** A TCP packet to a closed kernel port, without ACK, its checksum field left partial. */
    const partial = (seq: number, length: number): Uint8Array => {
      const p = tcp('10.116.0.2', '10.116.0.1', {
        srcPort: 40001, dstPort: 9, seq, ack: 0, flags: TcpFlags.PSH, window: 1000, payload: new Uint8Array(length).fill(0x62),
      });
      const sum = pseudoHeaderSum(addressBytes('10.116.0.2'), addressBytes('10.116.0.1'), 6, length + 20);
      new DataView(p.buffer, p.byteOffset).setUint16(36, sum);
      return p;
    };
    // 3000 octets cut into 1000-octet segments; wholly larger than the 1500-octet MTU.
    const big = partial(1_000_000, 3000);
    c.command({ cmd: 'sendTso', hex: Buffer.from(big).toString('hex'), segmentSize: 1000 });
    expect((await c.next('sent')).stats).to.include({ txPackets: 1, txSuperSegments: 1, txSegments: 3, txChecksumsOffloaded: 1, txDropped: 0 });
    // RFC 9293 §3.10.7.1: a segment without ACK to a closed port gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN>.
    // One RST acknowledging all 3000 octets: the kernel took the super-packet whole, checksum trusted.
    const [rst] = await c.packets(1);
    expect(readTcp(rst!)).to.include({ srcPort: 9, dstPort: 40001, ack: 1_003_000 });
    expect(readTcp(rst!).flags & TcpFlags.RST).to.equal(TcpFlags.RST);
    // A single packet with a partial checksum (no GSO) is taken too.
    c.command({ cmd: 'sendTso', hex: Buffer.from(partial(2_000_000, 500)).toString('hex'), segmentSize: 1000 });
    expect((await c.next('sent')).stats).to.include({ txPackets: 2, txSuperSegments: 1, txChecksumsOffloaded: 2, txDropped: 0 });
    const [rst2] = await c.packets(1);
    expect(readTcp(rst2!)).to.include({ ack: 2_000_500 });
    // send() after sendTso(): its header must be zero again, not the last partial-checksum one.
    // A segment with a wrong (full) checksum is then refused; only the good one draws a RST.
    const full = (seq: number): Uint8Array =>
      tcp('10.116.0.2', '10.116.0.1', { srcPort: 40001, dstPort: 9, seq, ack: 0, flags: TcpFlags.PSH, window: 1000, payload: new Uint8Array(100).fill(0x63) });
    const bad = full(3_000_000);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    c.command({ cmd: 'send', hex: Buffer.from(bad).toString('hex') });
    await c.next('sent');
    c.command({ cmd: 'send', hex: Buffer.from(full(4_000_000)).toString('hex') });
    await c.next('sent');
    const [rst3] = await c.packets(1);
    expect(readTcp(rst3!).ack, 'a RST for the good segment only').to.equal(4_000_100);
    // Not IPv4/TCP: counted as dropped, nothing written.
    c.command({ cmd: 'sendTso', hex: Buffer.from(icmpEchoRequest('10.116.0.2', '10.116.0.1', 1, 1, new Uint8Array(40))).toString('hex'), segmentSize: 1000 });
    expect((await c.next('sent')).stats).to.include({ txPackets: 4, txDropped: 1 });
    c.command({ cmd: 'close' });
    await c.next('closed');

    const plain = child({ name: 'toff4', address: '10.117.0.1', peer: '10.117.0.2' });
    expect(await plain.next('open')).to.deep.include({ offload: false, bigTso: false, tso: null });
    plain.command({ cmd: 'sendTso', hex: Buffer.from(big).toString('hex'), segmentSize: 1000 });
    expect(await plain.next('sent')).to.include({ code: 'ERR_TUN_NO_OFFLOAD' });
    plain.command({ cmd: 'close' });
    await plain.next('closed');
  });

  it('without offload, gets only MTU-sized packets with full checksums, even from a device that had offloads', async () => {
    suite.ns().run(['ip', 'tuntap', 'add', 'dev', 'toffp0', 'mode', 'tun']);
    const first = child({ name: 'toffp0', address: '10.113.0.1', peer: '10.113.0.2', offload: true });
    await first.next('open');
    const before = await bulk(first, '10.113.0.2', 7001, 1 << 20);
    expect(before.stats.superSegmentsIn, 'offloads were on').to.be.at.least(1);
    first.command({ cmd: 'close' });
    await first.next('closed');

    const second = child({ name: 'toffp0', address: '10.113.0.1', peer: '10.113.0.2' });
    expect(await second.next('open')).to.include({ offload: false });
    expect(Number(suite.ns().read('/sys/class/net/toffp0/tun_flags')) & IFF_VNET_HDR).to.equal(0);
    const { packets, sink, stats, flags } = await bulk(second, '10.113.0.2', 7002, 1 << 20);
    expect(sink).to.include({ bytes: 1 << 20, outOfOrder: 0 });
    expect(Math.max(...packets.map((p) => p.length))).to.equal(1500);
    expect(packets.filter((p) => !transportChecksumOk(p)).length).to.equal(0);
    expect(stats).to.include({ superSegmentsIn: 0, checksumsCompleted: 0, checksumsTrusted: 0 });
    // No virtio-net header, nothing to vouch with: no packet is ever flagged.
    expect(flags).to.deep.equal({ trusted: 0, badArrays: 0 });
    second.command({ cmd: 'close' });
    await second.next('closed');
    suite.ns().run(['ip', 'tuntap', 'del', 'dev', 'toffp0', 'mode', 'tun']);
  });

  it('sets a transmit queue of 10000 by default', async () => {
    const c = child({ name: 'tqlen0', address: '10.114.0.1', peer: '10.114.0.2' });
    await c.next('open');
    expect(suite.ns().read('/sys/class/net/tqlen0/tx_queue_len')).to.equal('10000');
    c.command({ cmd: 'txdropped' });
    expect(await c.next('txdropped')).to.include({ value: 0 });
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('readTxDropped() reports the packets the kernel dropped past a full queue', async () => {
    const c = child({ name: 'tqlen1', address: '10.115.0.1', peer: '10.115.0.2', txQueueLen: 100 });
    await c.next('open');
    // Not reading yet: 300 datagrams meet a queue of 100.
    await suite.ns().node(UDP_SEND_SCRIPT, ['10.115.0.2', '4000', '300', 'overflow']);
    c.command({ cmd: 'txdropped' });
    const dropped = (await c.next('txdropped')).value as number;
    expect(dropped).to.equal(Number(suite.ns().read('/sys/class/net/tqlen1/statistics/tx_dropped')));
    expect(dropped).to.equal(200);
    c.command({ cmd: 'start', quiet: true });
    await c.next('started');
    let stats: Record<string, number> = {};
    for (let i = 0; i < 100 && stats.rxPackets !== 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      c.command({ cmd: 'stats' });
      stats = (await c.next('stats')).stats as Record<string, number>;
    }
    expect(stats.rxPackets, 'the queue held exactly txQueueLen packets').to.equal(100);
    c.command({ cmd: 'close' });
    await c.next('closed');
  });
});
