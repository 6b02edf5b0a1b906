/**
 * Retransmission timeout per RFC 6298: smoothed RTT and variance from samples, RTO clamped to
 * [min, max], exponential backoff on expiry. Sampling discipline (Karn's algorithm: never
 * sample a retransmitted segment) is the connection's job; this class only does the maths.
 */

/** RFC 6298 §2: alpha = 1/8, beta = 1/4, K = 4; G is our timer granularity (1 ms). */
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;
const GRANULARITY_MS = 1;

/** RFC 6298 estimator: SRTT, RTTVAR and the RTO with exponential backoff, in milliseconds. */
export class RttEstimator {
  private srtt: number | undefined;
  private rttvar = 0;
  /** RTO before backoff. */
  private baseRto: number;
  /** Number of doublings applied since the last new acknowledgment. */
  private backoffCount = 0;
  private readonly minMs: number;
  private readonly maxMs: number;

  constructor(initialMs: number, minMs: number, maxMs: number) {
    this.minMs = minMs;
    this.maxMs = maxMs;
    // RFC 6298 §2.1: until a sample exists, RTO is the initial value.
    this.baseRto = initialMs;
  }

  /** Smoothed RTT in ms, 0 before the first sample. */
  get srttMs(): number {
    return this.srtt ?? 0;
  }

  /** RTT variance in ms, 0 before the first sample. */
  get rttvarMs(): number {
    return this.rttvar;
  }

  /** Whether any sample was taken. */
  get hasSample(): boolean {
    return this.srtt !== undefined;
  }

  /** Doublings applied since the last reset. */
  get backoffs(): number {
    return this.backoffCount;
  }

  /** The current timeout in ms, backoff included, within [min, max] (RFC 6298 §2.4, §2.5, §5.5). */
  get rtoMs(): number {
    // Clamp first, then double (RFC 6298 §5.5 doubles the RTO in use, which §2.4 already floored).
    let rto = Math.min(Math.max(this.baseRto, this.minMs), this.maxMs);
    for (let i = 0; i < this.backoffCount && rto < this.maxMs; i++) rto *= 2;
    return Math.min(rto, this.maxMs);
  }

  /**
   * Feeds one RTT measurement in ms (RFC 6298 §2.2, §2.3). `expectedSamples` is how many samples
   * one RTT is expected to yield when sampling every ACK (RFC 7323 Appendix G): alpha and beta
   * are divided by it, so the estimator's memory stays about one RTT. Default 1 (RFC 6298).
   */
  sample(rttMs: number, expectedSamples = 1): void {
    const r = Math.max(0, rttMs);
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      const beta = BETA / expectedSamples;
      const alpha = ALPHA / expectedSamples;
      this.rttvar = (1 - beta) * this.rttvar + beta * Math.abs(this.srtt - r);
      this.srtt = (1 - alpha) * this.srtt + alpha * r;
    }
    this.baseRto = this.srtt + Math.max(GRANULARITY_MS, K * this.rttvar);
    // RFC 6298 §5.7 (last paragraph): a fresh sample replaces the backed-off value.
    this.backoffCount = 0;
  }

  /** The timer expired: double the RTO (RFC 6298 §5.5). */
  backoff(): void {
    if (this.rtoMs < this.maxMs) this.backoffCount++;
  }

  /** New data was acknowledged: drop the backoff and use the computed RTO again. */
  resetBackoff(): void {
    this.backoffCount = 0;
  }

  /**
   * RFC 6298 §5.7: if the SYN (or SYN-ACK) had to be retransmitted and no sample exists, use
   * 3 s once data transmission begins.
   */
  afterSynLoss(): void {
    if (this.srtt === undefined) this.baseRto = Math.max(this.baseRto, Math.min(3000, this.maxMs));
    this.backoffCount = 0;
  }
}
