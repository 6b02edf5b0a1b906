/**
 * Congestion control behind one interface, so CUBIC can join NewReno later. The connection
 * detects events (new ACKs, duplicate ACKs, timeouts) and asks the controller for the
 * congestion window; the controller owns cwnd, ssthresh and the NewReno recovery point.
 */
import { seqGe, seqLt } from './seq.js';

/** What a new cumulative ACK meant to the controller. */
export type AckVerdict = 'normal' | 'partial' | 'full';

/** A congestion controller (RFC 5681 vocabulary: cwnd, ssthresh, FlightSize, SMSS). */
export interface CongestionControl {
  /** Congestion window in octets. */
  readonly cwnd: number;
  /** Slow-start threshold in octets. */
  readonly ssthresh: number;
  /** In fast recovery (RFC 6582). */
  readonly inRecovery: boolean;
  /**
   * SND.UNA advanced by `ackedBytes` to `ack`; `flightSize` is what is still outstanding.
   * `partial` tells the connection to retransmit the first unacknowledged segment (RFC 6582 §3.2 step 5).
   * `cwndLimited` says whether the flight before this ACK filled the window; cwnd grows only then
   * (RFC 7661 §4.3 spirit; RFC 5681 §3.1 "cwnd ... SHOULD NOT be increased" when not fully used).
   */
  onAck(ackedBytes: number, ack: number, flightSize: number, cwndLimited: boolean): AckVerdict;
  /** A duplicate ACK beyond the third (or any in recovery): inflate (RFC 5681 §3.2 step 4). */
  onDuplicateAck(): void;
  /** Whether a third duplicate ACK for `ack` may start fast retransmit (RFC 6582 §3.2 step 2). */
  canFastRetransmit(ack: number): boolean;
  /** Loss detected by duplicate ACKs: enter fast recovery (RFC 5681 §3.2 steps 2–3, RFC 6582 §3.2 step 2). */
  onCongestion(flightSize: number, sndMax: number): void;
  /** Retransmission timeout (RFC 5681 §3.1 eq. 4, loss window). `first` is false for a repeat of the same segment. */
  onRto(flightSize: number, sndMax: number, first: boolean): void;
}

/** Upper bound keeping cwnd arithmetic exact; far above any window we can be offered. */
const CWND_CEILING = 1 << 30;

/**
 * Initial window (RFC 6928 §2): min(10·MSS, max(2·MSS, 14600)); one segment when the SYN or
 * SYN-ACK had to be retransmitted (RFC 5681 §3.1, RFC 6928 §2).
 */
export function initialWindow(mss: number, synRetransmitted: boolean): number {
  if (synRetransmitted) return mss;
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** NewReno: RFC 5681 slow start, congestion avoidance, fast retransmit; RFC 6582 fast recovery. */
export class NewReno implements CongestionControl {
  cwnd: number;
  // RFC 5681 §3.1: the initial ssthresh SHOULD be arbitrarily high.
  ssthresh = 0x7fffffff;
  inRecovery = false;
  private readonly mss: number;
  /** RFC 6582 `recover`: SND.MAX when recovery (or the last timeout) began; exclusive. */
  private recover: number;
  /** Octets acknowledged toward the next congestion-avoidance increment (RFC 5681 §3.1 byte counting). */
  private ackedInCa = 0;

  constructor(mss: number, initialCwnd: number, iss: number) {
    this.mss = mss;
    this.cwnd = initialCwnd;
    // RFC 6582 §3.2 step 1: recover starts at the initial send sequence number.
    this.recover = iss;
  }

  onAck(ackedBytes: number, ack: number, flightSize: number, cwndLimited: boolean): AckVerdict {
    const mss = this.mss;
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        // RFC 6582 §3.2 step 3, full ACK: deflate to min(ssthresh, max(FlightSize, SMSS) + SMSS).
        this.inRecovery = false;
        this.cwnd = Math.min(this.ssthresh, Math.max(flightSize, mss) + mss);
        this.ackedInCa = 0;
        return 'full';
      }
      // RFC 6582 §3.2 step 5, partial ACK: deflate by the amount acknowledged, add back one SMSS
      // if at least one SMSS was acknowledged, and stay in recovery.
      this.cwnd = Math.max(this.cwnd - ackedBytes, mss);
      if (ackedBytes >= mss) this.cwnd += mss;
      return 'partial';
    }
    if (!cwndLimited) return 'normal';
    if (this.cwnd < this.ssthresh) {
      // RFC 5681 §3.1 eq. 2 with RFC 3465 appropriate byte counting, L = 2·SMSS.
      this.cwnd += Math.min(ackedBytes, 2 * mss);
    } else {
      // RFC 5681 §3.1: about one SMSS per RTT, counted in acknowledged octets.
      this.ackedInCa += ackedBytes;
      if (this.ackedInCa >= this.cwnd) {
        this.ackedInCa -= this.cwnd;
        this.cwnd += mss;
      }
    }
    if (this.cwnd > CWND_CEILING) this.cwnd = CWND_CEILING;
    return 'normal';
  }

  onDuplicateAck(): void {
    if (this.inRecovery) this.cwnd = Math.min(this.cwnd + this.mss, CWND_CEILING);
  }

  canFastRetransmit(ack: number): boolean {
    return !this.inRecovery && seqGe(ack, this.recover);
  }

  onCongestion(flightSize: number, sndMax: number): void {
    // RFC 5681 §3.2 eq. 4 and step 3; RFC 6582 §3.2 step 2 records `recover`.
    this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * this.mss);
    this.cwnd = this.ssthresh + 3 * this.mss;
    this.recover = sndMax;
    this.inRecovery = true;
    this.ackedInCa = 0;
  }

  onRto(flightSize: number, sndMax: number, first: boolean): void {
    // RFC 5681 §3.1 eq. 4: halve on the first timeout only; repeats keep ssthresh (§3.1, note after eq. 4).
    if (first) this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * this.mss);
    this.cwnd = this.mss; // loss window, LW = 1 SMSS
    this.inRecovery = false;
    this.ackedInCa = 0;
    // RFC 6582 §3.2 step 4: after a timeout, recover = highest sequence number transmitted,
    // so duplicate ACKs for data sent before it cannot start another fast retransmit.
    if (seqLt(this.recover, sndMax)) this.recover = sndMax;
  }
}
