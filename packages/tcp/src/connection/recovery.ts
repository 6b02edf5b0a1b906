/**
 * Loss detection and recovery (gVisor's rack.go and sack_recovery.go): the sender scoreboard
 * (scoreboard.ts) fed by cumulative and selective ACKs; RFC 8985 RACK (time-based loss marking,
 * the reordering window and its timer) and TLP (the tail loss probe); RFC 5681 §3.2 duplicate
 * ACKs with RFC 6582 NewReno partial ACKs for peers without SACK; RFC 6298 §5.4–5.6 retransmission
 * timeouts that mark everything lost; and the congestion responses these trigger, each through
 * its own `CongestionControl` entry point (loss, TLP-repaired loss, ECN echo, RTO).
 *
 * Retransmissions are always of recorded segments marked lost, and are sent, like new data,
 * while pipe < cwnd (RFC 6675 §5), the first one of a recovery episode at once (RFC 5681 §3.2
 * step 2, RFC 6675 §5 step 4.3). Sending is output.ts's job; this module only marks.
 */
import type { AckContext } from '../congestion.js';
import { SACKED, Scoreboard, newRackState, type RackState } from '../scoreboard.js';
import { seqGe, seqGt, seqLe, seqLt } from '../seq.js';
import type { Instant, SackBlock } from '../types.js';
import type { Tcb } from './tcb.js';

/** RFC 5681 §3.2: fast retransmit on the third duplicate ACK (DupThresh, RFC 6675 §2). */
export const DUP_THRESH = 3;
/** RFC 8985 §7.2: worst-case delayed-ACK time assumed for the peer when one segment is in flight. */
export const TLP_WC_DEL_ACK_MS = 200;

/**
 * The scoreboard of every connection that has not sent data yet: empty, and never written (each
 * connection gets its own at its first data segment, `sentSegment`). An idle connection after
 * the handshake then holds no Scoreboard (152 octets with its boxed `lostHint`).
 */
const NO_SCOREBOARD = new Scoreboard();

/**
 * The context of one `CongestionControl.onAck` call. One for all connections: `onAck` reads it
 * during the call and keeps nothing of it (congestion.ts), and the engine is single-threaded.
 */
export const ACK_CONTEXT: AckContext = { now: 0, rttSampleMs: -1, srttMs: 0, sndMax: 0 };

/** Recovery state of one connection. */
export class Recovery {
  /** The scoreboard; the shared empty one until the first data segment (read-only until then). */
  sb: Scoreboard = NO_SCOREBOARD;
  /** RFC 8985 §6.1 RACK state, made on first use. */
  rack: RackState | undefined;
  /** Duplicate ACKs in a row (RFC 5681 §2). */
  dupAcks = 0;
  /** Retransmit the first lost segment regardless of pipe (start of a recovery episode). */
  fastRetransmitPending = false;
  /** After an RTO until SND.MAX at that time is acknowledged (RFC 8985 "RTO recovery"). */
  rtoRecoverySeq: number | undefined;
  /** Retransmission timer expiries since the last new acknowledgment. */
  rtoRetries = 0;
  /**
   * The retransmission timer fired while the peer's window was zero (it closed on our data in
   * flight): those retransmissions were window probes, dropped by the peer when it answered them.
   */
  zeroWindowProbed = false;
  /** RFC 8985 §7: probe due, the end of the outstanding probe (−1: none), whether it resent old data, D-SACKed. */
  tlpPending = false;
  tlpEndSeq = -1;
  tlpIsRetrans = false;
  tlpDsack = false;
  /**
   * RFC 3168 §6.1.2: SND.MAX at the last ECE reduction (undefined before the first); no new one
   * until an ACK passes it. CWR due on the next new data segment.
   */
  ecnRecover: number | undefined;
  cwrPending = false;

  /** A new segment was sent: record it, on this connection's own scoreboard (made on first use). */
  sentSegment(start: number, len: number, fin: boolean, now: Instant): void {
    if (this.sb === NO_SCOREBOARD) this.sb = new Scoreboard();
    this.sb.push(start, len, fin, now);
  }

  rackState(): RackState {
    return (this.rack ??= newRackState());
  }

  /** RACK.min_RTT, 0 before the first sample. */
  get minRttMs(): number {
    return this.rack !== undefined && this.rack.minRttMs !== Infinity ? this.rack.minRttMs : 0;
  }
}

/**
 * RACK (RFC 8985 §6.2): mark segments lost by time, arm the reordering timer, and start a
 * recovery episode on the first loss (RFC 6675 §5).
 */
export function detectLosses(t: Tcb, now: Instant): void {
  const rec = t.rec;
  if (!t.opt.sack || rec.sb.count === 0) {
    t.timers.stop('reorder');
    return;
  }
  const rack = rec.rackState();
  const newlyLost = rec.sb.rackDetect(now, reorderWindowMs(t), rack);
  t.counters.lostSegments += newlyLost;
  t.timers.set('reorder', rec.sb.rackTimeoutMs > 0 ? now + rec.sb.rackTimeoutMs : undefined);
  if (newlyLost > 0 && !t.cc.inRecovery && rec.rtoRecoverySeq === undefined && t.cc.canFastRetransmit(t.snd.una)) {
    enterRecovery(t, now);
  }
}

/** RFC 8985 §6.2 step 4: the reordering window. */
function reorderWindowMs(t: Tcb): number {
  const rec = t.rec;
  const rack = rec.rack!;
  if (!rack.reorderingSeen) {
    if (t.cc.inRecovery || rec.rtoRecoverySeq !== undefined) return 0;
    if (rec.sb.sackedBytes >= DUP_THRESH * t.snd.mss) return 0;
  }
  const minRtt = rack.minRttMs === Infinity ? 0 : rack.minRttMs;
  return Math.min(minRtt / 4, t.rtt.srttMs);
}

/** Loss detected: reduce cwnd once and retransmit the first lost segment at once. */
export function enterRecovery(t: Tcb, now: Instant): void {
  t.cc.onCongestion(t.snd.inFlight, t.snd.max, now, t.opt.sack);
  t.rec.fastRetransmitPending = true;
  t.counters.fastRetransmits++;
  t.timers.stop('tlp');
  t.rec.tlpPending = false;
  // This reduction answers the window's losses, a probe's among them: its episode ends here (as
  // Linux's tcp_init_cwnd_reduction clears tlp_high_seq), or the ACK that ends the recovery
  // could also end the episode outside recovery and reduce a second time.
  t.rec.tlpEndSeq = -1;
}

/** RFC 5681 §3.2 fast retransmit / fast recovery, RFC 6582 guard against repeats. */
export function onDuplicateAck(t: Tcb, now: Instant): void {
  const rec = t.rec;
  t.counters.dupAcksIn++;
  rec.dupAcks++;
  if (t.cc.inRecovery) {
    t.cc.onDuplicateAck();
  } else if (rec.dupAcks === DUP_THRESH && rec.rtoRecoverySeq === undefined && t.cc.canFastRetransmit(t.snd.una)) {
    // With SACK, RACK normally acts first; the DupThresh rule is the fallback (RFC 6675 §5).
    markHeadLost(t);
    enterRecovery(t, now);
  }
}

/** The first unacknowledged segment is lost (third duplicate ACK, NewReno partial ACK). */
export function markHeadLost(t: Tcb): void {
  const sb = t.rec.sb;
  if (sb.count === 0) return;
  if ((sb.flagsOf(0) & SACKED) !== 0) return;
  sb.markLost(0);
  t.counters.lostSegments++;
}

/** SACK blocks (RFC 2018 §3) into the scoreboard; D-SACKs (RFC 2883) are counted. Returns whether anything new was SACKed. */
export function processSack(t: Tcb, now: Instant, ack: number, blocks: readonly SackBlock[]): boolean {
  const rec = t.rec;
  const snd = t.snd;
  let added = 0;
  const rack = rec.rackState();
  for (let k = 0; k < blocks.length; k++) {
    const b = blocks[k]!;
    const left = b.left >>> 0;
    const right = b.right >>> 0;
    if (!seqLt(left, right)) continue;
    // RFC 2883 §4: a first block below the cumulative ACK, or inside the second, is a D-SACK.
    if (seqLe(right, ack) || (k === 0 && blocks.length > 1 && seqGe(left, blocks[1]!.left) && seqLe(right, blocks[1]!.right))) {
      if (k === 0) {
        t.counters.dsacksReceived++;
        if (rec.tlpEndSeq >= 0) rec.tlpDsack = true;
      }
      continue;
    }
    // Ignore blocks outside what we sent (RFC 2018 §3 blocks lie within SND.UNA..SND.MAX).
    if (seqLt(left, snd.una) || seqGt(right, snd.max)) continue;
    added += rec.sb.sack(snd.offsetOf(left), snd.offsetOf(right), now, rack);
  }
  return added > 0;
}

/** RFC 8985 §7.2: a probe may be scheduled (SACK, data outstanding, no recovery, none outstanding). */
export function tlpAllowed(t: Tcb): boolean {
  const rec = t.rec;
  return t.opt.sack && rec.sb.count > 0 && rec.tlpEndSeq < 0 && !t.cc.inRecovery && rec.rtoRecoverySeq === undefined && t.traits.transmitsData;
}

/** (Re)arms the probe timeout after new data was sent or new data acknowledged (RFC 8985 §7.2). */
export function armTlp(t: Tcb, now: Instant): void {
  if (!tlpAllowed(t)) {
    t.timers.stop('tlp');
    return;
  }
  let pto: number;
  if (t.rtt.hasSample) {
    pto = 2 * t.rtt.srttMs;
    if (t.rec.sb.count === 1) pto += TLP_WC_DEL_ACK_MS;
  } else {
    pto = 1000;
  }
  pto = Math.max(pto, 1);
  let at = now + pto;
  const rto = t.timers.get('retransmit');
  if (rto !== undefined && rto < at) at = rto;
  t.timers.set('tlp', at);
}

/** The tail loss probe timer fired: send a probe on the next poll if one is still allowed. */
export function onTlpTimeout(t: Tcb): void {
  if (tlpAllowed(t)) t.rec.tlpPending = true;
}

/**
 * RFC 8985 §7.4 (the episode, as Linux's tcp_process_tlp_ack): a probe's episode ends with the
 * first ACK above TLP.end_seq (SND.MAX when the probe left), or sooner with evidence that the
 * probe was not needed. Called for every acceptable ACK, after its SACK blocks were read, so a
 * D-SACK riding on the ACK that covers the probe counts.
 *
 * A probe of new data ends the episode once acknowledged. A probe that resent old data repaired
 * a loss only if no D-SACK for it arrives before the episode ends (§7.4.2): then the congestion
 * is answered once. The ACK that first reaches TLP.end_seq does NOT end the episode: when both
 * the original and the probe arrived, the receiver acknowledges the original first and reports
 * the probe's duplicate (its D-SACK, RFC 2883) in the next ACK. Ending on the first would take
 * every spurious probe for a repaired loss: a probe resent in an application-limited moment,
 * when the flight is one small segment, would cut ssthresh to 2·SMSS (seen in the bench's fair
 * workload without offload: 5 of 8 connections stuck near 40 segments for seconds).
 * A pure duplicate ACK at TLP.end_seq (`delivered` false: no advance, nothing newly SACKed;
 * `duplicate`: no data, SYN or FIN, the same window) also means both arrived: no loss.
 */
export function onTlpEpisodeAck(t: Tcb, ack: number, delivered: boolean, duplicate: boolean, flightBefore: number, now: Instant): void {
  const rec = t.rec;
  if (rec.tlpEndSeq < 0 || seqLt(ack, rec.tlpEndSeq)) return;
  if (!rec.tlpIsRetrans || rec.tlpDsack) {
    rec.tlpEndSeq = -1;
  } else if (seqGt(ack, rec.tlpEndSeq)) {
    if (!t.cc.inRecovery) t.cc.onTlpLoss(flightBefore, now);
    rec.tlpEndSeq = -1;
  } else if (!delivered && duplicate) {
    rec.tlpEndSeq = -1;
  }
}

/**
 * RFC 3168 §6.1.2: ECE means congestion; reduce at most once per window of data, and not on top
 * of a loss response in the same window. The next new data segment carries CWR, and the peer
 * echoes ECE until that segment reaches it: every ACK up to and including the recovery point
 * (SND.MAX at the reduction) still reports the congestion already answered, so only an ACK
 * beyond it (which covers data sent after the reduction) can bring a new signal.
 */
export function onEcnEcho(t: Tcb, ack: number, flightBefore: number, now: Instant): void {
  const rec = t.rec;
  t.counters.eceReceived++;
  if (!t.cc.inRecovery && (rec.ecnRecover === undefined || seqGt(ack, rec.ecnRecover)) && flightBefore > 0) {
    t.cc.onTlpLoss(flightBefore, now);
    rec.tlpEndSeq = -1; // one reduction for the window, as in enterRecovery
    t.counters.ecnReductions++;
    rec.ecnRecover = t.snd.max;
    rec.cwrPending = true;
  }
}

/** Retransmission timer expiry (RFC 6298 §5.4–5.6, RFC 5681 §3.1, RFC 8985 §6.3). */
export function onRetransmitTimeout(t: Tcb, now: Instant): void {
  const snd = t.snd;
  const rec = t.rec;
  if (!seqGt(snd.nxt, snd.una)) return; // nothing in flight: spurious (or persist's job)
  const synPhase = t.traits.handshake;
  // RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17: the peer closed its window on data in flight (it
  // shrank it, or dropped what it had no room for). This retransmission is then the zero-window
  // probe, and as for persist probes only unanswered ones count toward giving up: a peer that
  // answers every probe (each acceptable ACK resets the count) is never timed out (as Linux,
  // whose retransmission timer does not count such probes). The user timeout still bounds it.
  const zeroWindow = !synPhase && snd.wnd === 0;
  const limit = synPhase ? t.config.synRetries : t.config.maxRetransmits;
  const tries = zeroWindow ? snd.unansweredProbes : rec.rtoRetries;
  const first = rec.rtoRetries === 0;
  // RFC 5482: a user timeout, when set, bounds data retransmission instead of the count.
  if (tries >= limit && (synPhase || t.live.userTimeoutMs === 0)) {
    t.toClosed('ETIMEDOUT');
    return;
  }
  if (zeroWindow) {
    snd.unansweredProbes++;
    rec.zeroWindowProbed = true;
    // Not counted toward maxRetransmits, but the series has begun: only its first timeout
    // reduces ssthresh (RFC 5681 §3.1).
    if (first) rec.rtoRetries = 1;
  } else {
    rec.rtoRetries++;
  }
  t.counters.rtoCount++;
  t.rtt.backoff(); // §5.5
  snd.rttSeq = undefined;
  rec.dupAcks = 0;
  rec.fastRetransmitPending = false;
  if (synPhase) {
    snd.synRetransmitted = true;
    snd.nxt = snd.una; // resend the SYN
  } else if (rec.sb.count > 0) {
    const sb = rec.sb;
    t.cc.onRto(snd.inFlight, snd.max, first);
    // RFC 2018 §8: a SACKed head at timeout means the peer reneged: forget the SACKs.
    if ((sb.flagsOf(0) & SACKED) !== 0) sb.clearSacks();
    const lostBefore = sb.lostBytes;
    sb.markAllLost();
    if (sb.lostBytes > lostBefore) t.counters.lostSegments++;
    rec.rtoRecoverySeq = snd.max;
    rec.fastRetransmitPending = true; // §5.4: the earliest unacknowledged segment goes now
    t.timers.stop('tlp');
    rec.tlpPending = false;
    rec.tlpEndSeq = -1;
    t.timers.stop('reorder');
  }
  t.timers.set('retransmit', now + t.rtt.rtoMs); // §5.6
}

/**
 * The peer's window opened again after retransmission timeouts probed it (see
 * `onRetransmitTimeout`): what we sent into the closed window, the probes included, was dropped.
 * Resend from SND.UNA at once, from the loss window the timeouts left (RFC 5681 §3.1), instead of
 * at the backed-off RTO: the peer has just shown it is there (as a persist probe's answer does).
 */
export function onWindowReopened(t: Tcb, now: Instant): void {
  const rec = t.rec;
  rec.zeroWindowProbed = false;
  if (rec.sb.count === 0) return;
  rec.sb.markAllLost();
  rec.fastRetransmitPending = true;
  t.rtt.resetBackoff();
  t.timers.set('retransmit', now + t.rtt.rtoMs);
}
