/**
 * @tcp-tun/net — the stack and its `node:net`-compatible API.
 *
 * What it does: a {@link Stack} owns one {@link Link} (a port that moves whole IP packets:
 * a TUN device, the in-memory {@link createLinkPair}, or a wrapper of either) and an IPv4
 * address, an IPv6 address, or both. It parses what the link delivers (IPv4 and IPv6, extension
 * headers, fragment reassembly, ICMP and ICMPv6 echo and errors, TCP),
 * demultiplexes segments by 4-tuple to the sans-IO engine of `@tcp-tun/tcp`, drains the
 * engine once per received batch (which coalesces ACKs) and keeps a single Node timer for the
 * earliest deadline of all connections. `stack.net` offers `createServer`,
 * `createConnection`/`connect`, `Socket` and `Server` with `node:net`'s names and signatures.
 *
 * What it guarantees:
 * - Untrusted packets never throw: malformed ones are counted in `stack.stats().drops` by
 *   reason and dropped. A segment for no connection and no listener gets a RST
 *   (RFC 9293 §3.10.7.1); an ICMP echo request to our address gets a reply.
 * - A `Socket` is a `stream.Duplex` with real flow control both ways: writes call back only
 *   when the engine accepted every byte, and a reader that stops reading closes the TCP
 *   receive window.
 * - Errors read like Node's: system errors carry `code`, `errno`, `syscall`, `address`,
 *   `port` and arrive as 'error' events; API misuse throws at once. Every error this package
 *   creates is `instanceof TcpTunError` with a permanent `code`.
 * - Only the stack reads the clock; `stack.close()` resets every connection, closes every
 *   server, clears the timer and closes the link, leaving nothing that keeps the process alive.
 * - No Linux specifics: it never imports the TUN package (the device fits `Link` structurally).
 *
 * Debug tracing: `NODE_DEBUG=tcp-tun` (free when off).
 */
export { Stack, DEFAULT_MAX_CONNECTIONS, type StackOptions, type StackStats, type ConnectionInfo } from './stack.js';
export type { Ipv6Stats, Icmpv6Stats } from './stack-stats.js';
export type { TimeWaitStats } from './time-wait-table.js';
// Warming the connection path before the first real connection (apps/echo does it at start-up).
export { warmUp, type WarmUpOptions, type WarmUpReport } from './warm-up.js';
export type { Link, LinkReceiver } from './link.js';
export type { TcpInfo } from './tcp-info.js';
// node:diagnostics_channel instrumentation: channel names and message shapes.
export {
  CHANNEL_CONNECTION_OPEN,
  CHANNEL_CONNECTION_STATE,
  CHANNEL_CONNECTION_RETRANSMIT,
  CHANNEL_CONNECTION_RTO,
  CHANNEL_CONNECTION_CLOSE,
  CHANNEL_DROP,
  type ConnectionMessageBase,
  type ConnectionOpenMessage,
  type ConnectionStateMessage,
  type ConnectionRetransmitMessage,
  type ConnectionRtoMessage,
  type ConnectionCloseMessage,
  type DropMessage,
} from './diagnostics.js';
export type { LookupFunction } from './handle.js';
export { createLinkPair, type LinkPairOptions, type LinkPairCounters, type PairedLink } from './link-pair.js';
export {
  Socket,
  AbortError,
  type SocketConstructorOpts,
  type TcpSocketConnectOpts,
  type NetConnectOpts,
  type AddressInfo,
} from './socket.js';
export { Server, type ServerOpts, type ListenOptions } from './server.js';
export type { NetApi, CreateConnection, CreateServer, BoundSocketClass, BoundServerClass } from './net-api.js';
export {
  TcpTunError,
  SystemError,
  ConnectAggregateError,
  SYSTEM_ERRNO,
  type SystemErrorCode,
  type SystemErrorSyscall,
  type ArgumentErrorCode,
} from './errors.js';
export { DEFAULT_EPHEMERAL_RANGE } from './ephemeral-ports.js';
// Link wrappers of this package (fault injection and pcap capture).
export {
  withFaults,
  seededRandom,
  type FaultOptions,
  type FaultProfile,
  type FaultCounters,
  type FaultyLink,
} from './fault.js';
export { capture, PcapWriter, LINKTYPE_RAW, type CaptureOptions, type CapturingLink } from './pcap.js';
// Per-connection time series (JSON lines) from a Link wrapper; `tcp-tun-plot` draws them.
export {
  traceLink,
  TraceWriter,
  parseTrace,
  type TraceOptions,
  type TraceWriterOptions,
  type TracingLink,
  type TraceCounters,
  type TraceSink,
  type TraceStack,
  type TraceConnectionRow,
  type TraceDirection,
  type TraceRecord,
  type TraceStartRecord,
  type TraceConnRecord,
  type TraceSegmentRecord,
  type TraceInfoRecord,
  type TraceEndRecord,
} from './trace.js';
