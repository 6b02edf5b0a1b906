/**
 * Bounded IPv6 fragment reassembly (RFC 8200 §4.5), with the same caps and the same overlap
 * policy as the IPv4 reassembler, and the IPv6 rules on top:
 *
 * - Packets are keyed by (source, destination, Identification) (RFC 8200 §4.5).
 * - Atomic fragments (offset 0, M = 0) are whole packets: they come straight back, the
 *   Fragment header removed, and never join or disturb a reassembly with the same
 *   Identification (RFC 6946 §4).
 * - Any overlap, other than an exact duplicate with identical bytes, abandons the whole
 *   packet and discards its later fragments until its timer runs out, silently (RFC 5722 §4,
 *   RFC 8200 §4.5).
 * - The first fragment must hold the whole header chain up to and including the upper-layer
 *   header (RFC 7112 §5); otherwise it is dropped and Parameter Problem code 3 may be sent.
 * - A packet gives up `timeoutMs` (60 s, RFC 8200 §4.5) after its first-arriving fragment.
 *   When its offset-0 fragment had arrived, the source should get Time Exceeded code 1
 *   quoting it: the reassembler keeps those quotes, bounded, for {@link
 *   Ipv6Reassembler.pollTimeExceeded}.
 * - Memory: at most `maxDatagrams` packets, `maxFragmentsPerDatagram` fragments and
 *   `maxBytesPerDatagram` octets each, `maxTotalBytes` in all; a full table or memory gives
 *   up its oldest packet first, so a flood of never-completed fragments cannot lock out real
 *   ones for 60 s.
 *
 * Sans-IO: every call takes `now` (monotonic milliseconds).
 */
import { codedRangeError } from './errors.js';
import { IPV6_HEADER_LENGTH, IPV6_MAX_PAYLOAD_LENGTH, IPV6_MIN_MTU, Ipv6NextHeader } from './ipv6.js';
import { Ipv6HeaderChain, type Ipv6WalkOptions, walkIpv6HeadersFrom } from './ipv6-ext.js';
import type { Ipv4ReassemblerOptions } from './reassembly.js';

/** Limits of an {@link Ipv6Reassembler}: those of the IPv4 reassembler. */
export type Ipv6ReassemblerOptions = Ipv4ReassemblerOptions;

/** Defaults: 64 packets, 65535 octets each, 1 MiB in all, 64 fragments each, 60 s (RFC 8200 §4.5). */
export const DEFAULT_REASSEMBLER6_OPTIONS: Ipv6ReassemblerOptions = {
  maxDatagrams: 64,
  maxBytesPerDatagram: IPV6_MAX_PAYLOAD_LENGTH,
  maxTotalBytes: 1 << 20,
  maxFragmentsPerDatagram: 64,
  timeoutMs: 60_000,
};

/** Why {@link Ipv6Reassembler.add} dropped a fragment. */
export type Ipv6ReassemblyDropReason =
  | 'bad-fragment' // inconsistent offsets/lengths, an empty non-last fragment, or a nested Fragment header
  | 'incomplete-chain' // first fragment without the whole header chain (RFC 7112 §5)
  | 'overlap' // overlapped a held fragment: the packet is abandoned (RFC 5722)
  | 'discarded' // belongs to a packet already abandoned for overlap
  | 'duplicate' // exact copy of a held fragment; ignored, the packet stays
  | 'too-big' // exceeds maxBytesPerDatagram, maxFragmentsPerDatagram or 65535 octets: packet abandoned
  | 'table-full' // maxDatagrams reached and nothing could be evicted
  | 'memory-limit'; // maxTotalBytes reached even after evicting every older packet

/** Result of {@link Ipv6Reassembler.add}. */
export type Ipv6ReassemblyResult =
  | {
      /** A whole packet: an atomic fragment, or the last missing fragment arrived. */
      readonly kind: 'complete';
      /**
       * The reassembled packet (a fresh copy): the first fragment's unfragmentable part with the
       * Fragment header gone (the Next Header field that named it now names what followed it)
       * and Payload Length updated, then the fragmentable part. Walk it with
       * `walkIpv6Headers` to reach the upper layer.
       */
      readonly packet: Uint8Array;
    }
  | {
      /** The fragment was kept; the packet still has holes. */
      readonly kind: 'pending';
    }
  | {
      /** The fragment (or its whole packet) was discarded. */
      readonly kind: 'drop';
      /** Why it was discarded. */
      readonly reason: Ipv6ReassemblyDropReason;
      /** The ICMPv6 Parameter Problem code to answer with (3 for `incomplete-chain`, pointer 0), or -1. */
      readonly icmpCode: number;
    };

/** Counters of an {@link Ipv6Reassembler}. */
export interface Ipv6ReassemblerStats {
  /** Fragments given to `add` (atomic fragments not counted). */
  readonly fragmentsReceived: number;
  /** Fragments dropped, for any reason. */
  readonly fragmentsDropped: number;
  /** Atomic fragments returned as whole packets (RFC 6946). */
  readonly atomicFragments: number;
  /** Packets reassembled and returned. */
  readonly datagramsCompleted: number;
  /** Packets abandoned (overlap, caps). */
  readonly datagramsDiscarded: number;
  /** Packets that timed out incomplete. */
  readonly datagramsTimedOut: number;
  /** Oldest packets given up to make room for newer ones (table or memory full). */
  readonly datagramsEvicted: number;
  /** Packets currently held (including remembered abandoned ones). */
  readonly datagramsHeld: number;
  /** Fragment octets currently held (unfragmentable part of first fragments included). */
  readonly bytesHeld: number;
  /** Time Exceeded quotes waiting for {@link Ipv6Reassembler.pollTimeExceeded}. */
  readonly timeExceededPending: number;
}

interface Fragment {
  readonly offset: number;
  readonly end: number;
  readonly bytes: Uint8Array;
}

interface Datagram {
  readonly expiresAt: number;
  /** Fragments sorted by offset, never overlapping. */
  fragments: Fragment[];
  /** Fragmentable octets held (sum of fragment lengths). */
  received: number;
  /** Octets held in all: `received` plus the copies of the unfragmentable part and the quote. */
  held: number;
  /** Total fragmentable length once the last fragment arrived, else -1. */
  totalLength: number;
  /** The offset-0 fragment's unfragmentable part (fixed header + headers before the Fragment header). */
  unfragmentable: Uint8Array | undefined;
  /** Offset in `unfragmentable` of the Next Header field that named the Fragment header. */
  nextHeaderField: number;
  /** The Next Header of the offset-0 fragment's Fragment header. */
  protocol: number;
  /** The offset-0 fragment as received, cut to what an ICMPv6 error may quote. */
  quote: Uint8Array | undefined;
  /** True after an overlap: remembered only to discard later fragments (RFC 5722). */
  discarded: boolean;
}

const RESULT_PENDING: Ipv6ReassemblyResult = { kind: 'pending' };

// An ICMPv6 error quotes at most 1280 − 40 (IPv6) − 8 (ICMPv6) octets (RFC 4443 §2.4 (c)).
const QUOTE_MAX = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - 8;

// RFC 7112: the first fragment holds the upper-layer header itself, at least these octets.
function upperHeaderLength(protocol: number): number {
  switch (protocol) {
    case Ipv6NextHeader.Tcp:
      return 20; // RFC 9293 §3.1
    case Ipv6NextHeader.Udp:
      return 8; // RFC 768
    case Ipv6NextHeader.Icmpv6:
      return 4; // RFC 4443 §2.1: type, code, checksum
    default:
      return 0;
  }
}

/**
 * Reassembles fragmented IPv6 packets under fixed memory bounds (policy in the module
 * comment). Feed it the packets for which `walkIpv6Headers` said `'fragment'`.
 */
export class Ipv6Reassembler {
  /** The limits in force. */
  readonly options: Ipv6ReassemblerOptions;
  // Insertion order == expiry order (every packet lives exactly timeoutMs from creation).
  private readonly datagrams = new Map<string, Datagram>();
  private readonly timeExceeded: Uint8Array[] = [];
  private readonly inner = new Ipv6HeaderChain();
  private readonly walkOptions: Ipv6WalkOptions | undefined;
  private bytesHeld = 0;
  private counters = {
    fragmentsReceived: 0,
    fragmentsDropped: 0,
    atomicFragments: 0,
    datagramsCompleted: 0,
    datagramsDiscarded: 0,
    datagramsTimedOut: 0,
    datagramsEvicted: 0,
  };

  /**
   * @param walkOptions how the RFC 7112 check walks the chain inside a first fragment (the
   *   same options the stack gives `walkIpv6Headers`).
   * @throws RangeError with `code: 'ERR_INVALID_ARG_VALUE'` for a non-positive or
   *   out-of-range limit.
   */
  constructor(options: Partial<Ipv6ReassemblerOptions> = {}, walkOptions?: Ipv6WalkOptions) {
    const o = { ...DEFAULT_REASSEMBLER6_OPTIONS, ...options };
    for (const [name, v] of Object.entries(o)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
        throw codedRangeError('ERR_INVALID_ARG_VALUE', `Ipv6Reassembler: ${name} must be a positive integer, got ${String(v)}`);
      }
    }
    if (o.maxBytesPerDatagram > IPV6_MAX_PAYLOAD_LENGTH) {
      throw codedRangeError('ERR_INVALID_ARG_VALUE', `Ipv6Reassembler: maxBytesPerDatagram must be at most ${IPV6_MAX_PAYLOAD_LENGTH}`);
    }
    this.options = Object.freeze(o);
    this.walkOptions = walkOptions;
  }

  /** A snapshot of the counters. */
  get stats(): Ipv6ReassemblerStats {
    return {
      ...this.counters,
      datagramsHeld: this.datagrams.size,
      bytesHeld: this.bytesHeld,
      timeExceededPending: this.timeExceeded.length,
    };
  }

  /** When the oldest incomplete packet expires, or `undefined` when none is held. */
  get nextDeadline(): number | undefined {
    for (const d of this.datagrams.values()) return d.expiresAt;
    return undefined;
  }

  /**
   * Offers one received fragment: `packet` from its fixed header, `chain` what
   * `walkIpv6Headers` wrote for it (kind `'fragment'`). The fragment is copied (the caller
   * may reuse `packet`). Expires old packets first (see {@link expire}).
   */
  add(now: number, packet: Uint8Array, chain: Ipv6HeaderChain): Ipv6ReassemblyResult {
    if (chain.kind !== 'fragment' || chain.end > packet.length || chain.offset > chain.end ||
        chain.fragmentHeaderOffset < IPV6_HEADER_LENGTH || chain.nextHeaderFieldOffset >= chain.fragmentHeaderOffset) {
      return this.drop('bad-fragment'); // not what walkIpv6Headers wrote for this packet
    }
    const offset = chain.fragmentOffset;
    const data = packet.subarray(chain.offset, chain.end);
    const end = offset + data.length;
    const unfragmentableLength = chain.fragmentHeaderOffset;
    const isFirst = offset === 0;
    const isAtomic = isFirst && !chain.moreFragments;
    if (!isAtomic) {
      this.expire(now);
      this.counters.fragmentsReceived++;
    }
    if (isFirst) {
      // RFC 7112 §5: the whole header chain, up to and including the upper-layer header.
      const kind = walkIpv6HeadersFrom(packet, chain.offset, chain.fragmentHeaderOffset, chain.end, this.inner, this.walkOptions);
      if (kind === 'fragment') return this.drop('bad-fragment'); // a Fragment header inside a fragment
      const inner = this.inner;
      if ((kind === 'drop' && inner.reason === 'truncated') ||
          (kind === 'upper' && inner.offset + upperHeaderLength(inner.protocol) > chain.end)) {
        return this.drop('incomplete-chain', 3);
      }
    }
    if (isAtomic) {
      // RFC 6946 §4: an atomic fragment is a whole packet, never mixed with a reassembly.
      this.counters.atomicFragments++;
      return { kind: 'complete', packet: assemble(packet.subarray(0, unfragmentableLength), chain.nextHeaderFieldOffset, chain.protocol, [data], data.length) };
    }
    // RFC 8200 §4.5: non-last fragments are non-empty multiples of 8 octets; the packet fits
    // 65535 octets of payload (the walk checked the same, but the chain may come from elsewhere).
    if ((chain.moreFragments && (data.length === 0 || (data.length & 7) !== 0)) || end > IPV6_MAX_PAYLOAD_LENGTH) {
      return this.drop('bad-fragment');
    }
    const key = keyOf(packet, chain.identification);
    let d = this.datagrams.get(key);
    if (d === undefined) {
      if (this.datagrams.size >= this.options.maxDatagrams) this.evictOldest(undefined);
      if (this.datagrams.size >= this.options.maxDatagrams) return this.drop('table-full');
      d = {
        expiresAt: now + this.options.timeoutMs,
        fragments: [],
        received: 0,
        held: 0,
        totalLength: -1,
        unfragmentable: undefined,
        nextHeaderField: 0,
        protocol: 0,
        quote: undefined,
        discarded: false,
      };
      this.datagrams.set(key, d);
    }
    if (d.discarded) return this.drop('discarded');

    // The last fragment fixes the total; everything must agree with it (else they overlap).
    if (!chain.moreFragments) {
      if (d.totalLength >= 0 && d.totalLength !== end) return this.discard(d, 'overlap');
      const last = d.fragments[d.fragments.length - 1];
      if (last !== undefined && last.end > end) return this.discard(d, 'overlap');
    } else if (d.totalLength >= 0 && end > d.totalLength) {
      return this.discard(d, 'overlap');
    }

    const frags = d.fragments;
    let i = frags.length;
    while (i > 0 && frags[i - 1]!.offset > offset) i--;
    const prev = frags[i - 1];
    const next = frags[i];
    if (prev !== undefined && prev.offset === offset && prev.end === end) {
      // RFC 5722 §4 allows treating an exact duplicate (a duplicated packet) as harmless.
      return sameBytes(prev.bytes, data) ? this.drop('duplicate') : this.discard(d, 'overlap');
    }
    if ((prev !== undefined && prev.end > offset) || (next !== undefined && next.offset < end)) {
      return this.discard(d, 'overlap');
    }
    const unfragmentable = isFirst ? unfragmentableLength : d.unfragmentable?.length ?? 0;
    if (end > this.options.maxBytesPerDatagram || frags.length >= this.options.maxFragmentsPerDatagram ||
        unfragmentable - IPV6_HEADER_LENGTH + Math.max(end, d.totalLength) > IPV6_MAX_PAYLOAD_LENGTH) {
      return this.discard(d, 'too-big');
    }
    const quoteLength = Math.min(chain.end, QUOTE_MAX);
    const cost = data.length + (isFirst ? unfragmentableLength + quoteLength : 0);
    while (this.bytesHeld + cost > this.options.maxTotalBytes && this.evictOldest(d)) {
      // evicted one, oldest first
    }
    if (this.bytesHeld + cost > this.options.maxTotalBytes) return this.discard(d, 'memory-limit');

    frags.splice(i, 0, { offset, end, bytes: data.slice() });
    d.received += data.length;
    d.held += cost;
    this.bytesHeld += cost;
    if (!chain.moreFragments) d.totalLength = end;
    if (isFirst) {
      // RFC 8200 §4.5: the unfragmentable part and Next Header come from the offset-0 fragment.
      d.unfragmentable = packet.slice(0, unfragmentableLength);
      d.nextHeaderField = chain.nextHeaderFieldOffset;
      d.protocol = chain.protocol;
      d.quote = packet.slice(0, quoteLength);
    }
    if (d.totalLength < 0 || d.unfragmentable === undefined || d.received !== d.totalLength) return RESULT_PENDING;
    // Complete: no overlaps and the lengths add up, so the fragments tile 0..totalLength.
    const whole = assemble(d.unfragmentable, d.nextHeaderField, d.protocol, frags.map((f) => f.bytes), d.totalLength);
    this.remove(key, d);
    this.counters.datagramsCompleted++;
    return { kind: 'complete', packet: whole };
  }

  /**
   * Gives up every packet whose lifetime ended at or before `now`; returns how many. Those
   * whose offset-0 fragment had arrived leave a quote for Time Exceeded code 1 (RFC 8200
   * §4.5), read with {@link pollTimeExceeded}.
   */
  expire(now: number): number {
    let n = 0;
    for (const [key, d] of this.datagrams) {
      if (d.expiresAt > now) break;
      this.remove(key, d);
      if (!d.discarded) {
        this.counters.datagramsTimedOut++;
        if (d.quote !== undefined) {
          // Bounded: at most maxDatagrams quotes wait; the oldest goes first.
          if (this.timeExceeded.length >= this.options.maxDatagrams) this.timeExceeded.shift();
          this.timeExceeded.push(d.quote);
        }
      }
      n++;
    }
    return n;
  }

  /**
   * The next first fragment (as received, cut to what an ICMPv6 error may quote) of a packet
   * that timed out: send ICMPv6 Time Exceeded code 1 quoting it to its source (RFC 8200
   * §4.5), subject to the rate limit. `undefined` when none waits.
   */
  pollTimeExceeded(): Uint8Array | undefined {
    return this.timeExceeded.shift();
  }

  private evictOldest(keep: Datagram | undefined): boolean {
    for (const [key, d] of this.datagrams) {
      if (d === keep) continue;
      this.remove(key, d);
      this.counters.datagramsEvicted++;
      return true;
    }
    return false;
  }

  private drop(reason: Ipv6ReassemblyDropReason, icmpCode = -1): Ipv6ReassemblyResult {
    this.counters.fragmentsDropped++;
    return { kind: 'drop', reason, icmpCode };
  }

  /** Frees a packet's data but remembers it (RFC 5722: later fragments are discarded too). */
  private discard(d: Datagram, reason: Ipv6ReassemblyDropReason): Ipv6ReassemblyResult {
    this.bytesHeld -= d.held;
    d.fragments = [];
    d.received = 0;
    d.held = 0;
    d.unfragmentable = undefined;
    d.quote = undefined;
    d.discarded = true;
    this.counters.datagramsDiscarded++;
    return this.drop(reason);
  }

  private remove(key: string, d: Datagram): void {
    this.bytesHeld -= d.held;
    this.datagrams.delete(key);
  }
}

/** (source, destination, Identification) as a map key: 32 address octets as characters, then the number. */
function keyOf(packet: Uint8Array, identification: number): string {
  return String.fromCharCode(...packet.subarray(8, 40)) + identification;
}

/**
 * Builds the reassembled packet: `unfragmentable` with its Next Header field at `field` set
 * to `protocol` and Payload Length updated, followed by `pieces` (in order, `length` octets).
 */
function assemble(unfragmentable: Uint8Array, field: number, protocol: number, pieces: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(unfragmentable.length + length);
  out.set(unfragmentable, 0);
  out[field] = protocol;
  const payloadLength = out.length - IPV6_HEADER_LENGTH;
  out[4] = payloadLength >>> 8;
  out[5] = payloadLength & 0xff;
  let at = unfragmentable.length;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
