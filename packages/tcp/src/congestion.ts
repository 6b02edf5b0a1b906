/**
 * Congestion control behind one interface: NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438),
 * both with HyStart++ (RFC 9406) in slow start and appropriate byte counting (RFC 3465, with
 * RFC 9406's L = 8 in the initial slow start). The
 * connection detects events (new ACKs, duplicate ACKs, SACK/RACK losses, ECN echoes, timeouts)
 * and asks the controller for the congestion window; the controller owns cwnd, ssthresh and the
 * recovery point.
 *
 * Two recovery styles share the state machine:
 * - classic (no SACK): RFC 5681 §3.2 / RFC 6582 — cwnd = ssthresh + 3·SMSS, inflated by each
 *   further duplicate ACK, deflated by partial ACKs;
 * - SACK (`sackRecovery`): RFC 6675 §5 — cwnd = ssthresh and the connection sends while
 *   pipe < cwnd, so no inflation or deflation is needed.
 */
import { seqGe, seqLt } from './seq.js';
import type { TcpCongestionControlName } from './types.js';

/** What a new cumulative ACK meant to the controller. */
export type AckVerdict = 'normal' | 'partial' | 'full';

/** Extra facts about an ACK; the connection reuses one object (no allocation per ACK). */
export interface AckContext {
  /** The time of the ACK (ms). */
  now: number;
  /** An RTT sample taken from this ACK in ms, or -1 when it gave none. */
  rttSampleMs: number;
  /** Smoothed RTT in ms (0 before the first sample). */
  srttMs: number;
  /** SND.MAX: the highest sequence number sent (a round ends when it is acknowledged). */
  sndMax: number;
}

/** A congestion controller (RFC 5681 vocabulary: cwnd, ssthresh, FlightSize, SMSS). */
export interface CongestionControl {
  /** Which algorithm this is. */
  readonly name: TcpCongestionControlName;
  /** Congestion window in octets. */
  readonly cwnd: number;
  /** Slow-start threshold in octets. */
  readonly ssthresh: number;
  /** In fast recovery (RFC 6582 / RFC 6675). */
  readonly inRecovery: boolean;
  /**
   * SND.UNA advanced by `ackedBytes` to `ack`; `flightSize` is what is still outstanding.
   * `partial` tells the connection that recovery goes on (RFC 6582 §3.2 step 5: without SACK,
   * retransmit the first unacknowledged segment). `cwndLimited` says whether the flight before
   * this ACK filled the window; cwnd grows only then (RFC 7661 §4.3 spirit; RFC 5681 §3.1).
   * `ctx` (time, RTT sample, SND.MAX) drives HyStart++ and CUBIC; without it both are skipped.
   */
  onAck(ackedBytes: number, ack: number, flightSize: number, cwndLimited: boolean, ctx?: AckContext): AckVerdict;
  /** A duplicate ACK beyond the third (or any in classic recovery): inflate (RFC 5681 §3.2 step 4). */
  onDuplicateAck(): void;
  /** Whether a loss for `ack` may start a new recovery (RFC 6582 §3.2 step 2: not before `recover`). */
  canFastRetransmit(ack: number): boolean;
  /**
   * Loss detected (three duplicate ACKs, or SACK/RACK): enter recovery (RFC 5681 §3.2 steps 2–3,
   * RFC 6582 §3.2 step 2, RFC 6675 §5 step 4). `sackRecovery` selects RFC 6675 style.
   */
  onCongestion(flightSize: number, sndMax: number, now?: number, sackRecovery?: boolean): void;
  /**
   * ECN-Echo (RFC 3168 §6.1.2): reduce as for a loss but without retransmitting or entering
   * recovery. The connection calls it at most once per window of data.
   */
  onEcnEcho(flightSize: number, now: number): void;
  /**
   * RFC 8985 §7.4.2: a tail loss probe that retransmitted old data repaired a loss that no other
   * signal reported (no D-SACK followed). Respond as to a loss detected by fast recovery —
   * ssthresh and cwnd reduced once — without entering recovery (the repair is done).
   */
  onTlpLoss(flightSize: number, now: number): void;
  /** Retransmission timeout (RFC 5681 §3.1 eq. 4, loss window). `first` is false for a repeat of the same segment. */
  onRto(flightSize: number, sndMax: number, first: boolean): void;
  /**
   * New data is about to leave with nothing in flight, `idleMs` after data was last sent. With
   * `restart` (idle for more than the RTO) cwnd restarts from min(IW, cwnd) (RFC 5681 §4.1), the
   * old window remembered in ssthresh (RFC 2861 §3, as Linux). CUBIC also takes the idle time out
   * of its curve (RFC 9438 §5.8). Called again while sending stays blocked: each call covers
   * the time since the previous one.
   */
  onResume(idleMs: number, now: number, restart: boolean): void;
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

// RFC 9406 §4.3 constants.
const HS_MIN_RTT_THRESH_MS = 4;
const HS_MAX_RTT_THRESH_MS = 16;
const HS_MIN_RTT_DIVISOR = 8;
const HS_N_RTT_SAMPLE = 8;
const HS_CSS_GROWTH_DIVISOR = 4;
const HS_CSS_ROUNDS = 5;
/** RFC 9406 §4.3: L, in SMSS, for a sender that does not pace (we do not). */
const INITIAL_SLOW_START_L = 8;

/**
 * HyStart++ (RFC 9406): leaves slow start when a round's minimum RTT rises by a clamped eighth
 * over the previous round's, through Conservative Slow Start (growth / 4) for 5 rounds, so slow
 * start stops near the bottleneck rate instead of overshooting into a burst of losses.
 */
export class HyStart {
  private windowEnd: number | undefined;
  private lastRoundMinRtt = Infinity;
  private currentRoundMinRtt = Infinity;
  private samples = 0;
  /** In Conservative Slow Start. */
  inCss = false;
  private cssBaselineMinRtt = Infinity;
  private cssRounds = 0;
  /** Slow start ended by HyStart++ (then the caller sets ssthresh = cwnd). */
  done = false;

  /**
   * Called on each ACK in slow start; returns the growth divisor to apply (1 in slow start,
   * 4 in CSS), or 0 when slow start must end now (RFC 9406 §4.2).
   */
  onAck(ack: number, sndMax: number, rttMs: number): number {
    if (this.done) return 0;
    if (this.windowEnd === undefined || seqGe(ack, this.windowEnd)) {
      // A new round (RFC 9406 §4.2: windowEnd = SND.NXT at the start of each round).
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Infinity;
      this.samples = 0;
      this.windowEnd = sndMax;
      if (this.inCss && ++this.cssRounds >= HS_CSS_ROUNDS) {
        this.done = true;
        return 0;
      }
    }
    if (rttMs >= 0) {
      if (rttMs < this.currentRoundMinRtt) this.currentRoundMinRtt = rttMs;
      this.samples++;
    }
    if (this.samples >= HS_N_RTT_SAMPLE && this.currentRoundMinRtt !== Infinity) {
      if (!this.inCss) {
        if (this.lastRoundMinRtt !== Infinity) {
          const thresh = Math.max(HS_MIN_RTT_THRESH_MS, Math.min(this.lastRoundMinRtt / HS_MIN_RTT_DIVISOR, HS_MAX_RTT_THRESH_MS));
          if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
            this.inCss = true;
            this.cssBaselineMinRtt = this.currentRoundMinRtt;
            this.cssRounds = 0;
          }
        }
      } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
        // The RTT increase was spurious: resume slow start.
        this.inCss = false;
        this.cssBaselineMinRtt = Infinity;
      }
    }
    return this.inCss ? HS_CSS_GROWTH_DIVISOR : 1;
  }
}

/**
 * Shared loss-based machinery: slow start with ABC and HyStart++, recovery bookkeeping
 * (RFC 6582 `recover`), RTO. Subclasses define congestion avoidance and the reduction.
 */
abstract class LossBased implements CongestionControl {
  abstract readonly name: TcpCongestionControlName;
  cwnd: number;
  // RFC 5681 §3.1: the initial ssthresh SHOULD be arbitrarily high.
  ssthresh = 0x7fffffff;
  inRecovery = false;
  /** SMSS in octets: the unit of slow-start and congestion-avoidance growth (RFC 5681 §2). */
  protected readonly mss: number;
  // Kept as int32 and read as uint32, as the connection's sequence numbers (no heap number).
  #recover = 0;
  /** RFC 6582 `recover`: SND.MAX when recovery (or the last timeout) began; exclusive. */
  protected get recover(): number {
    return this.#recover >>> 0;
  }
  /** Sets `recover` (any 32-bit sequence number). */
  protected set recover(seq: number) {
    this.#recover = seq | 0;
  }
  /** The current recovery follows RFC 6675 (SACK-based): no window inflation per duplicate ACK. */
  protected sackRecovery = false;
  /** Created on the first slow-start ACK with a clock; null once slow start is over for good. */
  private hystart: HyStart | null | undefined;

  constructor(mss: number, initialCwnd: number, iss: number) {
    this.mss = mss;
    this.cwnd = initialCwnd;
    // RFC 6582 §3.2 step 1: recover starts at the initial send sequence number.
    this.recover = iss;
  }

  onAck(ackedBytes: number, ack: number, flightSize: number, cwndLimited: boolean, ctx?: AckContext): AckVerdict {
    const mss = this.mss;
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        // RFC 6582 §3.2 step 3, full ACK: deflate to min(ssthresh, max(FlightSize, SMSS) + SMSS);
        // after SACK recovery cwnd is already ssthresh (RFC 6675 §5).
        this.inRecovery = false;
        this.cwnd = this.sackRecovery ? this.ssthresh : Math.min(this.ssthresh, Math.max(flightSize, mss) + mss);
        this.onRecoveryEnd(ctx);
        return 'full';
      }
      // RFC 6582 §3.2 step 5, partial ACK: deflate by the amount acknowledged, add back one SMSS
      // if at least one SMSS was acknowledged, and stay in recovery.
      if (!this.sackRecovery) {
        this.cwnd = Math.max(this.cwnd - ackedBytes, mss);
        if (ackedBytes >= mss) this.cwnd += mss;
      }
      return 'partial';
    }
    if (!cwndLimited) {
      // RFC 5681 §3.1 / RFC 7661: an application-limited flight does not show the window works.
      this.onAppLimited(ctx);
      return 'normal';
    }
    if (this.cwnd < this.ssthresh) {
      // RFC 5681 §3.1 eq. 2 with appropriate byte counting: cwnd += min(N, L·SMSS). In the
      // initial slow start, which HyStart++ governs, L = 8 (RFC 9406 §4.2-4.3: what a sender
      // without pacing SHOULD use): a receiver with GRO — the kernel behind a TUN, fed our GSO
      // trains — acknowledges a whole super-packet (~25 segments) at once, and RFC 3465's L = 2
      // then grew cwnd by 2 segments per such ACK, about linearly per round trip instead of
      // doubling. Later slow starts (after a loss, an ECN echo or an RTO, when HyStart++ is over)
      // keep RFC 3465's L = 2·SMSS.
      const limit = this.hystart === null ? 2 * mss : INITIAL_SLOW_START_L * mss;
      let divisor = 1;
      if (this.hystart !== null && ctx !== undefined) {
        this.hystart ??= new HyStart();
        divisor = this.hystart.onAck(ack, ctx.sndMax, ctx.rttSampleMs);
        if (divisor === 0) {
          // RFC 9406 §4.2: CSS rounds are over: ssthresh = cwnd, congestion avoidance from here.
          this.ssthresh = this.cwnd;
          this.hystart = null;
          this.onSlowStartExit(ctx);
          return 'normal';
        }
      }
      this.cwnd += Math.min(ackedBytes, limit) / divisor;
    } else {
      this.avoid(ackedBytes, ctx);
    }
    if (this.cwnd > CWND_CEILING) this.cwnd = CWND_CEILING;
    return 'normal';
  }

  onDuplicateAck(): void {
    if (this.inRecovery && !this.sackRecovery) this.cwnd = Math.min(this.cwnd + this.mss, CWND_CEILING);
  }

  canFastRetransmit(ack: number): boolean {
    return !this.inRecovery && seqGe(ack, this.recover);
  }

  onCongestion(flightSize: number, sndMax: number, now = 0, sackRecovery = false): void {
    // RFC 5681 §3.2 eq. 4 and step 3 (RFC 9438 §4.6 for CUBIC); RFC 6582 §3.2 step 2 records `recover`.
    this.ssthresh = this.reduce(flightSize, now);
    this.sackRecovery = sackRecovery;
    this.cwnd = sackRecovery ? this.ssthresh : this.ssthresh + 3 * this.mss;
    this.recover = sndMax;
    this.inRecovery = true;
    this.hystart = null; // RFC 9406 §4.2: a loss ends slow start and HyStart++
  }

  onEcnEcho(flightSize: number, now: number): void {
    if (this.inRecovery) return; // RFC 3168 §6.1.2: one reduction per window; recovery already reduced
    this.reduceOnce(flightSize, now);
  }

  onTlpLoss(flightSize: number, now: number): void {
    if (this.inRecovery) return; // a recovery in progress has already responded to this window's losses
    this.reduceOnce(flightSize, now);
  }

  /** One multiplicative decrease outside recovery: ssthresh as for a loss, cwnd = ssthresh. */
  private reduceOnce(flightSize: number, now: number): void {
    this.ssthresh = this.reduce(flightSize, now);
    this.cwnd = this.ssthresh;
    this.hystart = null; // RFC 9406 §4.2: a congestion signal ends slow start and HyStart++
  }

  onRto(flightSize: number, sndMax: number, first: boolean): void {
    // RFC 5681 §3.1 eq. 4: reduce on the first timeout only; repeats keep ssthresh (§3.1, note after eq. 4).
    if (first) this.ssthresh = this.reduceOnRto(flightSize);
    this.cwnd = this.mss; // loss window, LW = 1 SMSS
    this.inRecovery = false;
    this.hystart = null;
    // RFC 6582 §3.2 step 4: after a timeout, recover = highest sequence number transmitted,
    // so duplicate ACKs for data sent before it cannot start another fast retransmit.
    if (seqLt(this.recover, sndMax)) this.recover = sndMax;
  }

  onResume(_idleMs: number, _now: number, restart: boolean): void {
    if (!restart || this.inRecovery) return;
    // RFC 5681 §4.1: restart window RW = min(IW, cwnd); RFC 2861 §3: ssthresh keeps 3/4 of the
    // old window, so slow start climbs back to near it quickly.
    const rw = initialWindow(this.mss, false);
    if (this.cwnd <= rw) return;
    this.ssthresh = Math.max(this.ssthresh, Math.floor((this.cwnd * 3) / 4));
    this.cwnd = rw;
  }

  /** Congestion avoidance growth for `ackedBytes` newly acknowledged. */
  protected abstract avoid(ackedBytes: number, ctx: AckContext | undefined): void;
  /** The new ssthresh after a loss or ECN echo (also records the state CA starts from). */
  protected abstract reduce(flightSize: number, now: number): number;
  /** The new ssthresh after a first RTO. */
  protected abstract reduceOnRto(flightSize: number): number;
  /** Hook run when an ACK ends fast recovery (covers `recover`); nothing by default. */
  protected onRecoveryEnd(_ctx: AckContext | undefined): void {}
  /** An ACK of a flight that did not fill cwnd (the window was not tested). */
  protected onAppLimited(_ctx: AckContext | undefined): void {}
  /** Hook run when HyStart++ (RFC 9406) ends slow start before a loss; nothing by default. */
  protected onSlowStartExit(_ctx: AckContext): void {}
}

/** NewReno: RFC 5681 slow start, congestion avoidance, fast retransmit; RFC 6582 fast recovery. */
export class NewReno extends LossBased {
  /** Always 'newreno' (`TcpConfig.congestionControl`). */
  readonly name = 'newreno' as const;
  /** Octets acknowledged toward the next congestion-avoidance increment (RFC 5681 §3.1 byte counting). */
  private ackedInCa = 0;

  protected avoid(ackedBytes: number): void {
    // RFC 5681 §3.1: about one SMSS per RTT, counted in acknowledged octets (RFC 3465).
    this.ackedInCa += ackedBytes;
    if (this.ackedInCa >= this.cwnd) {
      this.ackedInCa -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  protected reduce(flightSize: number): number {
    this.ackedInCa = 0;
    return Math.max(Math.floor(flightSize / 2), 2 * this.mss);
  }

  protected reduceOnRto(flightSize: number): number {
    this.ackedInCa = 0;
    return Math.max(Math.floor(flightSize / 2), 2 * this.mss);
  }
}

/** RFC 9438 §5 constants: C = 0.4 (segments / s³), β_cubic = 0.7. */
export const CUBIC_C = 0.4;
/** RFC 9438 §4.6 β_cubic: the window is multiplied by it on a congestion event. */
export const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: α_cubic = 3·(1 − β)/(1 + β), the Reno-friendly additive increase. */
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/**
 * CUBIC (RFC 9438): after a reduction the window follows W_cubic(t) = C·(t − K)³ + W_max
 * (segments, t in seconds since the epoch began), K = ∛(W_max·(1 − β)/C), with the
 * Reno-friendly estimate W_est as a floor (§4.3) and fast convergence (§4.7).
 */
export class Cubic extends LossBased {
  /** Always 'cubic' (`TcpConfig.congestionControl`). */
  readonly name = 'cubic' as const;
  /** W_max in segments (the window before the last reduction). */
  wMax = 0;
  /** K in seconds. */
  k = 0;
  /** Start of the current congestion-avoidance epoch in ms, or -1 (none yet). */
  epochStartMs = -1;
  /** When the flow became application-limited within the epoch (ms), or -1. */
  private appLimitedSinceMs = -1;
  private wLastMax = 0;
  /** Reno-friendly window estimate in segments (§4.3). */
  private wEst = 0;
  private cwndPriorSegments = 0;

  /** W_cubic(t) in segments for t seconds into the epoch (RFC 9438 §4.2 eq. 1). */
  wCubic(tSec: number): number {
    return CUBIC_C * (tSec - this.k) ** 3 + this.wMax;
  }

  protected avoid(ackedBytes: number, ctx: AckContext | undefined): void {
    const mss = this.mss;
    if (ctx === undefined) {
      // No clock: behave as Reno (one SMSS per window).
      this.cwnd += (mss * ackedBytes) / this.cwnd;
      return;
    }
    const cwndSeg = this.cwnd / mss;
    if (this.epochStartMs >= 0 && this.appLimitedSinceMs >= 0) {
      // §5.8: t counts only time in which cwnd could grow; the application-limited stretch
      // that just ended is taken out of the epoch.
      this.epochStartMs = Math.min(ctx.now, this.epochStartMs + (ctx.now - this.appLimitedSinceMs));
      this.appLimitedSinceMs = -1;
    }
    if (this.epochStartMs < 0) {
      // §4.2: a new epoch. Without a reduction before it (slow start ended by HyStart++ or
      // ssthresh), W_max is the current window and K = 0.
      this.epochStartMs = ctx.now;
      if (this.wMax <= cwndSeg) {
        this.wMax = cwndSeg;
        this.k = 0;
      } else {
        this.k = Math.cbrt((this.wMax - cwndSeg) / CUBIC_C);
      }
      this.wEst = cwndSeg;
    }
    const rttSec = (ctx.srttMs > 0 ? ctx.srttMs : 100) / 1000;
    const t = (ctx.now - this.epochStartMs) / 1000;
    // §4.2: target = W_cubic(t + RTT), clamped to [cwnd, 1.5·cwnd].
    let target = this.wCubic(t + rttSec);
    if (target < cwndSeg) target = cwndSeg;
    else if (target > 1.5 * cwndSeg) target = 1.5 * cwndSeg;
    // §4.3: Reno-friendly region; α_cubic becomes 1 once W_est reaches the prior cwnd.
    const alpha = this.wEst >= this.cwndPriorSegments ? 1 : CUBIC_ALPHA;
    this.wEst += (alpha * (ackedBytes / mss)) / cwndSeg;
    if (this.wCubic(t) < this.wEst) {
      this.cwnd = Math.max(this.cwnd, this.wEst * mss);
    } else {
      // §4.4/§4.5: grow by (target − cwnd)/cwnd segments per segment acknowledged.
      this.cwnd += ((target - cwndSeg) / cwndSeg) * ackedBytes;
    }
  }

  protected reduce(flightSize: number, now: number): number {
    const mss = this.mss;
    const cwndSeg = this.cwnd / mss;
    // §4.7 fast convergence: release bandwidth when the window shrank since the last loss.
    this.wMax = cwndSeg < this.wLastMax ? (cwndSeg * (1 + CUBIC_BETA)) / 2 : cwndSeg;
    this.wLastMax = cwndSeg;
    this.cwndPriorSegments = cwndSeg;
    this.epochStartMs = -1;
    this.appLimitedSinceMs = -1;
    void now;
    // §4.6: ssthresh = β·cwnd; an application-limited flight smaller than cwnd bounds it.
    const base = Math.min(this.cwnd, Math.max(flightSize, mss));
    return Math.max(Math.floor(base * CUBIC_BETA), 2 * mss);
  }

  protected reduceOnRto(flightSize: number): number {
    // §4.8: the same reduction; the epoch restarts when congestion avoidance resumes.
    return this.reduce(flightSize, 0);
  }

  /** Leaving slow start starts no curve yet: the next ACK in congestion avoidance starts the epoch. */
  protected override onSlowStartExit(): void {
    this.epochStartMs = -1;
    this.appLimitedSinceMs = -1;
  }

  protected override onAppLimited(ctx: AckContext | undefined): void {
    // RFC 9438 §5.8: cwnd does not grow while application-limited, and that time must not count
    // as time on the curve either (else W_cubic(t) runs away and cwnd then grows 1.5× per RTT).
    if (ctx !== undefined && this.epochStartMs >= 0 && this.appLimitedSinceMs < 0) this.appLimitedSinceMs = ctx.now;
  }

  /** As {@link CongestionControl.onResume}, and the idle time is taken out of the cubic curve (RFC 9438 §5.8). */
  override onResume(idleMs: number, now: number, restart: boolean): void {
    super.onResume(idleMs, now, restart);
    // §5.8, as Linux's CA_EVENT_TX_START: shift the epoch by the idle time (unless an
    // application-limited stretch already covers it), never beyond now.
    if (this.epochStartMs >= 0 && this.appLimitedSinceMs < 0) this.epochStartMs = Math.min(now, this.epochStartMs + idleMs);
  }
}

/** The controller named `name`. */
export function createCongestionControl(name: TcpCongestionControlName, mss: number, initialCwnd: number, iss: number): CongestionControl {
  return name === 'cubic' ? new Cubic(mss, initialCwnd, iss) : new NewReno(mss, initialCwnd, iss);
}
