/**
 * A `Link` is a port that moves whole IPv4 packets: the TUN device of `@tcp-tun/tun`, the
 * in-memory pair used by tests, and wrappers (fault injection, capture) all fit it structurally,
 * so this package never imports the device code.
 */

/** Called by a link with every packet of one read burst. */
export type LinkReceiver = (packets: readonly Uint8Array[]) => void;

export interface Link {
  /** Largest IPv4 packet, in octets, the link carries. */
  readonly mtu: number;
  /**
   * Starts delivery. Packets are valid only for the duration of the call (the link may
   * reuse their memory afterwards); the receiver must copy what it keeps.
   */
  start(receiver: LinkReceiver): void;
  /**
   * Sends one packet. The link copies or writes it before returning, so the caller may
   * reuse the buffer at once. Never throws for transient failures; it counts them.
   */
  send(packet: Uint8Array): void;
  /** Stops delivery and releases the link. Safe to call twice. */
  close(): Promise<void>;
}
