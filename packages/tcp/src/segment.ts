/**
 * TCP segment wire codec (RFC 9293 §3.1 header, §3.2 options; RFC 7323 window scale and
 * timestamps; RFC 2018 SACK; RFC 3168 ECN flags): a zero-copy view, and `parseTcp` /
 * `emitTcp` between bytes and a {@link TcpRepr}.
 *
 * Receive policy (`parseTcp`), in this order, each with its reason:
 * 1. `truncated`: fewer than 20 octets.
 * 2. `bad-data-offset`: Data Offset below 5 words or beyond the segment (RFC 9293 §3.1).
 * 3. `bad-checksum`: the one's complement sum of pseudo-header + whole segment is not
 *    0xffff (RFC 9293 §3.1, §3.10.7.x: a bad checksum MUST be discarded). Summing the stored
 *    field accepts both encodings of a zero checksum (Linux writes 0xffff). Skipped only when
 *    the caller says the checksum is trusted (`parseTcpInto`'s `checksumTrusted`: the link
 *    knows the segment was made or verified in memory, as Linux skips it for CHECKSUM_PARTIAL
 *    and CHECKSUM_UNNECESSARY packets); the octets themselves can never say so.
 * 4. `bad-port`: source or destination port 0 is reserved and never valid on the wire.
 * 5. `bad-flags`: SYN+FIN, SYN+RST and FIN+RST have no meaning and are scan/evasion
 *    probes; they cannot be represented by a single `control`. RST may carry ACK, PSH and
 *    data (RFC 9293 §3.5.3 allows diagnostic data in a RST), so only those mixes are refused.
 * 6. `bad-option`: an option whose length octet is missing, below 2, runs past the header,
 *    or does not fit its kind (RFC 9293 §3.2 says to handle an illegal option length "by
 *    resetting or dropping"; we drop). Unknown kinds are skipped by their length; EOL ends
 *    the list (RFC 9293 §3.2).
 * MSS, Window Scale and SACK-Permitted are only meaningful on a SYN (RFC 9293 §3.7.1,
 * RFC 7323 §2.2 "SHOULD be ignored" otherwise, RFC 2018 §2): on other segments they are
 * ignored (left `undefined`). A Window Scale above 14 is used as 14 (RFC 7323 §2.3).
 *
 * Emit layout (`emitTcp`): options in a compact 32-bit aligned layout, as Linux does:
 *   MSS(4) | SACK-Permitted+Timestamps(12) or NOP,NOP,Timestamps(12) or NOP,NOP,SACK-Permitted(4)
 *   | NOP,Window Scale(4) | NOP,NOP,SACK(2+8n)
 * so no trailing padding is ever needed; SACK blocks that do not fit the 40 option octets
 * are left out (RFC 2018 §3: with timestamps at most 3 blocks fit).
 *
 * Hot path: parse and emit read and write octets directly (no DataView, no copies of the
 * header; the only allocations are the Repr, the payload view, and the timestamp/SACK
 * objects when those options are present; `parseTcpInto` writes into a reusable target and
 * allocates none of them but SACK blocks); the usual NOP, NOP, Timestamps option block is recognised without
 * the option loop; the checksum is summed over 32-bit words.
 *
 * Both IP versions: the addresses given for the checksum are an {@link IpAddress}, an IPv4 number
 * (the RFC 9293 §3.1 pseudo-header) or IPv6 octets (the RFC 8200 §8.1 pseudo-header: both
 * addresses, a 32-bit upper-layer length, next header 6). Nothing else in a segment depends on
 * the family. The one `typeof` keeps the IPv4 path as it was.
 */
import { onesComplementSum, pseudoHeaderSum, pseudoHeaderSum6, IpProtocol } from '@tcp-tun/ip';
import type { IpAddress } from './address.js';
import type { SackBlock, TcpControl, TcpRepr, TcpTimestamp } from './types.js';

/** Length of a TCP header without options, octets. */
export const TCP_HEADER_LENGTH = 20;
/** Longest TCP header (Data Offset is 4 bits of 32-bit words), octets. */
export const TCP_MAX_HEADER_LENGTH = 60;
/** Largest window scale shift (RFC 7323 §2.3). */
export const TCP_MAX_WINDOW_SCALE = 14;

// RFC 9293 §3.1 header layout: octet offsets of each field.
const F = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ: 4,
  ACK: 8,
  DATA_OFFSET: 12, // high nibble: header length in 32-bit words
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  OPTIONS: 20,
} as const;

/** TCP flag bits of the FLAGS octet (RFC 9293 §3.1, RFC 3168 §23.2 for ECE/CWR). */
export const TcpFlags = {
  /** No more data from the sender. */
  FIN: 0x01,
  /** Synchronize sequence numbers (opens a connection). */
  SYN: 0x02,
  /** Reset the connection. */
  RST: 0x04,
  /** Push: deliver the data to the application promptly. */
  PSH: 0x08,
  /** The acknowledgment number field is significant. */
  ACK: 0x10,
  /** The urgent pointer field is significant. */
  URG: 0x20,
  /** ECN-Echo: congestion experienced was seen (RFC 3168 §6.1); on a SYN, ECN offered. */
  ECE: 0x40,
  /** Congestion Window Reduced: the sender answered an ECE (RFC 3168 §6.1.2). */
  CWR: 0x80,
} as const;

// Option kinds (IANA "TCP Option Kind Numbers").
const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_MSS = 2; // RFC 9293 §3.2, length 4
const OPT_WS = 3; // RFC 7323 §2.2, length 3
const OPT_SACK_PERM = 4; // RFC 2018 §2, length 2
const OPT_SACK = 5; // RFC 2018 §3, length 2 + 8n
const OPT_TS = 8; // RFC 7323 §3.2, length 10
const MAX_SACK_BLOCKS = 4;
const MAX_OPTIONS_LENGTH = TCP_MAX_HEADER_LENGTH - TCP_HEADER_LENGTH;

/** Why `parseTcp` dropped a segment (policy in the module comment). */
export type TcpDropReason = 'truncated' | 'bad-data-offset' | 'bad-checksum' | 'bad-flags' | 'bad-port' | 'bad-option';

/** Result of {@link parseTcp}. `payload` is a view of the input's memory (no copy), a plain `Uint8Array`. */
export type TcpParseResult =
  | {
      /** The segment is valid. */
      ok: true;
      /** The decoded header. */
      repr: TcpRepr;
      /** The data octets after the header. */
      payload: Uint8Array;
    }
  | {
      /** The segment was dropped. */
      ok: false;
      /** Why it was dropped. */
      reason: TcpDropReason;
    };

/**
 * A zero-copy view of a TCP segment over a `Uint8Array` (any `byteOffset`), the bytes being
 * exactly the segment (the IP payload). Use it on received bytes only after
 * {@link TcpSegment.check} passed; getters then never read out of bounds.
 */
export class TcpSegment {
  /** The bytes this view wraps. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Validates lengths once: the fixed header fits, and Data Offset is at least 5 words and
   * within the bytes. Returns `undefined` when safe, else the reason.
   */
  static check(bytes: Uint8Array): 'truncated' | 'bad-data-offset' | undefined {
    if (bytes.length < TCP_HEADER_LENGTH) return 'truncated';
    const headerLength = (bytes[F.DATA_OFFSET]! >>> 4) * 4;
    if (headerLength < TCP_HEADER_LENGTH || headerLength > bytes.length) return 'bad-data-offset';
    return undefined;
  }

  /** Source port. */
  get srcPort(): number {
    return this.view.getUint16(F.SRC_PORT);
  }
  /** Writes the source port (the checksum is not updated). */
  set srcPort(v: number) {
    this.view.setUint16(F.SRC_PORT, v);
  }

  /** Destination port. */
  get dstPort(): number {
    return this.view.getUint16(F.DST_PORT);
  }
  /** Writes the destination port (the checksum is not updated). */
  set dstPort(v: number) {
    this.view.setUint16(F.DST_PORT, v);
  }

  /** Sequence number, uint32. */
  get seq(): number {
    return this.view.getUint32(F.SEQ);
  }
  /** Writes the sequence number (taken modulo 2^32). */
  set seq(v: number) {
    this.view.setUint32(F.SEQ, v >>> 0);
  }

  /** Acknowledgment number field, uint32 (meaningful only when the ACK flag is set). */
  get ackNumber(): number {
    return this.view.getUint32(F.ACK);
  }
  /** Writes the acknowledgment number field (taken modulo 2^32). */
  set ackNumber(v: number) {
    this.view.setUint32(F.ACK, v >>> 0);
  }

  /** Header length in octets (Data Offset × 4), 20..60. */
  get headerLength(): number {
    return (this.bytes[F.DATA_OFFSET]! >>> 4) * 4;
  }
  /** Sets Data Offset from a length in octets (a multiple of 4); the reserved bits are cleared. */
  set headerLength(octets: number) {
    this.bytes[F.DATA_OFFSET] = ((octets >>> 2) & 0x0f) << 4;
  }

  /** The flags octet (see {@link TcpFlags}). */
  get flags(): number {
    return this.bytes[F.FLAGS]!;
  }
  /** Writes the whole flags octet (an OR of {@link TcpFlags} bits). */
  set flags(v: number) {
    this.bytes[F.FLAGS] = v;
  }

  /** FIN flag. */
  get fin(): boolean {
    return (this.flags & TcpFlags.FIN) !== 0;
  }
  /** SYN flag. */
  get syn(): boolean {
    return (this.flags & TcpFlags.SYN) !== 0;
  }
  /** RST flag. */
  get rst(): boolean {
    return (this.flags & TcpFlags.RST) !== 0;
  }
  /** PSH flag. */
  get psh(): boolean {
    return (this.flags & TcpFlags.PSH) !== 0;
  }
  /** ACK flag. */
  get ack(): boolean {
    return (this.flags & TcpFlags.ACK) !== 0;
  }
  /** URG flag. */
  get urg(): boolean {
    return (this.flags & TcpFlags.URG) !== 0;
  }
  /** ECE flag (RFC 3168). */
  get ece(): boolean {
    return (this.flags & TcpFlags.ECE) !== 0;
  }
  /** CWR flag (RFC 3168). */
  get cwr(): boolean {
    return (this.flags & TcpFlags.CWR) !== 0;
  }

  /** Window field, octets before scaling (RFC 7323). */
  get window(): number {
    return this.view.getUint16(F.WINDOW);
  }
  /** Writes the raw window field (already scaled down by the sender's shift). */
  set window(v: number) {
    this.view.setUint16(F.WINDOW, v);
  }

  /** Checksum field as stored. */
  get checksum(): number {
    return this.view.getUint16(F.CHECKSUM);
  }
  /** Writes the checksum field as given (compute it over the pseudo-header first). */
  set checksum(v: number) {
    this.view.setUint16(F.CHECKSUM, v);
  }

  /** Urgent pointer field, octets from `seq` (meaningful only when URG is set). */
  get urgentPointer(): number {
    return this.view.getUint16(F.URGENT);
  }
  /** Writes the urgent pointer field. */
  set urgentPointer(v: number) {
    this.view.setUint16(F.URGENT, v);
  }

  /** The option octets (a subarray, empty without options). */
  get options(): Uint8Array {
    return this.bytes.subarray(F.OPTIONS, this.headerLength);
  }

  /** The payload: everything after the header (a subarray). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }

  /** True when the checksum over pseudo-header (IPv4 or IPv6, by the addresses) + segment verifies (either zero encoding). */
  verifyChecksum(srcAddr: IpAddress, dstAddr: IpAddress): boolean {
    const b = this.bytes;
    return onesComplementSum(b, tcpPseudoHeaderSum(srcAddr, dstAddr, b.length)) === 0xffff;
  }

  /** Computes the checksum over pseudo-header (IPv4 or IPv6, by the addresses) + segment and stores it. */
  fillChecksum(srcAddr: IpAddress, dstAddr: IpAddress): void {
    const b = this.bytes;
    this.checksum = 0;
    this.checksum = ~onesComplementSum(b, tcpPseudoHeaderSum(srcAddr, dstAddr, b.length)) & 0xffff;
  }
}

/**
 * The folded one's complement sum of the TCP pseudo-header for a segment of `length` octets from
 * `src` to `dst`: RFC 9293 §3.1's (IPv4: addresses, zero, protocol 6, 16-bit TCP length) for
 * numbers, RFC 8200 §8.1's (IPv6: addresses, 32-bit length, zeros, next header 6) for IPv6
 * octets. Pass it as the initial sum of the segment's checksum; not complemented, it is also what
 * a partial checksum (CHECKSUM_PARTIAL, segmentation offload) leaves in the checksum field.
 * @throws TypeError with `code: 'ERR_INVALID_ARG_TYPE'` when one address is IPv4 and the other IPv6.
 */
export function tcpPseudoHeaderSum(src: IpAddress, dst: IpAddress, length: number): number {
  if (typeof src === 'number') {
    if (typeof dst === 'number') return pseudoHeaderSum(src, dst, IpProtocol.Tcp, length);
  } else if (typeof dst !== 'number') {
    return pseudoHeaderSum6(src, dst, IpProtocol.Tcp, length);
  }
  const err = new TypeError('TCP pseudo-header: source and destination must be of one IP version') as TypeError & { code: string };
  err.code = 'ERR_INVALID_ARG_TYPE';
  throw err;
}

const FAILED: Readonly<Record<TcpDropReason, TcpParseResult>> = {
  truncated: Object.freeze({ ok: false, reason: 'truncated' }),
  'bad-data-offset': Object.freeze({ ok: false, reason: 'bad-data-offset' }),
  'bad-checksum': Object.freeze({ ok: false, reason: 'bad-checksum' }),
  'bad-flags': Object.freeze({ ok: false, reason: 'bad-flags' }),
  'bad-port': Object.freeze({ ok: false, reason: 'bad-port' }),
  'bad-option': Object.freeze({ ok: false, reason: 'bad-option' }),
};

/**
 * Parses and validates a received TCP segment (`bytes` is exactly the IP payload) sent from
 * `srcAddr` to `dstAddr` (for the pseudo-header: IPv4 numbers or IPv6 octets, both of one
 * version). Never throws on any octets; addresses of mixed versions are a programming error
 * (see {@link tcpPseudoHeaderSum}). The Repr always has
 * every field defined or explicitly `undefined` (one object shape); `payload` is a view of `bytes`.
 */
export function parseTcp(bytes: Uint8Array, srcAddr: IpAddress, dstAddr: IpAddress): TcpParseResult {
  const target = new TcpParseTarget();
  const reason = parseTcpInto(bytes, srcAddr, dstAddr, target);
  if (reason !== undefined) return FAILED[reason];
  // A plain Uint8Array view even when `bytes` is a Node Buffer: cheaper than Buffer's subarray.
  const payload = new Uint8Array(bytes.buffer, bytes.byteOffset + target.payloadStart, bytes.length - target.payloadStart);
  return { ok: true, repr: target.repr, payload };
}

/** A {@link TcpRepr} whose fields {@link parseTcpInto} overwrites. */
export type MutableTcpRepr = { -readonly [K in keyof TcpRepr]: TcpRepr[K] };

/**
 * Where {@link parseTcpInto} puts what it parsed. A receive loop keeps one and parses every
 * segment into it, instead of allocating a result, a Repr and a timestamp object per segment
 * (with the IPv4 ones, most of the garbage of a 1500-octet packet stream).
 */
export class TcpParseTarget {
  /**
   * The parsed header, every field present (one object shape). It, and the object in its
   * `timestamp`, are overwritten by the next parse into this target: copy what you keep.
   * `sackBlocks`, when present, is a fresh array.
   */
  readonly repr: MutableTcpRepr = {
    srcPort: 0,
    dstPort: 0,
    control: 'none',
    seq: 0,
    ack: undefined,
    window: 0,
    urgent: undefined,
    ece: false,
    cwr: false,
    mss: undefined,
    windowScale: undefined,
    sackPermitted: undefined,
    sackBlocks: undefined,
    timestamp: undefined,
  };
  /** Index in the parsed `bytes` where the payload starts; it runs to the segment's end. */
  payloadStart = 0;
  /** The object `repr.timestamp` points to when the segment carries timestamps (reused). */
  readonly timestampStorage: {
    /** TSval of the last parsed segment (RFC 7323 §3). */
    tsVal: number;
    /** TSecr of the last parsed segment (RFC 7323 §3). */
    tsEcr: number;
  } = { tsVal: 0, tsEcr: 0 };
}

/** Points `target.repr.timestamp` at the target's reused object, holding the option at `at`. */
function readTimestamp(target: TcpParseTarget, bytes: Uint8Array, at: number): void {
  const ts = target.timestampStorage;
  ts.tsVal = u32(bytes, at);
  ts.tsEcr = u32(bytes, at + 4);
  target.repr.timestamp = ts;
}

/**
 * {@link parseTcp} without allocating (but for SACK blocks): the same checks and policy over
 * the segment `bytes[start, end)`, the result written into `target`. The payload is
 * `bytes[target.payloadStart, end)`. Returns `undefined` when the segment is valid, else why it
 * was dropped (the target's content is then unspecified). Never throws on any octets.
 * `checksumTrusted` (default false) skips step 3, the checksum: pass true only for a segment
 * whose link vouches for it (the checksum field may then hold a partial sum); the other checks run.
 * @throws RangeError with `code: 'ERR_OUT_OF_RANGE'` when `[start, end)` is not within `bytes`.
 */
export function parseTcpInto(
  bytes: Uint8Array,
  srcAddr: IpAddress,
  dstAddr: IpAddress,
  target: TcpParseTarget,
  start = 0,
  end = bytes.length,
  checksumTrusted = false,
): TcpDropReason | undefined {
  if (!(start >= 0 && start <= end && end <= bytes.length)) {
    const err = new RangeError(`parseTcpInto: [${start}, ${end}) is not within ${bytes.length} octets`) as RangeError & { code: string };
    err.code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
  const len = end - start;
  if (len < TCP_HEADER_LENGTH) return 'truncated';
  const headerLength = (bytes[start + F.DATA_OFFSET]! >>> 4) * 4;
  if (headerLength < TCP_HEADER_LENGTH || headerLength > len) return 'bad-data-offset';
  if (!checksumTrusted) {
    const pseudo = typeof srcAddr === 'number' && typeof dstAddr === 'number' ? pseudoHeaderSum(srcAddr, dstAddr, IpProtocol.Tcp, len) : tcpPseudoHeaderSum(srcAddr, dstAddr, len);
    if (onesComplementSum(bytes, pseudo, start, end) !== 0xffff) return 'bad-checksum';
  }
  const srcPort = (bytes[start + F.SRC_PORT]! << 8) | bytes[start + F.SRC_PORT + 1]!;
  const dstPort = (bytes[start + F.DST_PORT]! << 8) | bytes[start + F.DST_PORT + 1]!;
  if (srcPort === 0 || dstPort === 0) return 'bad-port';

  const flags = bytes[start + F.FLAGS]!;
  const syn = (flags & TcpFlags.SYN) !== 0;
  const fin = (flags & TcpFlags.FIN) !== 0;
  const rst = (flags & TcpFlags.RST) !== 0;
  if ((syn && (fin || rst)) || (fin && rst)) return 'bad-flags';
  const repr = target.repr;
  repr.mss = undefined;
  repr.windowScale = undefined;
  repr.sackPermitted = undefined;
  repr.sackBlocks = undefined;
  repr.timestamp = undefined;

  // Options (RFC 9293 §3.2): kind, length, value; EOL ends, NOP pads.
  const optionsEnd = start + headerLength;
  let i = start + F.OPTIONS;
  if (
    headerLength === F.OPTIONS + 12 &&
    bytes[i] === OPT_NOP &&
    bytes[i + 1] === OPT_NOP &&
    bytes[i + 2] === OPT_TS &&
    bytes[i + 3] === 10
  ) {
    // The layout of nearly every segment of a connection with timestamps (RFC 7323 Appendix A):
    // NOP, NOP, Timestamps and nothing else. Taken without the general loop below.
    readTimestamp(target, bytes, i + 4);
    i = optionsEnd;
  }
  while (i < optionsEnd) {
    const kind = bytes[i]!;
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= optionsEnd) return 'bad-option';
    const optLen = bytes[i + 1]!;
    if (optLen < 2 || i + optLen > optionsEnd) return 'bad-option';
    switch (kind) {
      case OPT_MSS:
        if (optLen !== 4) return 'bad-option';
        if (syn) repr.mss = (bytes[i + 2]! << 8) | bytes[i + 3]!;
        break;
      case OPT_WS:
        if (optLen !== 3) return 'bad-option';
        // RFC 7323 §2.3: a shift above 14 is logged and used as 14.
        if (syn) repr.windowScale = Math.min(bytes[i + 2]!, TCP_MAX_WINDOW_SCALE);
        break;
      case OPT_SACK_PERM:
        if (optLen !== 2) return 'bad-option';
        if (syn) repr.sackPermitted = true;
        break;
      case OPT_SACK: {
        const n = (optLen - 2) >>> 3;
        if (n < 1 || n > MAX_SACK_BLOCKS || optLen !== 2 + 8 * n) return 'bad-option';
        const blocks: SackBlock[] = [];
        for (let k = 0, p = i + 2; k < n; k++, p += 8) blocks.push({ left: u32(bytes, p), right: u32(bytes, p + 4) });
        repr.sackBlocks = blocks;
        break;
      }
      case OPT_TS:
        if (optLen !== 10) return 'bad-option';
        readTimestamp(target, bytes, i + 2);
        break;
      default:
        break; // unknown kind: skipped by its length (RFC 9293 §3.2, RFC 1122 §4.2.2.5)
    }
    i += optLen;
  }

  repr.srcPort = srcPort;
  repr.dstPort = dstPort;
  repr.control = syn ? 'syn' : fin ? 'fin' : rst ? 'rst' : (flags & TcpFlags.PSH) !== 0 ? 'psh' : 'none';
  repr.seq = u32(bytes, start + F.SEQ);
  repr.ack = (flags & TcpFlags.ACK) !== 0 ? u32(bytes, start + F.ACK) : undefined;
  repr.window = (bytes[start + F.WINDOW]! << 8) | bytes[start + F.WINDOW + 1]!;
  repr.urgent = (flags & TcpFlags.URG) !== 0 ? (bytes[start + F.URGENT]! << 8) | bytes[start + F.URGENT + 1]! : undefined;
  repr.ece = (flags & TcpFlags.ECE) !== 0;
  repr.cwr = (flags & TcpFlags.CWR) !== 0;
  target.payloadStart = optionsEnd;
  return undefined;
}

/** How many of `repr.sackBlocks` fit in the option space left by the other options. */
function sackBlocksThatFit(repr: TcpRepr, otherOptions: number): number {
  const blocks = repr.sackBlocks;
  if (blocks === undefined || blocks.length === 0) return 0;
  // NOP, NOP, kind, length, then 8 octets per block.
  const room = Math.floor((MAX_OPTIONS_LENGTH - otherOptions - 4) / 8);
  return Math.max(0, Math.min(blocks.length, MAX_SACK_BLOCKS, room));
}

/** Option octets other than SACK blocks, in the emit layout (each part a multiple of 4). */
function fixedOptionsLength(repr: TcpRepr): number {
  let n = 0;
  if (repr.mss !== undefined) n += 4;
  if (repr.timestamp !== undefined) n += 12; // (SACK-Permitted | NOP NOP) + Timestamps
  else if (repr.sackPermitted === true) n += 4; // NOP NOP SACK-Permitted
  if (repr.windowScale !== undefined) n += 4; // NOP Window Scale
  return n;
}

/**
 * Header length in octets that {@link emitTcp} writes for `repr`: 20 plus the options in the
 * emit layout (always a multiple of 4, at most 60; SACK blocks that do not fit are left out).
 */
export function tcpHeaderLength(repr: TcpRepr): number {
  const fixed = fixedOptionsLength(repr);
  const blocks = sackBlocksThatFit(repr, fixed);
  return TCP_HEADER_LENGTH + fixed + (blocks > 0 ? 4 + 8 * blocks : 0);
}

function badArg(message: string): RangeError & { code: string } {
  const err = new RangeError(message) as RangeError & { code: string };
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

function isU16(v: number): boolean {
  return (v & 0xffff) === v; // false for negatives, fractions, NaN and anything above 0xffff
}

function isU32(v: number): boolean {
  return v >>> 0 === v;
}

const CONTROL_FLAGS: Readonly<Record<TcpControl, number>> = {
  none: 0,
  psh: TcpFlags.PSH,
  syn: TcpFlags.SYN,
  fin: TcpFlags.FIN,
  rst: TcpFlags.RST,
};

/**
 * Writes the segment for `repr` and `payload` from `srcAddr` to `dstAddr` (IPv4 numbers or IPv6
 * octets, both of one version: they only enter the checksum) into `out[0..)`:
 * header, options (layout in the module comment), payload and checksum. Returns the
 * segment length (header + payload). Every octet of it is written. `payload` may already
 * sit at its place in `out` (same buffer, offset `tcpHeaderLength(repr)`): it is not copied.
 *
 * Flags: ACK exactly when `repr.ack` is defined; `control` sets SYN, FIN, RST or PSH; a FIN
 * carrying data also gets PSH; URG and the urgent pointer when `repr.urgent` is defined;
 * ECE/CWR when true. The reserved bits are zero.
 *
 * @throws RangeError with `code: 'ERR_INVALID_ARG_VALUE'` for a field out of range (ports,
 *   window, urgent, MSS: 0..65535; seq/ack/timestamps/SACK edges: uint32; window scale 0..14;
 *   segment longer than 65535), or `code: 'ERR_BUFFER_OUT_OF_BOUNDS'` when `out` is too short.
 */
export function emitTcp(repr: TcpRepr, payload: Uint8Array, srcAddr: IpAddress, dstAddr: IpAddress, out: Uint8Array): number {
  if (!isU16(repr.srcPort) || !isU16(repr.dstPort) || !isU16(repr.window)) throw badArg('emitTcp: ports and window must be 0..65535');
  if (!isU32(repr.seq) || (repr.ack !== undefined && !isU32(repr.ack))) throw badArg('emitTcp: seq and ack must be uint32');
  if (repr.urgent !== undefined && !isU16(repr.urgent)) throw badArg('emitTcp: urgent must be 0..65535');
  if (repr.mss !== undefined && !isU16(repr.mss)) throw badArg('emitTcp: mss must be 0..65535');
  if (repr.windowScale !== undefined && !(isU16(repr.windowScale) && repr.windowScale <= TCP_MAX_WINDOW_SCALE)) {
    throw badArg('emitTcp: windowScale must be 0..14');
  }
  if (repr.timestamp !== undefined && !(isU32(repr.timestamp.tsVal) && isU32(repr.timestamp.tsEcr))) {
    throw badArg('emitTcp: timestamps must be uint32');
  }
  const fixed = fixedOptionsLength(repr);
  const blocks = sackBlocksThatFit(repr, fixed);
  const headerLength = TCP_HEADER_LENGTH + fixed + (blocks > 0 ? 4 + 8 * blocks : 0);
  const total = headerLength + payload.length;
  if (total > 0xffff) throw badArg(`emitTcp: segment of ${total} octets exceeds 65535`);
  if (out.length < total) {
    const err = new RangeError(`emitTcp: buffer of ${out.length} octets, need ${total}`) as RangeError & { code: string };
    err.code = 'ERR_BUFFER_OUT_OF_BOUNDS';
    throw err;
  }

  let flags = CONTROL_FLAGS[repr.control];
  if (flags === undefined) throw badArg(`emitTcp: unknown control ${String(repr.control)}`);
  if (repr.control === 'fin' && payload.length > 0) flags |= TcpFlags.PSH;
  if (repr.ack !== undefined) flags |= TcpFlags.ACK;
  if (repr.urgent !== undefined) flags |= TcpFlags.URG;
  if (repr.ece === true) flags |= TcpFlags.ECE;
  if (repr.cwr === true) flags |= TcpFlags.CWR;

  out[F.SRC_PORT] = repr.srcPort >>> 8;
  out[F.SRC_PORT + 1] = repr.srcPort & 0xff;
  out[F.DST_PORT] = repr.dstPort >>> 8;
  out[F.DST_PORT + 1] = repr.dstPort & 0xff;
  putU32(out, F.SEQ, repr.seq);
  putU32(out, F.ACK, repr.ack ?? 0);
  out[F.DATA_OFFSET] = (headerLength >>> 2) << 4;
  out[F.FLAGS] = flags;
  out[F.WINDOW] = repr.window >>> 8;
  out[F.WINDOW + 1] = repr.window & 0xff;
  out[F.CHECKSUM] = 0;
  out[F.CHECKSUM + 1] = 0;
  const urgent = repr.urgent ?? 0;
  out[F.URGENT] = urgent >>> 8;
  out[F.URGENT + 1] = urgent & 0xff;

  let i: number = F.OPTIONS;
  if (repr.mss !== undefined) {
    out[i] = OPT_MSS;
    out[i + 1] = 4;
    out[i + 2] = repr.mss >>> 8;
    out[i + 3] = repr.mss & 0xff;
    i += 4;
  }
  if (repr.timestamp !== undefined) {
    if (repr.sackPermitted === true) {
      out[i] = OPT_SACK_PERM;
      out[i + 1] = 2;
    } else {
      out[i] = OPT_NOP;
      out[i + 1] = OPT_NOP;
    }
    out[i + 2] = OPT_TS;
    out[i + 3] = 10;
    putU32(out, i + 4, repr.timestamp.tsVal);
    putU32(out, i + 8, repr.timestamp.tsEcr);
    i += 12;
  } else if (repr.sackPermitted === true) {
    out[i] = OPT_NOP;
    out[i + 1] = OPT_NOP;
    out[i + 2] = OPT_SACK_PERM;
    out[i + 3] = 2;
    i += 4;
  }
  if (repr.windowScale !== undefined) {
    out[i] = OPT_NOP;
    out[i + 1] = OPT_WS;
    out[i + 2] = 3;
    out[i + 3] = repr.windowScale;
    i += 4;
  }
  if (blocks > 0) {
    const list = repr.sackBlocks!;
    out[i] = OPT_NOP;
    out[i + 1] = OPT_NOP;
    out[i + 2] = OPT_SACK;
    out[i + 3] = 2 + 8 * blocks;
    i += 4;
    for (let k = 0; k < blocks; k++, i += 8) {
      const block = list[k]!;
      if (!isU32(block.left) || !isU32(block.right)) throw badArg('emitTcp: SACK block edges must be uint32');
      putU32(out, i, block.left);
      putU32(out, i + 4, block.right);
    }
  }

  // Copy the payload unless the caller already placed it right after the header.
  if (payload.length > 0 && !(payload.buffer === out.buffer && payload.byteOffset === out.byteOffset + headerLength)) {
    out.set(payload, headerLength);
  }
  const pseudo = typeof srcAddr === 'number' && typeof dstAddr === 'number' ? pseudoHeaderSum(srcAddr, dstAddr, IpProtocol.Tcp, total) : tcpPseudoHeaderSum(srcAddr, dstAddr, total);
  const sum = ~onesComplementSum(out, pseudo, 0, total) & 0xffff;
  out[F.CHECKSUM] = sum >>> 8;
  out[F.CHECKSUM + 1] = sum & 0xff;
  return total;
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function putU32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}
