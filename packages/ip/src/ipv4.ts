/**
 * IPv4 (RFC 791): a zero-copy packet view, a plain Repr, and parse/emit between them.
 *
 * Receive policy (`parseIpv4`), each rule with its reason:
 * - version must be 4 and IHL at least 5 (RFC 791 §3.1); options are skipped, not
 *   interpreted (RFC 1122 §3.2.1.8 allows ignoring unknown options; we implement none).
 * - the header checksum must verify (RFC 1122 §3.2.1.2: MUST silently discard on failure).
 * - bytes beyond Total Length are link padding and ignored (RFC 1122 §3.2.1.x / Ethernet
 *   minimum frames); fewer bytes than Total Length means the datagram was truncated.
 * - the source must not be broadcast or multicast (RFC 1122 §3.2.1.3: such a source
 *   MUST be discarded).
 * - fragments must be consistent: non-last fragments carry a multiple of 8 octets and no
 *   fragment may reach past 65535 octets (RFC 791 §3.2 "Fragmentation and reassembly").
 * - TTL is not checked: a host MUST NOT discard a datagram for a low TTL (RFC 1122 §3.2.1.7).
 */
import { isBroadcastOrMulticast } from './address.js';
import { internetChecksum, verifyChecksum } from './checksum.js';
import { codedRangeError } from './errors.js';

/** Length of an IPv4 header without options, in octets. */
export const IPV4_HEADER_LENGTH = 20;

/** Largest IPv4 datagram (Total Length is 16 bits), in octets. */
export const IPV4_MAX_LENGTH = 0xffff;

/** IP protocol numbers (IANA "Assigned Internet Protocol Numbers"). */
export const IpProtocol = {
  /** ICMP (RFC 792). */
  Icmp: 1,
  /** TCP (RFC 9293). */
  Tcp: 6,
  /** UDP (RFC 768). */
  Udp: 17,
} as const;
/** One of the {@link IpProtocol} values we name (any 0..255 number may appear on the wire). */
export type IpProtocol = (typeof IpProtocol)[keyof typeof IpProtocol];

// RFC 791 §3.1 header layout: octet offsets of each field.
const F = {
  VER_IHL: 0,
  DSCP_ECN: 1,
  TOTAL_LENGTH: 2,
  IDENT: 4,
  FLAGS_FRAG: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
} as const;

// Flags in the top three bits of the 16-bit FLAGS_FRAG word (RFC 791 §3.1).
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

/** Why `parseIpv4` dropped a datagram. */
export type Ipv4DropReason =
  | 'truncated'
  | 'bad-version'
  | 'bad-header-length'
  | 'bad-total-length'
  | 'bad-checksum'
  | 'bad-source'
  | 'bad-fragment';

/** A parsed or to-be-emitted IPv4 header (everything the stack needs; options are not kept). */
export interface Ipv4Repr {
  /** Source address, uint32. */
  readonly src: number;
  /** Destination address, uint32. */
  readonly dst: number;
  /** Protocol number of the payload (see {@link IpProtocol}). */
  readonly protocol: number;
  /** Time to live, hops (0..255). */
  readonly ttl: number;
  /** Payload length in octets (Total Length minus the header length). */
  readonly payloadLength: number;
  /** Identification, used to group fragments (RFC 791, RFC 6864). */
  readonly ident: number;
  /** Don't Fragment flag. */
  readonly dontFragment: boolean;
  /** More Fragments flag. */
  readonly moreFragments: boolean;
  /** Fragment offset in octets (always a multiple of 8). */
  readonly fragmentOffset: number;
  /** Differentiated Services code point, 6 bits (RFC 2474). */
  readonly dscp: number;
  /** Explicit Congestion Notification codepoint, 2 bits (RFC 3168). */
  readonly ecn: number;
}

/** Fields of {@link Ipv4Repr} that {@link makeIpv4Repr} fills with defaults when omitted. */
export type Ipv4ReprInit = Pick<Ipv4Repr, 'src' | 'dst' | 'protocol' | 'payloadLength'> &
  Partial<Omit<Ipv4Repr, 'src' | 'dst' | 'protocol' | 'payloadLength'>>;

/** Default TTL for datagrams we originate (RFC 1700 / Linux default). */
export const IPV4_DEFAULT_TTL = 64;

/**
 * Builds a full {@link Ipv4Repr} for an outgoing unfragmented datagram: TTL 64, ident 0,
 * DF set (we do Path MTU discovery, RFC 1191; RFC 6864 allows ident 0 for atomic
 * datagrams), no fragmentation, DSCP and ECN 0 unless given.
 */
export function makeIpv4Repr(init: Ipv4ReprInit): Ipv4Repr {
  return {
    src: init.src,
    dst: init.dst,
    protocol: init.protocol,
    ttl: init.ttl ?? IPV4_DEFAULT_TTL,
    payloadLength: init.payloadLength,
    ident: init.ident ?? 0,
    dontFragment: init.dontFragment ?? true,
    moreFragments: init.moreFragments ?? false,
    fragmentOffset: init.fragmentOffset ?? 0,
    dscp: init.dscp ?? 0,
    ecn: init.ecn ?? 0,
  };
}

/**
 * A zero-copy view of an IPv4 datagram over a `Uint8Array` (any `byteOffset`).
 * Construct it over received bytes only after {@link Ipv4Packet.check} passed; getters then
 * never read out of bounds. Setters write the field in place (for building or rewriting).
 */
export class Ipv4Packet {
  /** The bytes this view wraps. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Validates lengths once: the fixed header fits, IHL ≥ 5 and fits, and Total Length lies
   * between the header length and the buffer length. Returns `undefined` when the view is
   * safe to read, else the reason (it does not check version or checksum).
   */
  static check(bytes: Uint8Array): 'truncated' | 'bad-header-length' | 'bad-total-length' | undefined {
    if (bytes.length < IPV4_HEADER_LENGTH) return 'truncated';
    const headerLength = (bytes[F.VER_IHL]! & 0x0f) * 4;
    if (headerLength < IPV4_HEADER_LENGTH) return 'bad-header-length';
    if (headerLength > bytes.length) return 'truncated';
    const totalLength = (bytes[F.TOTAL_LENGTH]! << 8) | bytes[F.TOTAL_LENGTH + 1]!;
    if (totalLength < headerLength) return 'bad-total-length';
    if (totalLength > bytes.length) return 'truncated';
    return undefined;
  }

  /** IP version (4 for IPv4). */
  get version(): number {
    return this.bytes[F.VER_IHL]! >>> 4;
  }
  /** Writes the version nibble (4 for IPv4), keeping IHL. */
  set version(v: number) {
    this.bytes[F.VER_IHL] = ((v & 0x0f) << 4) | (this.bytes[F.VER_IHL]! & 0x0f);
  }

  /** Header length in octets (IHL × 4), 20..60. */
  get headerLength(): number {
    return (this.bytes[F.VER_IHL]! & 0x0f) * 4;
  }
  /** Sets IHL from a length in octets (must be a multiple of 4). */
  set headerLength(octets: number) {
    this.bytes[F.VER_IHL] = (this.bytes[F.VER_IHL]! & 0xf0) | ((octets >>> 2) & 0x0f);
  }

  /** Differentiated Services code point, 6 bits. */
  get dscp(): number {
    return this.bytes[F.DSCP_ECN]! >>> 2;
  }
  /** Writes the 6-bit DSCP, keeping the ECN bits. */
  set dscp(v: number) {
    this.bytes[F.DSCP_ECN] = ((v & 0x3f) << 2) | (this.bytes[F.DSCP_ECN]! & 0x03);
  }

  /** ECN codepoint, 2 bits. */
  get ecn(): number {
    return this.bytes[F.DSCP_ECN]! & 0x03;
  }
  /** Writes the 2-bit ECN codepoint (RFC 3168 §5), keeping DSCP. */
  set ecn(v: number) {
    this.bytes[F.DSCP_ECN] = (this.bytes[F.DSCP_ECN]! & 0xfc) | (v & 0x03);
  }

  /** Total Length in octets (header + payload). */
  get totalLength(): number {
    return this.view.getUint16(F.TOTAL_LENGTH);
  }
  /** Writes Total Length in octets (header + payload). */
  set totalLength(v: number) {
    this.view.setUint16(F.TOTAL_LENGTH, v);
  }

  /** Identification. */
  get ident(): number {
    return this.view.getUint16(F.IDENT);
  }
  /** Writes the 16-bit Identification used to group fragments (RFC 6864). */
  set ident(v: number) {
    this.view.setUint16(F.IDENT, v);
  }

  /** Don't Fragment flag. */
  get dontFragment(): boolean {
    return (this.view.getUint16(F.FLAGS_FRAG) & FLAG_DF) !== 0;
  }
  /** Sets or clears DF, keeping MF and the fragment offset. */
  set dontFragment(v: boolean) {
    const w = this.view.getUint16(F.FLAGS_FRAG);
    this.view.setUint16(F.FLAGS_FRAG, v ? w | FLAG_DF : w & ~FLAG_DF);
  }

  /** More Fragments flag. */
  get moreFragments(): boolean {
    return (this.view.getUint16(F.FLAGS_FRAG) & FLAG_MF) !== 0;
  }
  /** Sets or clears MF, keeping DF and the fragment offset. */
  set moreFragments(v: boolean) {
    const w = this.view.getUint16(F.FLAGS_FRAG);
    this.view.setUint16(F.FLAGS_FRAG, v ? w | FLAG_MF : w & ~FLAG_MF);
  }

  /** Fragment offset in octets (the wire field counts 8-octet units). */
  get fragmentOffset(): number {
    return (this.view.getUint16(F.FLAGS_FRAG) & FRAG_OFFSET_MASK) * 8;
  }
  /** Sets the fragment offset from octets (must be a multiple of 8). */
  set fragmentOffset(octets: number) {
    const w = this.view.getUint16(F.FLAGS_FRAG);
    this.view.setUint16(F.FLAGS_FRAG, (w & ~FRAG_OFFSET_MASK) | ((octets >>> 3) & FRAG_OFFSET_MASK));
  }

  /** Time to live, hops. */
  get ttl(): number {
    return this.bytes[F.TTL]!;
  }
  /** Writes the time to live, hops (0..255). */
  set ttl(v: number) {
    this.bytes[F.TTL] = v;
  }

  /** Protocol number of the payload. */
  get protocol(): number {
    return this.bytes[F.PROTOCOL]!;
  }
  /** Writes the payload protocol number (see {@link IpProtocol}). */
  set protocol(v: number) {
    this.bytes[F.PROTOCOL] = v;
  }

  /** Header checksum field as stored. */
  get checksum(): number {
    return this.view.getUint16(F.CHECKSUM);
  }
  /** Writes the header checksum field as given (compute it with the field zeroed first). */
  set checksum(v: number) {
    this.view.setUint16(F.CHECKSUM, v);
  }

  /** Source address, uint32. */
  get src(): number {
    return this.view.getUint32(F.SRC);
  }
  /** Writes the source address (uint32, taken modulo 2^32). */
  set src(v: number) {
    this.view.setUint32(F.SRC, v >>> 0);
  }

  /** Destination address, uint32. */
  get dst(): number {
    return this.view.getUint32(F.DST);
  }
  /** Writes the destination address (uint32, taken modulo 2^32). */
  set dst(v: number) {
    this.view.setUint32(F.DST, v >>> 0);
  }

  /** Option bytes between the fixed header and the payload (a subarray, often empty). */
  get options(): Uint8Array {
    return this.bytes.subarray(IPV4_HEADER_LENGTH, this.headerLength);
  }

  /** The payload: from the header length up to Total Length (trailing link padding excluded). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.totalLength);
  }

  /** True when the header checksum verifies (either zero encoding accepted). */
  verifyChecksum(): boolean {
    return verifyChecksum(this.bytes, 0, 0, this.headerLength);
  }

  /** Computes the header checksum and stores it. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes, 0, 0, this.headerLength);
  }
}

/** Result of {@link parseIpv4}. `payload` is a view of the input's memory (no copy), a plain `Uint8Array`. */
export type Ipv4ParseResult =
  | {
      /** The header is valid. */
      readonly ok: true;
      /** The decoded header. */
      readonly repr: Ipv4Repr;
      /** Header length in octets (options included), 20..60. */
      readonly headerLength: number;
      /** The octets after the header up to Total Length (a view, no copy). */
      readonly payload: Uint8Array;
    }
  | {
      /** The packet was dropped. */
      readonly ok: false;
      /** Why it was dropped. */
      readonly reason: Ipv4DropReason;
    };

/**
 * Parses and validates a received IPv4 datagram (policy in the module comment). Never throws
 * on any input. `payload` ends at Total Length, so link padding is excluded.
 */
export function parseIpv4(bytes: Uint8Array): Ipv4ParseResult {
  const target = new Ipv4ParseTarget();
  const reason = parseIpv4Into(bytes, target);
  if (reason !== undefined) return { ok: false, reason };
  const { repr, headerLength } = target;
  // A plain Uint8Array view even when `bytes` is a Node Buffer: Buffer's subarray goes through
  // its species constructor and costs more.
  const payload = new Uint8Array(bytes.buffer, bytes.byteOffset + headerLength, repr.payloadLength);
  return { ok: true, repr, headerLength, payload };
}

/** An {@link Ipv4Repr} whose fields {@link parseIpv4Into} overwrites. */
export type MutableIpv4Repr = { -readonly [K in keyof Ipv4Repr]: Ipv4Repr[K] };

/**
 * Where {@link parseIpv4Into} puts what it parsed. A receive loop keeps one and parses every
 * packet into it, instead of allocating a result, a Repr and a payload view per packet (the
 * garbage of a 1500-octet packet stream was most of what the collector had to do).
 */
export class Ipv4ParseTarget {
  /** The parsed header: overwritten by the next parse into this target (copy what you keep). */
  readonly repr: MutableIpv4Repr = { ...makeIpv4Repr({ src: 0, dst: 0, protocol: 0, payloadLength: 0 }) };
  /** Header length in octets: the payload is `bytes[headerLength, headerLength + repr.payloadLength)`. */
  headerLength = 0;
}

/**
 * {@link parseIpv4} without allocating: the same checks and policy, the result written into
 * `target`. Returns `undefined` when the datagram is valid, else why it was dropped (the
 * target's content is then unspecified). Never throws on any input.
 */
export function parseIpv4Into(bytes: Uint8Array, target: Ipv4ParseTarget): Ipv4DropReason | undefined {
  if (bytes.length < IPV4_HEADER_LENGTH) return 'truncated';
  const b0 = bytes[F.VER_IHL]!;
  if (b0 >>> 4 !== 4) return 'bad-version';
  const checked = Ipv4Packet.check(bytes);
  if (checked !== undefined) return checked;
  const headerLength = (b0 & 0x0f) * 4;
  const totalLength = (bytes[F.TOTAL_LENGTH]! << 8) | bytes[F.TOTAL_LENGTH + 1]!;
  if (!verifyChecksum(bytes, 0, 0, headerLength)) return 'bad-checksum';
  const src = u32(bytes, F.SRC);
  if (isBroadcastOrMulticast(src)) return 'bad-source';
  const flagsFrag = (bytes[F.FLAGS_FRAG]! << 8) | bytes[F.FLAGS_FRAG + 1]!;
  const moreFragments = (flagsFrag & FLAG_MF) !== 0;
  const fragmentOffset = (flagsFrag & FRAG_OFFSET_MASK) * 8;
  const payloadLength = totalLength - headerLength;
  // RFC 791 §3.2: every fragment but the last carries a multiple of 8 octets, and the
  // reassembled datagram cannot exceed 65535 octets.
  if (moreFragments && (payloadLength === 0 || (payloadLength & 7) !== 0)) return 'bad-fragment';
  if (fragmentOffset + payloadLength + headerLength > IPV4_MAX_LENGTH) return 'bad-fragment';
  const tos = bytes[F.DSCP_ECN]!;
  const repr = target.repr;
  repr.src = src;
  repr.dst = u32(bytes, F.DST);
  repr.protocol = bytes[F.PROTOCOL]!;
  repr.ttl = bytes[F.TTL]!;
  repr.payloadLength = payloadLength;
  repr.ident = (bytes[F.IDENT]! << 8) | bytes[F.IDENT + 1]!;
  repr.dontFragment = (flagsFrag & FLAG_DF) !== 0;
  repr.moreFragments = moreFragments;
  repr.fragmentOffset = fragmentOffset;
  repr.dscp = tos >>> 2;
  repr.ecn = tos & 0x03;
  target.headerLength = headerLength;
  return undefined;
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function badRepr(message: string): RangeError {
  return codedRangeError('ERR_INVALID_ARG_VALUE', message);
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

/**
 * Writes a 20-octet IPv4 header (no options) for `repr` into `out[0..20)`, checksum included,
 * and returns 20. Every header byte is written, so `out` may hold stale data. The payload
 * (`repr.payloadLength` octets) is the caller's to place at `out[20..]`.
 * @throws RangeError with `code: 'ERR_INVALID_ARG_VALUE'` for a field out of range, or
 *   `code: 'ERR_BUFFER_OUT_OF_BOUNDS'` when `out` is shorter than 20 octets.
 */
export function emitIpv4(repr: Ipv4Repr, out: Uint8Array): number {
  if (out.length < IPV4_HEADER_LENGTH) {
    throw codedRangeError('ERR_BUFFER_OUT_OF_BOUNDS', `emitIpv4: buffer of ${out.length} octets is shorter than 20`);
  }
  if (!isUint(repr.payloadLength, IPV4_MAX_LENGTH - IPV4_HEADER_LENGTH)) throw badRepr(`emitIpv4: bad payloadLength ${repr.payloadLength}`);
  if (!isUint(repr.src, 0xffffffff) || !isUint(repr.dst, 0xffffffff)) throw badRepr('emitIpv4: bad address');
  if (!isUint(repr.protocol, 0xff) || !isUint(repr.ttl, 0xff)) throw badRepr('emitIpv4: bad protocol or ttl');
  if (!isUint(repr.ident, 0xffff)) throw badRepr(`emitIpv4: bad ident ${repr.ident}`);
  if (!isUint(repr.fragmentOffset, FRAG_OFFSET_MASK * 8) || (repr.fragmentOffset & 7) !== 0) {
    throw badRepr(`emitIpv4: bad fragmentOffset ${repr.fragmentOffset}`);
  }
  if (!isUint(repr.dscp, 0x3f) || !isUint(repr.ecn, 3)) throw badRepr('emitIpv4: bad dscp or ecn');
  const total = IPV4_HEADER_LENGTH + repr.payloadLength;
  const flagsFrag = (repr.dontFragment ? FLAG_DF : 0) | (repr.moreFragments ? FLAG_MF : 0) | (repr.fragmentOffset >>> 3);
  out[F.VER_IHL] = 0x45;
  out[F.DSCP_ECN] = (repr.dscp << 2) | repr.ecn;
  out[F.TOTAL_LENGTH] = total >>> 8;
  out[F.TOTAL_LENGTH + 1] = total & 0xff;
  out[F.IDENT] = repr.ident >>> 8;
  out[F.IDENT + 1] = repr.ident & 0xff;
  out[F.FLAGS_FRAG] = flagsFrag >>> 8;
  out[F.FLAGS_FRAG + 1] = flagsFrag & 0xff;
  out[F.TTL] = repr.ttl;
  out[F.PROTOCOL] = repr.protocol;
  out[F.CHECKSUM] = 0;
  out[F.CHECKSUM + 1] = 0;
  putU32(out, F.SRC, repr.src);
  putU32(out, F.DST, repr.dst);
  const sum = internetChecksum(out, 0, 0, IPV4_HEADER_LENGTH);
  out[F.CHECKSUM] = sum >>> 8;
  out[F.CHECKSUM + 1] = sum & 0xff;
  return IPV4_HEADER_LENGTH;
}

function putU32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}
