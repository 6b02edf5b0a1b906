/**
 * The options a {@link Stack} is built with, and their defaults. Kept apart from the stack so the
 * wiring reads without 60 lines of option documentation in front of it.
 */
import { isIpv4String, isIpv6String, ipv6FromString, isIpv4Mapped, isIpv6Multicast, isIpv6Unspecified, isIpv6Loopback, type Ipv4ReassemblerOptions } from '@tcp-tun/ip';
import type { Instant, TcpConfig } from '@tcp-tun/tcp';
import { argumentError } from './errors.js';
import type { LookupFunction } from './handle.js';
import type { Link } from './link.js';
import type { TraceSink } from './trace.js';

/** Default {@link StackOptions.maxConnections}: a whole port range's worth. */
export const DEFAULT_MAX_CONNECTIONS = 65536;

/** Options of {@link Stack}. */
export interface StackOptions {
  /** The packet port: a TUN device, one side of `createLinkPair()`, or a wrapper of either. */
  readonly link: Link;
  /**
   * Record per-connection time series (segments, ACKs, SACK blocks, retransmissions, cwnd,
   * ssthresh, srtt, in flight, windows) as {@link TraceRecord}s: the link is wrapped with
   * {@link traceLink} on the stack's own clock and the stack polled every `intervalMs`
   * (default 10). Draw the result with `tcp-tun-plot`.
   */
  readonly trace?: {
    /** Receives every record, in time order. */
    readonly sink: TraceSink;
    /** Polling period of the per-connection samples, in milliseconds (default 10). */
    readonly intervalMs?: number;
  };
  /**
   * Our IPv4 address, dotted quad ("10.0.0.2"). At least one of `address` and `address6` must
   * be given; without it the stack speaks IPv6 only (IPv4 packets are dropped as
   * `ipv4-no-address`, a connect to an IPv4 address fails with ENETUNREACH).
   */
  readonly address?: string | undefined;
  /**
   * Our IPv6 address (RFC 4291 text, e.g. "fd00::2"): a unicast address, not `::`, `::1`,
   * multicast or IPv4-mapped. Without it the stack speaks IPv4 only and behaves exactly as a
   * stack without IPv6 (IPv6 packets are dropped as `ipv4-bad-version`).
   */
  readonly address6?: string | undefined;
  /**
   * Engine configuration for every connection. `mss` defaults to the link MTU − 40 (and is
   * capped by it). The per-connection memory caps live here: `recvBufferSize`,
   * `sendBufferSize` and `maxOutOfOrderBytes`.
   */
  readonly tcp?: Partial<TcpConfig>;
  /**
   * Most connections held in TIME-WAIT at once (Linux's `tcp_max_tw_buckets`, default
   * 262,144; 0 = none). TIME-WAIT is a compact record of its own (~120 octets), kept apart from
   * live connections and never counted against `maxConnections`; beyond the cap a connection
   * closes without TIME-WAIT, counted in `stats().timeWait.overflows`.
   */
  readonly maxTimeWait?: number;
  /**
   * Most live connections in the table at once (embryonic ones included, TIME-WAIT not: see
   * `maxTimeWait`; default 65536). A SYN beyond it is dropped and counted as `max-connections` (the peer
   * retries, as with a full backlog); an active open beyond it fails with ENOBUFS.
   */
  readonly maxConnections?: number;
  /**
   * Limits of IPv4 fragment reassembly (defaults: `DEFAULT_REASSEMBLER_OPTIONS` of
   * `@tcp-tun/ip`: 64 datagrams, 65515 octets each, 1 MiB in all, 64 fragments each, 30 s).
   * Incomplete datagrams expire on the stack's timer.
   */
  readonly reassembly?: Partial<Ipv4ReassemblerOptions>;
  /** Ephemeral port range for active opens and `listen(0)` (default 49152–65535, RFC 6335). */
  readonly ephemeralPortRange?: readonly [number, number];
  /**
   * Default name resolver of the stack's sockets, with `dns.lookup`'s signature (a socket's
   * `lookup` connect option overrides it). Without one, IPv4 literals and `localhost`
   * (127.0.0.1) resolve and any other name fails with ENOTFOUND.
   */
  readonly lookup?: LookupFunction;
  /** Monotonic clock in milliseconds (default `performance.now`); for tests. */
  readonly clock?: () => Instant;
  /**
   * Who fires the stack's deadlines (retransmissions, delayed ACKs, TIME-WAIT, fragment expiry):
   * `'node'` (the default) arms one Node timer; `'manual'` arms none, and whoever drives a
   * virtual {@link StackOptions.clock} calls {@link Stack.runTimers} after advancing it. Manual
   * time makes a seeded run exactly reproducible (a Node timer fires at a wall-clock moment,
   * which a virtual clock does not know); for tests and network emulators.
   */
  readonly timers?: 'node' | 'manual';
  /**
   * Secret octets for port selection, ISNs and SYN cookies (default: 32 random ones); for
   * reproducible tests. At least 24: octets 0–15 key the ports, 16–23 the ISNs, 24–31 (when
   * given, else derived from the ISN key) the SYN cookies.
   */
  readonly secret?: Uint8Array;
}

/**
 * Checks the options a stack cannot start without: an options object, a `Link`, a dotted-quad
 * address and/or a unicast IPv6 address, a link MTU of 108..65535 (an IPv4 header, a TCP header and a minimal segment).
 * @throws ERR_INVALID_ARG_TYPE, ERR_INVALID_IP_ADDRESS, ERR_INVALID_ARG_VALUE
 */
export function checkStackOptions(options: StackOptions): void {
  if (options === null || typeof options !== 'object') throw argumentError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be an object', 'type');
  const link = options.link;
  if (link === null || typeof link !== 'object' || typeof link.send !== 'function' || typeof link.start !== 'function') {
    throw argumentError('ERR_INVALID_ARG_TYPE', 'The "options.link" argument must be a Link', 'type');
  }
  if (options.address === undefined && options.address6 === undefined) {
    throw argumentError('ERR_INVALID_ARG_VALUE', 'The "options.address" or "options.address6" argument must be given', 'range');
  }
  if (options.timers !== undefined && options.timers !== 'node' && options.timers !== 'manual') {
    throw argumentError('ERR_INVALID_ARG_VALUE', `The "options.timers" argument must be 'node' or 'manual'. Received ${String(options.timers)}`, 'range');
  }
  if (options.address !== undefined && !isIpv4String(options.address)) {
    throw argumentError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(options.address)}`, 'type');
  }
  if (options.address6 !== undefined) {
    if (!isIpv6String(options.address6)) {
      throw argumentError('ERR_INVALID_IP_ADDRESS', `Invalid IPv6 address: ${String(options.address6)}`, 'type');
    }
    // RFC 4291 §2.5.2, §2.5.3, §2.5.5.2, §2.7: none of these names one interface of one host.
    const a = ipv6FromString(options.address6);
    if (isIpv6Unspecified(a) || isIpv6Loopback(a) || isIpv6Multicast(a) || isIpv4Mapped(a)) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `The "options.address6" argument must be a unicast address, got ${options.address6}`, 'range');
    }
  }
  if (!Number.isInteger(link.mtu) || link.mtu < 68 + 40 || link.mtu > 65535) {
    throw argumentError('ERR_INVALID_ARG_VALUE', `The link's mtu must be an integer 108..65535, got ${String(link.mtu)}`, 'range');
  }
  // RFC 8200 §5: every link that carries IPv6 has an MTU of 1280 or more.
  if (options.address6 !== undefined && link.mtu < 1280) {
    throw argumentError('ERR_INVALID_ARG_VALUE', `The link's mtu must be at least 1280 for IPv6, got ${String(link.mtu)}`, 'range');
  }
}

/**
 * An integer limit option (`value`, else `fallback`) of at least `min`.
 * @throws ERR_INVALID_ARG_VALUE naming `options.<name>` and what it `must` be.
 */
export function limitOption(value: number | undefined, fallback: number, min: number, name: string, must: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) {
    throw argumentError('ERR_INVALID_ARG_VALUE', `The "options.${name}" argument must be ${must}, got ${String(v)}`, 'range');
  }
  return v;
}
