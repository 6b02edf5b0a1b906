/**
 * Option negotiation and timestamps: what the SYN exchange settled (RFC 7323 window scale and
 * timestamps, RFC 2018 SACK-permitted, RFC 3168 ECN setup, the MSS of RFC 9293 §3.7.1 /
 * RFC 6691) and the timestamp state that lives on afterwards (TS.Recent, Last.ACK.sent, PAWS).
 */
import { seqGe, seqLe, seqLt } from '../seq.js';
import type { Instant, TcpConfig, TcpRepr } from '../types.js';

/** RFC 9293 §3.7.1: the MSS to assume when the peer sent no MSS option. */
export const DEFAULT_PEER_MSS = 536;
/** Floor for a peer-announced MSS, so a hostile tiny MSS cannot make us send 1-octet segments. */
export const MIN_PEER_MSS = 64;
/** NOP, NOP, Timestamps (RFC 7323 Appendix A layout). */
export const TIMESTAMP_OPTION_LENGTH = 12;
/** RFC 7323 §5.5: TS.Recent idle for more than 24 days is invalid (PAWS_IDLE). */
export const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

/**
 * RFC 6691 §2: the MSS bounds data plus TCP options, so a segment that always carries timestamps
 * has 12 octets less room for data (SACK blocks are fitted per segment). `bound` is the MSS
 * option (or 536), already capped by the path MTU.
 */
export function effectiveSendMss(bound: number, config: TcpConfig, tsOk: boolean): number {
  return Math.max(MIN_PEER_MSS - TIMESTAMP_OPTION_LENGTH, Math.min(bound, config.mss) - (tsOk ? TIMESTAMP_OPTION_LENGTH : 0));
}

/** What the handshake negotiated, and the timestamp state of RFC 7323 §4.3. */
export class NegotiatedOptions {
  /** SACK in use (both sent SACK-permitted, RFC 2018 §2). */
  sack = false;
  /** Timestamps in use (both sent TSopt, RFC 7323 §3.2). */
  ts = false;
  /** ECN in use (RFC 3168 §6.1.1). */
  ecn = false;
  /** Window scaling in use (both sent the option, RFC 7323 §2.2). */
  ws = false;
  /** Shift we offer (−1: no Window Scale option). */
  readonly wsOffered: number;
  /** Our SYN offered ECN (a retransmitted SYN does not, RFC 3168 §6.1.1.1). */
  ecnSynSent = false;
  // The 32-bit numbers below are kept as int32 and read as uint32, as Sender's sequence
  // numbers (no heap number per field).
  readonly #tsOffset: number;
  #tsRecent = 0;
  #lastAckSent = 0;
  /** RFC 7323 §4.3: when TS.Recent was set. */
  tsRecentAt = 0;

  constructor(wsOffered: number, tsOffset: number) {
    this.wsOffered = wsOffered;
    this.#tsOffset = tsOffset | 0;
  }

  /** Added to the millisecond clock to form TSval (RFC 7323 §5.4). */
  get tsOffset(): number {
    return this.#tsOffset >>> 0;
  }
  /** RFC 7323 §4.3: TS.Recent. */
  get tsRecent(): number {
    return this.#tsRecent >>> 0;
  }
  set tsRecent(ts: number) {
    this.#tsRecent = ts | 0;
  }
  /** RFC 7323 §4.3: Last.ACK.sent. */
  get lastAckSent(): number {
    return this.#lastAckSent >>> 0;
  }
  set lastAckSent(seq: number) {
    this.#lastAckSent = seq | 0;
  }

  /** TSval for `now` (RFC 7323 §5.4: a 1 ms clock plus the per-connection offset). */
  tsNow(now: Instant): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /**
   * The options of the peer's SYN (or SYN-ACK): each is in use only when both sides sent it
   * (RFC 7323 §1.3, RFC 2018 §2); `wsAllowed` says whether we offered (or will offer) window
   * scaling. Returns the peer's window shift (0 when not negotiated).
   */
  learn(now: Instant, syn: TcpRepr, wsAllowed: boolean, config: TcpConfig): number {
    this.ws = wsAllowed && this.wsOffered >= 0 && syn.windowScale !== undefined;
    this.sack = config.sack && syn.sackPermitted === true;
    this.ts = config.timestamps && syn.timestamp !== undefined;
    if (this.ts) {
      this.tsRecent = syn.timestamp!.tsVal;
      this.tsRecentAt = now;
    }
    // RFC 7323 §2.3: a shift above 14 is used as 14.
    return this.ws ? Math.min(syn.windowScale!, 14) : 0;
  }

  /** RFC 7323 §5.5: TS.Recent has been idle for more than 24 days and no longer counts. */
  tsStale(now: Instant): boolean {
    return now - this.tsRecentAt > PAWS_IDLE_MS;
  }

  /**
   * RFC 7323 §5.3 R1 (PAWS): a non-RST segment whose TSval is older than TS.Recent is a duplicate
   * from an earlier wrap of the sequence space.
   */
  pawsRejects(tsVal: number, stale: boolean): boolean {
    return !stale && seqLt(tsVal, this.tsRecent);
  }

  /**
   * RFC 7323 §4.3 / §5.3 R3: remember the TSval of an acceptable segment covering Last.ACK.sent
   * (SEG.SEQ =< Last.ACK.sent) that is not older than TS.Recent (or any, when TS.Recent is stale).
   */
  noteTsVal(now: Instant, seq: number, tsVal: number, stale: boolean): void {
    if (seqLe(seq, this.lastAckSent) && (stale || seqGe(tsVal, this.tsRecent))) {
      this.tsRecent = tsVal;
      this.tsRecentAt = now;
    }
  }
}
