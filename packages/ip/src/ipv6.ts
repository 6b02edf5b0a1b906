/**
 * IPv6 fixed header (RFC 8200 §3): a zero-copy packet view, a plain Repr, and parse/emit
 * between them. Extension headers are walked by `ipv6-ext.ts`, fragments reassembled by
 * `reassembly6.ts`.
 *
 * Receive policy (`parseIpv6`), each rule with its reason:
 * - at least the 40-octet fixed header, and version 6 (RFC 8200 §3).
 * - Payload Length must not reach past the received bytes (the packet was truncated); bytes
 *   beyond it are link padding and ignored. Payload Length 0 with a Jumbo Payload option
 *   (RFC 2675) is not supported: such a packet simply has no payload, and the extension
 *   walk then finds its headers truncated.
 * - the source must not be multicast (RFC 4291 §2.7: "Multicast addresses must not be used
 *   as source addresses in IPv6 packets or appear in any Routing header").
 * - there is no header checksum (RFC 8200 §3 dropped it); upper layers checksum a
 *   pseudo-header instead (§8.1, `pseudoHeaderSum6`).
 * - Hop Limit is not checked: a host delivers whatever reached it (RFC 8200 §3 says only a
 *   forwarding node decrements it).
 */
import type { Ipv6Address } from './address6.js';
import { codedRangeError } from './errors.js';

/** Length of the IPv6 fixed header, in octets (RFC 8200 §3). */
export const IPV6_HEADER_LENGTH = 40;

/** Largest Payload Length without a jumbogram (the field is 16 bits), in octets. */
export const IPV6_MAX_PAYLOAD_LENGTH = 0xffff;

/** The minimum link MTU every IPv6 link supports, in octets (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;

/** Default Hop Limit for packets we originate (RFC 4861 §6.3.2 leaves it to the host; Linux uses 64). */
export const IPV6_DEFAULT_HOP_LIMIT = 64;

/**
 * Next Header values (IANA "Assigned Internet Protocol Numbers"; the extension headers of
 * RFC 8200 §4 and the upper layers this stack meets).
 */
export const Ipv6NextHeader = {
  /** Hop-by-Hop Options header (RFC 8200 §4.3); only directly after the fixed header. */
  HopByHop: 0,
  /** TCP (RFC 9293). */
  Tcp: 6,
  /** UDP (RFC 768). */
  Udp: 17,
  /** Routing header (RFC 8200 §4.4). */
  Routing: 43,
  /** Fragment header (RFC 8200 §4.5). */
  Fragment: 44,
  /** ICMPv6 (RFC 4443). */
  Icmpv6: 58,
  /** No Next Header: nothing follows (RFC 8200 §4.7). */
  NoNextHeader: 59,
  /** Destination Options header (RFC 8200 §4.6). */
  DestinationOptions: 60,
} as const;
/** One of the {@link Ipv6NextHeader} values we name (any 0..255 number may appear on the wire). */
export type Ipv6NextHeader = (typeof Ipv6NextHeader)[keyof typeof Ipv6NextHeader];

// RFC 8200 §3 header layout: octet offsets of each field.
const F = {
  VERSION_CLASS_FLOW: 0, // 4-bit version, 8-bit traffic class, 20-bit flow label
  PAYLOAD_LENGTH: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 24,
} as const;

const FLOW_LABEL_MASK = 0xfffff;

/** Why `parseIpv6` dropped a packet. */
export type Ipv6DropReason =
  | 'truncated' // fewer than 40 octets
  | 'bad-version' // version field is not 6
  | 'bad-payload-length' // Payload Length reaches past the received bytes
  | 'bad-source'; // multicast source (RFC 4291 §2.7)

/** A parsed or to-be-emitted IPv6 fixed header. */
export interface Ipv6Repr {
  /** Source address, 16 octets. */
  readonly src: Ipv6Address;
  /** Destination address, 16 octets. */
  readonly dst: Ipv6Address;
  /** Next Header: the first extension header or the upper-layer protocol (see {@link Ipv6NextHeader}). */
  readonly nextHeader: number;
  /** Hop Limit, hops (0..255). */
  readonly hopLimit: number;
  /** Payload Length in octets: everything after the fixed header, extension headers included. */
  readonly payloadLength: number;
  /** Differentiated Services code point, the high 6 bits of the Traffic Class (RFC 2474, RFC 8200 §7). */
  readonly dscp: number;
  /** Explicit Congestion Notification codepoint, the low 2 bits of the Traffic Class (RFC 3168 §5). */
  readonly ecn: number;
  /** Flow Label, 20 bits (RFC 6437; 0 means "no flow label"). */
  readonly flowLabel: number;
}

/** Fields of {@link Ipv6Repr} that {@link makeIpv6Repr} fills with defaults when omitted. */
export type Ipv6ReprInit = Pick<Ipv6Repr, 'src' | 'dst' | 'nextHeader' | 'payloadLength'> &
  Partial<Omit<Ipv6Repr, 'src' | 'dst' | 'nextHeader' | 'payloadLength'>>;

/** Builds a full {@link Ipv6Repr} for an outgoing packet: hop limit 64, DSCP, ECN and flow label 0 unless given. */
export function makeIpv6Repr(init: Ipv6ReprInit): Ipv6Repr {
  return {
    src: init.src,
    dst: init.dst,
    nextHeader: init.nextHeader,
    hopLimit: init.hopLimit ?? IPV6_DEFAULT_HOP_LIMIT,
    payloadLength: init.payloadLength,
    dscp: init.dscp ?? 0,
    ecn: init.ecn ?? 0,
    flowLabel: init.flowLabel ?? 0,
  };
}

/**
 * A zero-copy view of an IPv6 packet over a `Uint8Array` (any `byteOffset`). Construct it
 * over received bytes only after {@link Ipv6Packet.check} passed; getters then never read out
 * of bounds. Setters write the field in place.
 */
export class Ipv6Packet {
  /** The bytes this view wraps. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Validates lengths once: the fixed header fits and Payload Length does not reach past the
   * buffer. Returns `undefined` when the view is safe to read, else the reason (it does not
   * check the version or the source).
   */
  static check(bytes: Uint8Array): 'truncated' | 'bad-payload-length' | undefined {
    if (bytes.length < IPV6_HEADER_LENGTH) return 'truncated';
    const payloadLength = (bytes[F.PAYLOAD_LENGTH]! << 8) | bytes[F.PAYLOAD_LENGTH + 1]!;
    if (IPV6_HEADER_LENGTH + payloadLength > bytes.length) return 'bad-payload-length';
    return undefined;
  }

  /** IP version (6 for IPv6). */
  get version(): number {
    return this.bytes[0]! >>> 4;
  }
  /** Writes the version nibble, keeping the traffic class. */
  set version(v: number) {
    this.bytes[0] = ((v & 0x0f) << 4) | (this.bytes[0]! & 0x0f);
  }

  /** Traffic Class, 8 bits: DSCP in the high 6, ECN in the low 2 (RFC 8200 §7). */
  get trafficClass(): number {
    return ((this.bytes[0]! & 0x0f) << 4) | (this.bytes[1]! >>> 4);
  }
  /** Writes the 8-bit Traffic Class, keeping the version and the flow label. */
  set trafficClass(v: number) {
    this.bytes[0] = (this.bytes[0]! & 0xf0) | ((v >>> 4) & 0x0f);
    this.bytes[1] = ((v & 0x0f) << 4) | (this.bytes[1]! & 0x0f);
  }

  /** Differentiated Services code point, 6 bits. */
  get dscp(): number {
    return this.trafficClass >>> 2;
  }
  /** Writes the 6-bit DSCP, keeping the ECN bits. */
  set dscp(v: number) {
    this.trafficClass = ((v & 0x3f) << 2) | (this.trafficClass & 0x03);
  }

  /** ECN codepoint, 2 bits. */
  get ecn(): number {
    return this.trafficClass & 0x03;
  }
  /** Writes the 2-bit ECN codepoint (RFC 3168 §5), keeping DSCP. */
  set ecn(v: number) {
    this.trafficClass = (this.trafficClass & 0xfc) | (v & 0x03);
  }

  /** Flow Label, 20 bits (RFC 6437). */
  get flowLabel(): number {
    return this.view.getUint32(F.VERSION_CLASS_FLOW) & FLOW_LABEL_MASK;
  }
  /** Writes the 20-bit flow label, keeping the version and traffic class. */
  set flowLabel(v: number) {
    const w = this.view.getUint32(F.VERSION_CLASS_FLOW);
    this.view.setUint32(F.VERSION_CLASS_FLOW, ((w & ~FLOW_LABEL_MASK) | (v & FLOW_LABEL_MASK)) >>> 0);
  }

  /** Payload Length in octets (extension headers plus upper-layer data). */
  get payloadLength(): number {
    return this.view.getUint16(F.PAYLOAD_LENGTH);
  }
  /** Writes Payload Length in octets. */
  set payloadLength(v: number) {
    this.view.setUint16(F.PAYLOAD_LENGTH, v);
  }

  /** Next Header (see {@link Ipv6NextHeader}). */
  get nextHeader(): number {
    return this.bytes[F.NEXT_HEADER]!;
  }
  /** Writes Next Header. */
  set nextHeader(v: number) {
    this.bytes[F.NEXT_HEADER] = v;
  }

  /** Hop Limit, hops. */
  get hopLimit(): number {
    return this.bytes[F.HOP_LIMIT]!;
  }
  /** Writes the Hop Limit, hops (0..255). */
  set hopLimit(v: number) {
    this.bytes[F.HOP_LIMIT] = v;
  }

  /** Source address: a subarray of the packet (copy it to keep it past the buffer's reuse). */
  get src(): Ipv6Address {
    return this.bytes.subarray(F.SRC, F.SRC + 16);
  }
  /** Writes the 16-octet source address. */
  set src(a: Ipv6Address) {
    this.bytes.set(a.subarray(0, 16), F.SRC);
  }

  /** Destination address: a subarray of the packet (copy it to keep it past the buffer's reuse). */
  get dst(): Ipv6Address {
    return this.bytes.subarray(F.DST, F.DST + 16);
  }
  /** Writes the 16-octet destination address. */
  set dst(a: Ipv6Address) {
    this.bytes.set(a.subarray(0, 16), F.DST);
  }

  /** The payload: after the fixed header up to Payload Length (extension headers included). */
  get payload(): Uint8Array {
    return this.bytes.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + this.payloadLength);
  }
}

/** Result of {@link parseIpv6}. */
export type Ipv6ParseResult =
  | {
      /** The fixed header is valid. */
      readonly ok: true;
      /** The decoded header (its addresses are copies, safe to keep). */
      readonly repr: Ipv6Repr;
      /** The octets after the fixed header up to Payload Length (a view, no copy). */
      readonly payload: Uint8Array;
    }
  | {
      /** The packet was dropped. */
      readonly ok: false;
      /** Why it was dropped. */
      readonly reason: Ipv6DropReason;
    };

/**
 * Parses and validates a received IPv6 fixed header (policy in the module comment). Never
 * throws. The addresses in the Repr are fresh copies; `payload` is a view ending at Payload
 * Length, so link padding is excluded. Walk the payload with `walkIpv6Headers` next.
 */
export function parseIpv6(bytes: Uint8Array): Ipv6ParseResult {
  const target = new Ipv6ParseTarget();
  const reason = parseIpv6Into(bytes, target);
  if (reason !== undefined) return { ok: false, reason };
  const payload = new Uint8Array(bytes.buffer, bytes.byteOffset + IPV6_HEADER_LENGTH, target.repr.payloadLength);
  return { ok: true, repr: { ...target.repr }, payload };
}

/** An {@link Ipv6Repr} whose fields {@link parseIpv6Into} overwrites. */
export type MutableIpv6Repr = { -readonly [K in keyof Ipv6Repr]: Ipv6Repr[K] };

/**
 * Where {@link parseIpv6Into} puts what it parsed. A receive loop keeps one and parses every
 * packet into it: the addresses are copied into the target's own two 16-octet arrays (no
 * allocation per packet), so they stay valid when the receive buffer is reused, but the
 * next parse overwrites them (copy what you keep).
 */
export class Ipv6ParseTarget {
  /** The parsed header, overwritten by the next parse into this target. */
  readonly repr: MutableIpv6Repr = {
    ...makeIpv6Repr({ src: new Uint8Array(16), dst: new Uint8Array(16), nextHeader: 0, payloadLength: 0 }),
  };
}

/**
 * {@link parseIpv6} without allocating: the same checks and policy, the result written into
 * `target` (addresses copied into its arrays). Returns `undefined` when the header is valid,
 * else why it was dropped (the target's content is then unspecified). Never throws.
 */
export function parseIpv6Into(bytes: Uint8Array, target: Ipv6ParseTarget): Ipv6DropReason | undefined {
  if (bytes.length < IPV6_HEADER_LENGTH) return 'truncated';
  const b0 = bytes[0]!;
  if (b0 >>> 4 !== 6) return 'bad-version';
  const payloadLength = (bytes[F.PAYLOAD_LENGTH]! << 8) | bytes[F.PAYLOAD_LENGTH + 1]!;
  if (IPV6_HEADER_LENGTH + payloadLength > bytes.length) return 'bad-payload-length';
  if (bytes[F.SRC] === 0xff) return 'bad-source'; // RFC 4291 §2.7
  const b1 = bytes[1]!;
  const trafficClass = ((b0 & 0x0f) << 4) | (b1 >>> 4);
  const repr = target.repr;
  // The target's arrays are its own: a caller that assigned a shared address to them would
  // have it overwritten, so they are replaced if they are not 16 octets long.
  if (repr.src.length !== 16) repr.src = new Uint8Array(16);
  if (repr.dst.length !== 16) repr.dst = new Uint8Array(16);
  // Locals: the copy runs per packet, and the loop need not load the properties per octet.
  const src = repr.src;
  const dst = repr.dst;
  for (let i = 0; i < 16; i++) {
    src[i] = bytes[F.SRC + i]!;
    dst[i] = bytes[F.DST + i]!;
  }
  repr.nextHeader = bytes[F.NEXT_HEADER]!;
  repr.hopLimit = bytes[F.HOP_LIMIT]!;
  repr.payloadLength = payloadLength;
  repr.dscp = trafficClass >>> 2;
  repr.ecn = trafficClass & 0x03;
  repr.flowLabel = ((b1 & 0x0f) << 16) | (bytes[2]! << 8) | bytes[3]!;
  return undefined;
}

function badRepr(message: string): RangeError {
  return codedRangeError('ERR_INVALID_ARG_VALUE', message);
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

/**
 * Writes the 40-octet IPv6 fixed header for `repr` into `out[0..40)` and returns 40. Every
 * header byte is written, so `out` may hold stale data. What follows (extension headers and
 * upper-layer data, `repr.payloadLength` octets) is the caller's to place at `out[40..]`.
 * @throws RangeError with `code: 'ERR_INVALID_ARG_VALUE'` for a field out of range or an
 *   address that is not 16 octets, or `code: 'ERR_BUFFER_OUT_OF_BOUNDS'` when `out` is
 *   shorter than 40 octets.
 */
export function emitIpv6(repr: Ipv6Repr, out: Uint8Array): number {
  if (out.length < IPV6_HEADER_LENGTH) {
    throw codedRangeError('ERR_BUFFER_OUT_OF_BOUNDS', `emitIpv6: buffer of ${out.length} octets is shorter than 40`);
  }
  if (!isUint(repr.payloadLength, IPV6_MAX_PAYLOAD_LENGTH)) throw badRepr(`emitIpv6: bad payloadLength ${repr.payloadLength}`);
  if (repr.src?.length !== 16 || repr.dst?.length !== 16) throw badRepr('emitIpv6: addresses must be 16 octets');
  if (!isUint(repr.nextHeader, 0xff) || !isUint(repr.hopLimit, 0xff)) throw badRepr('emitIpv6: bad nextHeader or hopLimit');
  if (!isUint(repr.dscp, 0x3f) || !isUint(repr.ecn, 3)) throw badRepr('emitIpv6: bad dscp or ecn');
  if (!isUint(repr.flowLabel, FLOW_LABEL_MASK)) throw badRepr(`emitIpv6: bad flowLabel ${repr.flowLabel}`);
  const trafficClass = (repr.dscp << 2) | repr.ecn;
  out[0] = 0x60 | (trafficClass >>> 4);
  out[1] = ((trafficClass & 0x0f) << 4) | (repr.flowLabel >>> 16);
  out[2] = (repr.flowLabel >>> 8) & 0xff;
  out[3] = repr.flowLabel & 0xff;
  out[F.PAYLOAD_LENGTH] = repr.payloadLength >>> 8;
  out[F.PAYLOAD_LENGTH + 1] = repr.payloadLength & 0xff;
  out[F.NEXT_HEADER] = repr.nextHeader;
  out[F.HOP_LIMIT] = repr.hopLimit;
  out.set(repr.src, F.SRC);
  out.set(repr.dst, F.DST);
  return IPV6_HEADER_LENGTH;
}
