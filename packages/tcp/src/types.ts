/**
 * Shared types of the TCP layer: the segment Repr (wire codec) and the engine's
 * inputs, outputs and configuration. Agreed first so the codec, the engine and the
 * stack can be built side by side.
 */
import type { IpAddress } from './address.js';

/** Monotonic time in milliseconds, always passed in by the caller (the engine never reads a clock). */
export type Instant = number;

/**
 * The one control flag a segment carries besides ACK. Modelled as a single value so that
 * impossible mixes (SYN+FIN, SYN+RST, FIN+RST) cannot be built. `psh` is data with PSH;
 * a FIN segment may carry data and is always sent with PSH.
 */
export type TcpControl = 'none' | 'psh' | 'syn' | 'fin' | 'rst';

/** One SACK block (RFC 2018): sequence numbers `left` (inclusive) to `right` (exclusive). */
export interface SackBlock {
  /** First sequence number of the block (inclusive), uint32. */
  readonly left: number;
  /** Sequence number just past the block (exclusive), uint32. */
  readonly right: number;
}

/** RFC 7323 timestamps option. */
export interface TcpTimestamp {
  /** TSval: the sender's timestamp clock when the segment was sent, uint32. */
  readonly tsVal: number;
  /** TSecr: the most recent TSval received from the peer (meaningful only with ACK), uint32. */
  readonly tsEcr: number;
}

/** A parsed or to-be-emitted TCP segment header (everything but the payload bytes). */
export interface TcpRepr {
  /** Source port. */
  readonly srcPort: number;
  /** Destination port. */
  readonly dstPort: number;
  /** SYN, FIN, RST, PSH or none (at most one; see {@link TcpControl}). */
  readonly control: TcpControl;
  /** Sequence number of the first octet (or of the SYN/FIN), uint32. */
  readonly seq: number;
  /** Acknowledgment number; present exactly when the ACK flag is set. uint32. */
  readonly ack: number | undefined;
  /** The raw 16-bit window field (not yet scaled). */
  readonly window: number;
  /** Urgent pointer, present exactly when URG is set (we parse it and never emit it). */
  readonly urgent?: number | undefined;
  /** ECN flags (RFC 3168), parsed and emitted; engine support may come later. */
  readonly ece?: boolean | undefined;
  /** CWR flag (RFC 3168 §6.1.2): the sender reduced its congestion window after an ECE. */
  readonly cwr?: boolean | undefined;
  /** Options (RFC 9293 §3.2, RFC 7323, RFC 2018). Absent means "not present". */
  readonly mss?: number | undefined;
  /** Window Scale option shift, 0..14 (RFC 7323 §2); meaningful on SYN segments only. */
  readonly windowScale?: number | undefined;
  /** SACK-permitted option (RFC 2018 §2); meaningful on SYN segments only. */
  readonly sackPermitted?: boolean | undefined;
  /** SACK option blocks (RFC 2018 §3), at most four. */
  readonly sackBlocks?: readonly SackBlock[] | undefined;
  /** Timestamps option (RFC 7323 §3). */
  readonly timestamp?: TcpTimestamp | undefined;
}

/** The RFC 9293 states, spelled as in the RFC. */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

/** Error codes the engine reports; the socket layer builds Node-style `Error` objects from them. */
export type TcpErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'EPIPE' | 'EHOSTUNREACH' | 'ENETUNREACH';

/**
 * An ICMP error about a connection (RFC 1122 §4.2.3.9, RFC 5927), already matched by the stack to
 * the connection's 4-tuple; see `TcpConnection.handleIcmpError`.
 * - `port-unreachable`, `host-unreachable`, `net-unreachable`: hard errors in SYN-SENT (the
 *   connection fails with ECONNREFUSED / EHOSTUNREACH / ENETUNREACH), soft errors otherwise.
 * - `frag-needed` (RFC 1191) and `packet-too-big` (RFC 8201, ICMPv6): the path MTU is `mtu`; the
 *   send MSS drops to fit (MTU − 40 over IPv4, MTU − 60 over IPv6, never below MTU 1280 over
 *   IPv6, RFC 8201 §4) and the segments that no longer fit are resent. The engine applies the
 *   rules of the connection's family whichever kind names the message.
 */
export type TcpIcmpError =
  | {
      /** ICMP destination unreachable, code 3 (RFC 792). */
      readonly kind: 'port-unreachable';
    }
  | {
      /** ICMP destination unreachable, code 1 (RFC 792). */
      readonly kind: 'host-unreachable';
    }
  | {
      /** ICMP destination unreachable, code 0 (RFC 792). */
      readonly kind: 'net-unreachable';
    }
  | {
      /** ICMP destination unreachable, code 4: fragmentation needed and DF set (RFC 1191). */
      readonly kind: 'frag-needed';
      /** Next-hop MTU the router reported, in octets. */
      readonly mtu: number;
    }
  | {
      /** ICMPv6 packet too big (RFC 4443 §3.2): the path MTU is smaller than our packet (RFC 8201). */
      readonly kind: 'packet-too-big';
      /** The MTU field of the message, in octets (a value below 1280 is taken as 1280, RFC 8201 §4). */
      readonly mtu: number;
    };

/**
 * Events drained with `pollEvent()`, in the order they happened.
 * - `connected`: reached ESTABLISHED (active or passive open).
 * - `readable`: new in-order bytes can be taken with `recv()`.
 * - `writable`: send capacity grew (bytes were acknowledged).
 * - `end`: the peer's FIN arrived and every byte before it has been made readable.
 * - `fin-acked`: the peer acknowledged our FIN (SND.UNA passed it, RFC 9293 §3.10.7.4 fifth:
 *   FIN-WAIT-1 → FIN-WAIT-2, CLOSING → TIME-WAIT, LAST-ACK → CLOSED), and with it every byte
 *   we sent. Emitted at most once, where the acknowledgment arrived among the other events (so
 *   in LAST-ACK right before `closed`); never when the connection was reset, aborted or failed
 *   before the acknowledgment.
 * - `error`: the connection failed with `code`; it is CLOSED (no RST needs to be sent by the caller).
 * - `closed`: the connection reached CLOSED (after TIME-WAIT, LAST-ACK, abort or error);
 *   it sends nothing more and can be removed from every table.
 */
export type TcpEvent =
  | {
      /** Reached ESTABLISHED (active or passive open). */
      readonly type: 'connected';
    }
  | {
      /** New in-order bytes can be taken with `recv()`. */
      readonly type: 'readable';
    }
  | {
      /** Send capacity grew (bytes were acknowledged). */
      readonly type: 'writable';
    }
  | {
      /** The peer's FIN arrived and every byte before it is readable. */
      readonly type: 'end';
    }
  | {
      /** The peer acknowledged our FIN, and with it every byte we sent. */
      readonly type: 'fin-acked';
    }
  | {
      /** The connection failed and is CLOSED. */
      readonly type: 'error';
      /** Why it failed. */
      readonly code: TcpErrorCode;
    }
  | {
      /** The connection reached CLOSED and sends nothing more. */
      readonly type: 'closed';
    };

/**
 * IP ECN codepoint for an outgoing segment (RFC 3168 §5): `ect0` = ECT(0) (binary 10), set on new
 * data segments of an ECN-capable connection; `not-ect` (00) on everything else (SYNs, pure ACKs,
 * retransmissions and window probes, RFC 3168 §6.1.1, §6.1.4, §6.1.5).
 */
export type TcpEcnCodepoint = 'ect0' | 'not-ect';

/** One segment to put on the wire. `payload` may alias engine memory: emit it before the next call. */
export interface Transmit {
  /** The TCP header to emit. */
  readonly repr: TcpRepr;
  /** Segment data (may be empty); valid only until the next call into the engine. */
  readonly payload: Uint8Array;
  /** The IP header's ECN field for this segment; absent means `not-ect`. */
  readonly ecn?: TcpEcnCodepoint | undefined;
}

/** Congestion controllers the engine offers (`TcpConfig.congestionControl`). */
export type TcpCongestionControlName = 'cubic' | 'newreno';

/**
 * An IP address and a port. `A` narrows the address family for code that holds one: it defaults
 * to `number` (IPv4) so code written before IPv6 compiles unchanged; dual-stack code writes
 * `Endpoint<IpAddress>`. At run time the engine treats both families alike (see address.ts).
 */
export interface Endpoint<A extends IpAddress = number> {
  /** IPv4 address as a uint32 (10.0.0.1 is 0x0a000001), or IPv6 address as 16 octets. */
  readonly addr: A;
  /** Port, 0–65535. */
  readonly port: number;
}

/** Engine configuration; every field has a default (see `DEFAULT_TCP_CONFIG`). */
export interface TcpConfig {
  /**
   * MSS we advertise and the ceiling of what we send, stated for IPv4 (link MTU − 40). An IPv6
   * connection uses `mss − 20` (link MTU − 60, RFC 8200 §8.3), so one config fills the same
   * packet size over both families; see `configForFamily` and `mssForMtu`.
   */
  readonly mss: number;
  /** Receive buffer in octets: the most we advertise and hold (in-order + out-of-order). */
  readonly recvBufferSize: number;
  /**
   * Send buffer in octets: the most unsent + unacknowledged data accepted from the application.
   * With `sendBufferAutoSize` this is a ceiling the buffer grows towards with cwnd.
   */
  readonly sendBufferSize: number;
  /**
   * Size the send buffer by the congestion window, as Linux autotunes `sk_sndbuf`
   * (`tcp_sndbuf_expand`): `send()` accepts up to 2 × max(10, cwnd in segments) × MSS octets
   * (at least 16 KiB, at most `sendBufferSize`), raised as cwnd grows and never lowered. Default
   * true; false accepts up to `sendBufferSize` at once (as Linux after `SO_SNDBUF`).
   */
  readonly sendBufferAutoSize: boolean;
  /** Initial RTO before any RTT sample, in ms (default 1000; RFC 6298 §2.1). */
  readonly rtoInitialMs: number;
  /** Lower bound of the RTO in ms (default 200, as Linux; RFC 6298 §2.4 suggests 1 s). */
  readonly rtoMinMs: number;
  /** Upper bound of the RTO in ms, backoff included (default 60 000; RFC 6298 §2.5). */
  readonly rtoMaxMs: number;
  /** Retransmissions of one segment before the connection fails with ETIMEDOUT. */
  readonly maxRetransmits: number;
  /** Retransmissions of a SYN (active open) or SYN-ACK before giving up. */
  readonly synRetries: number;
  /** TIME-WAIT duration (2·MSL). */
  readonly timeWaitMs: number;
  /** How long FIN-WAIT-2 may last after our FIN is acknowledged and the application closed. */
  readonly finWait2TimeoutMs: number;
  /** Delayed-ACK bound (RFC 1122 4.2.3.2: < 500 ms); 0 acknowledges at once. */
  readonly delayedAckMs: number;
  /** Most out-of-order octets held for reassembly (bounded by recvBufferSize too). */
  readonly maxOutOfOrderBytes: number;
  /**
   * Receive window scale shift we offer (RFC 7323 §2): -1 (default) picks the smallest shift that
   * lets the window cover `recvBufferSize`; 0..14 offers that shift. Ignored when
   * `windowScaling` is false.
   */
  readonly windowScale: number;
  /** Offer the Window Scale option (RFC 7323 §2) on our SYN / accept it on the peer's. */
  readonly windowScaling: boolean;
  /** Offer and accept SACK (RFC 2018) with RFC 6675 / RFC 8985 (RACK-TLP) loss recovery. */
  readonly sack: boolean;
  /** Offer and accept timestamps (RFC 7323 §3–§5: RTTM and PAWS). */
  readonly timestamps: boolean;
  /** Negotiate ECN (RFC 3168 §6.1.1): ECT(0) on data, react to CE via ECE/CWR. */
  readonly ecn: boolean;
  /** Congestion controller: `cubic` (RFC 9438, default) or `newreno` (RFC 5681/6582). */
  readonly congestionControl: TcpCongestionControlName;
  /**
   * Disable Nagle's algorithm (RFC 1122 §4.2.3.4) from the start; `setNoDelay()` changes it
   * per connection. Default false: Nagle on, as Node's `net.Socket`.
   */
  readonly noDelay: boolean;
  /** Keepalive (RFC 1122 §4.2.3.6, off until `setKeepAlive(true)`): idle time before the first probe. */
  readonly keepAliveIdleMs: number;
  /** Keepalive: time between unanswered probes. */
  readonly keepAliveIntervalMs: number;
  /** Keepalive: unanswered probes before the connection fails with ETIMEDOUT. */
  readonly keepAliveProbes: number;
  /**
   * User timeout (RFC 9293 §3.10.8, RFC 5482 semantics): data unacknowledged (or held by a zero
   * window) for this long fails the connection with ETIMEDOUT; it then replaces the
   * `maxRetransmits` bound on data and probes. 0 = off. Per connection: `setUserTimeout()`.
   */
  readonly userTimeoutMs: number;
  /** RFC 5961 §7: at most this many challenge ACKs per `challengeAckWindowMs` per connection (0 = unlimited). */
  readonly challengeAckLimit: number;
  /** Length in ms of the window `challengeAckLimit` counts over (default 1000). */
  readonly challengeAckWindowMs: number;
  /**
   * Send quantum: the payload octets one super-packet of the link carries (a GSO/TSO "train" of
   * consecutive full-sized segments handed over in one write; a caller with a GSO link may set
   * it, @tcp-tun/net leaves it 0). 0 (default): new data leaves as soon as the window allows,
   * as always. Above 0, a sender limited by cwnd or the peer's window that has at least
   * a quantum in flight holds new data until the room reaches a whole quantum (rounded down to
   * full segments, at least one) or a third of the window, then sends a quantum in one go (as
   * far as the window allows), as Linux's `tcp_tso_should_defer`: each write (and the ACK the
   * receiver answers it with) costs far more than its octets, so partial trains waste writes.
   * Never during loss recovery, for a tail loss probe, a retransmission, or a segment that
   * carries our FIN; an application-limited sender never waits. At most 1 MiB.
   */
  readonly sendQuantum: number;
}
