import { expect } from 'chai';
import { MAX_BIG_TSO_PACKET } from './vnet.js';
import {
  completeChecksum, isIpv6TcpJumbogram, LITTLE_ENDIAN, MAX_PLAIN_PACKET, readVnetHeader, sumHostOrder, VNET_HEADER_SIZE, VnetFlags, VnetGso,
  writeTcpOffloadHeader, writeVnetHeader, type VnetHeader,
} from './vnet.js';
import { checksum, ipv4, tcp, tcp6Partial, TcpFlags, tcpPartial, udp, type TcpSpec } from './__tests__/packets.js';

/** xorshift32: a seeded PRNG so failures replay (SEED=n). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Network-order ones-complement sum, folded, byte by byte: the obvious reference. */
function referenceSum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if ((end - start) & 1) sum += bytes[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

const swap = (x: number): number => ((x & 0xff) << 8) | (x >>> 8);

describe('virtio-net header', () => {
  it('reads the fields of a header the kernel wrote for a TSO super-segment', () => {
    // Captured from this kernel: NEEDS_CSUM, TCPV4, hdr_len 52, gso_size 1460, csum 20+16.
    const bytes = Uint8Array.from([0x01, 0x01, 0x34, 0x00, 0xb4, 0x05, 0x14, 0x00, 0x10, 0x00]);
    expect(readVnetHeader(bytes)).to.deep.equal({
      flags: VnetFlags.NEEDS_CSUM, gsoType: VnetGso.TCPV4, hdrLen: 52, gsoSize: 1460, csumStart: 20, csumOffset: 16,
    });
  });

  it('writes every byte and round-trips, at an offset', () => {
    const bytes = new Uint8Array(14).fill(0xa5);
    const header = { flags: 1, gsoType: 1, hdrLen: 40, gsoSize: 1448, csumStart: 20, csumOffset: 16 };
    writeVnetHeader(bytes, header, 2);
    expect(Buffer.from(bytes).toString('hex')).to.equal('a5a5' + '01012800a8051400' + '1000' + 'a5a5');
    expect(readVnetHeader(bytes, 2)).to.deep.equal(header);
    expect(VNET_HEADER_SIZE).to.equal(10);
    expect(LITTLE_ENDIAN, 'tests assume x86_64/aarch64').to.equal(true);
  });
});

describe('writeTcpOffloadHeader (GSO send)', () => {
  /** A TCP packet with timestamps (32-octet header) and `n` payload octets. */
  const packet = (n: number, flags: number = TcpFlags.ACK | TcpFlags.PSH): Uint8Array =>
    tcp('10.0.0.2', '10.0.0.1', {
      srcPort: 19, dstPort: 40000, seq: 1, ack: 2, flags, window: 512,
      options: Uint8Array.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]), payload: new Uint8Array(n).fill(0x61),
    });

  it('asks for TCPV4 segmentation and a partial checksum when the payload exceeds segmentSize', () => {
    const out = new Uint8Array(14).fill(0xa5);
    expect(writeTcpOffloadHeader(out, 2, packet(3 * 1448 + 1), 1448)).to.equal(4);
    // flags NEEDS_CSUM, TCPV4, hdr_len 52, gso_size 1448, csum_start 20, csum_offset 16 (little-endian host).
    expect(Buffer.from(out).toString('hex')).to.equal('a5a5' + '0101' + '3400' + 'a805' + '1400' + '1000' + 'a5a5');
    expect(readVnetHeader(out, 2)).to.deep.equal({
      flags: VnetFlags.NEEDS_CSUM, gsoType: VnetGso.TCPV4, hdrLen: 52, gsoSize: 1448, csumStart: 20, csumOffset: 16,
    });
    expect(writeTcpOffloadHeader(out, 2, packet(44 * 1448), 1448), 'an exact multiple').to.equal(44);
  });

  it('asks only for the checksum when the payload fits one segment (or is empty)', () => {
    const out = new Uint8Array(10).fill(0xa5);
    for (const n of [0, 1, 1448]) {
      expect(writeTcpOffloadHeader(out, 0, packet(n), 1448), `payload ${n}`).to.equal(1);
      expect(readVnetHeader(out)).to.deep.equal({
        flags: VnetFlags.NEEDS_CSUM, gsoType: VnetGso.NONE, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 16,
      });
    }
  });

  it('asks for TCPV6 segmentation of an IPv6/TCP packet (csum_start 40), and refuses an extension header', () => {
    const v4 = packet(3 * 1000 + 1);
    const tcpPart = v4.subarray(20);
    const v6 = new Uint8Array(40 + tcpPart.length);
    v6[0] = 0x60;
    v6[4] = tcpPart.length >>> 8;
    v6[5] = tcpPart.length & 0xff;
    v6[6] = 6;
    v6[7] = 64;
    v6.set(tcpPart, 40);
    const out = new Uint8Array(10);
    expect(writeTcpOffloadHeader(out, 0, v6, 1000)).to.equal(4);
    expect(readVnetHeader(out)).to.deep.equal({
      flags: VnetFlags.NEEDS_CSUM, gsoType: VnetGso.TCPV6, hdrLen: 72, gsoSize: 1000, csumStart: 40, csumOffset: 16,
    });
    const withExt = v6.slice();
    withExt[6] = 0; // hop-by-hop options first: not what we write, not described
    expect(writeTcpOffloadHeader(out, 0, withExt, 1000)).to.equal(0);
  });

  it('sets the ECN flag for a super-packet with CWR, so the kernel keeps CWR on the first segment only', () => {
    const out = new Uint8Array(10);
    expect(writeTcpOffloadHeader(out, 0, packet(3000, TcpFlags.ACK | 0x80), 1000)).to.equal(3);
    expect(readVnetHeader(out).gsoType).to.equal(VnetGso.TCPV4 | VnetGso.ECN);
  });

  it('refuses (returns 0, writes nothing) what it cannot describe', () => {
    const good = packet(3000);
    const cases: [string, Uint8Array, number][] = [
      ['shorter than IPv4 + TCP headers', good.subarray(0, 39), 1000],
      ['not IPv4', Uint8Array.from(good, (b, i) => (i === 0 ? 0x65 : b)), 1000],
      ['IHL below 5', Uint8Array.from(good, (b, i) => (i === 0 ? 0x44 : b)), 1000],
      ['UDP', udp('10.0.0.2', '10.0.0.1', 1, 2, new Uint8Array(3000)), 1000],
      ['a fragment (MF)', Uint8Array.from(good, (b, i) => (i === 6 ? 0x20 : b)), 1000],
      ['a fragment (offset)', Uint8Array.from(good, (b, i) => (i === 7 ? 0x01 : b)), 1000],
      ['TCP data offset below 5', Uint8Array.from(good, (b, i) => (i === 32 ? 0x40 : b)), 1000],
      ['TCP header longer than the packet', ipv4('10.0.0.2', '10.0.0.1', 6, Uint8Array.from({ length: 24 }, (_, i) => (i === 12 ? 0xf0 : 0))), 1000],
      ['segmentSize 0', good, 0],
      ['segmentSize above 65535', good, 65536],
      ['segmentSize not an integer', good, 1000.5],
    ];
    for (const [what, p, size] of cases) {
      const out = new Uint8Array(10).fill(0xa5);
      expect(writeTcpOffloadHeader(out, 0, p, size), what).to.equal(0);
      expect(out.every((b) => b === 0xa5), `${what}: untouched`).to.equal(true);
    }
  });
});

describe('writeTcpOffloadHeader: BIG TCP super-packets over 65535 octets', () => {
  const spec = (n: number, flags: number = TcpFlags.PSH): TcpSpec => ({
    srcPort: 40001, dstPort: 9, seq: 1_000_000, ack: 0, flags, window: 1000,
    options: Uint8Array.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]), payload: new Uint8Array(n).fill(0x62),
  });
  const v4 = (n: number, totalLength?: number): Uint8Array => tcpPartial('10.0.0.2', '10.0.0.1', spec(n), totalLength);
  const v6 = (n: number, jumbo?: boolean): Uint8Array => tcp6Partial('fd00::2', 'fd00::1', spec(n), jumbo);
  const header = (packet: Uint8Array, segmentSize: number): { segments: number; header: VnetHeader } => {
    const out = new Uint8Array(10).fill(0xa5);
    const segments = writeTcpOffloadHeader(out, 0, packet, segmentSize);
    return { segments, header: readVnetHeader(out) };
  };

  it('IPv4 with Total Length 0: TCPV4, csum_start 20, hdr_len 52, every segment counted', () => {
    const p = v4(100_000);
    expect(p.length).to.equal(100_052);
    expect(p[2], 'Total Length 0').to.equal(0);
    expect(p[3]).to.equal(0);
    expect(checksum(p.subarray(0, 20)), 'the header checksum verifies with Total Length 0').to.equal(0);
    expect(header(p, 1448)).to.deep.equal({
      segments: 70, // ceil(100000 / 1448)
      header: { flags: VnetFlags.NEEDS_CSUM, gsoType: VnetGso.TCPV4, hdrLen: 52, gsoSize: 1448, csumStart: 20, csumOffset: 16 },
    });
    expect(header(v4(MAX_BIG_TSO_PACKET - 52), 1000).segments, 'the largest the device takes').to.equal(132);
  });

  it('IPv6 jumbogram (RFC 2675): TCPV6, csum_start 48 behind the Hop-by-Hop header, hdr_len 80', () => {
    const p = v6(100_000);
    expect(p.length).to.equal(100_080);
    // Payload Length 0, Next Header 0; HBH: Next Header 6, Hdr Ext Len 0, option 0xC2, length 4, Jumbo Payload Length.
    expect(Buffer.from(p.subarray(4, 7)).toString('hex')).to.equal('000000');
    expect(Buffer.from(p.subarray(40, 48)).toString('hex')).to.equal('0600c204' + (100_080 - 40).toString(16).padStart(8, '0'));
    expect(isIpv6TcpJumbogram(p)).to.equal(true);
    expect(header(p, 1440)).to.deep.equal({
      segments: 70,
      header: { flags: VnetFlags.NEEDS_CSUM, gsoType: VnetGso.TCPV6, hdrLen: 80, gsoSize: 1440, csumStart: 48, csumOffset: 16 },
    });
    // CWR still gets the ECN flag, read at the TCP header behind the Hop-by-Hop header.
    const cwr = tcp6Partial('fd00::2', 'fd00::1', spec(100_000, TcpFlags.ACK | 0x80));
    expect(header(cwr, 1440).header.gsoType).to.equal(VnetGso.TCPV6 | VnetGso.ECN);
  });

  it('IPv6 of 65536..65575 octets may be plain, with its exact Payload Length', () => {
    const p = v6(65_535 - 32, false); // Payload Length 65535: 65575 octets
    expect(p.length).to.equal(65_575);
    expect(header(p, 1440)).to.deep.include({ segments: 46 });
    expect(header(p, 1440).header).to.include({ gsoType: VnetGso.TCPV6, csumStart: 40, hdrLen: 72 });
  });

  it('below 65536 octets nothing changes: Total Length is not read, a jumbogram cannot exist', () => {
    expect(header(v4(3000), 1000).segments).to.equal(3);
    expect(header(v4(3000, 0), 1000).segments, 'a zero Total Length was never checked below 64 KiB').to.equal(3);
    // A Jumbo Payload Length of 65535 or less is forbidden (RFC 2675 §2) and dropped by Linux.
    const small = v6(3000, true);
    expect(isIpv6TcpJumbogram(small)).to.equal(false);
    expect(header(small, 1000).segments).to.equal(0);
  });

  it('refuses (returns 0, writes nothing) big packets in any other shape', () => {
    const good4 = v4(100_000);
    const good6 = v6(100_000);
    const with4 = (i: number, b: number): Uint8Array => Uint8Array.from(good4, (x, j) => (j === i ? b : x));
    const with6 = (i: number, b: number): Uint8Array => Uint8Array.from(good6, (x, j) => (j === i ? b : x));
    const cases: [string, Uint8Array, number][] = [
      ['IPv4 with Total Length (100052 mod 2^16)', v4(100_000, 100_052 & 0xffff), 1448],
      ['IPv4 with Total Length 65535', v4(100_000, 0xffff), 1448],
      ['IPv4 big but one segment (segmentSize ≥ payload: Linux reads tot_len 0 only for GSO)', v4(65_500), 65_535],
      ['IPv4 fragment', with4(6, 0x20), 1448],
      ['IPv6 big without the Hop-by-Hop header', v6(100_000 - 8, false), 1440],
      ['IPv6 plain with a wrong Payload Length', Uint8Array.from(v6(65_535 - 32, false), (x, j) => (j === 5 ? x ^ 1 : x)), 1440],
      ['IPv6 jumbogram with Payload Length not 0', with6(5, 1), 1440],
      ['IPv6 jumbogram whose HBH Next Header is not TCP', with6(40, 17), 1440],
      ['IPv6 jumbogram with Hdr Ext Len 1', with6(41, 1), 1440],
      ['IPv6 Hop-by-Hop with another option (PadN)', with6(42, 1), 1440],
      ['IPv6 Jumbo option with Opt Data Len 2', with6(43, 2), 1440],
      ['IPv6 Jumbo Payload Length too long', with6(47, good6[47]! + 1), 1440],
      ['IPv6 Jumbo Payload Length too short', with6(47, good6[47]! - 1), 1440],
      ['IPv6 jumbogram cut short', good6.subarray(0, good6.length - 1), 1440],
      ['IPv6 jumbogram, one segment', v6(65_500), 65_535],
      ['IPv6 jumbogram with TCP data offset below 5', with6(48 + 12, 0x40), 1440],
    ];
    for (const [what, p, size] of cases) {
      const out = new Uint8Array(10).fill(0xa5);
      expect(writeTcpOffloadHeader(out, 0, p, size), what).to.equal(0);
      expect(out.every((b) => b === 0xa5), `${what}: untouched`).to.equal(true);
    }
    expect(MAX_PLAIN_PACKET).to.equal(65535);
    expect(MAX_BIG_TSO_PACKET).to.equal(131_072);
  });
});

describe('ones-complement sum', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 100_000);

  it('matches the byte-wise reference for every alignment and length (seeded)', function () {
    const random = prng(seed);
    const buffer = new Uint8Array(70_000);
    try {
      for (let run = 0; run < 400; run++) {
        for (let i = 0; i < buffer.length; i++) buffer[i] = (random() * 256) | 0;
        const start = 2 * ((random() * 50) | 0);
        const length = run < 40 ? run : (random() * 65_536) | 0;
        const end = Math.min(buffer.length, start + length);
        const expected = referenceSum(buffer, start, end);
        const host = sumHostOrder(buffer, start, end);
        // Summing host-order words gives the byte-swapped sum on a little-endian machine.
        expect(LITTLE_ENDIAN ? swap(host) : host, `start ${start} end ${end}`).to.equal(expected);
      }
    } catch (error) {
      console.error(`ones-complement property failed with SEED=${seed}`);
      throw error;
    }
  });

  it('handles sums that wrap many times and all-ones data', () => {
    const ones = new Uint8Array(65_536).fill(0xff);
    expect(sumHostOrder(ones, 0, ones.length)).to.equal(0xffff);
    expect(sumHostOrder(new Uint8Array(64), 0, 64)).to.equal(0);
    const odd = Uint8Array.from([0x12, 0x34, 0x56]);
    expect(swap(sumHostOrder(odd, 0, 3))).to.equal(0x1234 + 0x5600);
  });
});

describe('completeChecksum', () => {
  /** A UDP-like packet: 20 header bytes, then a checksum field at 20+6 holding `seed`. */
  function partial(payload: Uint8Array, pseudoSum: number, at = 0): Uint8Array {
    const backing = new Uint8Array(at + 28 + payload.length);
    const packet = backing.subarray(at);
    packet.set(payload, 28);
    new DataView(packet.buffer, packet.byteOffset).setUint16(26, pseudoSum);
    return packet;
  }

  it('stores the complement of the sum from csum_start, including the pseudo-header seed', () => {
    for (const at of [0, 1, 2, 3]) {
      const payload = Buffer.from('a partially checksummed payload!');
      const packet = partial(payload, 0x1234, at);
      expect(completeChecksum(packet, 20, 6)).to.deep.equal({ ok: true });
      // Verifying: summing the region plus the seed again gives all ones.
      const region = packet.slice(20);
      const check = new DataView(region.buffer).getUint16(6);
      expect(check, `byte offset ${at}`).to.not.equal(0);
      expect(checksum(region, 0x1234), `byte offset ${at}`).to.equal(0);
    }
  });

  it('writes a zero result as 0xffff, as Linux does', () => {
    // Region sums to 0xffff: seed 0xffff - 0x0102 plus a word 0x0102 (the field holds the seed).
    const packet = partial(Uint8Array.from([0x01, 0x02]), 0xffff - 0x0102);
    completeChecksum(packet, 20, 6);
    expect(new DataView(packet.buffer).getUint16(26)).to.equal(0xffff);
  });

  it('refuses a field outside the packet without throwing', () => {
    const packet = new Uint8Array(30);
    expect(completeChecksum(packet, 20, 9)).to.deep.equal({ ok: false, reason: 'csum-out-of-range' });
    expect(completeChecksum(packet, 0xffff, 0xffff)).to.deep.equal({ ok: false, reason: 'csum-out-of-range' });
    expect(completeChecksum(packet, 20, 8)).to.deep.equal({ ok: true });
  });
});
