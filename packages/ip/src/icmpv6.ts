/**
 * ICMPv6 (RFC 4443): echo request/reply, the four error messages (destination unreachable,
 * packet too big, time exceeded, parameter problem), the rules for when an error may be sent
 * at all and a rate limiter for them; and minimal recognition of the Neighbour Discovery
 * (RFC 4861) and MLD (RFC 2710, RFC 3810) messages a kernel sends unasked, so a stack can
 * count and drop them by type.
 *
 * Receive policy (`parseIcmpv6`), each rule with its reason:
 * - the checksum covers the IPv6 pseudo-header with Next Header 58 and the whole message
 *   (RFC 4443 §2.3, RFC 8200 §8.1); a message whose checksum does not verify is discarded.
 *   Both zero encodings are accepted.
 * - errors (types 0..127) of a type we do not know are still returned, as `unknown-error`
 *   with the quoted packet: RFC 4443 §2.4 (b) says they MUST be passed to the upper layer
 *   that sent the offending packet.
 * - informational messages (128..255) we do not know are dropped as `unsupported-type`
 *   (§2.4 (b): MUST be silently discarded); NDP and MLD types come back as `neighbour-discovery`
 *   and `multicast-listener` so they can be counted by type.
 */
import { type Ipv6Address, isIpv6Multicast, isIpv6Unspecified } from './address6.js';
import { internetChecksum, pseudoHeaderSum6, verifyChecksum } from './checksum.js';
import { codedRangeError, codedTypeError } from './errors.js';
import { IPV6_HEADER_LENGTH, IPV6_MIN_MTU, Ipv6NextHeader } from './ipv6.js';
import { Ipv6HeaderChain, walkIpv6HeadersFrom } from './ipv6-ext.js';

/** Length of the ICMPv6 header (type, code, checksum and the 4-octet message word), octets. */
export const ICMPV6_HEADER_LENGTH = 8;

/**
 * Most octets of the invoking packet an ICMPv6 error quotes: the error must not exceed the
 * minimum IPv6 MTU (RFC 4443 §2.4 (c)), so 1280 − 40 − 8.
 */
export const ICMPV6_MAX_QUOTE = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - ICMPV6_HEADER_LENGTH;

/** ICMPv6 message types (RFC 4443 §2.1, RFC 4861 §4, RFC 2710 §3, RFC 3810 §5). */
export const Icmpv6Type = {
  /** Destination unreachable (error); the code says why. */
  DestUnreachable: 1,
  /** Packet too big (error), with the next-hop MTU. */
  PacketTooBig: 2,
  /** Time exceeded (error); the code says which. */
  TimeExceeded: 3,
  /** Parameter problem (error), with a pointer to the offending octet. */
  ParameterProblem: 4,
  /** Echo request (ping). */
  EchoRequest: 128,
  /** Echo reply. */
  EchoReply: 129,
  /** MLD query (RFC 2710). */
  MulticastListenerQuery: 130,
  /** MLDv1 report (RFC 2710). */
  MulticastListenerReport: 131,
  /** MLDv1 done (RFC 2710). */
  MulticastListenerDone: 132,
  /** Router solicitation (RFC 4861 §4.1). */
  RouterSolicitation: 133,
  /** Router advertisement (RFC 4861 §4.2). */
  RouterAdvertisement: 134,
  /** Neighbour solicitation (RFC 4861 §4.3). */
  NeighbourSolicitation: 135,
  /** Neighbour advertisement (RFC 4861 §4.4). */
  NeighbourAdvertisement: 136,
  /** Redirect (RFC 4861 §4.5). */
  Redirect: 137,
  /** MLDv2 report (RFC 3810 §5.2). */
  MulticastListenerReportV2: 143,
} as const;

/** Destination Unreachable codes (RFC 4443 §3.1). */
export const Icmpv6UnreachableCode = {
  /** No route to destination. */
  NoRoute: 0,
  /** Communication administratively prohibited. */
  AdminProhibited: 1,
  /** Beyond the scope of the source address. */
  BeyondScope: 2,
  /** Address unreachable (e.g. neighbour discovery failed). */
  AddressUnreachable: 3,
  /** Port unreachable (UDP; TCP answers with a RST instead). */
  PortUnreachable: 4,
  /** Source address failed ingress/egress policy. */
  SourcePolicyFailed: 5,
  /** Reject route to destination. */
  RejectRoute: 6,
} as const;

/** Time Exceeded codes (RFC 4443 §3.3). */
export const Icmpv6TimeExceededCode = {
  /** Hop limit exceeded in transit. */
  HopLimitExceeded: 0,
  /** Fragment reassembly time exceeded (RFC 8200 §4.5). */
  ReassemblyTimeout: 1,
} as const;

/** Parameter Problem codes (RFC 4443 §3.4, RFC 7112 §5). */
export const Icmpv6ParameterProblemCode = {
  /** Erroneous header field encountered. */
  ErroneousField: 0,
  /** Unrecognised Next Header type encountered. */
  UnrecognizedNextHeader: 1,
  /** Unrecognised IPv6 option encountered. */
  UnrecognizedOption: 2,
  /** The first fragment has an incomplete header chain (RFC 7112 §5). */
  IncompleteHeaderChain: 3,
} as const;

/** Why `parseIcmpv6` dropped a message. */
export type Icmpv6DropReason = 'truncated' | 'bad-checksum' | 'unsupported-type';

/** An echo request or reply (RFC 4443 §4): `data` is echoed back verbatim. */
export interface Icmpv6EchoRepr {
  /** Which of the two (type 128 or 129). */
  readonly type: 'echo-request' | 'echo-reply';
  /** Identifier (16 bits). */
  readonly ident: number;
  /** Sequence number (16 bits). */
  readonly seqNo: number;
  /** The echoed data (a subarray of the input when parsed). */
  readonly data: Uint8Array;
}

/** Destination Unreachable (type 1, RFC 4443 §3.1). */
export interface Icmpv6DestUnreachableRepr {
  /** Destination unreachable (type 1). */
  readonly type: 'dest-unreachable';
  /** One of {@link Icmpv6UnreachableCode} (any 0..255 is carried). */
  readonly code: number;
  /** As much of the invoking packet as fits (see {@link icmpv6Quote}). */
  readonly quoted: Uint8Array;
}

/** Packet Too Big (type 2, RFC 4443 §3.2), the signal of Path MTU discovery (RFC 8201). */
export interface Icmpv6PacketTooBigRepr {
  /** Packet too big (type 2). */
  readonly type: 'packet-too-big';
  /** The MTU of the next-hop link, octets (32 bits on the wire). */
  readonly mtu: number;
  /** As much of the invoking packet as fits. */
  readonly quoted: Uint8Array;
}

/** Time Exceeded (type 3, RFC 4443 §3.3). */
export interface Icmpv6TimeExceededRepr {
  /** Time exceeded (type 3). */
  readonly type: 'time-exceeded';
  /** One of {@link Icmpv6TimeExceededCode}. */
  readonly code: number;
  /** As much of the invoking packet as fits. */
  readonly quoted: Uint8Array;
}

/** Parameter Problem (type 4, RFC 4443 §3.4). */
export interface Icmpv6ParameterProblemRepr {
  /** Parameter problem (type 4). */
  readonly type: 'parameter-problem';
  /** One of {@link Icmpv6ParameterProblemCode}. */
  readonly code: number;
  /** Offset in the invoking packet of the octet where the problem was found (32 bits). */
  readonly pointer: number;
  /** As much of the invoking packet as fits. */
  readonly quoted: Uint8Array;
}

/** An error message of a type this module does not name (types 0..127), passed up as RFC 4443 §2.4 (b) asks. */
export interface Icmpv6UnknownErrorRepr {
  /** An unknown error type. */
  readonly type: 'unknown-error';
  /** The type number, 0..127. */
  readonly msgType: number;
  /** The code. */
  readonly code: number;
  /** The 32-bit message word after the checksum. */
  readonly word: number;
  /** Everything after the 8-octet header (normally the invoking packet). */
  readonly quoted: Uint8Array;
}

/**
 * A Neighbour Discovery (RFC 4861, types 133..137) or MLD (RFC 2710, RFC 3810: types 130..132
 * and 143) message, recognised only so that a stack without either can count and drop it by
 * type (parse minimal: nothing past the header is interpreted).
 */
export interface Icmpv6NeighbourRepr {
  /** Which family: neighbour discovery or multicast listener discovery. */
  readonly type: 'neighbour-discovery' | 'multicast-listener';
  /** The type number (see {@link Icmpv6Type}). */
  readonly msgType: number;
  /** The code (0 for all of them). */
  readonly code: number;
  /** Everything after the checksum (the message word and body), a subarray. */
  readonly body: Uint8Array;
}

/** Any ICMPv6 message this module parses or emits. */
export type Icmpv6Repr =
  | Icmpv6EchoRepr
  | Icmpv6DestUnreachableRepr
  | Icmpv6PacketTooBigRepr
  | Icmpv6TimeExceededRepr
  | Icmpv6ParameterProblemRepr
  | Icmpv6UnknownErrorRepr
  | Icmpv6NeighbourRepr;

/** Result of {@link parseIcmpv6}. */
export type Icmpv6ParseResult =
  | {
      /** The message is valid. */
      readonly ok: true;
      /** The decoded message. */
      readonly repr: Icmpv6Repr;
    }
  | {
      /** The message was dropped. */
      readonly ok: false;
      /** Why it was dropped. */
      readonly reason: Icmpv6DropReason;
      /** The message type when the header was readable (to count drops by type), else -1. */
      readonly msgType: number;
    };

/**
 * A zero-copy view of an ICMPv6 message over a `Uint8Array` (any `byteOffset`). Use it on
 * received bytes only after {@link Icmpv6Packet.check} passed.
 */
export class Icmpv6Packet {
  /** The bytes this view wraps (the whole ICMPv6 message). */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Returns `undefined` when the 8-octet header fits, else `'truncated'`. */
  static check(bytes: Uint8Array): 'truncated' | undefined {
    return bytes.length < ICMPV6_HEADER_LENGTH ? 'truncated' : undefined;
  }

  /** Message type (see {@link Icmpv6Type}). */
  get msgType(): number {
    return this.bytes[0]!;
  }
  /** Writes the message type. */
  set msgType(v: number) {
    this.bytes[0] = v;
  }

  /** Message code. */
  get code(): number {
    return this.bytes[1]!;
  }
  /** Writes the message code. */
  set code(v: number) {
    this.bytes[1] = v;
  }

  /** Checksum field as stored. */
  get checksum(): number {
    return this.view.getUint16(2);
  }
  /** Writes the checksum field as given. */
  set checksum(v: number) {
    this.view.setUint16(2, v);
  }

  /** The 32-bit word after the checksum: echo identifier and sequence, MTU, or pointer. */
  get word(): number {
    return this.view.getUint32(4);
  }
  /** Writes the 32-bit word after the checksum. */
  set word(v: number) {
    this.view.setUint32(4, v >>> 0);
  }

  /** Everything after the 8-octet header: echo data or the quoted packet. */
  get data(): Uint8Array {
    return this.bytes.subarray(ICMPV6_HEADER_LENGTH);
  }

  /** True when the checksum over the pseudo-header (RFC 4443 §2.3) and the whole message verifies. */
  verifyChecksum(src: Ipv6Address, dst: Ipv6Address): boolean {
    return verifyChecksum(this.bytes, pseudoHeaderSum6(src, dst, Ipv6NextHeader.Icmpv6, this.bytes.length));
  }

  /** Computes the checksum over the pseudo-header and the whole message and stores it. */
  fillChecksum(src: Ipv6Address, dst: Ipv6Address): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes, pseudoHeaderSum6(src, dst, Ipv6NextHeader.Icmpv6, this.bytes.length));
  }
}

/**
 * Parses a received ICMPv6 message (`bytes` is the upper-layer payload) sent from `src` to
 * `dst` (needed for the pseudo-header checksum). Never throws; policy in the module comment.
 */
export function parseIcmpv6(bytes: Uint8Array, src: Ipv6Address, dst: Ipv6Address): Icmpv6ParseResult {
  if (bytes.length < 4) return { ok: false, reason: 'truncated', msgType: -1 };
  const type = bytes[0]!;
  const code = bytes[1]!;
  // Every message has at least the 4-octet word after the checksum (RFC 4443 §2.1).
  if (bytes.length < ICMPV6_HEADER_LENGTH) return { ok: false, reason: 'truncated', msgType: type };
  if (!verifyChecksum(bytes, pseudoHeaderSum6(src, dst, Ipv6NextHeader.Icmpv6, bytes.length))) {
    return { ok: false, reason: 'bad-checksum', msgType: type };
  }
  const word = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
  const data = bytes.subarray(ICMPV6_HEADER_LENGTH);
  switch (type) {
    case Icmpv6Type.EchoRequest:
    case Icmpv6Type.EchoReply:
      return {
        ok: true,
        repr: { type: type === Icmpv6Type.EchoRequest ? 'echo-request' : 'echo-reply', ident: word >>> 16, seqNo: word & 0xffff, data },
      };
    case Icmpv6Type.DestUnreachable:
      return { ok: true, repr: { type: 'dest-unreachable', code, quoted: data } };
    case Icmpv6Type.PacketTooBig:
      return { ok: true, repr: { type: 'packet-too-big', mtu: word, quoted: data } };
    case Icmpv6Type.TimeExceeded:
      return { ok: true, repr: { type: 'time-exceeded', code, quoted: data } };
    case Icmpv6Type.ParameterProblem:
      return { ok: true, repr: { type: 'parameter-problem', code, pointer: word, quoted: data } };
    case Icmpv6Type.RouterSolicitation:
    case Icmpv6Type.RouterAdvertisement:
    case Icmpv6Type.NeighbourSolicitation:
    case Icmpv6Type.NeighbourAdvertisement:
    case Icmpv6Type.Redirect:
      return { ok: true, repr: { type: 'neighbour-discovery', msgType: type, code, body: bytes.subarray(4) } };
    case Icmpv6Type.MulticastListenerQuery:
    case Icmpv6Type.MulticastListenerReport:
    case Icmpv6Type.MulticastListenerDone:
    case Icmpv6Type.MulticastListenerReportV2:
      return { ok: true, repr: { type: 'multicast-listener', msgType: type, code, body: bytes.subarray(4) } };
    default:
      if (type < 128) return { ok: true, repr: { type: 'unknown-error', msgType: type, code, word, quoted: data } };
      return { ok: false, reason: 'unsupported-type', msgType: type };
  }
}

/** Octets {@link emitIcmpv6} writes for `repr`. */
export function icmpv6Length(repr: Icmpv6Repr): number {
  switch (repr.type) {
    case 'echo-request':
    case 'echo-reply':
      return ICMPV6_HEADER_LENGTH + repr.data.length;
    case 'neighbour-discovery':
    case 'multicast-listener':
      return 4 + repr.body.length;
    default:
      return ICMPV6_HEADER_LENGTH + repr.quoted.length;
  }
}

/**
 * Writes the ICMPv6 message for `repr`, sent from `src` to `dst`, into
 * `out[0..icmpv6Length(repr))`, checksum included (RFC 4443 §2.3), and returns its length.
 * Every octet is written. Errors quote `repr.quoted` as given: cut it with {@link
 * icmpv6Quote} first.
 * @throws RangeError with `code: 'ERR_BUFFER_OUT_OF_BOUNDS'` when `out` is too short, or
 *   `code: 'ERR_INVALID_ARG_VALUE'` for a field out of range.
 */
export function emitIcmpv6(repr: Icmpv6Repr, src: Ipv6Address, dst: Ipv6Address, out: Uint8Array): number {
  const length = icmpv6Length(repr);
  if (out.length < length) {
    throw codedRangeError('ERR_BUFFER_OUT_OF_BOUNDS', `emitIcmpv6: buffer of ${out.length} octets, need ${length}`);
  }
  let type: number;
  let code = 0;
  let word = 0;
  let body: Uint8Array;
  let bodyAt = ICMPV6_HEADER_LENGTH;
  switch (repr.type) {
    case 'echo-request':
    case 'echo-reply':
      if (!isUint(repr.ident, 0xffff) || !isUint(repr.seqNo, 0xffff)) throw badArg('emitIcmpv6: ident and seqNo must be 0..65535');
      type = repr.type === 'echo-request' ? Icmpv6Type.EchoRequest : Icmpv6Type.EchoReply;
      word = repr.ident * 0x10000 + repr.seqNo;
      body = repr.data;
      break;
    case 'dest-unreachable':
      type = Icmpv6Type.DestUnreachable;
      code = repr.code;
      body = repr.quoted;
      break;
    case 'packet-too-big':
      if (!isUint(repr.mtu, 0xffffffff)) throw badArg(`emitIcmpv6: bad mtu ${repr.mtu}`);
      type = Icmpv6Type.PacketTooBig;
      word = repr.mtu;
      body = repr.quoted;
      break;
    case 'time-exceeded':
      type = Icmpv6Type.TimeExceeded;
      code = repr.code;
      body = repr.quoted;
      break;
    case 'parameter-problem':
      if (!isUint(repr.pointer, 0xffffffff)) throw badArg(`emitIcmpv6: bad pointer ${repr.pointer}`);
      type = Icmpv6Type.ParameterProblem;
      code = repr.code;
      word = repr.pointer;
      body = repr.quoted;
      break;
    case 'unknown-error':
      if (!isUint(repr.msgType, 127) || !isUint(repr.word, 0xffffffff)) throw badArg('emitIcmpv6: bad unknown-error type or word');
      type = repr.msgType;
      code = repr.code;
      word = repr.word;
      body = repr.quoted;
      break;
    case 'neighbour-discovery':
    case 'multicast-listener':
      if (!isUint(repr.msgType, 0xff)) throw badArg('emitIcmpv6: bad msgType');
      type = repr.msgType;
      code = repr.code;
      body = repr.body;
      bodyAt = 4;
      break;
  }
  if (!isUint(code, 0xff)) throw badArg(`emitIcmpv6: bad code ${code}`);
  if (src?.length !== 16 || dst?.length !== 16) throw badArg('emitIcmpv6: addresses must be 16 octets');
  out[0] = type;
  out[1] = code;
  out[2] = 0;
  out[3] = 0;
  if (bodyAt === ICMPV6_HEADER_LENGTH) {
    out[4] = word >>> 24;
    out[5] = (word >>> 16) & 0xff;
    out[6] = (word >>> 8) & 0xff;
    out[7] = word & 0xff;
  }
  out.set(body, bodyAt);
  const sum = internetChecksum(out, pseudoHeaderSum6(src, dst, Ipv6NextHeader.Icmpv6, length), 0, length);
  out[2] = sum >>> 8;
  out[3] = sum & 0xff;
  return length;
}

/** The echo reply answering `request` (RFC 4443 §4.2: same identifier, sequence number and data). */
export function echoReplyFor6(request: Icmpv6EchoRepr): Icmpv6EchoRepr {
  return { type: 'echo-reply', ident: request.ident, seqNo: request.seqNo, data: request.data };
}

/**
 * The part of an invoking packet an ICMPv6 error quotes: "as much of invoking packet as
 * possible without the ICMPv6 packet exceeding the minimum IPv6 MTU" (RFC 4443 §3.1–3.4),
 * i.e. its first {@link ICMPV6_MAX_QUOTE} octets. A subarray of `packet`.
 */
export function icmpv6Quote(packet: Uint8Array): Uint8Array {
  return packet.subarray(0, Math.min(packet.length, ICMPV6_MAX_QUOTE));
}

/**
 * Whether an ICMPv6 error of `errorType`/`errorCode` may be sent in answer to `invoking` (the
 * offending packet from its fixed header) — RFC 4443 §2.4 (e). Never in answer to:
 * - an ICMPv6 error message or a Redirect (e.1, e.2): pass `chain` when the walk reached the
 *   upper layer so this can be seen;
 * - a packet to a multicast address (e.3), except Packet Too Big and Parameter Problem code 2
 *   (e.3 (1) and (2); the walk already kept code 2 for action-11 options to multicast back);
 * - a packet whose source does not identify a single node: the unspecified address or a
 *   multicast address (e.6).
 * Link-layer multicast and broadcast (e.4, e.5) do not exist on a TUN device. Never throws.
 */
export function mayAnswerWithIcmpv6Error(invoking: Uint8Array, errorType: number, errorCode: number, chain?: Ipv6HeaderChain): boolean {
  if (invoking.length < IPV6_HEADER_LENGTH) return false;
  const src = invoking.subarray(8, 24);
  if (isIpv6Unspecified(src) || isIpv6Multicast(src)) return false; // (e.6)
  if (invoking[24] === 0xff) {
    // (e.3) with its two exceptions.
    const excepted = errorType === Icmpv6Type.PacketTooBig ||
      (errorType === Icmpv6Type.ParameterProblem && errorCode === Icmpv6ParameterProblemCode.UnrecognizedOption);
    if (!excepted) return false;
  }
  if (chain !== undefined && chain.kind === 'upper' && chain.protocol === Ipv6NextHeader.Icmpv6) {
    if (chain.offset >= invoking.length) return true; // type unknown: not known to be an error
    const type = invoking[chain.offset]!;
    if (type < 128 || type === Icmpv6Type.Redirect) return false; // (e.1), (e.2)
  }
  return true;
}

/** The header fields of a packet quoted in an ICMPv6 error, enough to find its connection. */
export interface QuotedPacket6 {
  /** Source address of the invoking packet (normally ours), a copy. */
  readonly src: Ipv6Address;
  /** Destination address of the invoking packet, a copy. */
  readonly dst: Ipv6Address;
  /** Its upper-layer protocol. */
  readonly protocol: number;
  /** The first (up to 8) octets of its upper-layer header: ports, and for TCP the sequence number. */
  readonly transport: Uint8Array;
}

/**
 * Reads the packet quoted in an ICMPv6 error: walks its extension headers (through a Fragment
 * header when the quote is of a first fragment) to the upper-layer header. Returns `undefined`
 * when the quote is not IPv6, does not reach 8 octets of the upper-layer header, or quotes a
 * non-first fragment (the error cannot be matched to a connection, RFC 5927 §4.1). The quoted
 * Payload Length is not trusted: the quote is cut short by design. Never throws.
 */
export function parseQuotedPacket6(quoted: Uint8Array): QuotedPacket6 | undefined {
  if (quoted.length < IPV6_HEADER_LENGTH + 8 || quoted[0]! >>> 4 !== 6) return undefined;
  const chain = new Ipv6HeaderChain();
  const anyUpper = { isUpperLayer: (): boolean => true };
  let kind = walkIpv6HeadersFrom(quoted, IPV6_HEADER_LENGTH, 6, quoted.length, chain, anyUpper);
  if (kind === 'fragment') {
    if (chain.fragmentOffset !== 0) return undefined;
    kind = walkIpv6HeadersFrom(quoted, chain.offset, chain.fragmentHeaderOffset, quoted.length, chain, anyUpper);
  }
  if (kind !== 'upper' || chain.offset + 8 > quoted.length) return undefined;
  return {
    src: quoted.slice(8, 24),
    dst: quoted.slice(24, 40),
    protocol: chain.protocol,
    transport: quoted.subarray(chain.offset, chain.offset + 8),
  };
}

/** Options of an {@link Icmpv6RateLimiter}. */
export interface Icmpv6RateLimiterOptions {
  /** Average errors allowed per second (token refill rate); default 100. */
  readonly ratePerSecond?: number;
  /** Most errors allowed in a burst (bucket size); default 50. */
  readonly burst?: number;
  /** The clock read when {@link Icmpv6RateLimiter.allow} gets no `now` (monotonic milliseconds). */
  readonly clock?: () => number;
}

/**
 * A token bucket limiting the ICMPv6 errors a node originates (RFC 4443 §2.4 (f): "an IPv6
 * node MUST limit the rate of ICMPv6 error messages it originates", a token bucket being the
 * suggested way). Time comes from the caller (`now`) or the injected `clock`; the bucket
 * starts full.
 */
export class Icmpv6RateLimiter {
  /** Tokens added per millisecond. */
  private readonly perMs: number;
  /** Bucket size. */
  readonly burst: number;
  private readonly clock: (() => number) | undefined;
  private tokens: number;
  private last: number | undefined;
  /** Errors refused since construction. */
  refused = 0;

  /** @throws RangeError with `code: 'ERR_INVALID_ARG_VALUE'` when a rate or burst is not positive. */
  constructor(options: Icmpv6RateLimiterOptions = {}) {
    const rate = options.ratePerSecond ?? 100;
    const burst = options.burst ?? 50;
    if (!(rate > 0) || !Number.isFinite(rate) || !Number.isInteger(burst) || burst <= 0) {
      throw badArg(`Icmpv6RateLimiter: ratePerSecond and burst must be positive, got ${rate} and ${burst}`);
    }
    this.perMs = rate / 1000;
    this.burst = burst;
    this.clock = options.clock;
    this.tokens = burst;
  }

  /**
   * Takes one token if there is one: true means send the error, false means drop it.
   * @throws TypeError with `code: 'ERR_MISSING_ARGS'` when neither `now` nor a clock is given.
   */
  allow(now?: number): boolean {
    const t = now ?? this.clock?.();
    if (t === undefined) throw codedTypeError('ERR_MISSING_ARGS', 'Icmpv6RateLimiter.allow: no time given and no clock injected');
    if (this.last !== undefined && t > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (t - this.last) * this.perMs);
    }
    if (this.last === undefined || t > this.last) this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.refused++;
    return false;
  }
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

function badArg(message: string): RangeError {
  return codedRangeError('ERR_INVALID_ARG_VALUE', message);
}
