/**
 * IPv4 in: the IPv4 leg of the stack's receive pipeline. Parse the header (RFC 791: version,
 * length, checksum, sane source and fragment fields; drops counted by reason), check that the
 * datagram is for our address, reassemble fragments (RFC 815, RFC 5722; bounded, expired on the
 * stack's timer), then hand the payload to TCP (the stack's demultiplexer) or to ICMP
 * (icmpv4-in.ts). An IPv6 leg (issue 13) sits beside this file, chosen by the version nibble in
 * the stack's `#receive`.
 */
import { IpProtocol, Ipv4ParseTarget, parseIpv4Into, type Ipv4Reassembler, type Ipv4Repr } from '@tcp-tun/ip';
import type { Instant } from '@tcp-tun/tcp';
import { receiveIcmpv4, type Icmpv4Context } from './icmpv4-in.js';
import type { StackCounters } from './stack-stats.js';
import type { StackTimer } from './stack-timer.js';

/** What the IPv4 leg needs from the stack. */
export interface Ipv4IngressContext {
  /** Our address as a uint32. */
  readonly address: number;
  readonly counters: StackCounters;
  readonly reassembler: Ipv4Reassembler;
  /** Told when the reassembler holds fragments (its expiry needs the timer). */
  readonly timer: StackTimer;
  /** ICMP handling's context (icmpv4-in.ts). */
  readonly icmp: Icmpv4Context;
  /** Counts a drop by reason. */
  drop(reason: string): void;
  /** Counts the datagrams the reassembler let expire since its counter read `before`. */
  countExpired(before: number): void;
  /**
   * The TCP segment `bytes[start, end)` that `ip` carried: demultiplex and feed it; its checksum
   * unverified when `checksumTrusted`.
   */
  receiveTcp(now: Instant, ip: Ipv4Repr, bytes: Uint8Array, start: number, end: number, checksumTrusted: boolean): void;
}

/** The IPv4 leg of the receive pipeline, with its reusable parse target. */
export class Ipv4Ingress {
  readonly #ctx: Ipv4IngressContext;
  /** Where each packet's IPv4 header is parsed (reused, see `receive`). */
  readonly #ipIn = new Ipv4ParseTarget();

  constructor(ctx: Ipv4IngressContext) {
    this.#ctx = ctx;
  }

  /**
   * One IPv4 packet from the link (or from ourselves, loopback). `checksumTrusted`: the link
   * vouched for its TCP checksum (link.ts `LinkReceiver`). The header checksum is verified
   * whatever the link says: 20 octets cost next to nothing, and a header we act on (addresses,
   * lengths) is then checked by us. The trust covers one whole packet, so a fragment loses it:
   * a reassembled datagram is summed (no kernel marks fragments partial, but nothing of ours
   * depends on that).
   */
  receive(now: Instant, packet: Uint8Array, checksumTrusted = false): void {
    const ctx = this.#ctx;
    // Parsed into a reusable target (no allocation per packet): what is parsed here is only
    // read until this method returns, and nothing re-enters it meanwhile (links deliver from
    // the event loop, never from inside `send`).
    const ip = this.#ipIn;
    const dropped = parseIpv4Into(packet, ip);
    if (dropped !== undefined) {
      if (dropped === 'bad-checksum') ctx.counters.checksumFailures++;
      ctx.drop(`ipv4-${dropped}`);
      return;
    }
    let repr: Ipv4Repr = ip.repr;
    if (repr.dst !== ctx.address) {
      ctx.drop('not-for-us');
      return;
    }
    let bytes = packet;
    let start = ip.headerLength;
    let end = start + repr.payloadLength;
    let trusted = checksumTrusted;
    if (repr.moreFragments || repr.fragmentOffset !== 0) {
      trusted = false;
      // Bounded memory (StackOptions.reassembly); stale datagrams expire on the stack's timer
      // and on the next add. The reassembler keeps the Repr: it gets a copy of its own.
      const timedOut = ctx.reassembler.stats.datagramsTimedOut;
      const whole = ctx.reassembler.add(now, { ...repr }, view(packet, start, end));
      ctx.countExpired(timedOut);
      if (whole.kind === 'pending') {
        ctx.timer.reassemblyArmed = true;
        return;
      }
      if (whole.kind === 'drop') {
        ctx.drop(`fragment-${whole.reason}`);
        return;
      }
      repr = whole.repr;
      bytes = whole.payload;
      start = 0;
      end = bytes.length;
    }
    switch (repr.protocol) {
      case IpProtocol.Tcp:
        ctx.receiveTcp(now, repr, bytes, start, end, trusted);
        break;
      case IpProtocol.Icmp:
        receiveIcmpv4(ctx.icmp, now, repr, view(bytes, start, end));
        break;
      default:
        ctx.drop('unsupported-protocol');
    }
  }
}

/**
 * `bytes[start, end)` as a plain Uint8Array view (no copy). Received packets are Node Buffers
 * (TUN reads): `subarray` on one goes through Buffer's species constructor and costs more.
 */
export function view(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}
