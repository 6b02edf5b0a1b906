/**
 * The GSO train as an object (gso-train.ts): which segments join, when it ends by itself, and
 * what it hands to its egress; and the IPv4 egress's header for a train (ident advanced by the
 * segments it holds, partial checksum). The end-to-end behaviour over a segmenting link is in
 * tso.test.ts.
 */
import { expect } from 'chai';
import { internetChecksum, ipv6FromString, pseudoHeaderSum } from '@tcp-tun/ip';
import type { IpAddress, TcpRepr, Transmit } from '@tcp-tun/tcp';
import { expectedPartial, segmentSuperPacket, superPacketHeaderError, tcpOffset } from './__tests__/gso.js';
import { GsoTrain, MAX_TRAIN_PACKET, trainMaxPacket, type TrainEgress } from './gso-train.js';
import { Ipv4Egress } from './ipv4-egress.js';
import { Ipv6Egress } from './ipv6-egress.js';
import { KeyedHash } from './keyed-hash.js';
import type { Link } from './link.js';
import { newIpv6Counters, newStackCounters } from './stack-stats.js';

const US = 0x0a000001;
const PEER = 0x0a000002;
const MSS = 1000;

interface Sent {
  readonly length: number;
  readonly remote: IpAddress;
  readonly ecn: number;
  readonly segments: number;
  readonly segmentSize: number;
  readonly flags: number;
}

/** An egress that records each finished train (20-octet "IP header", a 20-octet TCP header). */
function recordingEgress(): { egress: TrainEgress; sent: Sent[] } {
  const sent: Sent[] = [];
  const egress: TrainEgress = {
    ipHeaderLength: 20,
    jumboHeadroom: 0,
    loops: (remote) => remote === US,
    emitTcp: (_repr, payload, _remote, out) => {
      out.fill(0, 0, 20);
      out.set(payload, 20);
      return 20 + payload.length;
    },
    sendTrain: (packet, remote, ecn, segments, segmentSize) => {
      sent.push({ length: packet.length, remote, ecn, segments, segmentSize, flags: packet[20 + 13] as number });
    },
  };
  return { egress, sent };
}

const base: TcpRepr = { srcPort: 49152, dstPort: 80, control: 'none', seq: 1000, ack: 5000, window: 512, timestamp: { tsVal: 7, tsEcr: 9 } };

function seg(seq: number, length = MSS, over: Partial<TcpRepr> = {}, ecn: Transmit['ecn'] = undefined): Transmit {
  return { repr: { ...base, seq, ...over }, payload: new Uint8Array(length).fill(seq & 0xff), ecn };
}

describe('GsoTrain', () => {
  it('gathers consecutive full segments into one super-packet, sent on end()', () => {
    const { egress, sent } = recordingEgress();
    const train = new GsoTrain(65535, egress);
    for (let i = 0; i < 5; i++) expect(train.offer(PEER, seg(1000 + i * MSS))).to.equal(true);
    expect(sent).to.have.length(0);
    expect(train.active).to.equal(true);
    train.end();
    expect(sent).to.deep.equal([{ length: 40 + 5 * MSS, remote: PEER, ecn: 0, segments: 5, segmentSize: MSS, flags: 0 }]);
    expect(train.active).to.equal(false);
    train.end();
    expect(sent, 'end() without a train sends nothing').to.have.length(1);
  });

  it('ends by itself on a short segment, PSH or FIN (which go on the super-packet)', () => {
    const { egress, sent } = recordingEgress();
    const train = new GsoTrain(65535, egress);
    train.offer(PEER, seg(1000));
    train.offer(PEER, seg(2000, 300, { control: 'psh' }));
    expect(sent).to.have.length(1);
    expect(sent[0]).to.include({ segments: 2, length: 40 + MSS + 300, flags: 0x08 });
    train.offer(PEER, seg(2300));
    train.offer(PEER, seg(3300, MSS, { control: 'fin' }));
    expect(sent[1]).to.include({ segments: 2, flags: 0x09 });
  });

  it('does not let a segment with another ACK, window, timestamp, SACK blocks or ECN join', () => {
    const changes: Array<[string, Transmit]> = [
      ['ack', seg(2000, MSS, { ack: 5001 })],
      ['window', seg(2000, MSS, { window: 511 })],
      ['timestamp', seg(2000, MSS, { timestamp: { tsVal: 8, tsEcr: 9 } })],
      ['sack', seg(2000, MSS, { sackBlocks: [{ left: 1, right: 2 }] })],
      ['ecn', seg(2000, MSS, {}, 'ect0')],
      ['a gap in sequence', seg(2001)],
    ];
    for (const [what, t] of changes) {
      const { egress, sent } = recordingEgress();
      const train = new GsoTrain(65535, egress);
      train.offer(PEER, seg(1000));
      expect(train.offer(PEER, t), what).to.equal(true); // starts a train of its own
      expect(sent.map((s) => s.segments), what).to.deep.equal([1]);
    }
  });

  it('refuses what can never ride (no payload, SYN/RST, CWR, urgent, to ourselves), sending the train first', () => {
    const refused: Array<[string, Transmit, number]> = [
      ['pure ACK', seg(2000, 0), PEER],
      ['SYN', seg(2000, MSS, { control: 'syn' }), PEER],
      ['CWR', seg(2000, MSS, { cwr: true }), PEER],
      ['urgent', seg(2000, MSS, { urgent: 1 }), PEER],
      ['loopback', seg(2000), US],
    ];
    for (const [what, t, remote] of refused) {
      const { egress, sent } = recordingEgress();
      const train = new GsoTrain(65535, egress);
      train.offer(PEER, seg(1000));
      expect(train.offer(remote, t), what).to.equal(false);
      expect(sent, `${what}: the train left first`).to.have.length(1);
      expect(train.active, what).to.equal(false);
    }
  });

  it('ends when another full segment would not fit in maxPacket', () => {
    const { egress, sent } = recordingEgress();
    const train = new GsoTrain(40 + 3 * MSS + 10, egress);
    for (let i = 0; i < 3; i++) train.offer(PEER, seg(1000 + i * MSS));
    expect(sent).to.deep.equal([{ length: 40 + 3 * MSS, remote: PEER, ecn: 0, segments: 3, segmentSize: MSS, flags: 0 }]);
  });

  it('is off without GSO send, or when not two full segments fit', () => {
    expect(trainMaxPacket({ mtu: 1500 }, 65535)).to.equal(0);
    expect(trainMaxPacket({ mtu: 1500, tso: { maxPacket: 65535 }, sendTso: () => {} }, 65535)).to.equal(65535);
    expect(trainMaxPacket({ mtu: 1500, tso: { maxPacket: 2999 }, sendTso: () => {} }, 65535)).to.equal(0);
    expect(trainMaxPacket({ mtu: 1500, tso: { maxPacket: 100_000 }, sendTso: () => {} }, 65535)).to.equal(65535);
    const { egress } = recordingEgress();
    expect(new GsoTrain(0, egress).offer(PEER, seg(1000))).to.equal(false);
  });
});

describe('Ipv4Egress', () => {
  function egressOver(): { egress: Ipv4Egress; sent: Array<{ packet: Uint8Array; segmentSize?: number }> } {
    const sent: Array<{ packet: Uint8Array; segmentSize?: number }> = [];
    const link: Link = {
      mtu: 1500,
      tso: { maxPacket: 65535 },
      start: () => {},
      send: (packet) => sent.push({ packet: packet.slice() }),
      sendTso: (packet, segmentSize) => sent.push({ packet: packet.slice(), segmentSize }),
      close: () => Promise.resolve(),
    };
    return { egress: new Ipv4Egress(US, link, newStackCounters(), () => 0, () => {}), sent };
  }
  const u16 = (b: Uint8Array, i: number): number => ((b[i] as number) << 8) | (b[i + 1] as number);

  it('fills every IPv4 header alike (TTL 64, DF, ECN), and a train takes one ident per segment', () => {
    const { egress, sent } = egressOver();
    const train = new GsoTrain(65535, egress);
    egress.sendTcp(PEER, seg(1, 0));
    for (let i = 0; i < 4; i++) train.offer(PEER, seg(1000 + i * MSS, MSS, {}, 'ect0'));
    train.end();
    egress.sendTcp(PEER, seg(9000, 0));
    expect(sent.map((s) => u16(s.packet, 4)), 'idents: 0, then 1..4 for the train, then 5').to.deep.equal([0, 1, 5]);
    for (const { packet } of sent) {
      expect(packet[8], 'TTL').to.equal(64);
      expect(u16(packet, 6), 'DF, no fragment offset').to.equal(0x4000);
    }
    expect((sent[1]?.packet[1] as number) & 3, 'ECT(0) on the train').to.equal(2);
    expect((sent[0]?.packet[1] as number) & 3, 'not-ECT on a pure ACK').to.equal(0);
    const t = sent[1]?.packet as Uint8Array;
    expect(sent[1]?.segmentSize).to.equal(MSS);
    expect(u16(t, 20 + 16), 'the partial checksum: the pseudo-header sum').to.equal(pseudoHeaderSum(US, PEER, 6, t.length - 20));
  });
});

describe('super-packets over 64 KiB (BIG TCP)', () => {
  const BIG = MAX_TRAIN_PACKET;
  const SEG = 1448;
  const u16 = (b: Uint8Array, i: number): number => ((b[i] as number) << 8) | (b[i + 1] as number);
  const u32 = (b: Uint8Array, i: number): number => ((u16(b, i) << 16) | u16(b, i + 2)) >>> 0;
  const US6 = ipv6FromString('fd00::1');
  const PEER6 = ipv6FromString('fd00::2');

  function linkFor(sent: Array<{ packet: Uint8Array; segmentSize: number }>): Link {
    return {
      mtu: 1500,
      tso: { maxPacket: BIG },
      start: () => {},
      send: () => {},
      sendTso: (packet, segmentSize) => sent.push({ packet: packet.slice(), segmentSize }),
      close: () => Promise.resolve(),
    };
  }
  function egress4(sent: Array<{ packet: Uint8Array; segmentSize: number }>): Ipv4Egress {
    return new Ipv4Egress(US, linkFor(sent), newStackCounters(), () => 0, () => {});
  }
  function egress6(sent: Array<{ packet: Uint8Array; segmentSize: number }>): Ipv6Egress {
    return new Ipv6Egress(US6, linkFor(sent), newStackCounters(), newIpv6Counters(), () => 0, new KeyedHash(new Uint8Array(8).fill(7)), () => {});
  }
  /** Offers `n` full segments from sequence 1000, with a distinct octet pattern, and ends the train. */
  function feed(train: GsoTrain, remote: IpAddress, n: number): Uint8Array {
    const data = Uint8Array.from({ length: n * SEG }, (_, i) => (i * 7 + (i >>> 11)) & 0xff);
    for (let i = 0; i < n; i++) {
      expect(train.offer(remote, { repr: { ...base, seq: 1000 + i * SEG }, payload: data.subarray(i * SEG, (i + 1) * SEG), ecn: undefined }), `segment ${i}`).to.equal(true);
    }
    train.end();
    return data;
  }
  /** The payload of the segments the kernel's segmentation would make, in order, checked one by one. */
  function cut(packet: Uint8Array, segmentSize: number): Uint8Array {
    const segments = segmentSuperPacket(packet, segmentSize);
    const parts: Uint8Array[] = [];
    let seq = 1000;
    for (const s of segments) {
      const ihl = tcpOffset(s);
      expect(ihl, 'no segment keeps a jumbo header').to.equal((s[0] as number) >>> 4 === 6 ? 40 : 20);
      expect(u32(s, ihl + 4), 'sequence numbers follow on').to.equal(seq);
      const thl = ((s[ihl + 12] as number) >> 4) * 4;
      parts.push(s.subarray(ihl + thl));
      seq += s.length - ihl - thl;
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  it('an IPv4 train of 90 segments is one packet with Total Length 0, a valid header and the 32-bit partial sum', () => {
    const sent: Array<{ packet: Uint8Array; segmentSize: number }> = [];
    const train = new GsoTrain(BIG, egress4(sent));
    const data = feed(train, PEER, 90);
    expect(sent).to.have.length(1);
    const { packet, segmentSize } = sent[0]!;
    expect(packet.length).to.be.greaterThan(0xffff);
    expect(u16(packet, 2), 'Total Length').to.equal(0);
    expect(internetChecksum(packet, 0, 0, 20), 'the header checksum covers the 0').to.equal(0);
    expect(superPacketHeaderError(packet)).to.equal(undefined);
    expect(u16(packet, 20 + 16)).to.equal(expectedPartial(packet));
    expect(u16(packet, 20 + 16), 'the high half of the TCP length counts').to.not.equal(pseudoHeaderSum(US, PEER, 6, (packet.length - 20) & 0xffff));
    expect(segmentSize).to.equal(SEG);
    expect(cut(packet, segmentSize)).to.deep.equal(data);
  });

  it('an IPv6 train over 65,535 octets of TCP is a jumbogram (RFC 2675); its segments go without the option', () => {
    const sent: Array<{ packet: Uint8Array; segmentSize: number }> = [];
    const train = new GsoTrain(BIG, egress6(sent));
    const data = feed(train, PEER6, 90);
    expect(sent).to.have.length(1);
    const { packet, segmentSize } = sent[0]!;
    expect(packet[6], 'Next Header: Hop-by-Hop').to.equal(0);
    expect(u16(packet, 4), 'Payload Length').to.equal(0);
    expect(Array.from(packet.subarray(40, 44)), 'next header TCP, 8 octets, Jumbo Payload option of 4').to.deep.equal([6, 0, 0xc2, 4]);
    expect(u32(packet, 44), 'Jumbo Payload Length: all after the fixed header').to.equal(packet.length - 40);
    expect(superPacketHeaderError(packet)).to.equal(undefined);
    expect(u16(packet, 48 + 16)).to.equal(expectedPartial(packet));
    expect(cut(packet, segmentSize)).to.deep.equal(data);
  });

  it('an IPv6 train of up to 65,535 octets of TCP stays a plain packet, however large the link allows', () => {
    const sent: Array<{ packet: Uint8Array; segmentSize: number }> = [];
    const train = new GsoTrain(BIG, egress6(sent));
    const data = feed(train, PEER6, 45);
    const { packet, segmentSize } = sent[0]!;
    expect(packet[6], 'Next Header: TCP').to.equal(6);
    expect(u16(packet, 4)).to.equal(packet.length - 40);
    expect(superPacketHeaderError(packet)).to.equal(undefined);
    expect(cut(packet, segmentSize)).to.deep.equal(data);
  });

  it('keeps a jumbogram within maxPacket, and a 64 KiB link never gets one', () => {
    for (const [maxPacket, family] of [[BIG, 6], [BIG, 4], [65535, 6], [65535, 4]] as const) {
      const sent: Array<{ packet: Uint8Array; segmentSize: number }> = [];
      const train = new GsoTrain(maxPacket, family === 6 ? egress6(sent) : egress4(sent));
      const remote = family === 6 ? PEER6 : PEER;
      for (let i = 0; i < 200; i++) train.offer(remote, { repr: { ...base, seq: 1000 + i * SEG }, payload: new Uint8Array(SEG), ecn: undefined });
      train.end();
      const what = `IPv${family}, maxPacket ${maxPacket}`;
      expect(Math.max(...sent.map((x) => x.packet.length)), what).to.be.at.most(maxPacket);
      expect(sent.every((x) => superPacketHeaderError(x.packet) === undefined), what).to.equal(true);
      expect(sent.some((x) => x.packet.length > 0xffff), what).to.equal(maxPacket > 0xffff);
      expect(sent.reduce((n, x) => n + x.packet.length - tcpOffset(x.packet) - 32, 0), `${what}: every octet went`).to.equal(200 * SEG);
    }
  });

  it('caps a train at 128 KiB whatever the link offers', () => {
    expect(trainMaxPacket({ mtu: 1500, tso: { maxPacket: 1 << 20 }, sendTso: () => {} }, MAX_TRAIN_PACKET)).to.equal(BIG);
  });
});
