/**
 * The TCP header an ICMP error quotes (RFC 792: "Internet Header + 64 bits of Original Data
 * Datagram"). Those 64 bits are all a router must send back, so only the fields inside them are
 * read: the ports and the sequence number (RFC 5927 §4.1 checks it against the window). The
 * quote comes from the network and is untrusted: the parse never throws and says why it refused.
 */

/** What an ICMP error's quote tells of the TCP segment it is about. */
export interface QuotedTcp {
  /** Source port of the quoted segment (ours, when we sent it). */
  readonly srcPort: number;
  /** Destination port of the quoted segment (the peer's). */
  readonly dstPort: number;
  /** The quoted segment's sequence number. */
  readonly seq: number;
}

/** Why a quoted TCP header was refused. */
export type QuotedTcpDropReason =
  /** Fewer than the 8 octets RFC 792 guarantees (ports and sequence number). */
  'truncated';

/** The result of {@link parseQuotedTcp}: the fields, or why the quote was refused. */
export type QuotedTcpResult =
  | {
      /** The quote was long enough. */
      readonly ok: true;
      /** The quoted segment's ports and sequence number. */
      readonly quoted: QuotedTcp;
    }
  | {
      /** The quote was refused. */
      readonly ok: false;
      /** Why. */
      readonly reason: QuotedTcpDropReason;
    };

/** Octets of the original datagram's data that an ICMP error carries at least (RFC 792). */
export const QUOTED_TCP_MIN_LENGTH = 8;

/**
 * Reads the ports and sequence number from the start of a quoted TCP header (`transport`: the
 * octets after the quoted IP header). Never throws; anything shorter than 8 octets is refused.
 */
export function parseQuotedTcp(transport: Uint8Array): QuotedTcpResult {
  if (transport.length < QUOTED_TCP_MIN_LENGTH) return { ok: false, reason: 'truncated' };
  const b = transport;
  return {
    ok: true,
    quoted: {
      srcPort: ((b[0] as number) << 8) | (b[1] as number),
      dstPort: ((b[2] as number) << 8) | (b[3] as number),
      seq: (((b[4] as number) << 24) | ((b[5] as number) << 16) | ((b[6] as number) << 8) | (b[7] as number)) >>> 0,
    },
  };
}
