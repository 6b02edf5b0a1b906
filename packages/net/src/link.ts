/**
 * A `Link` is a port that moves whole IP packets (IPv4 and IPv6, told apart by the version
 * nibble): the TUN device of `@tcp-tun/tun`, the in-memory pair used by tests, and wrappers
 * (fault injection, capture) all fit it structurally, so this package never imports the device
 * code.
 */

/**
 * Called by a link with every packet of one read burst.
 *
 * `checksumTrusted`, when given, runs parallel to `packets`: `checksumTrusted[i]` true says the
 * link vouches for the transport (TCP) checksum of `packets[i]`, so the stack skips verifying
 * it. Only a link that knows where a packet came from may say so: the TUN device with offload
 * does for packets the kernel marked `NEEDS_CSUM` (a local socket's packet that crossed memory,
 * Linux's CHECKSUM_PARTIAL) or `DATA_VALID` (already verified, CHECKSUM_UNNECESSARY; virtio
 * spec v1.2 §5.1.6.4); Linux itself does not verify such packets either. The bytes of a packet
 * can never set it. Absent, or an entry that is not `true`, means "verify" (every link that
 * predates the argument, `createLinkPair`, a loopback).
 *
 * A wrapper that passes packets through unchanged may pass the array on (`capture`,
 * `traceLink`); one that may change packets (`withFaults`) must not, and simply calling its
 * receiver with one argument is how it does not. Like the packets, the array is valid only
 * during the call.
 */
export type LinkReceiver = (packets: readonly Uint8Array[], checksumTrusted?: readonly boolean[]) => void;

/**
 * A port that moves whole IP packets (IPv4 and IPv6) in both directions; what a `Stack` runs
 * on (a TUN device, a `createLinkPair` side, or a wrapper such as `withFaults`, `capture` or
 * `traceLink`).
 */
export interface Link {
  /** Largest IP packet, in octets, the link carries (at least 1280 for a stack with IPv6). */
  readonly mtu: number;
  /**
   * Starts delivery. Packets are valid only for the duration of the call (the link may
   * reuse their memory afterwards); the receiver must copy what it keeps. See
   * {@link LinkReceiver} for the optional per-packet "checksum trusted" flags.
   */
  start(receiver: LinkReceiver): void;
  /**
   * Sends one packet. The link copies or writes it before returning, so the caller may
   * reuse the buffer at once. Never throws for transient failures; it counts them.
   */
  send(packet: Uint8Array): void;
  /** Stops delivery and releases the link. Safe to call twice. */
  close(): Promise<void>;
  /**
   * Present when the link can segment TCP itself (GSO send, "TSO"; the TUN device with offload):
   * `maxPacket` is the largest super-packet `sendTso` takes, in octets: 65535, or more for a link
   * that takes the two shapes of a larger one (see `sendTso`; the stack builds at most 131072). A link
   * without it (or without `sendTso`) gets only `send`, exactly as before. Wrappers that work
   * per packet (fault injection) do not advertise it.
   */
  readonly tso?: {
    /** Largest super-packet `sendTso` accepts, in octets (over 65535: see `sendTso`). */
    readonly maxPacket: number;
  };
  /**
   * Sends one IPv4/TCP or IPv6/TCP packet (TCP right after the fixed header) of up to
   * `tso.maxPacket` octets whose TCP checksum field holds the PARTIAL sum: the folded
   * pseudo-header sum (RFC 9293 §3.1, RFC 8200 §8.1) over the whole TCP length, not
   * complemented, as Linux's `__tcp_v4_send_check` leaves it for hardware. When its payload is
   * longer than `segmentSize`, the link (or whatever is behind it) cuts it into segments of
   * `segmentSize` payload octets, as Linux's tcp_gso_segment does: headers copied, sequence
   * numbers advanced, FIN and PSH only on the last segment, CWR only on the first, IPv4
   * identification incremented per segment (IPv6 has none), checksums completed. A shorter packet is one
   * segment that only needs its checksum completed. Copies or writes before returning, and
   * never throws for transient failures, as `send`.
   *
   * Over 65,535 octets of TCP (only with a `maxPacket` that allows it) the length does not fit the
   * IP header: an IPv4 packet then has Total Length 0 (Linux's BIG TCP for IPv4) and the partial
   * sum counts the 32-bit TCP length; an IPv6 packet is a jumbogram, a Hop-by-Hop header holding
   * only the Jumbo Payload option between the fixed header and TCP (RFC 2675; Linux's BIG TCP
   * for IPv6). The segments cut from either carry ordinary headers.
   */
  sendTso?(packet: Uint8Array, segmentSize: number): void;
  /**
   * Optional hint: the sender has ended a batch of `send`/`sendTso` calls (the stack calls it
   * at the end of each drain). A link that hands packets to another thread (the TUN device with
   * `writer: 'worker' | 'auto'`) wakes that thread here once per batch instead of once per
   * packet. Never required: a link must also get its packets out without it.
   */
  flush?(): void;
}
