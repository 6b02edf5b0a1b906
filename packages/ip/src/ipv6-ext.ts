/**
 * The IPv6 extension-header chain (RFC 8200 §4), walked safely from the fixed header to the
 * upper-layer header.
 *
 * Processing, in the order of RFC 8200 §4, each rule with its citation:
 * - Hop-by-Hop Options (0) only directly after the fixed header (§4.3); anywhere else the
 *   value 0 counts as an unrecognised Next Header (§4, and what Linux does).
 * - Options of Hop-by-Hop and Destination Options headers (§4.2): Pad1 and PadN are skipped,
 *   Router Alert (RFC 2711) is known and skipped by a host; an unrecognised option acts as
 *   its two high-order type bits say — 00 skip it, 01 discard the packet, 10 discard and send
 *   Parameter Problem code 2 pointing at the option type, 11 the same unless the destination
 *   is multicast. An option that runs past its header makes the packet malformed (dropped).
 * - Routing (43): with Segments Left 0 it is ignored (§4.4). This host implements no routing
 *   type — type 0 is deprecated (RFC 5095 §3: "treat as unrecognised"), 2 is Mobile IPv6,
 *   4 is segment routing (RFC 8754 §4.3.1: a node that is not SR-capable treats it as
 *   unrecognised) — so Segments Left ≠ 0 means discard and Parameter Problem code 0 pointing
 *   at the Routing Type field (§4.4).
 * - Fragment (44): the walk stops there, because what follows belongs to the fragmentable
 *   part (§4.5); reassemble, then walk the reassembled packet again. A non-last fragment whose
 *   length is not a multiple of 8 gets Parameter Problem code 0 pointing at Payload Length, a
 *   fragment reaching past 65535 octets code 0 pointing at the Fragment Offset (§4.5).
 * - No Next Header (59): nothing to deliver (§4.7), dropped and counted.
 * - Any other value is an upper-layer protocol if the caller recognises it, else discard
 *   and Parameter Problem code 1 pointing at the Next Header field that named it (§4).
 *
 * Bounds: every header moves the walk forward by at least 8 octets, so it cannot loop; it also
 * stops after `maxHeaders` headers and `maxChainLength` octets (RFC 8504 §5.3 lets a host
 * limit both). Never throws on any input.
 */
import { IPV6_HEADER_LENGTH, Ipv6NextHeader } from './ipv6.js';

/** Why {@link walkIpv6Headers} dropped a packet. */
export type Ipv6ExtDropReason =
  | 'truncated' // a header or the payload length runs past the packet
  | 'no-next-header' // Next Header 59: nothing follows (RFC 8200 §4.7)
  | 'bad-option' // an option runs past the end of its header (RFC 8200 §4.2)
  | 'unknown-option' // an unrecognised option whose action says discard (RFC 8200 §4.2)
  | 'unknown-next-header' // a Next Header we do not process (RFC 8200 §4)
  | 'unknown-routing-type' // a routing header with Segments Left ≠ 0 (RFC 8200 §4.4, RFC 5095)
  | 'bad-fragment' // fragment length not a multiple of 8, or past 65535 octets (RFC 8200 §4.5)
  | 'too-many-headers' // more than maxHeaders extension headers (RFC 8504 §5.3)
  | 'chain-too-long'; // extension headers longer than maxChainLength octets (RFC 8504 §5.3)

/** Limits and knowledge of a walk. */
export interface Ipv6WalkOptions {
  /**
   * Whether the host processes this upper-layer protocol (a Next Header value that is not an
   * extension header). Unrecognised ones get Parameter Problem code 1. Default: TCP (6),
   * UDP (17) and ICMPv6 (58).
   */
  readonly isUpperLayer?: (nextHeader: number) => boolean;
  /** Most extension headers walked before the packet is dropped; default 16. */
  readonly maxHeaders?: number;
  /** Most octets of extension headers before the packet is dropped; default 1240 (a minimum-MTU packet's payload). */
  readonly maxChainLength?: number;
}

const DEFAULT_MAX_HEADERS = 16;
// RFC 7112 wants the whole chain in the first fragment and RFC 8200 §5 promises only 1280
// octets a packet: a longer chain cannot be relied on to arrive, so it is refused.
const DEFAULT_MAX_CHAIN_LENGTH = 1280 - IPV6_HEADER_LENGTH;
const defaultIsUpperLayer = (n: number): boolean => n === Ipv6NextHeader.Tcp || n === Ipv6NextHeader.Udp || n === Ipv6NextHeader.Icmpv6;

/** Option types of RFC 8200 §4.2 and RFC 2711 that a host knows. */
const OPTION_PAD1 = 0;
const OPTION_PADN = 1;
const OPTION_ROUTER_ALERT = 5;

/**
 * What {@link walkIpv6Headers} found, overwritten by each walk (one object per receive loop,
 * no allocation per packet). Which fields mean something depends on `kind`:
 * - `'upper'`: deliver `packet[offset, end)` to upper-layer `protocol`.
 * - `'fragment'`: the packet is a fragment; give it to the reassembler with these fields.
 * - `'drop'`: drop it and count `reason`; when `icmpCode` ≥ 0 also send ICMPv6 Parameter
 *   Problem with that code and `icmpPointer` (subject to the rules of `mayAnswerWithIcmpv6Error`).
 */
export class Ipv6HeaderChain {
  /** The verdict. */
  kind: 'upper' | 'fragment' | 'drop' = 'drop';
  /** `'upper'`: the upper-layer protocol; `'fragment'`: the Next Header of the fragment header. */
  protocol = 0;
  /** `'upper'`: offset of the upper-layer header in the packet; `'fragment'`: offset of the fragment's data. */
  offset = 0;
  /** One past the packet's last octet: 40 + Payload Length. */
  end = 0;
  /** Offset of the Next Header field that named the upper layer or the fragment header (6 for the fixed header). */
  nextHeaderFieldOffset = 6;
  /** `'fragment'`: offset of the fragment header in the packet (its unfragmentable part ends there). */
  fragmentHeaderOffset = 0;
  /** `'fragment'`: Fragment Offset in octets (the wire field counts 8-octet units). */
  fragmentOffset = 0;
  /** `'fragment'`: the M flag, more fragments follow. */
  moreFragments = false;
  /** `'fragment'`: the 32-bit Identification. */
  identification = 0;
  /** `'drop'`: why. */
  reason: Ipv6ExtDropReason = 'truncated';
  /** `'drop'`: the Parameter Problem code to answer with, or -1 for a silent drop. */
  icmpCode = -1;
  /** `'drop'` with `icmpCode` ≥ 0: the Parameter Problem pointer, an offset in the packet. */
  icmpPointer = 0;
  /** Extension headers walked (the fragment header included). */
  headers = 0;
}

/**
 * Walks the extension headers of a received IPv6 packet (`packet` starts at the fixed
 * header, which `parseIpv6` has accepted) into `chain` and returns `chain.kind` (the rules
 * are in the module comment). Pointers and offsets count from the start of `packet`, as
 * Parameter Problem wants (RFC 4443 §3.4). Never throws.
 */
export function walkIpv6Headers(packet: Uint8Array, chain: Ipv6HeaderChain, options?: Ipv6WalkOptions): Ipv6HeaderChain['kind'] {
  if (packet.length < IPV6_HEADER_LENGTH) return drop(chain, 'truncated');
  const end = IPV6_HEADER_LENGTH + ((packet[4]! << 8) | packet[5]!);
  if (end > packet.length) return drop(chain, 'truncated');
  // Fast path: most packets carry no extension header, just an upper layer we know.
  const next = packet[6]!;
  if (next !== Ipv6NextHeader.HopByHop && next !== Ipv6NextHeader.Routing && next !== Ipv6NextHeader.Fragment &&
      next !== Ipv6NextHeader.NoNextHeader && next !== Ipv6NextHeader.DestinationOptions &&
      (options?.isUpperLayer ?? defaultIsUpperLayer)(next)) {
    chain.kind = 'upper';
    chain.protocol = next;
    chain.offset = IPV6_HEADER_LENGTH;
    chain.end = end;
    chain.nextHeaderFieldOffset = 6;
    chain.headers = 0;
    chain.icmpCode = -1;
    return 'upper';
  }
  return walkIpv6HeadersFrom(packet, IPV6_HEADER_LENGTH, 6, end, chain, options);
}

/**
 * {@link walkIpv6Headers} from the middle of a packet: the header at `start` is the one named
 * by the Next Header field at `nextHeaderFieldOffset`, and the packet ends at `end`. The
 * reassembler uses it to check the chain inside a first fragment (RFC 7112); there the
 * Hop-by-Hop header is not allowed either. Never throws.
 */
export function walkIpv6HeadersFrom(
  packet: Uint8Array,
  start: number,
  nextHeaderFieldOffset: number,
  end: number,
  chain: Ipv6HeaderChain,
  options?: Ipv6WalkOptions,
): Ipv6HeaderChain['kind'] {
  const isUpperLayer = options?.isUpperLayer ?? defaultIsUpperLayer;
  const maxHeaders = options?.maxHeaders ?? DEFAULT_MAX_HEADERS;
  const maxChainLength = options?.maxChainLength ?? DEFAULT_MAX_CHAIN_LENGTH;
  chain.end = end;
  chain.headers = 0;
  chain.icmpCode = -1;
  if (end > packet.length || start > end || nextHeaderFieldOffset >= packet.length) return drop(chain, 'truncated');
  const dstMulticast = packet.length >= 25 && packet[24] === 0xff;
  let offset = start;
  let field = nextHeaderFieldOffset;
  for (;;) {
    const next = packet[field]!;
    switch (next) {
      case Ipv6NextHeader.HopByHop:
      case Ipv6NextHeader.DestinationOptions: {
        // RFC 8200 §4.3: Hop-by-Hop only right after the fixed header; elsewhere the value 0
        // is unrecognised (§4).
        if (next === Ipv6NextHeader.HopByHop && offset !== IPV6_HEADER_LENGTH) {
          return parameterProblem(chain, 'unknown-next-header', 1, field);
        }
        const length = extLength(packet, offset, end);
        if (length < 0) return drop(chain, 'truncated');
        const verdict = processOptions(packet, offset + 2, offset + length, dstMulticast, chain);
        if (verdict !== undefined) return verdict;
        break;
      }
      case Ipv6NextHeader.Routing: {
        const length = extLength(packet, offset, end);
        if (length < 0 || length < 4) return drop(chain, 'truncated');
        // RFC 8200 §4.4: Segments Left 0 → ignore the header; else no type is known here.
        if (packet[offset + 3] !== 0) return parameterProblem(chain, 'unknown-routing-type', 0, offset + 2);
        break;
      }
      case Ipv6NextHeader.Fragment: {
        if (offset + 8 > end) return drop(chain, 'truncated');
        chain.headers++;
        const word = (packet[offset + 2]! << 8) | packet[offset + 3]!;
        const fragmentOffset = word & 0xfff8; // 13 bits of 8-octet units, already × 8
        const more = (word & 1) !== 0;
        const dataLength = end - (offset + 8);
        // RFC 8200 §4.5: non-last fragments are multiples of 8 octets (pointer: Payload Length);
        // no fragment reaches past 65535 octets (pointer: Fragment Offset).
        if (more && (dataLength & 7) !== 0) return parameterProblem(chain, 'bad-fragment', 0, 4);
        if (fragmentOffset + dataLength > 0xffff) return parameterProblem(chain, 'bad-fragment', 0, offset + 2);
        chain.kind = 'fragment';
        chain.protocol = packet[offset]!;
        chain.offset = offset + 8;
        chain.nextHeaderFieldOffset = field;
        chain.fragmentHeaderOffset = offset;
        chain.fragmentOffset = fragmentOffset;
        chain.moreFragments = more;
        chain.identification = ((packet[offset + 4]! << 24) | (packet[offset + 5]! << 16) | (packet[offset + 6]! << 8) | packet[offset + 7]!) >>> 0;
        return 'fragment';
      }
      case Ipv6NextHeader.NoNextHeader:
        return drop(chain, 'no-next-header');
      default:
        if (!isUpperLayer(next)) return parameterProblem(chain, 'unknown-next-header', 1, field);
        chain.kind = 'upper';
        chain.protocol = next;
        chain.offset = offset;
        chain.nextHeaderFieldOffset = field;
        return 'upper';
    }
    // An extension header (0, 60 or 43) of `extLength` octets was accepted: move past it.
    chain.headers++;
    field = offset; // every extension header starts with its Next Header field
    offset += (packet[offset + 1]! + 1) * 8;
    if (chain.headers >= maxHeaders) return drop(chain, 'too-many-headers');
    if (offset - start > maxChainLength) return drop(chain, 'chain-too-long');
  }
}

/** Length in octets of the extension header at `offset` ((Hdr Ext Len + 1) × 8), or -1 when it runs past `end`. */
function extLength(packet: Uint8Array, offset: number, end: number): number {
  if (offset + 2 > end) return -1;
  const length = (packet[offset + 1]! + 1) * 8;
  return offset + length > end ? -1 : length;
}

/**
 * Processes the TLV options in `packet[from, to)` (RFC 8200 §4.2). Returns `undefined` when
 * the walk goes on, else the `'drop'` verdict already written into `chain`.
 */
function processOptions(packet: Uint8Array, from: number, to: number, dstMulticast: boolean, chain: Ipv6HeaderChain): 'drop' | undefined {
  let i = from;
  while (i < to) {
    const type = packet[i]!;
    if (type === OPTION_PAD1) {
      i++; // Pad1 is one octet with no length field
      continue;
    }
    if (i + 2 > to) return drop(chain, 'bad-option');
    const next = i + 2 + packet[i + 1]!;
    if (next > to) return drop(chain, 'bad-option');
    if (type !== OPTION_PADN && type !== OPTION_ROUTER_ALERT) {
      // RFC 8200 §4.2: the two high-order bits of an unrecognised option's type.
      switch (type >>> 6) {
        case 0: // skip over this option and continue processing the header
          break;
        case 1: // discard the packet
          return drop(chain, 'unknown-option');
        case 2: // discard, and send Parameter Problem code 2 pointing at the option type
          return parameterProblem(chain, 'unknown-option', 2, i);
        default: // the same, only if the destination was not multicast
          return dstMulticast ? drop(chain, 'unknown-option') : parameterProblem(chain, 'unknown-option', 2, i);
      }
    }
    i = next;
  }
  return undefined;
}

function drop(chain: Ipv6HeaderChain, reason: Ipv6ExtDropReason): 'drop' {
  chain.kind = 'drop';
  chain.reason = reason;
  chain.icmpCode = -1;
  return 'drop';
}

function parameterProblem(chain: Ipv6HeaderChain, reason: Ipv6ExtDropReason, code: number, pointer: number): 'drop' {
  chain.kind = 'drop';
  chain.reason = reason;
  chain.icmpCode = code;
  chain.icmpPointer = pointer;
  return 'drop';
}
