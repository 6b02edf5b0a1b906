/**
 * ICMPv4 in (RFC 792, RFC 1122 §3.2.2): echo requests to our address are answered; errors
 * (destination unreachable, time exceeded) about a datagram we sent are matched by the quoted
 * 4-tuple to the connection that sent it, which judges them (RFC 5927, RFC 1191); nothing else
 * is acted on, and an ICMP error is never answered. Every refusal is a counted drop.
 */
import { debuglog } from 'node:util';
import { IpProtocol, Icmpv4UnreachableCode, echoReplyFor, ipv4ToString, parseIcmpv4, parseQuotedDatagram, type Icmpv4Repr, type Ipv4Repr } from '@tcp-tun/ip';
import { parseQuotedTcp, type Instant, type TcpIcmpError } from '@tcp-tun/tcp';
import type { ConnectionEntry } from './internal.js';
import type { StackCounters } from './stack-stats.js';

const debug = debuglog('tcp-tun');

/** What ICMP handling needs from the stack. */
export interface Icmpv4Context {
  /** Our address as a uint32. */
  readonly address: number;
  /** The link MTU: we do not fragment what we send. */
  readonly mtu: number;
  readonly counters: StackCounters;
  /** Counts a drop by reason. */
  drop(reason: string): void;
  /** The connection of a 4-tuple (our address implied). */
  connection(remoteAddr: number, remotePort: number, localPort: number): ConnectionEntry | undefined;
  /** Queues a connection for the drain (the error may have produced events or segments). */
  schedule(entry: ConnectionEntry): void;
  /** Sends an ICMP message to `remote` (ipv4-egress.ts). */
  sendIcmp(remote: number, repr: Icmpv4Repr): void;
}

/** Handles one ICMPv4 message `payload` that arrived in the IPv4 datagram `ip`. */
export function receiveIcmpv4(ctx: Icmpv4Context, now: Instant, ip: Ipv4Repr, payload: Uint8Array): void {
  const icmp = parseIcmpv4(payload);
  if (!icmp.ok) {
    if (icmp.reason === 'bad-checksum') ctx.counters.checksumFailures++;
    ctx.drop(`icmp-${icmp.reason}`);
    return;
  }
  if (icmp.repr.type === 'dest-unreachable' || icmp.repr.type === 'time-exceeded') {
    // RFC 1122 §3.2.2: an ICMP error is never answered with an ICMP error (nor anything else).
    receiveIcmpError(ctx, now, icmp.repr);
    return;
  }
  if (icmp.repr.type !== 'echo-request') {
    ctx.drop(`icmp-${icmp.repr.type}`);
    return;
  }
  // RFC 1122 §3.2.2.6: an echo request to a broadcast or multicast address MAY be dropped
  // (we only accept our unicast address) and no reply goes to an invalid source: 0.0.0.0,
  // broadcast or multicast (the IPv4 parser already rejects the last two).
  if (ip.src === 0 || ip.src === 0xffffffff || ip.src >>> 28 === 0xe) {
    ctx.drop('icmp-bad-source');
    return;
  }
  const reply = echoReplyFor(icmp.repr);
  if (20 + payload.length > ctx.mtu) {
    // A reassembled request larger than our MTU: we do not fragment what we send.
    ctx.drop('icmp-reply-too-big');
    return;
  }
  ctx.counters.icmpEchoReplies++;
  ctx.sendIcmp(ip.src, reply);
}

/**
 * An ICMP error (RFC 792) about a datagram we sent: find the connection by the quoted 4-tuple
 * (its source is us) and let the engine judge the quoted sequence number (RFC 5927 §4.1: only
 * SND.UNA ≤ seq < SND.NXT is believed, so a blind attacker must guess it). Hard or soft, and
 * what frag-needed does (RFC 1191), is the engine's decision (RFC 1122 §4.2.3.9).
 */
function receiveIcmpError(ctx: Icmpv4Context, now: Instant, icmp: Icmpv4Repr & { type: 'dest-unreachable' | 'time-exceeded' }): void {
  const quoted = parseQuotedDatagram(icmp.quoted);
  if (quoted === undefined) {
    ctx.drop('icmp-bad-quote');
    return;
  }
  if (quoted.protocol !== IpProtocol.Tcp || quoted.src !== ctx.address) {
    ctx.drop('icmp-not-ours');
    return;
  }
  const error = icmpErrorKind(icmp);
  if (error === undefined) {
    ctx.drop(`icmp-${icmp.type}-code-${icmp.code}`);
    return;
  }
  const tcp = parseQuotedTcp(quoted.transport);
  if (!tcp.ok) {
    // parseQuotedDatagram already insists on the 8 octets; kept for a quote parser that does not.
    ctx.drop('icmp-bad-quote');
    return;
  }
  const { srcPort, dstPort, seq } = tcp.quoted;
  const entry = ctx.connection(quoted.dst, dstPort, srcPort);
  if (entry === undefined) {
    ctx.drop('icmp-no-connection');
    return;
  }
  if (!entry.conn.handleIcmpError(now, error, seq)) {
    ctx.drop('icmp-rejected');
    return;
  }
  ctx.counters.icmpErrors++;
  if (debug.enabled) debug('%s:%d icmp %s', ipv4ToString(quoted.dst), entry.remotePort, error.kind);
  ctx.schedule(entry);
}

/**
 * The engine's view of an ICMP error (RFC 792, RFC 1122 §3.2.2.1): which ones end an opening
 * connection and which only lower the MSS. Codes Linux treats alike are grouped as it does
 * (protocol unreachable as port unreachable; administratively prohibited, host unknown and
 * time exceeded as host unreachable). Frag-needed without a next-hop MTU (a pre-RFC 1191
 * router) is not acted on: we have no plateau table.
 */
export function icmpErrorKind(icmp: Icmpv4Repr & { type: 'dest-unreachable' | 'time-exceeded' }): TcpIcmpError | undefined {
  if (icmp.type === 'time-exceeded') return { kind: 'host-unreachable' };
  switch (icmp.code) {
    case Icmpv4UnreachableCode.NetUnreachable:
    case 6: // destination network unknown
    case 9: // network administratively prohibited
    case 11: // network unreachable for TOS
      return { kind: 'net-unreachable' };
    case Icmpv4UnreachableCode.HostUnreachable:
    case Icmpv4UnreachableCode.SourceRouteFailed:
    case 7: // destination host unknown
    case 10: // host administratively prohibited
    case 12: // host unreachable for TOS
    case Icmpv4UnreachableCode.AdminProhibited:
      return { kind: 'host-unreachable' };
    case Icmpv4UnreachableCode.ProtocolUnreachable:
    case Icmpv4UnreachableCode.PortUnreachable:
      return { kind: 'port-unreachable' };
    case Icmpv4UnreachableCode.FragmentationNeeded:
      return icmp.nextHopMtu >= 68 ? { kind: 'frag-needed', mtu: icmp.nextHopMtu } : undefined;
    default:
      return undefined;
  }
}
