/**
 * IPv4 egress: the one place where an IPv4 header is filled in for everything the stack sends
 * (TCP segments, GSO super-packets, ICMP replies) — source, TTL 64, DF, the next identification,
 * the ECN codepoint, the header checksum — and where a packet is routed: to the link, or, when
 * it is addressed to ourselves, back to our own ingress (loopback).
 *
 * The drain and the receive pipeline see it through {@link TcpEgress}; the GSO train through
 * {@link TrainEgress}. An IPv6 egress (issue 13) is another implementation of the same two,
 * chosen per connection, beside this file rather than inside it.
 */
import { debuglog } from 'node:util';
import { IpProtocol, emitIcmpv4, emitIpv4, internetChecksum, pseudoHeaderSum, type Icmpv4Repr, type Ipv4Repr } from '@tcp-tun/ip';
import { emitTcp, type Instant, type IpAddress, type TcpRepr, type Transmit } from '@tcp-tun/tcp';
import { debugPacketLine } from './debug-line.js';
import { ecnCodepoint, type TrainEgress } from './gso-train.js';
import type { Link } from './link.js';
import { Loopback } from './loopback.js';
import type { StackCounters } from './stack-stats.js';

const debug = debuglog('tcp-tun');

/** Size of the reusable output buffer: the largest IPv4 datagram. */
export const OUTPUT_BUFFER_SIZE = 65535;
const IPV4_HEADER_LENGTH = 20;

/**
 * How the drain and the receive pipeline send a TCP segment: one implementation per IP family,
 * and the stack's router over both (stack-egress.ts), which picks by `typeof remote`.
 */
export interface TcpEgress {
  /** Emits `t` to `remote` behind an IP header and sends it (link or loopback) now. */
  sendTcp(remote: IpAddress, t: Transmit): void;
}

type MutableIpv4Repr = { -readonly [K in keyof Ipv4Repr]: Ipv4Repr[K] };

/** The stack's IPv4 output: header filling, link writes, loopback. */
export class Ipv4Egress implements TcpEgress, TrainEgress {
  /** IPv4 header octets in front of the TCP header (we send no options). */
  readonly ipHeaderLength = IPV4_HEADER_LENGTH;
  /** A super-packet over 64 KiB needs no more header over IPv4: its Total Length is 0. */
  readonly jumboHeadroom = 0;
  readonly #address: number;
  readonly #link: Link;
  readonly #counters: StackCounters;
  readonly #clock: () => Instant;
  readonly #out = new Uint8Array(OUTPUT_BUFFER_SIZE);
  readonly #repr: MutableIpv4Repr;
  #ident = 0;
  readonly #loopback: Loopback;

  constructor(address: number, link: Link, counters: StackCounters, clock: () => Instant, ingress: (packets: readonly Uint8Array[]) => void) {
    this.#address = address;
    this.#link = link;
    this.#counters = counters;
    this.#clock = clock;
    this.#loopback = new Loopback(counters, ingress);
    this.#repr = {
      src: address,
      dst: 0,
      protocol: IpProtocol.Tcp,
      ttl: 64,
      payloadLength: 0,
      ident: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      dscp: 0,
      ecn: 0,
    };
  }

  sendTcp(remote: IpAddress, t: Transmit): void {
    if (typeof remote !== 'number') throw new TypeError('Ipv4Egress.sendTcp: an IPv6 address');
    const out = this.#out;
    const tcpLength = emitTcp(t.repr, t.payload, this.#address, remote, out.subarray(IPV4_HEADER_LENGTH));
    // RFC 3168 §5: the engine marks new data of an ECN-capable connection ECT(0) (binary 10).
    this.#header(out, remote, IpProtocol.Tcp, ecnCodepoint(t), tcpLength, 1);
    this.#send(out.subarray(0, IPV4_HEADER_LENGTH + tcpLength), remote);
  }

  /** Emits the ICMP message `repr` to `remote` behind an IPv4 header and sends it now. */
  sendIcmp(remote: number, repr: Icmpv4Repr): void {
    const out = this.#out;
    const length = emitIcmpv4(repr, out.subarray(IPV4_HEADER_LENGTH));
    this.#header(out, remote, IpProtocol.Icmp, 0, length, 1);
    this.#send(out.subarray(0, IPV4_HEADER_LENGTH + length), remote);
  }

  loops(remote: IpAddress): boolean {
    return remote === this.#address;
  }

  emitTcp(repr: TcpRepr, payload: Uint8Array, remote: IpAddress, out: Uint8Array): number {
    return emitTcp(repr, payload, this.#address, remote, out);
  }

  sendTrain(packet: Uint8Array, remote: IpAddress, ecn: number, segments: number, segmentSize: number): void {
    if (typeof remote !== 'number') throw new TypeError('Ipv4Egress.sendTrain: an IPv6 address');
    const tcpLength = packet.length - IPV4_HEADER_LENGTH;
    const big = packet.length > OUTPUT_BUFFER_SIZE;
    // The segmenter numbers the further segments' IPv4 identification upwards from this one.
    this.#header(packet, remote, IpProtocol.Tcp, ecn, big ? 0 : tcpLength, segments);
    if (big) {
      // Longer than the 16-bit Total Length can say: 0 there, as Linux's BIG TCP for IPv4 builds
      // such a GSO packet (its receive path takes the length from the packet itself, and its
      // segmentation writes each segment's own); the header checksum then covers that 0.
      packet[2] = 0;
      packet[3] = 0;
      packet[10] = 0;
      packet[11] = 0;
      const sum = internetChecksum(packet, 0, 0, IPV4_HEADER_LENGTH);
      packet[10] = sum >>> 8;
      packet[11] = sum & 0xff;
    }
    // Over 65,535 octets pseudoHeaderSum counts the whole 32-bit TCP length, as Linux's
    // csum_tcpudp_magic, whose segmentation adjusts each segment's checksum from it.
    const partial = pseudoHeaderSum(this.#address, remote, IpProtocol.Tcp, tcpLength);
    // The checksum field holds only the pseudo-header sum (as Linux's __tcp_v4_send_check);
    // the link (the kernel) finishes it. A lone segment goes this way too. Measured on 50,000
    // 1 KiB round trips over TUN with offload: the JavaScript checksum time of the sends is
    // gone (onesComplementSum 47 → 15 ms self time, the rest is inbound), the writes cost the
    // same within the noise, and the kernel does not verify a checksum it is told to trust
    // (CHECKSUM_PARTIAL on local delivery).
    packet[IPV4_HEADER_LENGTH + 16] = partial >>> 8;
    packet[IPV4_HEADER_LENGTH + 17] = partial & 0xff;
    const c = this.#counters;
    c.packetsOut++;
    c.bytesOut += packet.length;
    if (segments > 1) {
      c.superPacketsOut++;
      c.superPacketSegmentsOut += segments;
    }
    if (debug.enabled) debug('%s', debugPacketLine(this.#clock(), 'out', packet));
    // A train exists only when the link has sendTso (the stack checks before building one).
    this.#link.sendTso!(packet, segmentSize);
  }

  /** Forgets loopback packets not yet delivered (the stack is closing). */
  dropLoopback(): void {
    this.#loopback.drop();
  }

  /**
   * Fills the IPv4 header at `out[0]`: source, TTL 64, DF, no options, the next identification
   * (`segments` of them for a super-packet the link will cut apart), ECN, header checksum.
   */
  #header(out: Uint8Array, dst: number, protocol: number, ecn: number, payloadLength: number, segments: number): void {
    const r = this.#repr;
    r.dst = dst;
    r.protocol = protocol;
    r.ecn = ecn;
    r.payloadLength = payloadLength;
    r.ident = this.#ident;
    this.#ident = (this.#ident + segments) & 0xffff;
    emitIpv4(r, out);
  }

  #send(packet: Uint8Array, dst: number): void {
    if (dst === this.#address) {
      this.#loopback.send(packet);
      return;
    }
    this.#counters.packetsOut++;
    this.#counters.bytesOut += packet.length;
    if (debug.enabled) debug('%s', debugPacketLine(this.#clock(), 'out', packet));
    this.#link.send(packet);
  }
}
