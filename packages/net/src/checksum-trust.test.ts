/**
 * The link's per-packet "checksum trusted" flags (link.ts `LinkReceiver`): a stack skips the TCP
 * checksum of a packet only when the link vouches for it, through the receiver's second
 * argument; everything else (no argument, `createLinkPair`, the fault injector, a fragment) is
 * summed exactly as before, and a bad one is dropped and counted. The packets here carry what a
 * TUN device with `completeChecksums: false` delivers: the kernel's partial checksum (the folded
 * pseudo-header sum), which does not verify.
 */
import { expect } from 'chai';
import { IpProtocol, emitIpv4, emitIpv6, ipv4FromString, ipv6FromString, makeIpv4Repr, makeIpv6Repr } from '@tcp-tun/ip';
import { emitTcp, tcpPseudoHeaderSum, type IpAddress, type TcpRepr } from '@tcp-tun/tcp';
import { fragment6 } from './__tests__/raw6.js';
import { tcpSumsInPlace } from './ipv6-in.js';
import { withFaults } from './fault.js';
import { createLinkPair } from './link-pair.js';
import type { Link, LinkReceiver } from './link.js';
import { capture } from './pcap.js';
import { Stack } from './stack.js';
import { traceLink } from './trace.js';

const US = '10.9.0.2';
const PEER = '10.9.0.1';
const US6 = 'fd00:9::2';
const PEER6 = 'fd00:9::1';

/** A SYN to a port nobody listens on: a valid one is answered with RST (`resetsSent`). */
const SYN: TcpRepr = { srcPort: 40000, dstPort: 81, control: 'syn', seq: 1000, ack: undefined, window: 65535, mss: 1460 };

type Checksum = 'valid' | 'partial' | 'corrupt';

/** The TCP segment of `repr` from `src` to `dst` with a valid, partial or corrupted checksum. */
function segment(repr: TcpRepr, src: IpAddress, dst: IpAddress, checksum: Checksum, payload = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(60 + payload.length);
  const n = emitTcp(repr, payload, src, dst, out);
  const seg = out.slice(0, n);
  if (checksum === 'partial') {
    // What Linux leaves for CHECKSUM_PARTIAL (__tcp_v4_send_check): the pseudo-header sum.
    const partial = tcpPseudoHeaderSum(src, dst, n);
    seg[16] = partial >>> 8;
    seg[17] = partial & 0xff;
  } else if (checksum === 'corrupt') {
    seg[16] = (seg[16] as number) ^ 0x5a;
  }
  return seg;
}

function packet4(checksum: Checksum, repr = SYN): Uint8Array {
  const seg = segment(repr, ipv4FromString(PEER), ipv4FromString(US), checksum);
  const out = new Uint8Array(20 + seg.length);
  emitIpv4(makeIpv4Repr({ src: ipv4FromString(PEER), dst: ipv4FromString(US), protocol: IpProtocol.Tcp, payloadLength: seg.length }), out);
  out.set(seg, 20);
  return out;
}

function packet6(checksum: Checksum, repr = SYN, payload = new Uint8Array(0)): Uint8Array {
  const src = ipv6FromString(PEER6);
  const dst = ipv6FromString(US6);
  const seg = segment(repr, src, dst, checksum, payload);
  const out = new Uint8Array(40 + seg.length);
  emitIpv6(makeIpv6Repr({ src, dst, nextHeader: IpProtocol.Tcp, payloadLength: seg.length }), out);
  out.set(seg, 40);
  return out;
}

/** A link whose test decides, per batch, which packets it vouches for. */
class VouchingLink implements Link {
  readonly mtu = 1500;
  readonly sent: Uint8Array[] = [];
  #receiver: LinkReceiver | undefined;
  start(receiver: LinkReceiver): void {
    this.#receiver = receiver;
  }
  send(packet: Uint8Array): void {
    this.sent.push(packet.slice());
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** Delivers one batch with `flags` (or none) and waits a turn for the stack's answers. */
  deliver(packets: Uint8Array[], flags?: boolean[]): Promise<void> {
    this.#receiver?.(packets, flags);
    return new Promise((resolve) => setImmediate(resolve));
  }
}

function stackOn(link: Link, family: 4 | 6 = 4): Stack {
  return family === 4 ? new Stack({ link, address: US }) : new Stack({ link, address6: US6 });
}

describe('checksums a link vouches for', () => {
  const stacks: Stack[] = [];
  const make = (link: Link, family: 4 | 6 = 4): Stack => {
    const s = stackOn(link, family);
    stacks.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((s) => s.close()));
  });

  for (const family of [4, 6] as const) {
    const packet = family === 4 ? packet4 : packet6;
    describe(`IPv${family}`, () => {
      it('takes a trusted segment with a partial checksum without summing it, and counts it', async () => {
        const link = new VouchingLink();
        const stack = make(link, family);
        await link.deliver([packet('partial')], [true]);
        const s = stack.stats();
        expect(s.resetsSent, 'the SYN was taken and answered').to.equal(1);
        expect(s.checksumsTrusted).to.equal(1);
        expect(s.checksumFailures).to.equal(0);
      });

      it('sums every segment the link does not vouch for: partial and corrupted checksums are dropped and counted', async () => {
        const link = new VouchingLink();
        const stack = make(link, family);
        // No flags at all; flags of another length; an entry that is not exactly `true`.
        await link.deliver([packet('partial'), packet('corrupt')]);
        await link.deliver([packet('partial'), packet('corrupt')], [false]);
        await link.deliver([packet('corrupt')], [1 as unknown as boolean]);
        // The flag is per packet: a trusted packet does not vouch for its neighbour.
        await link.deliver([packet('valid'), packet('corrupt')], [true, false]);
        const s = stack.stats();
        expect(s.drops['tcp-bad-checksum']).to.equal(6);
        expect(s.checksumFailures).to.equal(6);
        expect(s.checksumsTrusted).to.equal(1);
        expect(s.resetsSent).to.equal(1);
      });

      it('still applies the other checks of the TCP parse to a trusted segment (port 0 is dropped)', async () => {
        const link = new VouchingLink();
        const stack = make(link, family);
        await link.deliver([packet('partial', { ...SYN, srcPort: 0 })], [true]);
        expect(stack.stats().drops['tcp-bad-port']).to.equal(1);
        expect(stack.stats().resetsSent).to.equal(0);
      });
    });
  }

  describe('IPv6 segments summed in one pass with their header (ipv6-in.ts tcpSumsInPlace)', () => {
    /** `p` copied to offset `at` of a larger buffer: a view whose octets are not 4-aligned. */
    const shifted = (p: Uint8Array, at: number): Uint8Array => {
      const out = new Uint8Array(p.length + at).subarray(at);
      out.set(p);
      return out;
    };
    const odd = new Uint8Array(13).map((_, i) => i * 37 + 1);

    it('accepts a good segment, odd in length and at any alignment, and rejects any changed octet of addresses or segment', () => {
      for (const at of [0, 1, 2, 3]) {
        const good = shifted(packet6('valid', SYN, odd), at);
        expect(tcpSumsInPlace(good, 40, good.length), `offset ${at}`).to.equal(true);
        // Octet 8 is the source address's first, 39 the destination's last; then TCP's own.
        for (const i of [8, 23, 24, 39, 40, 57, good.length - 1]) {
          const bad = good.slice();
          bad[i] = (bad[i] as number) ^ 0x10;
          expect(tcpSumsInPlace(bad, 40, bad.length), `octet ${i} changed, offset ${at}`).to.equal(false);
        }
      }
      expect(tcpSumsInPlace(packet6('partial'), 40, 60)).to.equal(false);
    });

    it('leaves a segment behind an extension header to the usual sum', () => {
      const p = packet6('valid');
      expect(tcpSumsInPlace(p, 48, p.length), 'not directly after the fixed header').to.equal(false);
    });

    it('takes such a segment from the link without counting it trusted, and drops one whose source address was changed', async () => {
      const link = new VouchingLink();
      const stack = make(link, 6);
      const bad = packet6('valid', SYN, odd);
      bad[20] = (bad[20] as number) ^ 0x01; // the source address, inside the pseudo-header only
      await link.deliver([shifted(packet6('valid', SYN, odd), 2), bad]);
      const s = stack.stats();
      expect(s.resetsSent, 'the good SYN was taken and answered').to.equal(1);
      expect(s.drops['tcp-bad-checksum']).to.equal(1);
      expect(s.checksumFailures).to.equal(1);
      expect(s.checksumsTrusted).to.equal(undefined);
    });
  });

  it('verifies the IPv4 header checksum of a trusted packet', async () => {
    const link = new VouchingLink();
    const stack = make(link);
    const p = packet4('partial');
    p[10] = (p[10] as number) ^ 0xff;
    await link.deliver([p], [true]);
    expect(stack.stats().drops['ipv4-bad-checksum']).to.equal(1);
    expect(stack.stats().checksumsTrusted).to.equal(undefined);
  });

  it('sums a datagram reassembled from trusted fragments (IPv4)', async () => {
    const link = new VouchingLink();
    const stack = make(link);
    const whole = packet4('partial');
    const body = whole.subarray(20);
    const frag = (off: number, piece: Uint8Array, more: boolean): Uint8Array => {
      const out = new Uint8Array(20 + piece.length);
      emitIpv4(
        makeIpv4Repr({
          src: ipv4FromString(PEER), dst: ipv4FromString(US), protocol: IpProtocol.Tcp, payloadLength: piece.length,
          ident: 77, dontFragment: false, moreFragments: more, fragmentOffset: off,
        }),
        out,
      );
      out.set(piece, 20);
      return out;
    };
    await link.deliver([frag(0, body.subarray(0, 16), true), frag(16, body.subarray(16), false)], [true, true]);
    const s = stack.stats();
    expect(s.drops['tcp-bad-checksum']).to.equal(1);
    expect(s.checksumsTrusted).to.equal(undefined);
  });

  it('sums a packet reassembled from trusted fragments (IPv6)', async () => {
    const link = new VouchingLink();
    const stack = make(link, 6);
    // The first fragment holds the whole TCP header (RFC 7112), the second 16 octets of data.
    const pieces = fragment6(packet6('partial', SYN, new Uint8Array(16).fill(7)), 24, 78);
    expect(pieces).to.have.length(2);
    await link.deliver(pieces, pieces.map(() => true));
    expect(stack.stats().drops['tcp-bad-checksum']).to.equal(1);
    expect(stack.stats().checksumsTrusted).to.equal(undefined);
  });

  it('never trusts over createLinkPair: a partial checksum is a bad one, and stats keep their old keys', async () => {
    const [left, right] = createLinkPair();
    const stack = make(right);
    left.start(() => undefined);
    left.send(packet4('partial'));
    left.send(packet4('corrupt'));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const s = stack.stats();
    expect(s.drops['tcp-bad-checksum']).to.equal(2);
    expect(s).to.not.have.property('checksumsTrusted');
  });

  it('withFaults drops the flags: what crossed it is summed (a corrupted or partial packet is dropped)', async () => {
    const inner = new VouchingLink();
    // Corrupt every packet's last octet on the way in: the trusted flag would be stale now.
    const faulty = withFaults(inner, { seed: 5, inbound: { corrupt: 1 } });
    const stack = make(faulty);
    await inner.deliver([packet4('valid'), packet4('partial')], [true, true]);
    await new Promise((resolve) => setImmediate(resolve));
    const s = stack.stats();
    expect(s.checksumsTrusted).to.equal(undefined);
    expect(s.resetsSent, 'no corrupted SYN was taken').to.equal(0);
    // One flipped bit breaks the header's checksum or the segment's (or a field checked first).
    expect(Object.values(s.drops).reduce((a, b) => a + b, 0)).to.equal(2);
    expect(s.drops['tcp-bad-checksum'] ?? 0).to.be.at.least(1);
  });

  it('capture and traceLink pass the flags on with the packets they leave unchanged', async () => {
    const inner = new VouchingLink();
    const written: Uint8Array[] = [];
    const captured = capture(inner, '/dev/null', { flushIntervalMs: 0 });
    const originalWrite = captured.writer.write.bind(captured.writer);
    captured.writer.write = (p: Uint8Array) => {
      written.push(p.slice());
      originalWrite(p);
    };
    const traced = traceLink(captured, () => undefined);
    const stack = make(traced);
    await inner.deliver([packet4('partial'), packet4('corrupt')], [true, false]);
    const s = stack.stats();
    expect(s.checksumsTrusted).to.equal(1);
    expect(s.resetsSent).to.equal(1);
    expect(s.drops['tcp-bad-checksum']).to.equal(1);
    expect(written.length, 'both received packets recorded (and the RST sent)').to.equal(3);
  });
});
