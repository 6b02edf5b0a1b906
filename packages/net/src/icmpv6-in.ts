/**
 * ICMPv6 in and out (RFC 4443): echo requests to our address are answered with the same data
 * (§4.2); errors (destination unreachable, packet too big, time exceeded, parameter problem)
 * about a packet we sent are matched by the quoted 4-tuple to the connection that sent it, which
 * judges them (RFC 5927 in-window check, RFC 8201 packet too big); neighbour discovery and MLD
 * (RFC 4861, RFC 3810), which the kernel sends into a TUN device unasked, are counted by type
 * and dropped without an answer (a TUN link has no link layer to resolve). The errors we
 * originate (parameter problem from the extension-header walk, time exceeded from reassembly)
 * leave through {@link sendIcmpv6Error}: never in answer to an error or to multicast (§2.4 (e)),
 * and rate-limited (§2.4 (f)). Every refusal is a counted drop.
 */
import { debuglog } from 'node:util';
import {
  IpProtocol,
  Icmpv6Type,
  Icmpv6UnreachableCode,
  echoReplyFor6,
  icmpv6Quote,
  ipv6ToString,
  isIpv6Multicast,
  isIpv6Unspecified,
  mayAnswerWithIcmpv6Error,
  parseIcmpv6,
  parseQuotedPacket6,
  type Icmpv6RateLimiter,
  type Icmpv6Repr,
  type Ipv6Address,
  type Ipv6HeaderChain,
} from '@tcp-tun/ip';
import { parseQuotedTcp, type Instant, type IpAddress, type TcpIcmpError } from '@tcp-tun/tcp';
import type { ConnectionEntry } from './internal.js';
import type { Ipv6Counters, StackCounters } from './stack-stats.js';

const debug = debuglog('tcp-tun');

/** What ICMPv6 handling needs from the stack. */
export interface Icmpv6Context {
  /** Our IPv6 address. */
  readonly address: Ipv6Address;
  /** The link MTU: we do not fragment what we send. */
  readonly mtu: number;
  readonly counters: StackCounters;
  readonly counters6: Ipv6Counters;
  /** The token bucket of the errors we originate (RFC 4443 §2.4 (f)). */
  readonly limiter: Icmpv6RateLimiter;
  /** Counts a drop by reason. */
  drop(reason: string): void;
  /** The connection of a 4-tuple (our address implied by the remote one). */
  connection(remoteAddr: IpAddress, remotePort: number, localPort: number): ConnectionEntry | undefined;
  /** Queues a connection for the drain (the error may have produced events or segments). */
  schedule(entry: ConnectionEntry): void;
  /** Sends an ICMPv6 message from `src` to `dst` (ipv6-egress.ts). */
  sendIcmp(src: Ipv6Address, dst: Ipv6Address, repr: Icmpv6Repr): void;
}

/**
 * Handles the ICMPv6 message `bytes` that arrived from `src` to `dst` (our unicast address or
 * `::1`; the IPv6 leg has checked) in the packet `packet`.
 */
export function receiveIcmpv6(ctx: Icmpv6Context, now: Instant, src: Ipv6Address, dst: Ipv6Address, bytes: Uint8Array): void {
  const icmp = parseIcmpv6(bytes, src, dst);
  if (!icmp.ok) {
    if (icmp.reason === 'bad-checksum') ctx.counters.checksumFailures++;
    ctx.drop(`icmpv6-${icmp.reason}`);
    return;
  }
  const repr = icmp.repr;
  switch (repr.type) {
    case 'echo-request': {
      // RFC 4443 §4.2: the reply carries the request's identifier, sequence number and data,
      // from the address the request was sent to. No reply to an unspecified source.
      if (isIpv6Unspecified(src) || isIpv6Multicast(src)) {
        ctx.drop('icmpv6-bad-source');
        return;
      }
      const reply = echoReplyFor6(repr);
      if (40 + bytes.length > ctx.mtu) {
        // A reassembled request larger than our MTU: we do not fragment what we send.
        ctx.drop('icmpv6-reply-too-big');
        return;
      }
      ctx.counters6.echoReplies++;
      ctx.sendIcmp(dst, src, reply);
      return;
    }
    case 'dest-unreachable':
    case 'packet-too-big':
    case 'time-exceeded':
    case 'parameter-problem':
      // RFC 4443 §2.4 (e.1): an error is never answered with an error.
      receiveIcmpv6Error(ctx, now, repr);
      return;
    case 'neighbour-discovery':
    case 'multicast-listener':
      countNdpMld(ctx, repr.msgType);
      return;
    default:
      ctx.drop(`icmpv6-${repr.type}`);
  }
}

/** A neighbour discovery or MLD message: counted by type and dropped, never answered. */
export function countNdpMld(ctx: { readonly counters6: Ipv6Counters; drop(reason: string): void }, msgType: number): void {
  const counts = ctx.counters6.ndpMldDropped;
  counts[msgType] = (counts[msgType] ?? 0) + 1;
  ctx.drop('ipv6-ndp-mld');
}

type Icmpv6ErrorRepr = Icmpv6Repr & { type: 'dest-unreachable' | 'packet-too-big' | 'time-exceeded' | 'parameter-problem' };

/**
 * An ICMPv6 error about a packet we sent: find the connection by the quoted 4-tuple (its source
 * is us) and let the engine judge the quoted sequence number (RFC 5927 §4.1: only
 * SND.UNA ≤ seq < SND.NXT is believed). Packet too big lowers the connection's MSS (RFC 8201;
 * the 1280 floor is the engine's).
 */
function receiveIcmpv6Error(ctx: Icmpv6Context, now: Instant, icmp: Icmpv6ErrorRepr): void {
  const quoted = parseQuotedPacket6(icmp.quoted);
  if (quoted === undefined) {
    ctx.drop('icmpv6-bad-quote');
    return;
  }
  if (quoted.protocol !== IpProtocol.Tcp) {
    ctx.drop('icmpv6-not-ours');
    return;
  }
  const error = icmpv6ErrorKind(icmp);
  if (error === undefined) {
    ctx.drop(`icmpv6-${icmp.type}-code-${icmp.type === 'packet-too-big' ? 0 : icmp.code}`);
    return;
  }
  const tcp = parseQuotedTcp(quoted.transport);
  if (!tcp.ok) {
    ctx.drop('icmpv6-bad-quote');
    return;
  }
  const { srcPort, dstPort, seq } = tcp.quoted;
  const entry = ctx.connection(quoted.dst, dstPort, srcPort);
  // The quoted source must be the address the connection sends from (ours, or ::1).
  if (entry === undefined || typeof entry.localAddr === 'number' || !sameAddress(entry.localAddr, quoted.src)) {
    ctx.drop('icmpv6-no-connection');
    return;
  }
  if (!entry.conn.handleIcmpError(now, error, seq)) {
    ctx.drop('icmpv6-rejected');
    return;
  }
  ctx.counters6.errorsReceived++;
  if (debug.enabled) debug('[%s]:%d icmpv6 %s', ipv6ToString(quoted.dst), entry.remotePort, error.kind);
  ctx.schedule(entry);
}

function sameAddress(a: Ipv6Address, b: Ipv6Address): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The engine's view of an ICMPv6 error, grouped as Linux's icmpv6_err_convert does: no route
 * is a network error; administratively prohibited, beyond scope, address unreachable, source
 * policy and reject route are host errors; port unreachable, and an unrecognised next header
 * (parameter problem code 1, our TCP not understood), refuse the connection; time exceeded is a
 * host error (soft once established). Packet too big carries the MTU (RFC 8201).
 */
export function icmpv6ErrorKind(icmp: Icmpv6ErrorRepr): TcpIcmpError | undefined {
  switch (icmp.type) {
    case 'packet-too-big':
      return { kind: 'packet-too-big', mtu: icmp.mtu };
    case 'time-exceeded':
      return { kind: 'host-unreachable' };
    case 'parameter-problem':
      return icmp.code === 1 ? { kind: 'port-unreachable' } : undefined;
    case 'dest-unreachable':
      switch (icmp.code) {
        case Icmpv6UnreachableCode.NoRoute:
          return { kind: 'net-unreachable' };
        case Icmpv6UnreachableCode.AdminProhibited:
        case Icmpv6UnreachableCode.BeyondScope:
        case Icmpv6UnreachableCode.AddressUnreachable:
        case Icmpv6UnreachableCode.SourcePolicyFailed:
        case Icmpv6UnreachableCode.RejectRoute:
          return { kind: 'host-unreachable' };
        case Icmpv6UnreachableCode.PortUnreachable:
          return { kind: 'port-unreachable' };
        default:
          return undefined;
      }
  }
}

/**
 * Sends an ICMPv6 error of `type`/`code` about the received packet `invoking` (from its fixed
 * header; `chain` its walk, when there was one), quoting as much of it as fits in 1280 octets
 * (RFC 4443 §2.4 (c)), from the address it was sent to. Not sent (and counted) when RFC 4443
 * §2.4 (e) forbids it — in answer to an error, to a multicast destination (but for the
 * exceptions), to an unspecified or multicast source — or when the rate limit (§2.4 (f)) says no.
 */
export function sendIcmpv6Error(ctx: Icmpv6Context, now: Instant, invoking: Uint8Array, type: number, code: number, pointer: number, chain?: Ipv6HeaderChain): void {
  if (!mayAnswerWithIcmpv6Error(invoking, type, code, chain)) {
    ctx.drop('icmpv6-error-not-allowed');
    return;
  }
  if (!ctx.limiter.allow(now)) {
    ctx.counters6.errorsRateLimited++;
    return;
  }
  // From the address the packet was sent to; a multicast one is not a source (RFC 4443 §2.2).
  const to = invoking.slice(24, 40);
  const src = isIpv6Multicast(to) ? ctx.address : to;
  const dst = invoking.slice(8, 24);
  const quoted = icmpv6Quote(invoking);
  let repr: Icmpv6Repr;
  switch (type) {
    case Icmpv6Type.ParameterProblem:
      repr = { type: 'parameter-problem', code, pointer, quoted };
      break;
    case Icmpv6Type.TimeExceeded:
      repr = { type: 'time-exceeded', code, quoted };
      break;
    default:
      repr = { type: 'dest-unreachable', code, quoted };
  }
  ctx.counters6.errorsSent++;
  ctx.sendIcmp(src, dst, repr);
}
