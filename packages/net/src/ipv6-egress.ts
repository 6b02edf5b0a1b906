/**
 * IPv6 egress: the one place where an IPv6 header is filled in for everything the stack sends
 * over IPv6 (TCP segments, GSO super-packets, ICMPv6 messages) — source (our address, or `::1`
 * to `::1`), hop limit 64, the traffic class with the ECN codepoint the engine asks for (RFC 3168
 * §5; DSCP 0), a flow label per connection (RFC 6437) — and where a packet is routed: to the
 * link, or back to our own ingress when it is for `::1` or our own address (loopback). The IPv6
 * twin of ipv4-egress.ts, behind the same {@link TcpEgress} and {@link TrainEgress}.
 *
 * We never fragment (RFC 8200 §5: a source may, but TCP sizes its segments to the path MTU,
 * RFC 8201), so no Fragment header is ever written.
 */
import { debuglog } from 'node:util';
import {
  IPV6_LOOPBACK,
  Ipv6NextHeader,
  emitIcmpv6,
  emitIpv6,
  ipv6Equals,
  isIpv6Loopback,
  type Icmpv6Repr,
  type Ipv6Address,
  type Ipv6Repr,
} from '@tcp-tun/ip';
import { emitTcp, tcpPseudoHeaderSum, type Instant, type IpAddress, type TcpRepr, type Transmit } from '@tcp-tun/tcp';
import { debugPacketLine } from './debug-line.js';
import { ecnCodepoint, type TrainEgress } from './gso-train.js';
import type { TcpEgress } from './ipv4-egress.js';
import type { KeyedHash } from './keyed-hash.js';
import type { Link } from './link.js';
import { Loopback } from './loopback.js';
import type { Ipv6Counters, StackCounters } from './stack-stats.js';

const debug = debuglog('tcp-tun');

/** The fixed IPv6 header: we send no extension headers. */
export const IPV6_HEADER_LENGTH = 40;
/** The largest IPv6 packet without a jumbogram: 40 + 65535 octets. */
export const OUTPUT_BUFFER_SIZE6 = IPV6_HEADER_LENGTH + 65535;
/** The Hop-by-Hop header holding only the Jumbo Payload option (RFC 2675 §2): 8 octets. */
const JUMBO_HEADER_LENGTH = 8;
/** RFC 2675 §2: the Jumbo Payload option's type (binary 110 00010: skip, do not change en route). */
const JUMBO_OPTION_TYPE = 0xc2;
/** RFC 6437 §2: the flow label is 20 bits. */
const FLOW_LABEL_MASK = 0xfffff;

type MutableIpv6Repr = { -readonly [K in keyof Ipv6Repr]: Ipv6Repr[K] };

/** The stack's IPv6 output: header filling, flow labels, link writes, loopback. */
export class Ipv6Egress implements TcpEgress, TrainEgress {
  /** IPv6 header octets in front of the TCP header (we send no extension headers). */
  readonly ipHeaderLength = IPV6_HEADER_LENGTH;
  /** A super-packet over 65,535 octets of TCP is a jumbogram: a Hop-by-Hop header of 8 octets. */
  readonly jumboHeadroom = JUMBO_HEADER_LENGTH;
  readonly #address: Ipv6Address;
  readonly #link: Link;
  readonly #counters: StackCounters;
  readonly #counters6: Ipv6Counters;
  readonly #clock: () => Instant;
  readonly #flowHash: KeyedHash;
  readonly #out = new Uint8Array(OUTPUT_BUFFER_SIZE6);
  readonly #repr: MutableIpv6Repr;
  /**
   * The last flow label computed and its 4-tuple (a bulk transfer hashes once). The address is
   * copied into this array of our own, not sliced: a new array per connection was the largest
   * allocation of the IPv6 send path (issue 13).
   */
  readonly #flowRemote: Ipv6Address = new Uint8Array(16);
  #flowPorts = -1;
  #flowLabel = 0;
  readonly #loopback: Loopback;

  constructor(
    address: Ipv6Address,
    link: Link,
    counters: StackCounters,
    counters6: Ipv6Counters,
    clock: () => Instant,
    flowHash: KeyedHash,
    ingress: (packets: readonly Uint8Array[]) => void,
  ) {
    this.#address = address;
    this.#link = link;
    this.#counters = counters;
    this.#counters6 = counters6;
    this.#clock = clock;
    this.#flowHash = flowHash;
    this.#loopback = new Loopback(counters, ingress);
    this.#repr = { src: address, dst: address, nextHeader: Ipv6NextHeader.Tcp, hopLimit: 64, payloadLength: 0, dscp: 0, ecn: 0, flowLabel: 0 };
  }

  /** Our source address toward `remote`: `::1` to `::1` (RFC 4291 §2.5.3), else our address. */
  sourceFor(remote: Ipv6Address): Ipv6Address {
    return isIpv6Loopback(remote) ? IPV6_LOOPBACK : this.#address;
  }

  loops(remote: IpAddress): boolean {
    return typeof remote !== 'number' && (isIpv6Loopback(remote) || ipv6Equals(remote, this.#address));
  }

  sendTcp(remote: IpAddress, t: Transmit): void {
    const dst = asIpv6(remote);
    const src = this.sourceFor(dst);
    const out = this.#out;
    const tcpLength = emitTcp(t.repr, t.payload, src, dst, out.subarray(IPV6_HEADER_LENGTH));
    this.#header(out, src, dst, Ipv6NextHeader.Tcp, ecnCodepoint(t), tcpLength, this.#flow(dst, t.repr));
    this.#send(out.subarray(0, IPV6_HEADER_LENGTH + tcpLength), dst);
  }

  /**
   * Emits the ICMPv6 message `repr` from `src` (our address or `::1`: the one the message
   * answers was sent to) to `remote` and sends it now. Flow label 0: not part of a flow.
   */
  sendIcmp(src: Ipv6Address, remote: Ipv6Address, repr: Icmpv6Repr): void {
    const out = this.#out;
    const length = emitIcmpv6(repr, src, remote, out.subarray(IPV6_HEADER_LENGTH));
    this.#header(out, src, remote, Ipv6NextHeader.Icmpv6, 0, length, 0);
    this.#send(out.subarray(0, IPV6_HEADER_LENGTH + length), remote);
  }

  emitTcp(repr: TcpRepr, payload: Uint8Array, remote: IpAddress, out: Uint8Array): number {
    const dst = asIpv6(remote);
    return emitTcp(repr, payload, this.sourceFor(dst), dst, out);
  }

  sendTrain(packet: Uint8Array, remote: IpAddress, ecn: number, segments: number, segmentSize: number): void {
    const dst = asIpv6(remote);
    const src = this.sourceFor(dst);
    // More TCP than the 16-bit Payload Length can say: a jumbogram (the train left 8 octets).
    const jumbo = packet.length > OUTPUT_BUFFER_SIZE6;
    const tcpOffset = jumbo ? IPV6_HEADER_LENGTH + JUMBO_HEADER_LENGTH : IPV6_HEADER_LENGTH;
    const tcpLength = packet.length - tcpOffset;
    const srcPort = ((packet[tcpOffset] as number) << 8) | (packet[tcpOffset + 1] as number);
    const dstPort = ((packet[tcpOffset + 2] as number) << 8) | (packet[tcpOffset + 3] as number);
    const flow = this.#flowFor(dst, srcPort, dstPort);
    if (jumbo) {
      // RFC 2675 §2: Payload Length 0, Next Header 0 (Hop-by-Hop), whose one option, Jumbo
      // Payload, gives the length after the fixed header (the Hop-by-Hop header included). It is
      // what Linux's BIG TCP for IPv6 writes into such a GSO packet, and what its receive path
      // and its segmentation (which drops the option from each segment) take.
      this.#header(packet, src, dst, Ipv6NextHeader.HopByHop, ecn, 0, flow);
      const length = packet.length - IPV6_HEADER_LENGTH;
      packet[40] = Ipv6NextHeader.Tcp;
      packet[41] = 0; // Hdr Ext Len: 8 octets in all
      packet[42] = JUMBO_OPTION_TYPE;
      packet[43] = 4;
      packet[44] = length >>> 24;
      packet[45] = (length >>> 16) & 0xff;
      packet[46] = (length >>> 8) & 0xff;
      packet[47] = length & 0xff;
    } else {
      this.#header(packet, src, dst, Ipv6NextHeader.Tcp, ecn, tcpLength, flow);
    }
    // As over IPv4 (ipv4-egress.ts): the checksum field holds only the pseudo-header sum
    // (RFC 8200 §8.1, with the 32-bit upper-layer length, RFC 2675 §4 for a jumbogram), as
    // Linux's __tcp_v6_send_check leaves it; the link finishes it.
    const partial = tcpPseudoHeaderSum(src, dst, tcpLength);
    packet[tcpOffset + 16] = partial >>> 8;
    packet[tcpOffset + 17] = partial & 0xff;
    const c = this.#counters;
    c.packetsOut++;
    c.bytesOut += packet.length;
    this.#counters6.packetsOut++;
    this.#counters6.bytesOut += packet.length;
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

  /** The flow label of the segment `repr` to `remote`. */
  #flow(remote: Ipv6Address, repr: TcpRepr): number {
    return this.#flowFor(remote, repr.srcPort, repr.dstPort);
  }

  /**
   * RFC 6437 §3: a flow label from a keyed hash of the 4-tuple (the source address is implied by
   * the remote one), so it is the same for every packet of a connection, differs between
   * connections and cannot be guessed off-path. Never 0 (§2: 0 means "no flow").
   */
  #flowFor(remote: Ipv6Address, srcPort: number, dstPort: number): number {
    const ports = ((srcPort << 16) | dstPort) >>> 0;
    // By value: `remote` may be a reused parse target (a RST answered from the receive path).
    const last = this.#flowRemote;
    if (ports === this.#flowPorts && ipv6Equals(remote, last)) return this.#flowLabel;
    const label = this.#flowHash.hashAddresses(this.sourceFor(remote), remote, ports, 0, 1) & FLOW_LABEL_MASK;
    last.set(remote);
    this.#flowPorts = ports;
    this.#flowLabel = label === 0 ? 1 : label;
    return this.#flowLabel;
  }

  /** Fills the fixed IPv6 header at `out[0]`: addresses, hop limit 64, traffic class, flow label. */
  #header(out: Uint8Array, src: Ipv6Address, dst: Ipv6Address, nextHeader: number, ecn: number, payloadLength: number, flowLabel: number): void {
    const r = this.#repr;
    r.src = src;
    r.dst = dst;
    r.nextHeader = nextHeader;
    r.ecn = ecn;
    r.payloadLength = payloadLength;
    r.flowLabel = flowLabel;
    emitIpv6(r, out);
  }

  #send(packet: Uint8Array, dst: Ipv6Address): void {
    if (this.loops(dst)) {
      this.#loopback.send(packet);
      return;
    }
    const c = this.#counters;
    c.packetsOut++;
    c.bytesOut += packet.length;
    this.#counters6.packetsOut++;
    this.#counters6.bytesOut += packet.length;
    if (debug.enabled) debug('%s', debugPacketLine(this.#clock(), 'out', packet));
    this.#link.send(packet);
  }

}

function asIpv6(remote: IpAddress): Ipv6Address {
  if (typeof remote === 'number') throw new TypeError('Ipv6Egress: an IPv4 address');
  return remote;
}
