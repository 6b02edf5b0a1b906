/**
 * TIME-WAIT as a compact record (the shape of Linux's inet_timewait_sock): what a connection in
 * TIME-WAIT (RFC 9293 §3.6.1) still has to know, without its buffers, scoreboard, congestion
 * controller or queues — about 120 octets of heap instead of a connection's few KiB. The stack
 * keeps records in a table of their own (keyed by the 4-tuple, which the record does not hold
 * beyond its ports), so closing first never fills the connection table; a `TcpConnection` in
 * TIME-WAIT answers through one of these too, so both behave alike.
 *
 * What a TIME-WAIT must answer (`handleSegment`, then `ack()` for the reply):
 * - a retransmission of the peer's FIN: ACK it and restart the 2·MSL wait (RFC 9293 §3.10.7.4,
 *   eighth step, TIME-WAIT);
 * - any other segment occupying sequence space, and any segment failing the acceptability test
 *   or PAWS (RFC 7323 §5.3): ACK it, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (§3.10.7.4 first step);
 *   bare ACKs and SYNs are answered at most once per 500 ms (Linux's tcp_invalid_ratelimit), so
 *   a stream of forged segments cannot make the record a reflector; a bare ACK in the window
 *   gets nothing (an ACK of an ACK would never end);
 * - a SYN that may reopen the 4-tuple: `reuse` (RFC 6191, `reusableBy`, the one decision of
 *   connection/reuse.ts); another SYN earns a (rate-limited) challenge ACK (RFC 5961 §4);
 * - RST, as Linux by default (net.ipv4.tcp_rfc1337 = 0): a RST at exactly RCV.NXT ends TIME-WAIT
 *   (`close`); any other is dropped. RFC 1337 (F1) would ignore every RST, because an old
 *   duplicate RST could "assassinate" TIME-WAIT and let an old duplicate segment into a new
 *   incarnation. The hazard needs a RST with exactly the right sequence number, and with
 *   timestamps it must also pass PAWS: as Linux, a RST whose TSval is older than TS.Recent is
 *   rejected while TS.Recent is less than 60 s old (TCP_PAWS_MSL), which is what stops old
 *   duplicates (RFC 1337's hazards H1–H3); a genuine peer that lost its state may free the
 *   record early.
 *
 * Layout: every field holds a small integer (sequence numbers as int32, TS.Recent's age in
 * seconds, deadlines in whole milliseconds), so V8 keeps them unboxed in the object itself.
 */
import { synMayReuse } from './connection/reuse.js';
import { seqDiff, seqLe, seqLt } from './seq.js';
import type { Instant, TcpRepr } from './types.js';

/** What `handleSegment` decided. */
export type TimeWaitVerdict =
  /** Nothing to send. */
  | 'drop'
  /** Send `ack(now)`. */
  | 'ack'
  /** A new SYN may reopen the 4-tuple (RFC 6191): forget the record and give the SYN to the listener. */
  | 'reuse'
  /** A RST at RCV.NXT ended TIME-WAIT: forget the record, send nothing. */
  | 'close';

/** What a record is made of (see `TcpConnection.toTimeWait`). */
export interface TimeWaitInit {
  /** Our port. */
  readonly localPort: number;
  /** The peer's port. */
  readonly remotePort: number;
  /** SND.NXT: after our FIN. */
  readonly sndNxt: number;
  /** RCV.NXT: after the peer's FIN. */
  readonly rcvNxt: number;
  /** The window field of our last ACK (already scaled down). */
  readonly windowField: number;
  /** Our receive window shift (RFC 7323 §2.2; 0 without scaling). */
  readonly windowShift: number;
  /** Timestamps in use (RFC 7323): our TSval offset, TS.Recent and when it was set; else undefined. */
  readonly timestamps:
    | {
        /** Offset added to our millisecond clock to form TSval (RFC 7323 §5.4). */
        readonly offset: number;
        /** TS.Recent: the peer's TSval to echo (RFC 7323 §4.3). */
        readonly recent: number;
        /** When TS.Recent was set, for the 24-day PAWS invalidation (RFC 7323 §5.5). */
        readonly recentAt: Instant;
      }
    | undefined;
  /** 2·MSL. */
  readonly timeWaitMs: number;
  /** When TIME-WAIT began (or last restarted). */
  readonly now: Instant;
}

/** Linux's tcp_invalid_ratelimit: at most one ACK per this many ms for bare or SYN segments. */
const INVALID_ACK_INTERVAL_MS = 500;
/** Linux's TCP_PAWS_MSL: PAWS rejects a RST with an old TSval while TS.Recent is younger than this. */
const PAWS_RST_SECONDS = 60;
/** RFC 7323 §5.5: TS.Recent idle for more than 24 days is invalid. */
const PAWS_IDLE_SECONDS = 24 * 24 * 3600;

/** One 4-tuple in TIME-WAIT. */
export class TimeWaitRecord {
  /** Our port (the rest of the 4-tuple is the table's key). */
  readonly localPort: number;
  /** The peer's port. */
  readonly remotePort: number;
  // Sequence numbers and TSvals as int32 (`| 0`), read back with `>>> 0`.
  private readonly sndNxt: number;
  private readonly rcvNxt: number;
  private readonly windowField: number;
  private readonly windowShift: number;
  private readonly tsOffset: number;
  private tsRecent: number;
  /** When TS.Recent was set, in whole seconds; -1 without timestamps. */
  private tsRecentSec: number;
  /** The 2·MSL deadline in whole milliseconds. */
  private expiry: number;
  private readonly timeWaitMs: number;
  /** When the last rate-limited ACK was sent (whole ms). */
  private lastLimitedAck: number;

  constructor(init: TimeWaitInit) {
    this.localPort = init.localPort;
    this.remotePort = init.remotePort;
    this.sndNxt = init.sndNxt | 0;
    this.rcvNxt = init.rcvNxt | 0;
    this.windowField = init.windowField;
    this.windowShift = init.windowShift;
    const ts = init.timestamps;
    this.tsOffset = ts === undefined ? 0 : ts.offset | 0;
    this.tsRecent = ts === undefined ? 0 : ts.recent | 0;
    this.tsRecentSec = ts === undefined ? -1 : Math.floor(ts.recentAt / 1000);
    this.timeWaitMs = init.timeWaitMs;
    this.expiry = Math.ceil(init.now + init.timeWaitMs);
    this.lastLimitedAck = -INVALID_ACK_INTERVAL_MS;
  }

  /** When TIME-WAIT ends (2·MSL after it began or was last restarted). */
  get expiresAt(): Instant {
    return this.expiry;
  }

  /** Whether TIME-WAIT is over at `now`. */
  expired(now: Instant): boolean {
    return now >= this.expiry;
  }

  /** Whether timestamps were in use (RFC 7323). */
  get timestamps(): boolean {
    return this.tsRecentSec >= 0;
  }

  /** RFC 6191: may `syn` reopen the 4-tuple (the decision `TcpConnection.reusableBy` makes too)? */
  reusableBy(syn: TcpRepr): boolean {
    return synMayReuse(syn, this.rcvNxt >>> 0, this.tsRecentSec >= 0, this.tsRecent >>> 0);
  }

  /**
   * A segment for this 4-tuple (RFC 9293 §3.10.7.4 in TIME-WAIT; see the file comment). With
   * `ack`, send `ack(now)`. A retransmitted FIN also restarts the wait: re-read `expiresAt`.
   */
  handleSegment(now: Instant, seg: TcpRepr, payloadLength: number): TimeWaitVerdict {
    const control = seg.control;
    if (control === 'syn' && this.reusableBy(seg)) return 'reuse';
    const seq = seg.seq >>> 0;
    const rcvNxt = this.rcvNxt >>> 0;
    const sec = Math.floor(now / 1000);
    const ts = this.tsRecentSec >= 0 ? seg.timestamp : undefined;
    const tsAge = sec - this.tsRecentSec;
    // RFC 7323 §5.3 R1 (PAWS), TS.Recent valid for 24 days (§5.5); for a RST only while TS.Recent
    // is younger than 60 s (Linux's tcp_paws_reject).
    const older = ts !== undefined && seqLt(ts.tsVal >>> 0, this.tsRecent >>> 0);
    const pawsReject = older && (control === 'rst' ? tsAge < PAWS_RST_SECONDS : tsAge <= PAWS_IDLE_SECONDS);

    if (control === 'rst') return !pawsReject && seq === rcvNxt ? 'close' : 'drop';

    const fin = control === 'fin';
    const segLen = payloadLength + (control === 'syn' || fin ? 1 : 0);
    if (pawsReject) return this.limitedAck(now, segLen, control);

    // The acceptability test of §3.10.7.4 against the window we last advertised.
    const wnd = this.windowField * 2 ** this.windowShift;
    const d = seqDiff(seq, rcvNxt);
    const acceptable = segLen === 0 ? (wnd === 0 ? d === 0 : d >= 0 && d < wnd) : wnd === 0 ? d === 0 : d < wnd && d + segLen > 0;
    if (!acceptable) {
      // A retransmission of the peer's FIN (it lies just below RCV.NXT): our ACK of it was lost.
      // Acknowledge it again and restart the 2·MSL wait (§3.10.7.4 eighth step, TIME-WAIT).
      if (fin) this.expiry = Math.ceil(now + this.timeWaitMs);
      return this.limitedAck(now, segLen, control);
    }
    // RFC 7323 §4.3 / §5.3 R3: TS.Recent follows an acceptable segment at Last.ACK.sent (= RCV.NXT).
    if (ts !== undefined && seqLe(seq, rcvNxt) && (!older || tsAge > PAWS_IDLE_SECONDS)) {
      this.tsRecent = ts.tsVal | 0;
      this.tsRecentSec = sec;
    }
    // A SYN in the window that may not reopen the connection: challenge ACK (RFC 5961 §4).
    if (control === 'syn') return this.limitedAck(now, segLen, control);
    if (fin) this.expiry = Math.ceil(now + this.timeWaitMs);
    // Text or FIN after the peer's FIN cannot be taken ("ignore the segment text"), but the peer
    // is owed the state of things: ACK. A bare ACK in the window needs no answer.
    return segLen > 0 ? 'ack' : 'drop';
  }

  /** The ACK a TIME-WAIT sends: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, window and timestamps as before. */
  ack(now: Instant): TcpRepr {
    return {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      control: 'none',
      seq: this.sndNxt >>> 0,
      ack: this.rcvNxt >>> 0,
      window: this.windowField,
      // RFC 7323 §3.2: TSopt on every non-RST segment of a connection that uses timestamps.
      timestamp: this.tsRecentSec >= 0 ? { tsVal: (Math.floor(now) + this.tsOffset) >>> 0, tsEcr: this.tsRecent >>> 0 } : undefined,
    };
  }

  /** 'ack', except that bare segments and SYNs get at most one ACK per 500 ms (Linux). */
  private limitedAck(now: Instant, segLen: number, control: TcpRepr['control']): TimeWaitVerdict {
    if (segLen > 0 && control !== 'syn') return 'ack';
    if (now - this.lastLimitedAck < INVALID_ACK_INTERVAL_MS) return 'drop';
    this.lastLimitedAck = Math.floor(now);
    return 'ack';
  }
}
