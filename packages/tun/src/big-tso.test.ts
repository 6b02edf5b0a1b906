/**
 * End-to-end tests of "BIG TCP" super-packets (option `bigTso`): `sendTso()` of TCP packets over
 * 65535 octets, against the Linux kernel inside a network namespace the suite creates (see
 * device.test.ts for the harness). Proof that the kernel took a packet whole: a segment without
 * ACK to a closed port is answered by a RST acknowledging SEG.SEQ + SEG.LEN (RFC 9293
 * §3.10.7.1), so one RST acknowledging all 100,000 octets means one skb carried them all.
 *
 * On a kernel older than 6.3 `bigTso: 'auto'` resolves off: the same tests then check that the
 * device says so (`tso.maxPacket` 65535) and drops and counts a bigger packet, so they assert
 * something real on every kernel. Needs root/CAP_NET_ADMIN: skipped loudly without it, and a
 * failure when env CI is set.
 */
import { expect } from 'chai';
import { release } from 'node:os';
import { TunChild, useTunSuite } from './__tests__/netns.js';
import { readTcp, readTcp6, tcp6Partial, TcpFlags, tcpPartial, type TcpSummary } from './__tests__/packets.js';
import { kernelTakesBigTso } from './options.js';

const NS = `tcptun-big-${process.pid}`;
/** Payload octets of each big super-packet: 100,040 octets as IPv4, 100,068 as an IPv6 jumbogram. */
const BIG = 100_000;
const SEGMENT = 1448;

describe('TunDevice BIG TCP super-packets (bigTso) in a network namespace', function () {
  this.timeout(30_000);
  const suite = useTunSuite(NS, 'TUN BIG TCP tests');
  const kernelTakes = kernelTakesBigTso(release());

  const hex = (p: Uint8Array): string => Buffer.from(p).toString('hex');
  const segment = (seq: number, length: number) => ({
    srcPort: 40001, dstPort: 9, seq, ack: 0, flags: TcpFlags.PSH, window: 1000, payload: new Uint8Array(length).fill(0x62),
  });

  /** Sends with sendTso() and returns the counters after it. */
  async function sendTso(c: TunChild, packet: Uint8Array, segmentSize = SEGMENT): Promise<Record<string, number>> {
    c.command({ cmd: 'sendTso', hex: hex(packet), segmentSize });
    const sent = await c.next('sent');
    expect(sent.code, 'sendTso threw').to.equal(undefined);
    return sent.stats as Record<string, number>;
  }

  /** The next TCP packet the kernel sends into the device (IPv4 or IPv6), skipping anything else (bounded). */
  async function nextTcp(c: TunChild): Promise<TcpSummary & { family: 4 | 6 }> {
    for (let i = 0; i < 20; i++) {
      const [p] = await c.packets(1);
      if (p === undefined) continue;
      if (p[0]! >> 4 === 4 && p[9] === 6) return { ...readTcp(p), family: 4 };
      if (p[0]! >> 4 === 6 && p[6] === 6) return { ...readTcp6(p), family: 6 };
    }
    throw new Error('no TCP packet from the kernel among 20');
  }

  /** Asserts the next TCP packet is the kernel's RST for `family` acknowledging `ack`. */
  async function expectRst(c: TunChild, family: 4 | 6, ack: number, what: string): Promise<void> {
    const rst = await nextTcp(c);
    expect(rst, what).to.include({ family, srcPort: 9, dstPort: 40001, ack });
    expect(rst.flags & TcpFlags.RST, `${what}: RST`).to.equal(TcpFlags.RST);
  }

  /** A device with IPv4 and IPv6 on both sides: the kernel is .1 / ::1, we are .2 / ::2. */
  function open(name: string, net: number, extra: object): { c: TunChild; v4: (seq: number, n: number, totalLength?: number) => Uint8Array; v6: (seq: number, n: number) => Uint8Array } {
    const c = suite.child({
      name, address: `10.${net}.0.1`, peer: `10.${net}.0.2`, address6: `fd00:${net}::1`, peer6: `fd00:${net}::2`, offload: true, ...extra,
    });
    return {
      c,
      v4: (seq, n, totalLength) => tcpPartial(`10.${net}.0.2`, `10.${net}.0.1`, segment(seq, n), totalLength),
      v6: (seq, n) => tcp6Partial(`fd00:${net}::2`, `fd00:${net}::1`, segment(seq, n)),
    };
  }

  for (const writer of ['inline', 'worker'] as const) {
    it(`bigTso 'auto' (writer '${writer}'): ${kernelTakes ? 'the kernel takes 100,000-octet IPv4 (Total Length 0) and IPv6 (jumbogram) super-packets whole' : 'off on this kernel (< 6.3): 65535 and bigger packets dropped'}`, async () => {
      const name = writer === 'inline' ? 'tbig0' : 'tbig1';
      const net = writer === 'inline' ? 121 : 122;
      const { c, v4, v6 } = open(name, net, { writer });
      const opened = await c.next('open');
      expect(opened).to.deep.include({ offload: true, bigTso: kernelTakes, tso: { maxPacket: kernelTakes ? 131_072 : 65_535 } });
      c.command({ cmd: 'start' });
      await c.next('started');
      const big4 = v4(1_000_000, BIG);
      const big6 = v6(2_000_000, BIG);
      expect([big4.length, big6.length, big4[2], big4[3], big6[6], big6[42]]).to.deep.equal([100_040, 100_068, 0, 0, 0, 0xc2]);

      if (!kernelTakes) {
        // Off: the device says 65535 and drops (and counts) anything bigger without writing it.
        expect(await sendTso(c, big4)).to.include({ txPackets: 0, txDropped: 1, txBigSuperPackets: 0 });
        expect(await sendTso(c, big6)).to.include({ txPackets: 0, txDropped: 2, txBigSuperPackets: 0 });
        expect(await sendTso(c, v4(3_000_000, 500))).to.include({ txPackets: 1, txDropped: 2 });
        await expectRst(c, 4, 3_000_500, 'the first reply is for the small packet: nothing of the big ones reached the kernel');
        c.command({ cmd: 'close' });
        await c.next('closed');
        return;
      }

      // IPv4, Total Length 0: one RST acknowledging all 100,000 octets.
      const after4 = await sendTso(c, big4);
      await expectRst(c, 4, 1_000_000 + BIG, 'IPv4: the kernel took the 100,040-octet super-packet whole');
      // IPv6 jumbogram: the same.
      await sendTso(c, big6);
      await expectRst(c, 6, 2_000_000 + BIG, 'IPv6: the kernel took the 100,068-octet jumbogram whole');
      // The largest the device takes: 131,072 octets.
      await sendTso(c, v4(7_000_000, 131_072 - 40));
      await expectRst(c, 4, 7_000_000 + 131_032, 'IPv4: the kernel took a 131,072-octet super-packet whole');
      // Malformed big ones (a wrapped Total Length; an IPv6 packet over 65575 octets without the
      // Hop-by-Hop header) are dropped and counted, never written: the next reply is for the
      // small packet after them.
      await sendTso(c, v4(4_000_000, BIG, (BIG + 40) & 0xffff));
      await sendTso(c, tcp6Partial(`fd00:${net}::2`, `fd00:${net}::1`, segment(5_000_000, BIG), false));
      const last = await sendTso(c, v4(6_000_000, 500));
      await expectRst(c, 4, 6_000_500, 'no reply to the malformed ones');
      if (writer === 'inline') {
        expect(after4, 'counted at once when written inline').to.include({ txPackets: 1, txBigSuperPackets: 1, txSuperSegments: 1, txSegments: Math.ceil(BIG / SEGMENT) });
      }
      // The writer thread publishes its counters after each write: the RSTs above came after those writes.
      c.command({ cmd: 'stats' });
      const stats = (await c.next('stats')).stats as Record<string, number>;
      expect(stats).to.include({
        txPackets: 4, txDropped: 2, txBigSuperPackets: 3, txSuperSegments: 3, txSegments: 2 * Math.ceil(BIG / SEGMENT) + Math.ceil(131_032 / SEGMENT),
        txChecksumsOffloaded: 4, txBytes: 100_040 + 100_068 + 131_072 + 540,
      });
      expect(last.txDropped).to.equal(2);
      if (writer === 'worker') expect(stats.txQueued, 'through the ring').to.equal(4);
      c.command({ cmd: 'close' });
      await c.next('closed');
    });
  }

  it('bigTso: false on any kernel: maxPacket 65535, a bigger packet is dropped and counted', async () => {
    const { c, v4, v6 } = open('tbig2', 123, { bigTso: false });
    expect(await c.next('open')).to.deep.include({ offload: true, bigTso: false, tso: { maxPacket: 65_535 } });
    c.command({ cmd: 'start' });
    await c.next('started');
    expect(await sendTso(c, v4(1_000_000, BIG))).to.include({ txPackets: 0, txDropped: 1, txBigSuperPackets: 0 });
    expect(await sendTso(c, v6(2_000_000, BIG))).to.include({ txPackets: 0, txDropped: 2, txBigSuperPackets: 0 });
    // The largest plain packet still goes: 65535 octets, 65495 of payload.
    expect(await sendTso(c, v4(3_000_000, 65_535 - 40))).to.include({ txPackets: 1, txDropped: 2, txBigSuperPackets: 0, txSuperSegments: 1 });
    await expectRst(c, 4, 3_000_000 + 65_495, 'the first reply is for the 65535-octet packet: the big ones never reached the kernel');
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('send() stays at 65535 octets with bigTso', async () => {
    const { c, v4 } = open('tbig3', 124, {});
    await c.next('open');
    c.command({ cmd: 'send', hex: hex(v4(1, BIG)) });
    expect((await c.next('sent')).stats).to.include({ txPackets: 0, txDropped: 1 });
    c.command({ cmd: 'close' });
    await c.next('closed');
  });
});
