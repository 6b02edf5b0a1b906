/**
 * The options a {@link Stack} is built with, and their defaults. Kept apart from the stack so the
 * wiring reads without 60 lines of option documentation in front of it.
 */
import { isIpv4String, type Ipv4ReassemblerOptions } from '@tcp-tun/ip';
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
  /** Our IPv4 address, dotted quad ("10.0.0.2"). */
  readonly address: string;
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
   * Secret octets for port selection, ISNs and SYN cookies (default: 32 random ones); for
   * reproducible tests. At least 24: octets 0–15 key the ports, 16–23 the ISNs, 24–31 (when
   * given, else derived from the ISN key) the SYN cookies.
   */
  readonly secret?: Uint8Array;
}

/**
 * Checks the options a stack cannot start without: an options object, a `Link`, a dotted-quad
 * address, a link MTU of 108..65535 (an IPv4 header, a TCP header and a minimal segment).
 * @throws ERR_INVALID_ARG_TYPE, ERR_INVALID_IP_ADDRESS, ERR_INVALID_ARG_VALUE
 */
export function checkStackOptions(options: StackOptions): void {
  if (options === null || typeof options !== 'object') throw argumentError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be an object', 'type');
  const link = options.link;
  if (link === null || typeof link !== 'object' || typeof link.send !== 'function' || typeof link.start !== 'function') {
    throw argumentError('ERR_INVALID_ARG_TYPE', 'The "options.link" argument must be a Link', 'type');
  }
  if (!isIpv4String(options.address)) {
    throw argumentError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(options.address)}`, 'type');
  }
  if (!Number.isInteger(link.mtu) || link.mtu < 68 + 40 || link.mtu > 65535) {
    throw argumentError('ERR_INVALID_ARG_VALUE', `The link's mtu must be an integer 108..65535, got ${String(link.mtu)}`, 'range');
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
