/**
 * The stack's counters and the rows of `stack.stats()` and `stack.connections()`: the counter
 * object every part of the stack increments (receive pipeline, egress, ICMP), and the snapshots
 * built from it and from the tables.
 */
import type { Ipv4ReassemblerStats, Ipv6ReassemblerStats } from '@tcp-tun/ip';
import { ipv4ToString, ipv6ToString } from '@tcp-tun/ip';
import type { IpAddress, TcpState } from '@tcp-tun/tcp';
import type { ConnectionTable } from './connection-table.js';
import type { ConnectionEntry, ListenerEntry } from './internal.js';
import { tcpInfoOf, type TcpInfo } from './tcp-info.js';
import type { TimeWaitStats, TimeWaitTable } from './time-wait-table.js';

/** Counters of a stack, from {@link Stack.stats}. */
export interface StackStats {
  /** IPv4 packets received from the link (and from ourselves, see `loopbackPackets`). */
  packetsIn: number;
  /** Octets of those packets, IPv4 headers included. */
  bytesIn: number;
  /**
   * Packets handed to the link and their octets. A TCP super-packet (GSO send, see
   * `superPacketsOut`) counts once, with its own length, however many segments it carries.
   */
  packetsOut: number;
  /** Octets of the packets in `packetsOut`, IPv4 headers included. */
  bytesOut: number;
  /**
   * GSO send (a link with `tso`): TCP super-packets handed to `Link.sendTso`, each carrying
   * consecutive data segments of one connection, and the segments they carried in all.
   */
  superPacketsOut: number;
  /** Segments carried by those super-packets in all (the link cut them apart). */
  superPacketSegmentsOut: number;
  /** Dropped inbound packets by reason, e.g. `ipv4-bad-checksum`, `tcp-truncated`, `not-for-us`. */
  drops: Record<string, number>;
  /** Inbound IPv4 headers, TCP segments and ICMP messages whose checksum failed. */
  checksumFailures: number;
  /**
   * Received TCP segments whose checksum was not summed because the link vouched for it (a TUN
   * device with offload: the kernel's `NEEDS_CSUM`/`DATA_VALID` packets; see `LinkReceiver`).
   * Present once there is one: over links that never vouch (`createLinkPair`, `withFaults`, a
   * device without offload) the stats are exactly what they were.
   */
  checksumsTrusted?: number;
  /** RSTs sent for segments that matched no connection or listener. */
  resetsSent: number;
  /** ICMP echo replies (RFC 792) sent in answer to pings of our address. */
  icmpEchoReplies: number;
  /**
   * ICMP errors (destination unreachable, time exceeded) matched to a connection by the quoted
   * 4-tuple and accepted by it (quoted sequence number in its window). The others are counted
   * in `drops` as `icmp-no-connection`, `icmp-rejected`, `icmp-bad-quote`, ...
   */
  icmpErrors: number;
  /** SYN cookies (RFC 4987 §3.6) sent by full listeners, and cookie ACKs accepted / rejected. */
  synCookiesSent: number;
  /** Cookie ACKs that validated and became connections. */
  synCookiesAccepted: number;
  /** Cookie ACKs that failed validation (RFC 4987 §3.6). */
  synCookiesRejected: number;
  /**
   * Bare ACKs for a listening port that no cookie could explain (no cookie sent in the last two
   * 64 s periods), answered with RST: late ACKs of connections already gone, or probes.
   */
  strayAcks: number;
  /**
   * Packets (and their octets) we sent to our own address: delivered internally, never handed
   * to the link, and counted here instead of in `packetsOut` (they do count in `packetsIn`).
   */
  loopbackPackets: number;
  /** Octets of the packets in `loopbackPackets`. */
  loopbackBytes: number;
  /** Connections opened actively / accepted from listeners since the stack started. */
  connectionsOpened: number;
  /** Connections that completed a handshake with one of our listeners since the stack started. */
  connectionsAccepted: number;
  /** Connections in the table now, by state. */
  connections: Partial<Record<TcpState, number>>;
  /** Listening ports now. */
  listeners: number;
  /** The `maxConnections` in force. */
  maxConnections: number;
  /** IPv4 fragment reassembly: counters and what it holds now (bounded by `reassembly`). */
  reassembly: Ipv4ReassemblerStats;
  /**
   * TIME-WAIT records (apart from `connections`, which counts live connections only): held now,
   * the cap, and counters (added, expired, reused by a new SYN, ended by RST, ACKs sent, and
   * `overflows`: connections that closed without TIME-WAIT because the table was full).
   */
  timeWait: TimeWaitStats;
  /**
   * IPv6 alone (its packets also count in `packetsIn`/`packetsOut` and the other totals; its
   * drops also in `drops`, with the `ipv6-` or `icmpv6-` prefix). Present when the stack has an
   * IPv6 address (an IPv4-only stack's stats are exactly what they always were).
   */
  ipv6?: Ipv6Stats;
  /** ICMPv6 (RFC 4443): echo replies, errors received, sent and held back by the rate limit. Present as `ipv6`. */
  icmpv6?: Icmpv6Stats;
}

/** The `ipv6` part of {@link StackStats}. */
export interface Ipv6Stats {
  /** IPv6 packets received from the link or loopback, and their octets. */
  packetsIn: number;
  /** Octets of the packets in `packetsIn`, headers included. */
  bytesIn: number;
  /** IPv6 packets handed to the link (a super-packet once), and their octets. */
  packetsOut: number;
  /** Octets of the packets in `packetsOut`, headers included. */
  bytesOut: number;
  /**
   * Dropped IPv6 packets by reason without the prefix (`not-for-us`, `mapped-address`,
   * extension-header reasons such as `unknown-next-header`, reassembly ones as
   * `fragment-overlap`, `icmpv6-…`), the same counts as in `StackStats.drops`.
   */
  drops: Record<string, number>;
  /**
   * Neighbour discovery (RFC 4861: 133 router solicitation … 137 redirect) and multicast
   * listener messages (RFC 3810: 130–132, 143) the kernel sends unasked, counted by ICMPv6 type
   * and dropped without an answer (a TUN link has no link layer to resolve).
   */
  ndpMldDropped: Record<number, number>;
  /** IPv6 fragment reassembly (RFC 8200 §4.5), bounded like IPv4's. */
  reassembly: Ipv6ReassemblerStats;
}

/** The `icmpv6` part of {@link StackStats}. */
export interface Icmpv6Stats {
  /** Echo replies sent in answer to echo requests to our address (RFC 4443 §4.2). */
  echoReplies: number;
  /** Errors matched to a connection by the quoted 4-tuple and accepted by it. */
  errorsReceived: number;
  /** Errors we sent (parameter problem, time exceeded for reassembly). */
  errorsSent: number;
  /** Errors not sent because of the rate limit (RFC 4443 §2.4 (f)). */
  errorsRateLimited: number;
}

/** The IPv6 counters the IPv6 leg, its ICMPv6 part and its egress increment. */
export interface Ipv6Counters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  readonly ndpMldDropped: Record<number, number>;
  echoReplies: number;
  errorsReceived: number;
  errorsSent: number;
  errorsRateLimited: number;
}

/** Fresh IPv6 counters, all zero. */
export function newIpv6Counters(): Ipv6Counters {
  return { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, ndpMldDropped: {}, echoReplies: 0, errorsReceived: 0, errorsSent: 0, errorsRateLimited: 0 };
}

/**
 * One row of {@link Stack.connections}: the connection's {@link TcpInfo} (every counter the
 * engine keeps) with its addresses, queues and ownership.
 */
export interface ConnectionInfo extends TcpInfo {
  /** Our address: dotted quad, or RFC 5952 text for IPv6. */
  localAddress: string;
  /** Our port. */
  localPort: number;
  /** The peer's address: dotted quad, or RFC 5952 text for IPv6. */
  remoteAddress: string;
  /** The connection's IP family. */
  family: 4 | 6;
  /** The peer's port. */
  remotePort: number;
  /** In-order octets received and not yet read by the application. */
  readable: number;
  /** Octets accepted for sending and not yet acknowledged. */
  sendQueued: number;
  /** Smoothed RTT in ms (undefined before the first sample; `srttMs` is 0 then). */
  rttMs: number | undefined;
  /** The last soft ICMP error the connection accepted (RFC 1122 §4.2.3.9), if any. */
  softError: string | undefined;
  /** Whether a socket still owns it (false while it closes after the socket was destroyed). */
  owned: boolean;
}

/** The counters the parts of the stack increment (the plain numbers of {@link StackStats}). */
export interface StackCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  superPacketsOut: number;
  superPacketSegmentsOut: number;
  checksumFailures: number;
  /** See {@link StackStats.checksumsTrusted} (here always present). */
  checksumsTrusted: number;
  resetsSent: number;
  icmpEchoReplies: number;
  icmpErrors: number;
  connectionsOpened: number;
  connectionsAccepted: number;
  loopbackPackets: number;
  loopbackBytes: number;
}

/** Fresh counters, all zero (one object: its shape never changes). */
export function newStackCounters(): StackCounters {
  return {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    superPacketsOut: 0,
    superPacketSegmentsOut: 0,
    checksumFailures: 0,
    checksumsTrusted: 0,
    resetsSent: 0,
    icmpEchoReplies: 0,
    icmpErrors: 0,
    connectionsOpened: 0,
    connectionsAccepted: 0,
    loopbackPackets: 0,
    loopbackBytes: 0,
  };
}

/** SYN-cookie counters of a listener, summed over listeners that have closed. */
export interface CookieCounters {
  sent: number;
  accepted: number;
  rejected: number;
  stray: number;
}

/** What {@link stackStats} reads. */
export interface StatsSources {
  readonly counters: StackCounters;
  readonly drops: Readonly<Record<string, number>>;
  readonly table: ConnectionTable<ConnectionEntry>;
  readonly listeners: ReadonlySet<ListenerEntry>;
  readonly closedListenerCookies: Readonly<CookieCounters>;
  readonly maxConnections: number;
  readonly reassembly: Ipv4ReassemblerStats;
  readonly timeWait: TimeWaitTable;
  /** The IPv6 counters, when the stack has an IPv6 address. */
  readonly ipv6: Ipv6Counters | undefined;
  readonly reassembly6: Ipv6ReassemblerStats;
}

/** A snapshot of the counters (`stack.stats()`). */
export function stackStats(s: StatsSources): StackStats {
  const connections: Partial<Record<TcpState, number>> = {};
  for (const e of s.table.values()) {
    const st = e.conn.state;
    connections[st] = (connections[st] ?? 0) + 1;
  }
  // TIME-WAIT records are not connections of the table, but a reader of states counts them (as `ss`).
  const held = s.timeWait.size;
  if (held > 0) connections['TIME-WAIT'] = (connections['TIME-WAIT'] ?? 0) + held;
  let { sent, accepted, rejected, stray } = s.closedListenerCookies;
  for (const l of s.listeners.values()) {
    const ls = l.listener.stats;
    sent += ls.synCookiesSent;
    accepted += ls.synCookiesAccepted;
    rejected += ls.synCookiesRejected;
    stray += ls.strayAcks;
  }
  const { checksumsTrusted, ...counters } = s.counters;
  const stats: StackStats = {
    ...counters,
    synCookiesSent: sent,
    synCookiesAccepted: accepted,
    synCookiesRejected: rejected,
    strayAcks: stray,
    drops: { ...s.drops },
    connections,
    listeners: s.listeners.size,
    maxConnections: s.maxConnections,
    reassembly: s.reassembly,
    timeWait: s.timeWait.stats,
  };
  if (checksumsTrusted > 0) stats.checksumsTrusted = checksumsTrusted;
  const c6 = s.ipv6;
  if (c6 !== undefined) {
    stats.ipv6 = {
      packetsIn: c6.packetsIn,
      bytesIn: c6.bytesIn,
      packetsOut: c6.packetsOut,
      bytesOut: c6.bytesOut,
      drops: ipv6Drops(s.drops),
      ndpMldDropped: { ...c6.ndpMldDropped },
      reassembly: s.reassembly6,
    };
    stats.icmpv6 = {
      echoReplies: c6.echoReplies,
      errorsReceived: c6.errorsReceived,
      errorsSent: c6.errorsSent,
      errorsRateLimited: c6.errorsRateLimited,
    };
  }
  return stats;
}

/** The IPv6 drops of `drops` (`ipv6-x` as `x`; `icmpv6-x` as is). */
function ipv6Drops(drops: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [reason, n] of Object.entries(drops)) {
    if (reason.startsWith('ipv6-')) out[reason.slice(5)] = n;
    else if (reason.startsWith('icmpv6-')) out[reason] = n;
  }
  return out;
}

/** An endpoint as text: `10.0.0.1:80`, or `[fd00::1]:80` for IPv6 (RFC 5952 §6). */
export function endpointToString(a: IpAddress, port: number): string {
  return typeof a === 'number' ? `${ipv4ToString(a)}:${port}` : `[${ipv6ToString(a)}]:${port}`;
}

/** An address as text: dotted quad for IPv4, RFC 5952 for IPv6. */
export function ipAddressToString(a: IpAddress): string {
  return typeof a === 'number' ? ipv4ToString(a) : ipv6ToString(a);
}

/** Every connection of `table` as a {@link ConnectionInfo} row (`stack.connections()`). */
export function connectionRows(table: ConnectionTable<ConnectionEntry>): ConnectionInfo[] {
  const rows: ConnectionInfo[] = [];
  for (const e of table.values()) {
    const c = e.conn;
    const s = tcpInfoOf(c);
    // Object.assign onto the fresh snapshot: cheaper than a spread of ~60 fields.
    rows.push(
      Object.assign(s, {
        state: c.state,
        localAddress: ipAddressToString(e.localAddr),
        localPort: e.localPort,
        remoteAddress: ipAddressToString(e.remoteAddr),
        remotePort: e.remotePort,
        family: e.family,
        readable: c.readableLength,
        sendQueued: c.sendQueued,
        rttMs: s.rttSamples > 0 ? s.srttMs : undefined,
        softError: c.softError,
        owned: e.owner !== undefined,
      }),
    );
  }
  return rows;
}
