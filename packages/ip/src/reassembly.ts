/**
 * Bounded IPv4 fragment reassembly (RFC 791 §3.2 "reassembly procedure", RFC 815 holes,
 * RFC 5722 overlap policy).
 *
 * Datagrams are keyed by (source, destination, protocol, identification) as RFC 791 says.
 * Fragments are kept as copies in offset order; because overlaps are refused, the datagram
 * is complete exactly when its last fragment (MF = 0) fixed the total length and the
 * octets received add up to it — RFC 815's hole list reduced to a sum.
 *
 * Safety against abuse:
 * - Overlap: any fragment overlapping one already held (other than an exact duplicate with
 *   identical bytes) discards the whole datagram, and later fragments of it are discarded
 *   until its timer runs out (RFC 5722 §4, applied to IPv4 as Linux does). Overlaps are how
 *   fragment attacks rewrite transport headers after a filter looked at them.
 * - Memory: at most `maxDatagrams` datagrams, `maxFragmentsPerDatagram` fragments and
 *   `maxBytesPerDatagram` octets each, and `maxTotalBytes` octets in all; a fragment that
 *   would exceed a cap is dropped (with its datagram, which could no longer complete).
 * - Time: a datagram lives `timeoutMs` from its first fragment (RFC 791 suggests a 15 s
 *   lower bound; RFC 1122 §3.3.2 60–120 s; Linux uses 30 s). Time is passed in.
 */
import { codedRangeError } from './errors.js';
import { IPV4_HEADER_LENGTH, IPV4_MAX_LENGTH, type Ipv4Repr } from './ipv4.js';

/** Limits of an {@link Ipv4Reassembler}. */
export interface Ipv4ReassemblerOptions {
  /** Most datagrams under reassembly at once (including discarded ones still remembered). */
  readonly maxDatagrams: number;
  /** Largest reassembled payload accepted, octets (≤ 65515). */
  readonly maxBytesPerDatagram: number;
  /** Most fragment octets held across all datagrams. */
  readonly maxTotalBytes: number;
  /** Most fragments held for one datagram (stops floods of tiny fragments). */
  readonly maxFragmentsPerDatagram: number;
  /** Lifetime of an incomplete datagram from its first fragment, milliseconds. */
  readonly timeoutMs: number;
}

/** Defaults: 64 datagrams, 65515 octets each, 1 MiB in all, 64 fragments each, 30 s. */
export const DEFAULT_REASSEMBLER_OPTIONS: Ipv4ReassemblerOptions = {
  maxDatagrams: 64,
  maxBytesPerDatagram: IPV4_MAX_LENGTH - IPV4_HEADER_LENGTH,
  maxTotalBytes: 1 << 20,
  maxFragmentsPerDatagram: 64,
  timeoutMs: 30_000,
};

/** Why {@link Ipv4Reassembler.add} dropped a fragment. */
export type Ipv4ReassemblyDropReason =
  | 'bad-fragment' // inconsistent offsets/lengths (RFC 791 §3.2)
  | 'overlap' // overlapped a held fragment: the datagram is discarded (RFC 5722)
  | 'discarded' // belongs to a datagram already discarded for overlap
  | 'duplicate' // exact copy of a held fragment; ignored, the datagram stays
  | 'too-big' // exceeds maxBytesPerDatagram or maxFragmentsPerDatagram: datagram discarded
  | 'table-full' // maxDatagrams reached and nothing could be evicted (not reached in practice)
  | 'memory-limit'; // maxTotalBytes reached even after evicting every older datagram

/** Result of {@link Ipv4Reassembler.add}. */
export type Ipv4ReassemblyResult =
  | {
      /** A whole datagram: unfragmented, or the last missing fragment arrived. */
      readonly kind: 'complete';
      /** Its header, as one unfragmented datagram (no MF, offset 0). */
      readonly repr: Ipv4Repr;
      /** Its whole payload. */
      readonly payload: Uint8Array;
    }
  | {
      /** The fragment was kept; the datagram still has holes. */
      readonly kind: 'pending';
    }
  | {
      /** The fragment (or its whole datagram) was discarded. */
      readonly kind: 'drop';
      /** Why it was discarded. */
      readonly reason: Ipv4ReassemblyDropReason;
    };

/** Counters of an {@link Ipv4Reassembler}. */
export interface Ipv4ReassemblerStats {
  /** Fragments given to `add` (unfragmented datagrams not counted). */
  readonly fragmentsReceived: number;
  /** Fragments dropped, for any reason. */
  readonly fragmentsDropped: number;
  /** Datagrams reassembled and returned. */
  readonly datagramsCompleted: number;
  /** Datagrams discarded (overlap, caps). */
  readonly datagramsDiscarded: number;
  /** Datagrams that timed out incomplete. */
  readonly datagramsTimedOut: number;
  /** Oldest datagrams given up to make room for newer ones (table or memory full). */
  readonly datagramsEvicted: number;
  /** Datagrams currently held (including remembered discarded ones). */
  readonly datagramsHeld: number;
  /** Fragment octets currently held. */
  readonly bytesHeld: number;
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
  /** Octets held (sum of fragment lengths). */
  received: number;
  /** Total payload length once the last fragment arrived, else -1. */
  totalLength: number;
  /** Repr of the fragment at offset 0 once it arrived (RFC 791: its header is the datagram's). */
  first: Ipv4Repr | undefined;
  /** True after an overlap: remembered only to discard later fragments (RFC 5722). */
  discarded: boolean;
}

const RESULT_PENDING: Ipv4ReassemblyResult = { kind: 'pending' };

/**
 * Reassembles fragmented IPv4 datagrams under fixed memory bounds. Sans-IO: every call takes
 * `now` (monotonic milliseconds) and nothing runs by itself; call {@link expire} (or rely on
 * `add`, which expires first) and use {@link nextDeadline} to schedule.
 */
export class Ipv4Reassembler {
  /** The limits in force. */
  readonly options: Ipv4ReassemblerOptions;
  // Insertion order == expiry order (every datagram lives exactly timeoutMs from creation),
  // so expiry pops from the front.
  private readonly datagrams = new Map<string, Datagram>();
  private bytesHeld = 0;
  private counters = {
    fragmentsReceived: 0,
    fragmentsDropped: 0,
    datagramsCompleted: 0,
    datagramsDiscarded: 0,
    datagramsTimedOut: 0,
    datagramsEvicted: 0,
  };

  /**
   * @throws RangeError with `code: 'ERR_INVALID_ARG_VALUE'` for a non-positive or
   *   out-of-range limit.
   */
  constructor(options: Partial<Ipv4ReassemblerOptions> = {}) {
    const o = { ...DEFAULT_REASSEMBLER_OPTIONS, ...options };
    for (const [name, v] of Object.entries(o)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
        throw codedRangeError('ERR_INVALID_ARG_VALUE', `Ipv4Reassembler: ${name} must be a positive integer, got ${String(v)}`);
      }
    }
    if (o.maxBytesPerDatagram > IPV4_MAX_LENGTH - IPV4_HEADER_LENGTH) {
      throw codedRangeError('ERR_INVALID_ARG_VALUE', `Ipv4Reassembler: maxBytesPerDatagram must be at most ${IPV4_MAX_LENGTH - IPV4_HEADER_LENGTH}`);
    }
    this.options = Object.freeze(o);
  }

  /** A snapshot of the counters. */
  get stats(): Ipv4ReassemblerStats {
    return { ...this.counters, datagramsHeld: this.datagrams.size, bytesHeld: this.bytesHeld };
  }

  /** When the oldest incomplete datagram expires, or `undefined` when none is held. */
  get nextDeadline(): number | undefined {
    for (const d of this.datagrams.values()) return d.expiresAt;
    return undefined;
  }

  /**
   * Offers one received datagram (its parsed `repr` and `payload`). An unfragmented one
   * (MF = 0, offset 0) comes straight back as `complete` without a copy. A fragment is
   * copied (the caller may reuse `payload`) and the result says whether its datagram is now
   * complete (a fresh `payload`, and the offset-0 fragment's repr with MF cleared, offset 0
   * and the full `payloadLength`), still pending, or why the fragment was dropped.
   */
  add(now: number, repr: Ipv4Repr, payload: Uint8Array): Ipv4ReassemblyResult {
    if (!repr.moreFragments && repr.fragmentOffset === 0) return { kind: 'complete', repr, payload };
    this.expire(now);
    this.counters.fragmentsReceived++;
    const offset = repr.fragmentOffset;
    const end = offset + payload.length;
    // RFC 791 §3.2: non-last fragments carry multiples of 8 octets; nothing reaches past 65535.
    if ((repr.moreFragments && (payload.length === 0 || (payload.length & 7) !== 0)) || (offset & 7) !== 0 ||
        end > IPV4_MAX_LENGTH - IPV4_HEADER_LENGTH || payload.length !== repr.payloadLength) {
      return this.drop('bad-fragment');
    }
    const key = `${repr.src}/${repr.dst}/${repr.protocol}/${repr.ident}`;
    let d = this.datagrams.get(key);
    if (d === undefined) {
      // A full table gives up its oldest datagram rather than refusing the new one: otherwise a
      // flood of never-completed fragments would lock out every real datagram until it timed out.
      if (this.datagrams.size >= this.options.maxDatagrams) this.evictOldest(undefined);
      if (this.datagrams.size >= this.options.maxDatagrams) return this.drop('table-full');
      d = { expiresAt: now + this.options.timeoutMs, fragments: [], received: 0, totalLength: -1, first: undefined, discarded: false };
      this.datagrams.set(key, d);
    }
    if (d.discarded) return this.drop('discarded');

    // Last fragment fixes the total; everything must agree with it.
    if (!repr.moreFragments) {
      if (d.totalLength >= 0 && d.totalLength !== end) return this.discard(d, 'overlap');
      const last = d.fragments[d.fragments.length - 1];
      if (last !== undefined && last.end > end) return this.discard(d, 'overlap');
    } else if (d.totalLength >= 0 && end > d.totalLength) {
      return this.discard(d, 'overlap');
    }

    // Find the insertion point (fragments sorted by offset) and check both neighbours.
    const frags = d.fragments;
    let i = frags.length;
    while (i > 0 && frags[i - 1]!.offset > offset) i--;
    const prev = frags[i - 1];
    const next = frags[i];
    if (prev !== undefined && prev.offset === offset && prev.end === end) {
      // Exact duplicate (e.g. a duplicated packet): harmless if the bytes are identical.
      return sameBytes(prev.bytes, payload) ? this.drop('duplicate') : this.discard(d, 'overlap');
    }
    if ((prev !== undefined && prev.end > offset) || (next !== undefined && next.offset < end)) {
      return this.discard(d, 'overlap');
    }
    if (end > this.options.maxBytesPerDatagram || frags.length >= this.options.maxFragmentsPerDatagram) {
      return this.discard(d, 'too-big');
    }
    // The same for memory: older datagrams make way (oldest first) before this one is refused.
    while (this.bytesHeld + payload.length > this.options.maxTotalBytes && this.evictOldest(d)) {
      // evicted one
    }
    if (this.bytesHeld + payload.length > this.options.maxTotalBytes) return this.discard(d, 'memory-limit');

    frags.splice(i, 0, { offset, end, bytes: payload.slice() });
    d.received += payload.length;
    this.bytesHeld += payload.length;
    if (!repr.moreFragments) d.totalLength = end;
    if (offset === 0) d.first = repr;
    if (d.totalLength < 0 || d.received !== d.totalLength || d.first === undefined) return RESULT_PENDING;

    // Complete: no overlaps and the lengths add up, so the fragments tile 0..totalLength.
    const out = new Uint8Array(d.totalLength);
    for (const f of frags) out.set(f.bytes, f.offset);
    this.remove(key, d);
    this.counters.datagramsCompleted++;
    const full: Ipv4Repr = { ...d.first, moreFragments: false, fragmentOffset: 0, payloadLength: d.totalLength };
    return { kind: 'complete', repr: full, payload: out };
  }

  /**
   * Forgets every datagram whose lifetime ended at or before `now`; returns how many. (RFC
   * 792 lets a host send Time Exceeded code 1 for them; we do not.)
   */
  expire(now: number): number {
    let n = 0;
    for (const [key, d] of this.datagrams) {
      if (d.expiresAt > now) break;
      this.remove(key, d);
      if (!d.discarded) this.counters.datagramsTimedOut++;
      n++;
    }
    return n;
  }

  /** Forgets the oldest datagram other than `keep`; false when there is none. */
  private evictOldest(keep: Datagram | undefined): boolean {
    for (const [key, d] of this.datagrams) {
      if (d === keep) continue;
      this.remove(key, d);
      this.counters.datagramsEvicted++;
      return true;
    }
    return false;
  }

  private drop(reason: Ipv4ReassemblyDropReason): Ipv4ReassemblyResult {
    this.counters.fragmentsDropped++;
    return { kind: 'drop', reason };
  }

  /** Frees a datagram's data but remembers it (RFC 5722: later fragments are discarded too). */
  private discard(d: Datagram, reason: Ipv4ReassemblyDropReason): Ipv4ReassemblyResult {
    this.bytesHeld -= d.received;
    d.fragments = [];
    d.received = 0;
    d.first = undefined;
    d.discarded = true;
    this.counters.datagramsDiscarded++;
    return this.drop(reason);
  }

  private remove(key: string, d: Datagram): void {
    this.bytesHeld -= d.received;
    this.datagrams.delete(key);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
