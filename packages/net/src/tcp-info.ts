/**
 * `TcpInfo`: every counter and estimator the engine keeps for one connection, named and
 * documented as Linux's `struct tcp_info` (getsockopt TCP_INFO, what `ss -ti` prints). Read
 * with `socket.getTcpInfo()` or as part of each row of `stack.connections()`.
 */
import type { IpAddress, TcpCongestionControlName, TcpConnection, TcpStats, TcpState } from '@tcp-tun/tcp';

/** A snapshot of one connection's counters and estimators, in the spirit of Linux's `TCP_INFO`. */
export interface TcpInfo {
  /** The RFC 9293 state (Linux: tcpi_state). */
  state: TcpState;

  // ---- RTT and timers ----
  /** Smoothed RTT in ms, RFC 6298 SRTT; 0 before the first sample (Linux: tcpi_rtt, µs there). */
  srttMs: number;
  /** RTT variation in ms, RFC 6298 RTTVAR; 0 before the first sample (Linux: tcpi_rttvar, µs there). */
  rttvarMs: number;
  /** Smallest RTT seen in ms (RACK.min_RTT); 0 before the first sample (Linux: tcpi_min_rtt, µs there). */
  minRttMs: number;
  /** Retransmission timeout in ms, backoff included (Linux: tcpi_rto, µs there). */
  rtoMs: number;
  /** RTT samples taken, a count (Karn's rule applies; no Linux field). */
  rttSamples: number;

  // ---- congestion control ----
  /** Congestion controller in use (Linux: TCP_CONGESTION / `ss` prints it). */
  congestionControl: TcpCongestionControlName;
  /** Congestion window in octets (Linux: tcpi_snd_cwnd, in segments there). */
  cwnd: number;
  /** Slow-start threshold in octets, 0x7fffffff before the first loss (Linux: tcpi_snd_ssthresh, segments). */
  ssthresh: number;
  /** In loss recovery (fast recovery or after an RTO) (Linux: tcpi_ca_state ≥ TCP_CA_Recovery). */
  inRecovery: boolean;
  /** RFC 6675 pipe in octets: in flight − SACKed − lost + retransmitted (Linux: tcpi_unacked − sacked − lost + retrans, segments). */
  pipe: number;
  /** Octets sent and not yet acknowledged, SND.MAX − SND.UNA; SYN and FIN count one each (Linux: tcpi_unacked, in segments there). */
  bytesInFlight: number;

  // ---- byte and segment counts ----
  /** Payload octets sent, retransmissions and probes included (Linux: tcpi_bytes_sent). */
  bytesSent: number;
  /** Payload octets resent (Linux: tcpi_bytes_retrans). */
  bytesRetransmitted: number;
  /** Application octets the peer acknowledged; SYN and FIN are not counted (Linux: tcpi_bytes_acked, which counts neither). */
  bytesAcked: number;
  /** Application octets received in order and made readable (Linux: tcpi_bytes_received). */
  bytesReceived: number;
  /** Segments sent, a count (Linux: tcpi_segs_out). */
  segmentsOut: number;
  /** Segments received, a count (Linux: tcpi_segs_in). */
  segmentsIn: number;

  // ---- loss and recovery ----
  /** Segments resent for any reason, a count (Linux: tcpi_total_retrans). */
  retransmits: number;
  /** Segments ever marked lost, a count (Linux: tcpi_lost is the current number). */
  lostSegments: number;
  /** Retransmission timer expiries, a count (Linux: tcpi_retransmits is the current backoff; `ss` shows it). */
  rtoCount: number;
  /** Loss recovery episodes started by duplicate ACKs or SACK/RACK, a count (Linux: TcpExtTCPFastRetrans, per connection). */
  fastRetransmits: number;
  /** Tail loss probes sent, RFC 8985 §7, a count (Linux: TcpExtTCPLossProbes, per connection). */
  tlpProbes: number;
  /**
   * Times new data waited for room for a whole GSO super-packet, a count (Linux defers so in
   * tcp_tso_should_defer; no Linux field). 0 over a link without GSO send.
   */
  sendsDeferred: number;
  /** D-SACK blocks received, RFC 2883, a count (Linux's tcpi_dsack_dups counts the ones we send). */
  dsacksReceived: number;
  /** Duplicate ACKs received, RFC 5681 §2, a count (no Linux field). */
  dupAcksIn: number;
  /** Octets SACKed by the peer above SND.UNA now (Linux: tcpi_sacked, in segments). */
  sackedBytes: number;
  /** Octets presumed lost now, awaiting retransmission or its ACK (Linux: tcpi_lost, in segments). */
  lostBytes: number;

  // ---- windows ----
  /** The peer's window SND.WND in octets, scaled (Linux: tcpi_snd_wnd). */
  sendWindow: number;
  /** The window we last advertised in octets, from RCV.NXT, scaled (Linux: tcpi_rcv_wnd). */
  recvWindow: number;
  /** Shift applied to the peer's windows (RFC 7323), −1 when not negotiated (Linux: tcpi_snd_wscale). */
  sendWindowScale: number;
  /** Shift applied to our windows (RFC 7323), −1 when not negotiated (Linux: tcpi_rcv_wscale). */
  recvWindowScale: number;
  /** Out-of-order octets held now (Linux: no field; `ss` shows ofo segments). */
  outOfOrderBytes: number;

  // ---- negotiated options (Linux: tcpi_options bits) ----
  /** Window scaling negotiated, RFC 7323 (Linux: TCPI_OPT_WSCALE). */
  windowScalingEnabled: boolean;
  /** SACK negotiated, RFC 2018 (Linux: TCPI_OPT_SACK). */
  sackEnabled: boolean;
  /** Timestamps negotiated, RFC 7323 (Linux: TCPI_OPT_TIMESTAMPS). */
  timestampsEnabled: boolean;
  /** ECN negotiated, RFC 3168 (Linux: TCPI_OPT_ECN). */
  ecnEnabled: boolean;
  /** Nagle's algorithm disabled (Linux: TCP_NODELAY). */
  noDelay: boolean;
  /** Effective send MSS in octets: payload per full segment, options deducted (Linux: tcpi_snd_mss). */
  sendMss: number;
  /** The MSS we announced in our SYN, in octets (Linux: tcpi_advmss). */
  recvMss: number;

  // ---- rate and limits ----
  /**
   * Latest delivery-rate sample in octets per second: octets acknowledged over the last
   * completed round trip divided by its duration; 0 before one completed (Linux: tcpi_delivery_rate).
   */
  deliveryRateBps: number;
  /** Ms with data in flight or waiting to be sent (Linux: tcpi_busy_time, µs there). */
  busyTimeMs: number;
  /** Ms the sender had sent everything the application queued, data still in flight (Linux: tcpi_sndbuf_limited, µs there). */
  appLimitedMs: number;
  /** Ms data waited for the peer's receive window (Linux: tcpi_rwnd_limited, µs there). */
  rwndLimitedMs: number;
  /** Ms data waited for cwnd or left as fast as allowed: busy time less app and rwnd limits (Linux: busy − rwnd − sndbuf). */
  cwndLimitedMs: number;

  // ---- other events ----
  /** Segments arriving beyond RCV.NXT, a count (Linux: TcpExtTCPOFOQueue, per connection). */
  outOfOrderSegments: number;
  /** Segments failing the acceptability test, a count (no Linux field). */
  unacceptableSegments: number;
  /** Segments rejected by PAWS, RFC 7323 §5.3, a count (Linux: TcpExtPAWSEstabRejected, per connection). */
  pawsRejected: number;
  /** Challenge ACKs sent, RFC 5961, a count (Linux: TcpExtTCPChallengeACK, per connection). */
  challengeAcks: number;
  /** Challenge ACKs suppressed by the rate limit, RFC 5961 §7, a count. */
  challengeAcksSuppressed: number;
  /** Keepalive probes sent, RFC 1122 §4.2.3.6, a count (Linux: tcpi_probes while probing). */
  keepAliveProbes: number;
  /** ICMP errors the connection accepted, a count. */
  icmpErrors: number;
  /** Zero-window probes sent, RFC 9293 §3.8.6.1, a count (Linux: tcpi_probes while probing). */
  persistProbes: number;
  /** Pure window updates sent after reads, a count. */
  windowUpdates: number;
  /** Segments received with the IP CE codepoint, RFC 3168, a count (no Linux field). */
  ceReceived: number;
  /** ACKs received with ECE, RFC 3168 §6.1.2, a count. */
  eceReceived: number;
  /** Congestion window reductions in response to ECE, a count. */
  ecnReductions: number;
}

/**
 * Compile-time guard: every field of the engine's `TcpStats` appears in `TcpInfo` (a counter
 * added to the engine and forgotten here fails the build).
 */
type MissingFromTcpInfo = Exclude<keyof TcpStats, keyof TcpInfo>;
const everyStatCovered: [MissingFromTcpInfo] extends [never] ? true : MissingFromTcpInfo = true;
void everyStatCovered;

/** The `TcpInfo` of `conn` now (one object: the engine's stats snapshot, completed). */
export function tcpInfoOf<A extends IpAddress>(conn: TcpConnection<A>): TcpInfo {
  const s = conn.stats;
  return Object.assign(s, { windowScalingEnabled: s.sendWindowScale >= 0 });
}
