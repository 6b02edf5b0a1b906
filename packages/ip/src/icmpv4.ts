/**
 * ICMPv4 (RFC 792): the messages a TCP/IP host needs — echo request/reply (ping), and the
 * destination-unreachable and time-exceeded errors that quote the datagram which caused
 * them (used for Path MTU discovery, RFC 1191, and for reporting errors to TCP, RFC 5927).
 *
 * Receive policy (`parseIcmpv4`): the checksum covers the whole message and must verify
 * (RFC 792; both zero encodings accepted); types other than 0, 3, 8 and 11 are reported as
 * unsupported so the stack can count and drop them (RFC 1122 §3.2.2: unknown types MUST be
 * silently discarded).
 */
import { internetChecksum, verifyChecksum } from './checksum.js';
import { codedRangeError } from './errors.js';
import { IPV4_HEADER_LENGTH } from './ipv4.js';

/** Length of the ICMP header (type, code, checksum, and the 4-octet rest-of-header). */
export const ICMPV4_HEADER_LENGTH = 8;

/** ICMPv4 message types we speak (RFC 792). */
export const Icmpv4Type = {
  /** Echo reply (ping answer). */
  EchoReply: 0,
  /** Destination unreachable; the code says why. */
  DestUnreachable: 3,
  /** Echo request (ping). */
  EchoRequest: 8,
  /** Time exceeded; the code says which timer. */
  TimeExceeded: 11,
} as const;

/** Destination Unreachable codes (RFC 792, RFC 1191 for FragmentationNeeded, RFC 1122 §3.2.2.1). */
export const Icmpv4UnreachableCode = {
  /** No route to the destination network. */
  NetUnreachable: 0,
  /** The destination host cannot be reached. */
  HostUnreachable: 1,
  /** The destination does not speak the IP protocol. */
  ProtocolUnreachable: 2,
  /** Nothing listens on the destination port (UDP; TCP answers with a RST instead). */
  PortUnreachable: 3,
  /** The packet needs fragmenting but has DF set; carries the next-hop MTU (RFC 1191). */
  FragmentationNeeded: 4,
  /** A source route failed. */
  SourceRouteFailed: 5,
  /** Communication administratively prohibited by a filter (RFC 1812 §5.2.7.1). */
  AdminProhibited: 13,
} as const;

/** Time Exceeded codes (RFC 792). */
export const Icmpv4TimeExceededCode = {
  /** TTL reached zero in transit. */
  TtlExceeded: 0,
  /** Not all fragments arrived in time to reassemble the datagram (RFC 792). */
  ReassemblyTimeout: 1,
} as const;

// RFC 792 layout: octet offsets of each field.
const F = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  ECHO_IDENT: 4,
  ECHO_SEQ: 6,
  NEXT_HOP_MTU: 6, // RFC 1191 §4, in code 4 of Destination Unreachable
  DATA: 8,
} as const;

/** Why `parseIcmpv4` dropped a message. */
export type Icmpv4DropReason = 'truncated' | 'bad-checksum' | 'unsupported-type';

/** An echo request or reply: `data` is echoed back verbatim. */
export interface Icmpv4EchoRepr {
  /** Which of the two echo messages (type 8 or 0). */
  readonly type: 'echo-request' | 'echo-reply';
  /** Identifier, chosen by the sender to match replies (16 bits). */
  readonly ident: number;
  /** Sequence number (16 bits). */
  readonly seqNo: number;
  /** The echoed data (a subarray of the input when parsed). */
  readonly data: Uint8Array;
}

/** A Destination Unreachable error (type 3). */
export interface Icmpv4DestUnreachableRepr {
  /** Destination unreachable (type 3). */
  readonly type: 'dest-unreachable';
  /** One of {@link Icmpv4UnreachableCode} (any 0..255 is carried). */
  readonly code: number;
  /** Next-hop MTU in octets for code 4 (RFC 1191); 0 when not given. */
  readonly nextHopMtu: number;
  /** The quoted offending datagram: its IP header plus at least 8 octets of its payload. */
  readonly quoted: Uint8Array;
}

/** A Time Exceeded error (type 11). */
export interface Icmpv4TimeExceededRepr {
  /** Time exceeded (type 11). */
  readonly type: 'time-exceeded';
  /** One of {@link Icmpv4TimeExceededCode}. */
  readonly code: number;
  /** The quoted offending datagram: its IP header plus at least 8 octets of its payload. */
  readonly quoted: Uint8Array;
}

/** Any ICMPv4 message this module parses or emits. */
export type Icmpv4Repr = Icmpv4EchoRepr | Icmpv4DestUnreachableRepr | Icmpv4TimeExceededRepr;

/** Result of {@link parseIcmpv4}. */
export type Icmpv4ParseResult =
  | {
      /** The message is valid and of a supported type. */
      readonly ok: true;
      /** The decoded message. */
      readonly repr: Icmpv4Repr;
    }
  | {
      /** The message was dropped. */
      readonly ok: false;
      /** Why it was dropped. */
      readonly reason: Icmpv4DropReason;
    };

/**
 * A zero-copy view of an ICMPv4 message over a `Uint8Array` (any `byteOffset`). Use it on
 * received bytes only after {@link Icmpv4Packet.check} passed.
 */
export class Icmpv4Packet {
  /** The bytes this view wraps (the whole ICMP message). */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Returns `undefined` when the 8-octet header fits, else `'truncated'`. */
  static check(bytes: Uint8Array): 'truncated' | undefined {
    return bytes.length < ICMPV4_HEADER_LENGTH ? 'truncated' : undefined;
  }

  /** Message type (see {@link Icmpv4Type}). */
  get msgType(): number {
    return this.bytes[F.TYPE]!;
  }
  /** Writes the message type (see {@link Icmpv4Type}). */
  set msgType(v: number) {
    this.bytes[F.TYPE] = v;
  }

  /** Message code. */
  get code(): number {
    return this.bytes[F.CODE]!;
  }
  /** Writes the message code (see {@link Icmpv4UnreachableCode}, {@link Icmpv4TimeExceededCode}). */
  set code(v: number) {
    this.bytes[F.CODE] = v;
  }

  /** Checksum field as stored. */
  get checksum(): number {
    return this.view.getUint16(F.CHECKSUM);
  }
  /** Writes the checksum field as given (computed over the whole message with the field zeroed). */
  set checksum(v: number) {
    this.view.setUint16(F.CHECKSUM, v);
  }

  /** Echo identifier (echo messages only). */
  get echoIdent(): number {
    return this.view.getUint16(F.ECHO_IDENT);
  }
  /** Writes the echo identifier (echo messages only). */
  set echoIdent(v: number) {
    this.view.setUint16(F.ECHO_IDENT, v);
  }

  /** Echo sequence number (echo messages only). */
  get echoSeqNo(): number {
    return this.view.getUint16(F.ECHO_SEQ);
  }
  /** Writes the echo sequence number (echo messages only). */
  set echoSeqNo(v: number) {
    this.view.setUint16(F.ECHO_SEQ, v);
  }

  /** Next-hop MTU in octets (Destination Unreachable code 4, RFC 1191). */
  get nextHopMtu(): number {
    return this.view.getUint16(F.NEXT_HOP_MTU);
  }
  /** Writes the next-hop MTU in octets (Destination Unreachable code 4, RFC 1191). */
  set nextHopMtu(v: number) {
    this.view.setUint16(F.NEXT_HOP_MTU, v);
  }

  /** Everything after the 8-octet header: echo data or the quoted datagram. */
  get data(): Uint8Array {
    return this.bytes.subarray(F.DATA);
  }

  /** True when the checksum over the whole message verifies. */
  verifyChecksum(): boolean {
    return verifyChecksum(this.bytes);
  }

  /** Computes the checksum over the whole message and stores it. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes);
  }
}

/** Parses a received ICMPv4 message (the IP payload). Never throws. */
export function parseIcmpv4(bytes: Uint8Array): Icmpv4ParseResult {
  if (bytes.length < ICMPV4_HEADER_LENGTH) return { ok: false, reason: 'truncated' };
  if (!verifyChecksum(bytes)) return { ok: false, reason: 'bad-checksum' };
  const type = bytes[F.TYPE]!;
  const code = bytes[F.CODE]!;
  const data = bytes.subarray(F.DATA);
  switch (type) {
    case Icmpv4Type.EchoRequest:
    case Icmpv4Type.EchoReply:
      return {
        ok: true,
        repr: {
          type: type === Icmpv4Type.EchoRequest ? 'echo-request' : 'echo-reply',
          ident: u16(bytes, F.ECHO_IDENT),
          seqNo: u16(bytes, F.ECHO_SEQ),
          data,
        },
      };
    case Icmpv4Type.DestUnreachable:
      return {
        ok: true,
        repr: {
          type: 'dest-unreachable',
          code,
          nextHopMtu: code === Icmpv4UnreachableCode.FragmentationNeeded ? u16(bytes, F.NEXT_HOP_MTU) : 0,
          quoted: data,
        },
      };
    case Icmpv4Type.TimeExceeded:
      return { ok: true, repr: { type: 'time-exceeded', code, quoted: data } };
    default:
      return { ok: false, reason: 'unsupported-type' };
  }
}

/** Octets {@link emitIcmpv4} writes for `repr`: 8 plus the data or quoted datagram. */
export function icmpv4Length(repr: Icmpv4Repr): number {
  return ICMPV4_HEADER_LENGTH + ('data' in repr ? repr.data : repr.quoted).length;
}

/**
 * Writes the ICMP message for `repr` into `out[0..icmpv4Length(repr))`, checksum included,
 * and returns its length. Every byte is written (unused fields are zero, RFC 792).
 * @throws RangeError with `code: 'ERR_BUFFER_OUT_OF_BOUNDS'` when `out` is too short, or
 *   `code: 'ERR_INVALID_ARG_VALUE'` for a field out of range.
 */
export function emitIcmpv4(repr: Icmpv4Repr, out: Uint8Array): number {
  const length = icmpv4Length(repr);
  if (out.length < length) {
    throw codedRangeError('ERR_BUFFER_OUT_OF_BOUNDS', `emitIcmpv4: buffer of ${out.length} octets, need ${length}`);
  }
  let rest: number; // the 32-bit rest-of-header word
  let body: Uint8Array;
  switch (repr.type) {
    case 'echo-request':
    case 'echo-reply':
      if (!isU16(repr.ident) || !isU16(repr.seqNo)) throw badArg('emitIcmpv4: ident and seqNo must be 0..65535');
      out[F.TYPE] = repr.type === 'echo-request' ? Icmpv4Type.EchoRequest : Icmpv4Type.EchoReply;
      out[F.CODE] = 0;
      rest = repr.ident * 0x10000 + repr.seqNo;
      body = repr.data;
      break;
    case 'dest-unreachable':
      if (!isU8(repr.code) || !isU16(repr.nextHopMtu)) throw badArg('emitIcmpv4: bad code or nextHopMtu');
      out[F.TYPE] = Icmpv4Type.DestUnreachable;
      out[F.CODE] = repr.code;
      rest = repr.code === Icmpv4UnreachableCode.FragmentationNeeded ? repr.nextHopMtu : 0;
      body = repr.quoted;
      break;
    case 'time-exceeded':
      if (!isU8(repr.code)) throw badArg('emitIcmpv4: bad code');
      out[F.TYPE] = Icmpv4Type.TimeExceeded;
      out[F.CODE] = repr.code;
      rest = 0;
      body = repr.quoted;
      break;
  }
  out[F.CHECKSUM] = 0;
  out[F.CHECKSUM + 1] = 0;
  out[4] = rest >>> 24;
  out[5] = (rest >>> 16) & 0xff;
  out[6] = (rest >>> 8) & 0xff;
  out[7] = rest & 0xff;
  out.set(body, F.DATA);
  const sum = internetChecksum(out, 0, 0, length);
  out[F.CHECKSUM] = sum >>> 8;
  out[F.CHECKSUM + 1] = sum & 0xff;
  return length;
}

/** The echo reply answering `request` (RFC 792: same identifier, sequence number and data). */
export function echoReplyFor(request: Icmpv4EchoRepr): Icmpv4EchoRepr {
  return { type: 'echo-reply', ident: request.ident, seqNo: request.seqNo, data: request.data };
}

/**
 * The part of an offending datagram an ICMP error quotes: its IP header plus the first 8
 * octets of its payload (RFC 792; enough to hold the TCP/UDP ports and TCP sequence
 * number). A subarray of `datagram`, which must start with a valid IPv4 header.
 */
export function icmpv4Quote(datagram: Uint8Array): Uint8Array {
  const headerLength = datagram.length > 0 ? (datagram[0]! & 0x0f) * 4 : 0;
  return datagram.subarray(0, Math.min(datagram.length, headerLength + 8));
}

/** The header fields of a datagram quoted in an ICMP error, enough to find its connection. */
export interface QuotedDatagram {
  /** Source address of the offending datagram (normally ours), uint32. */
  readonly src: number;
  /** Destination address of the offending datagram, uint32. */
  readonly dst: number;
  /** Its protocol number. */
  readonly protocol: number;
  /** The first (up to 8) octets of its payload: ports, and for TCP the sequence number. */
  readonly transport: Uint8Array;
}

/**
 * Reads the quoted datagram of a Destination Unreachable or Time Exceeded message.
 * Returns `undefined` when the quote is too short to hold an IPv4 header plus 8 octets or
 * is not IPv4 (the error cannot be matched to a connection, RFC 5927 §4.1). Never throws.
 * The quoted header's checksum and Total Length are not checked: routers may alter them.
 */
export function parseQuotedDatagram(quoted: Uint8Array): QuotedDatagram | undefined {
  if (quoted.length < IPV4_HEADER_LENGTH + 8) return undefined;
  const b0 = quoted[0]!;
  const headerLength = (b0 & 0x0f) * 4;
  if (b0 >>> 4 !== 4 || headerLength < IPV4_HEADER_LENGTH || quoted.length < headerLength + 8) return undefined;
  return {
    src: u32(quoted, 12),
    dst: u32(quoted, 16),
    protocol: quoted[9]!,
    transport: quoted.subarray(headerLength, headerLength + 8),
  };
}

function u16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function isU8(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xff;
}

function isU16(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffff;
}

function badArg(message: string): RangeError {
  return codedRangeError('ERR_INVALID_ARG_VALUE', message);
}
