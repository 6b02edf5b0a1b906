/**
 * IPv6 in: the IPv6 leg of the stack's receive pipeline, beside ipv4-in.ts. Parse the fixed
 * header (RFC 8200 §3; drops counted by reason), refuse IPv4-mapped addresses (RFC 4291
 * §2.5.5.2: they belong to the API, never to a packet — and the TCP checksum cannot tell them
 * from IPv4) and `::1` from the link (§2.5.3), check the destination (our address, `::1` from
 * loopback; multicast only to count NDP/MLD), walk the extension headers (RFC 8200 §4, bounded),
 * reassemble fragments (§4.5, RFC 5722, RFC 6946; expired on the stack's timer, Time Exceeded
 * for the timed out, {@link Ipv6Ingress.expire}), then hand the upper layer to TCP (the stack's
 * demultiplexer) or ICMPv6 (icmpv6-in.ts). A Parameter Problem is answered as the walk says.
 */
import {
  IPV6_HEADER_LENGTH,
  IPV6_LOOPBACK,
  Icmpv6Type,
  Ipv6HeaderChain,
  Ipv6NextHeader,
  Ipv6ParseTarget,
  ipv6Equals,
  isIpv4Mapped,
  isIpv6Loopback,
  isIpv6Multicast,
  onesComplementSum,
  parseIcmpv6,
  parseIpv6Into,
  walkIpv6Headers,
  type Ipv6Address,
  type Ipv6Reassembler,
} from '@tcp-tun/ip';
import type { Instant } from '@tcp-tun/tcp';
import { countNdpMld, receiveIcmpv6, sendIcmpv6Error, type Icmpv6Context } from './icmpv6-in.js';
import { view } from './ipv4-in.js';
import type { Ipv6Counters, StackCounters } from './stack-stats.js';
import type { StackTimer } from './stack-timer.js';

/** What the IPv6 leg needs from the stack. */
export interface Ipv6IngressContext {
  /** Our IPv6 address. */
  readonly address: Ipv6Address;
  readonly counters: StackCounters;
  readonly counters6: Ipv6Counters;
  readonly reassembler: Ipv6Reassembler;
  /** Told when the reassembler holds fragments (its expiry needs the timer). */
  readonly timer: StackTimer;
  /** ICMPv6 handling's context (icmpv6-in.ts). */
  readonly icmp: Icmpv6Context;
  /** Counts a drop by reason. */
  drop(reason: string): void;
  /**
   * The TCP segment `bytes[start, end)` from `src` to `local` with the IP ECN codepoint `ecn`:
   * demultiplex and feed it; its checksum unverified when `checksumTrusted`. `local` is our own
   * stable object (`address`, or `IPV6_LOOPBACK` for `::1`), never the packet's; `src` is reused
   * after the call: copy what is kept. `checksumVerified`: the leg has already found the
   * checksum good ({@link tcpSumsInPlace}); not summed again, and not counted as trusted.
   */
  receiveTcp(
    now: Instant,
    src: Ipv6Address,
    local: Ipv6Address,
    ecn: number,
    bytes: Uint8Array,
    start: number,
    end: number,
    checksumTrusted: boolean,
    checksumVerified: boolean,
  ): void;
}

/** The IPv6 leg of the receive pipeline, with its reusable parse target and header chain. */
export class Ipv6Ingress {
  readonly #ctx: Ipv6IngressContext;
  /** Where each packet's fixed header is parsed (reused: read only until `receive` returns). */
  readonly #ipIn = new Ipv6ParseTarget();
  /** Where each packet's extension headers are walked (reused likewise). */
  readonly #chain = new Ipv6HeaderChain();

  constructor(ctx: Ipv6IngressContext) {
    this.#ctx = ctx;
  }

  /**
   * One IPv6 packet from the link, or from ourselves (`fromLoopback`). `checksumTrusted`: the
   * link vouched for its TCP checksum (link.ts `LinkReceiver`); a fragment loses the trust (the
   * reassembled packet is summed), as in ipv4-in.ts. IPv6 has no header checksum (RFC 8200 §3).
   */
  receive(now: Instant, packet: Uint8Array, fromLoopback: boolean, checksumTrusted = false): void {
    const ctx = this.#ctx;
    const c6 = ctx.counters6;
    c6.packetsIn++;
    c6.bytesIn += packet.length;
    const ip = this.#ipIn;
    const dropped = parseIpv6Into(packet, ip);
    if (dropped !== undefined) {
      ctx.drop(`ipv6-${dropped}`);
      return;
    }
    const { src, dst } = ip.repr;
    // Nearly every packet is for our own address from a source whose first octet is not 0: then
    // neither address is IPv4-mapped or ::1 (both begin with 0, and our address is neither:
    // stack-options.ts refuses it), so the checks below could only pass. Taking it in one compare
    // saves four address scans per packet, ~50 ns of IPv6's extra cost over IPv4's leg (issue 13).
    let local = ctx.address;
    if (src[0] === 0 || !ipv6Equals(dst, local)) {
      if (isIpv4Mapped(src) || isIpv4Mapped(dst)) {
        ctx.drop('ipv6-mapped-address');
        return;
      }
      if (!fromLoopback && (isIpv6Loopback(src) || isIpv6Loopback(dst))) {
        ctx.drop('ipv6-loopback-address');
        return;
      }
      if (isIpv6Loopback(dst)) local = IPV6_LOOPBACK;
      else if (!ipv6Equals(dst, local)) {
        if (isIpv6Multicast(dst)) this.#multicast(packet);
        else ctx.drop('ipv6-not-for-us');
        return;
      }
    }
    const chain = this.#chain;
    let bytes = packet;
    let trusted = checksumTrusted;
    let kind = walkIpv6Headers(bytes, chain);
    if (kind === 'fragment') {
      trusted = false;
      // Bounded memory (StackOptions.reassembly6); stale packets expire on the stack's timer.
      const whole = ctx.reassembler.add(now, bytes, chain);
      if (whole.kind === 'pending') {
        ctx.timer.reassemblyArmed = true;
        return;
      }
      if (whole.kind === 'drop') {
        ctx.drop(`ipv6-fragment-${whole.reason}`);
        // RFC 7112 §5: a first fragment without the whole header chain: Parameter Problem code 3, pointer 0.
        if (whole.icmpCode >= 0) sendIcmpv6Error(ctx.icmp, now, bytes, Icmpv6Type.ParameterProblem, whole.icmpCode, 0);
        return;
      }
      bytes = whole.packet;
      kind = walkIpv6Headers(bytes, chain);
      if (kind === 'fragment') {
        // A Fragment header inside a reassembled packet: nested fragmentation, never valid.
        ctx.drop('ipv6-fragment-nested');
        return;
      }
    }
    if (kind === 'drop') {
      ctx.drop(`ipv6-${chain.reason}`);
      // RFC 8200 §4: what the walk found wrong is answered with a Parameter Problem, if allowed.
      if (chain.icmpCode >= 0) sendIcmpv6Error(ctx.icmp, now, bytes, Icmpv6Type.ParameterProblem, chain.icmpCode, chain.icmpPointer, chain);
      return;
    }
    switch (chain.protocol) {
      case Ipv6NextHeader.Tcp:
        ctx.receiveTcp(now, src, local, ip.repr.ecn, bytes, chain.offset, chain.end, trusted, !trusted && tcpSumsInPlace(bytes, chain.offset, chain.end));
        break;
      case Ipv6NextHeader.Icmpv6:
        receiveIcmpv6(ctx.icmp, now, src, dst, view(bytes, chain.offset, chain.end));
        break;
      default:
        // UDP (and nothing else reaches here): no UDP sockets; dropped silently, as a host
        // without the port open would answer with an error we do not owe.
        ctx.drop('ipv6-unsupported-protocol');
    }
  }

  /**
   * Fragments that timed out (the stack's timer ran the reassembler's expiry): RFC 8200 §4.5,
   * each whose first fragment had arrived is answered with Time Exceeded code 1, rate-limited.
   */
  sendTimeExceeded(now: Instant): void {
    const ctx = this.#ctx;
    for (let quote = ctx.reassembler.pollTimeExceeded(); quote !== undefined; quote = ctx.reassembler.pollTimeExceeded()) {
      sendIcmpv6Error(ctx.icmp, now, quote, Icmpv6Type.TimeExceeded, 1, 0);
    }
  }

  /**
   * A packet to a multicast group: we join none, but the kernel's neighbour discovery and MLD
   * messages arrive this way (router solicitations to ff02::2, MLD reports to ff02::16):
   * counted by type, dropped, never answered. Anything else multicast is a plain drop.
   */
  #multicast(packet: Uint8Array): void {
    const ctx = this.#ctx;
    const chain = this.#chain;
    if (walkIpv6Headers(packet, chain) === 'upper' && chain.protocol === Ipv6NextHeader.Icmpv6) {
      const icmp = parseIcmpv6(view(packet, chain.offset, chain.end), this.#ipIn.repr.src, this.#ipIn.repr.dst);
      if (icmp.ok && (icmp.repr.type === 'neighbour-discovery' || icmp.repr.type === 'multicast-listener')) {
        countNdpMld(ctx, icmp.repr.msgType);
        return;
      }
    }
    ctx.drop('ipv6-multicast');
  }
}

/**
 * True when the TCP segment `packet[start, end)` directly follows the fixed header (no extension
 * header) and its checksum is good, summed in one pass. The pseudo-header's addresses (RFC 8200
 * §8.1) are the header's last 32 octets, which the segment follows: one sum over `[8, end)` plus
 * the 32-bit upper-layer length and next header 6 covers pseudo-header and segment alike. That
 * saves gathering the two addresses again (`tcpPseudoHeaderSum`), about 50 ns a packet of IPv6's
 * extra cost over IPv4 on a stream not checksum-offloaded (issue 13). False (summed again the
 * usual way, a bad checksum dropped and counted there) for anything else.
 */
export function tcpSumsInPlace(packet: Uint8Array, start: number, end: number): boolean {
  if (start !== IPV6_HEADER_LENGTH) return false;
  const length = end - start;
  return onesComplementSum(packet, Math.floor(length / 0x10000) + (length & 0xffff) + Ipv6NextHeader.Tcp, 8, end) === 0xffff;
}
