/**
 * @tcp-tun/tcp — the TCP layer: a wire codec for segments and a sans-IO TCP engine.
 *
 * What this layer does:
 * - `parseTcp`/`emitTcp`/`TcpSegment` (segment.ts): TCP headers and options between bytes and a
 *   plain `TcpRepr`, checksum included. Untrusted bytes never throw.
 * - `TcpConnection`: one connection's RFC 9293 state machine with RFC 6298 retransmission
 *   timing, RFC 7323 window scaling and timestamps (RTTM, PAWS), RFC 2018 SACK with RFC 6675 /
 *   RFC 8985 (RACK-TLP) loss recovery, CUBIC (RFC 9438) or NewReno (RFC 5681/6582) with
 *   HyStart++ (RFC 9406), ECN (RFC 3168), delayed ACKs, Nagle, flow control with silly-window
 *   avoidance, zero-window probing, out-of-order reassembly, RFC 5961 hardening (exact-match RST,
 *   rate-limited challenge ACKs), keepalive, user timeout, ICMP errors / PMTU, and RFC 1337 /
 *   RFC 6191 TIME-WAIT handling.
 * - `TcpListener`: passive open with a backlog and SYN cookies (RFC 4987); `resetFor`: the RST
 *   for a segment nobody owns.
 * - `TimeWaitRecord` (time-wait.ts): TIME-WAIT in ~120 octets, which a connection hands over
 *   with `toTimeWait()` so the stack can keep it apart from live connections.
 * The engine's layout and where each RFC is implemented: README.md.
 *
 * What it guarantees:
 * - No I/O, no clock, no timers, no randomness, no Node APIs: time (`Instant`, monotonic ms) and
 *   initial sequence numbers are passed in, so the engine runs unchanged in a browser, a worker
 *   or a deterministic test harness.
 * - Inputs (`handleSegment`, `handleTimeout`) and commands (`send`, `recv`, `close`, `abort`)
 *   never emit anything themselves; outputs are pulled with `pollTransmit` (one segment per
 *   call), `pollEvent` and `pollTimeout`. A burst of segments fed before one drain is
 *   acknowledged once.
 * - Peer misbehaviour never throws; it becomes an event (`error` with an errno-style code) or a
 *   counter. Programmer errors throw a {@link TcpUsageError} carrying a `code`.
 */
export * from './types.js';
export {
  defaultPeerMss,
  ipAddressEquals,
  ipFamily,
  ipTcpOverhead,
  isIpv4,
  isUnspecifiedAddress,
  mssForMtu,
  type IpAddress,
  type IpFamily,
} from './address.js';
export * from './segment.js';
export { DEFAULT_TCP_CONFIG, MAX_UNSCALED_WINDOW, MAX_WINDOW_SCALE, chooseWindowScale, configForFamily, resolveTcpConfig } from './config.js';
export { TcpUsageError, type TcpUsageErrorCode } from './errors.js';
export { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from './seq.js';
export {
  CUBIC_BETA,
  CUBIC_C,
  Cubic,
  HyStart,
  NewReno,
  createCongestionControl,
  initialWindow,
  type AckContext,
  type AckVerdict,
  type CongestionControl,
} from './congestion.js';
export { Scoreboard, type RackState } from './scoreboard.js';
export { RttEstimator } from './rtt.js';
export { SendBuffer } from './send-buffer.js';
export { RecvBuffer } from './recv-buffer.js';
export {
  TcpConnection,
  TcpCounters,
  type AcceptOptions,
  type ConnectOptions,
  type CookieAgreedOptions,
  type CookieOptions,
  type StateChangeHook,
  type TcpStats,
} from './connection.js';
export { COOKIE_MSS, COOKIE_MSS6, TcpListener, type ListenResult, type ListenerOptions, type ListenerStats } from './listener.js';
export { resetFor } from './reset.js';
export { TimeWaitRecord, type TimeWaitInit, type TimeWaitVerdict } from './time-wait.js';
export { QUOTED_TCP_MIN_LENGTH, parseQuotedTcp, type QuotedTcp, type QuotedTcpDropReason, type QuotedTcpResult } from './quoted.js';
