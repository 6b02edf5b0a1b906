/**
 * SEGMENT ARRIVES (RFC 9293 §3.10.7), in the RFC's order and words: SYN-SENT (§3.10.7.3), then
 * every synchronized state (§3.10.7.4): first the sequence number, second RST, fourth SYN, fifth
 * the ACK field, sixth URG, seventh the segment text, eighth FIN. The parts do the work; each
 * step here says which rule applies and hands over.
 *
 * Interleaved, where the RFCs that amend RFC 9293 put them: PAWS (RFC 7323 §5.3) before the
 * acceptability test, RFC 5961's exact-RST / challenge-ACK rules in the second, fourth and fifth
 * steps, ECN (RFC 3168 §6.1.2–6.1.3) with the ACK. TIME-WAIT (RFC 1337, RFC 6191) is answered by
 * the compact record of time-wait.ts.
 */
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from '../seq.js';
import type { Instant, TcpControl, TcpRepr } from '../types.js';
import { challengeAck, peerAlive } from './liveness.js';
import { MAX_DUP_ACKS_PER_DRAIN, MAX_OOO_RANGES } from './receiver.js';
import { ACK_CONTEXT, armTlp, detectLosses, markHeadLost, onDuplicateAck, onEcnEcho, onTlpEpisodeAck, onWindowReopened, processSack } from './recovery.js';
import { EV_END, EV_FIN_ACKED, EV_READABLE, EV_WRITABLE, type Tcb } from './tcb.js';

const EMPTY = new Uint8Array(0);

/** One received segment (RFC 9293 §3.10.7). */
export function segmentArrives(t: Tcb, now: Instant, seg: TcpRepr, payload: Uint8Array, ipEcn: number): void {
  t.counters.segmentsIn++;
  switch (t.st) {
    case 'CLOSED':
    case 'LISTEN':
      // §3.10.7.1: a CLOSED connection answers with RST; that is the stack's `resetFor`, since
      // a closed engine has been (or is about to be) removed from its table.
      return;
    case 'SYN-SENT':
      segmentInSynSent(t, now, seg, payload);
      return;
    case 'TIME-WAIT':
      segmentInTimeWait(t, now, seg, payload);
      return;
    default:
      segmentInSynchronized(t, now, seg, payload, ipEcn);
  }
}

/** RFC 6191: whether `syn` may reopen this connection, which must be in TIME-WAIT. */
export function reusableBy(t: Tcb, syn: TcpRepr): boolean {
  return t.st === 'TIME-WAIT' && t.tw!.reusableBy(syn);
}

/**
 * TIME-WAIT (§3.10.7.4 for that state, RFC 1337, RFC 6191): answered by the compact record the
 * stack may also take over (time-wait.ts), so a connection and a record in TIME-WAIT behave alike.
 */
function segmentInTimeWait(t: Tcb, now: Instant, seg: TcpRepr, payload: Uint8Array): void {
  const tw = t.tw!;
  const verdict = tw.handleSegment(now, seg, payload.length);
  if (verdict === 'reuse' || verdict === 'close') {
    // A new SYN may reopen the 4-tuple (the stack asked `reusableBy` and gives it to the
    // listener), or a RST at RCV.NXT ended TIME-WAIT: CLOSED, quietly.
    t.toClosed(undefined);
    return;
  }
  t.timers.set('timeWait', tw.expiresAt);
  if (verdict === 'ack') t.queueReply(tw.ack(now));
}

/** RFC 9293 §3.10.7.3: SYN-SENT. */
function segmentInSynSent(t: Tcb, now: Instant, seg: TcpRepr, payload: Uint8Array): void {
  const snd = t.snd;
  const rcv = t.rcv;
  const ack = seg.ack;
  // First, the ACK: unacceptable if SEG.ACK =< ISS or SEG.ACK > SND.NXT; answer with
  // <SEQ=SEG.ACK><CTL=RST> unless the segment is itself a RST.
  if (ack !== undefined && (seqLe(ack, t.iss) || seqGt(ack, snd.max))) {
    if (seg.control !== 'rst') t.queueReply(t.rstRepr(ack));
    return;
  }
  // Second, RST: valid only with an acceptable ACK (RFC 9293 §3.10.7.3, RFC 5961 §3.2 note).
  if (seg.control === 'rst') {
    if (ack !== undefined) t.toClosed('ECONNREFUSED');
    return;
  }
  // Fourth, SYN (fifth: anything else is dropped).
  if (seg.control !== 'syn') return;
  t.irs = seg.seq >>> 0;
  rcv.nxt = seqAdd(t.irs, 1);
  t.opt.lastAckSent = rcv.nxt;
  rcv.advRight = seqAdd(rcv.nxt, rcv.synWindow);
  t.live.lastRecvAt = now;
  if (ack !== undefined) {
    // Our SYN is acknowledged: options are settled by this SYN-ACK (RFC 7323 §1.3, RFC 2018 §2);
    // RFC 3168 §6.1.1: an ECN-setup SYN-ACK has ECE and not CWR.
    t.learnPeerOptions(now, seg, t.config.windowScaling);
    t.opt.ecn = t.opt.ecnSynSent && seg.ece === true && seg.cwr !== true;
    ackSyn(t, now, ack);
    snd.wnd = seg.window; // RFC 7323 §2.2: never scaled in a SYN
    snd.maxWnd = Math.max(snd.maxWnd, seg.window);
    snd.wl1 = t.irs;
    snd.wl2 = ack;
    t.establish();
    rcv.ackNow = true;
    // Data on a SYN-ACK continues at the sixth step of §3.10.7.4.
    if (payload.length > 0) processText(t, now, seqAdd(seg.seq, 1), payload, false, false);
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 figure 7): SYN-RECEIVED, resend our SYN as a SYN-ACK.
  t.learnPeerOptions(now, seg, t.config.windowScaling);
  snd.wnd = seg.window;
  snd.maxWnd = Math.max(snd.maxWnd, seg.window);
  snd.wl1 = t.irs;
  snd.wl2 = t.iss;
  t.setState('SYN-RECEIVED');
  t.goBackToSyn();
}

/** RFC 9293 §3.10.7.4: every state from SYN-RECEIVED on. */
function segmentInSynchronized(t: Tcb, now: Instant, seg: TcpRepr, payload: Uint8Array, ipEcn: number): void {
  const rcv = t.rcv;
  const opt = t.opt;
  let seq = seg.seq >>> 0;
  let control: TcpControl = seg.control;

  if (t.st === 'SYN-RECEIVED' && control === 'syn' && seq === t.irs) {
    const ack = seg.ack;
    if (ack === undefined || !(seqGt(ack, t.snd.una) && seqLe(ack, t.snd.max))) {
      // A retransmitted SYN: our SYN-ACK was lost. Resend it now instead of waiting for the
      // timer (RFC 9293 §3.10.7.4 would ACK the old duplicate; the SYN-ACK is what helps).
      t.goBackToSyn();
      return;
    }
    // Simultaneous open: the peer's SYN-ACK repeats its SYN (which we have) and acknowledges
    // ours. Take it as the ACK that completes our handshake.
    seq = seqAdd(seq, 1);
    control = 'none';
  }

  const ts = opt.ts ? seg.timestamp : undefined;
  // RFC 7323 §5.3 R1 (PAWS): a non-RST segment whose TSval is older than TS.Recent is a
  // duplicate from an earlier wrap of the sequence space: ACK and drop. TS.Recent idle for
  // more than 24 days is no longer valid (§5.5).
  const tsStale = opt.tsStale(now);
  if (ts !== undefined && control !== 'rst' && opt.pawsRejects(ts.tsVal, tsStale)) {
    t.counters.pawsRejected++;
    rcv.ackNow = true;
    return;
  }

  const fin = control === 'fin';
  const segLen = payload.length + (control === 'syn' || fin ? 1 : 0);
  const wnd = rcv.window;

  // ---- first: sequence number acceptability (§3.10.7.4 table) ----
  let acceptable: boolean;
  if (segLen === 0) {
    acceptable = wnd === 0 ? seq === rcv.nxt : rcv.inWindow(seq, wnd);
  } else if (wnd === 0) {
    // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be
    // made to accept valid ACKs, URGs, and RSTs": a segment at RCV.NXT is taken for its
    // control information (and, like Linux, a bare FIN) while its data is dropped below.
    acceptable = seq === rcv.nxt;
  } else {
    // The table's "start or end in the window", widened to any overlap: a segment larger than
    // the window that straddles both edges (a GRO/TSO super-segment) still carries new octets,
    // and "only the new parts are processed".
    const d = seqDiff(seq, rcv.nxt);
    acceptable = d < wnd && d + segLen > 0;
  }
  if (!acceptable) {
    t.counters.unacceptableSegments++;
    // Old duplicates and out-of-window segments: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, unless RST.
    if (control !== 'rst') rcv.ackNow = true;
    return;
  }

  // The peer is alive: keepalive idleness restarts.
  peerAlive(t, now);

  // RFC 7323 §4.3 / §5.3 R3: remember the TSval of a segment covering Last.ACK.sent.
  if (ts !== undefined && control !== 'rst') opt.noteTsVal(now, seq, ts.tsVal, tsStale);

  // ---- second: RST (§3.10.7.4 second, RFC 5961 §3.2) ----
  if (control === 'rst') {
    // RFC 5961 §3.2: only a RST at exactly RCV.NXT resets; one elsewhere in the window may be
    // a blind guess, so answer with a challenge ACK (a genuine peer replies with the exact RST).
    if (seq !== rcv.nxt) {
      challengeAck(t, now);
      return;
    }
    if (t.st === 'SYN-RECEIVED') {
      // Passive open: back to LISTEN, i.e. this embryonic connection just disappears.
      // Active (simultaneous) open: "connection refused".
      t.toClosed(t.passive ? undefined : 'ECONNREFUSED');
    } else if (t.traits.resetIsError) {
      // ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT: "connection reset", queues flushed.
      rcv.buf.clearOutOfOrder();
      t.toClosed('ECONNRESET');
    } else {
      // CLOSING, LAST-ACK: enter CLOSED quietly.
      t.toClosed(undefined);
    }
    return;
  }

  // ---- fourth: SYN in a synchronized state → challenge ACK (RFC 5961 §4, RFC 9293 §3.10.7.4) ----
  if (control === 'syn') {
    challengeAck(t, now);
    return;
  }

  // ---- fifth: the ACK field ----
  const ack = seg.ack;
  if (ack === undefined) return; // "if the ACK bit is off, drop the segment and return"
  t.snd.unansweredProbes = 0;

  if (opt.ecn) {
    // RFC 3168 §6.1.3: CWR ends our ECE echo; a CE mark (on this very segment too) starts it.
    if (seg.cwr === true) rcv.eceEcho = false;
    if (ipEcn === 3) {
      t.counters.ceReceived++;
      rcv.eceEcho = true;
      rcv.ackNow = true; // tell the sender promptly
    }
  }

  if (t.st === 'SYN-RECEIVED') {
    const snd = t.snd;
    if (!(seqGt(ack, snd.una) && seqLe(ack, snd.max))) {
      // §3.10.7.4 fifth, SYN-RECEIVED: unacceptable ACK → <SEQ=SEG.ACK><CTL=RST>.
      t.queueReply(t.rstRepr(ack));
      return;
    }
    ackSyn(t, now, ack);
    snd.wnd = seg.window << snd.shift;
    snd.maxWnd = Math.max(snd.maxWnd, snd.wnd);
    snd.wl1 = seq;
    snd.wl2 = ack;
    t.establish();
  } else if (!processAck(t, now, seq, seg, payload.length === 0 && control !== 'fin')) {
    return;
  }

  // State changes the ACK may cause (§3.10.7.4 fifth, per state).
  switch (t.st) {
    case 'FIN-WAIT-1':
      if (t.snd.finAcked) {
        t.setState('FIN-WAIT-2');
        // Linux applies tcp_fin_timeout to orphans only: a half-closed socket whose
        // application still reads keeps receiving for as long as the peer sends (RFC 9293 §3.6).
        if (t.orphaned) t.timers.set('finWait2', now + t.config.finWait2TimeoutMs);
      }
      break;
    case 'CLOSING':
      if (t.snd.finAcked) t.enterTimeWait(now);
      break;
    case 'LAST-ACK':
      if (t.snd.finAcked) {
        t.toClosed(undefined);
        return;
      }
      break;
    case 'FIN-WAIT-2':
      // Idle bound only: a peer still sending in our half-closed connection keeps it alive.
      if (t.orphaned) t.timers.set('finWait2', now + t.config.finWait2TimeoutMs);
      break;
    default:
      break;
  }

  // ---- sixth (URG: ignored), seventh (text), eighth (FIN) ----
  if (payload.length > 0 || fin) processText(t, now, seq, payload, fin, control === 'psh' || fin);
}

/**
 * §3.10.7.4 fifth step for ESTABLISHED and later states. Returns false when the segment must be
 * dropped here (ACK of unsent data, or an ACK too old per RFC 5961 §5.2).
 */
function processAck(t: Tcb, now: Instant, seq: number, seg: TcpRepr, maybeDuplicate: boolean): boolean {
  const snd = t.snd;
  const ack = seg.ack!;
  const window = seg.window << snd.shift;
  const ackLimit = snd.probeEnd !== undefined && seqGt(snd.probeEnd, snd.max) ? snd.probeEnd : snd.max;
  if (seqGt(ack, ackLimit)) {
    // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the
    // segment, and return." RFC 5961 §5.2: that ACK is a (rate-limited) challenge ACK.
    challengeAck(t, now);
    return false;
  }
  if (seqLt(ack, seqAdd(snd.una, -snd.maxWnd))) {
    // RFC 5961 §5.2: an ACK older than SND.UNA − MAX.SND.WND is dropped and answered with a
    // (rate-limited, §7) challenge ACK.
    challengeAck(t, now);
    return false;
  }
  const oldWnd = snd.wnd;
  const flightBefore = snd.inFlight;
  let delivered = false;
  if (seqGt(ack, snd.una)) {
    newAck(t, now, ack, seg);
    delivered = true;
  } else if (ack === snd.una && maybeDuplicate && window === oldWnd && seqGt(snd.max, snd.una)) {
    // RFC 5681 §2 duplicate ACK: outstanding data, no payload, no SYN/FIN, same ACK, same window.
    onDuplicateAck(t, now);
  }
  if (t.opt.sack && seg.sackBlocks !== undefined && seg.sackBlocks.length > 0) {
    if (processSack(t, now, ack, seg.sackBlocks)) delivered = true;
  }
  // After the SACK blocks: a D-SACK on this ACK counts for the probe's episode.
  onTlpEpisodeAck(t, ack, delivered, maybeDuplicate && window === oldWnd, flightBefore, now);
  // RFC 3168 §6.1.2: ECE means congestion (at most one reduction per window of data).
  if (t.opt.ecn && seg.ece === true) onEcnEcho(t, ack, flightBefore, now);
  if (delivered && t.opt.sack) detectLosses(t, now);
  if (delivered) armTlp(t, now);
  // Window update (§3.10.7.4 fifth): only from a segment at least as new as the last one used.
  if (snd.updateWindow(seq, ack, window) && window > 0) {
    // The window opened: the persist timer's job is done (§3.8.6.1).
    t.timers.stop('persist');
    snd.persistBackoff = 0;
    if (!seqGt(snd.max, snd.una)) t.live.stall(undefined, t.timers);
    if (t.rec.zeroWindowProbed) onWindowReopened(t, now);
  }
  return true;
}

/** SND.UNA advances to `ack` (§3.10.7.4 fifth; RFC 6298 §5.2–5.3; RFC 7323 §4; RFC 5681; RFC 6582). */
function newAck(t: Tcb, now: Instant, ack: number, seg: TcpRepr): void {
  const snd = t.snd;
  const rec = t.rec;
  const acked = seqDiff(ack, snd.una);
  const flightBefore = snd.inFlight;
  const ackOff = snd.offsetOf(ack);
  const dataAcked = snd.acknowledge(ack);
  if (dataAcked > 0) {
    t.counters.bytesAcked += dataAcked;
    if (t.canSend && !t.writablePending) {
      t.writablePending = true;
      t.emit(EV_WRITABLE);
    }
  }
  if (snd.finNewlyAcked(ack)) {
    // §3.10.7.4 fifth: SND.UNA passes our FIN. The state change it causes (FIN-WAIT-1 →
    // FIN-WAIT-2, CLOSING → TIME-WAIT, LAST-ACK → CLOSED) follows in segmentInSynchronized;
    // the event is queued here, once, after any `writable` of this ACK and before `closed`.
    snd.finAcked = true;
    t.emit(EV_FIN_ACKED);
  }
  snd.una = ack;
  if (seqLt(snd.nxt, ack)) snd.nxt = ack;
  if (snd.probeEnd !== undefined && seqGe(ack, snd.probeEnd)) snd.probeEnd = undefined;
  if (seqGt(ack, snd.max)) snd.max = ack; // the probe octet was accepted

  const rack = rec.rackState();
  const karnXmit = rec.sb.ack(ackOff, now, rack);
  // RTT: from the echoed timestamp when negotiated (RFC 7323 §4.1: unambiguous even for
  // retransmissions), else from a never-retransmitted segment (Karn, RFC 6298 §3).
  let sample = -1;
  const ts = seg.timestamp;
  if (t.opt.ts && ts !== undefined) {
    const d = seqDiff(t.opt.tsNow(now), ts.tsEcr);
    if (d >= 0 && d <= t.config.rtoMaxMs * 2) sample = d;
  } else if (karnXmit >= 0) {
    sample = now - karnXmit;
  }
  if (sample >= 0) {
    // RFC 7323 Appendix G: with a sample per ACK, weight each by the ACKs expected per RTT.
    t.rtt.sample(sample, Math.max(1, Math.ceil(flightBefore / (2 * snd.mss))));
    t.counters.rttSamples++;
  }
  t.rtt.resetBackoff();
  rec.rtoRetries = 0;
  // User timeout: progress; the clock restarts for what is still outstanding.
  t.live.stall(seqGt(snd.max, ack) ? now : undefined, t.timers);
  if (rec.rtoRecoverySeq !== undefined && seqGe(ack, rec.rtoRecoverySeq)) rec.rtoRecoverySeq = undefined;

  snd.sampleRate(now, acked, ack);

  const flight = snd.inFlight;
  const ctx = ACK_CONTEXT;
  ctx.now = now;
  ctx.rttSampleMs = sample;
  ctx.srttMs = t.rtt.srttMs;
  ctx.sndMax = snd.max;
  // Cwnd-limited: what was in flight before this ACK came within one MSS of cwnd, or new data
  // waits for room in cwnd for a whole super-packet (sender.ts quantumDefers; Linux's
  // tcp_tso_should_defer sets is_cwnd_limited): the window is in use, so it may grow.
  const cwndLimited = flightBefore + snd.mss >= t.cc.cwnd || snd.quantumCwndLimited;
  const verdict = t.cc.onAck(acked, ack, flight, cwndLimited, ctx);
  if (verdict === 'partial' && !t.opt.sack) {
    // RFC 6582 §3.2 step 5: retransmit the first unacknowledged segment.
    markHeadLost(t);
    rec.fastRetransmitPending = true;
    t.counters.fastRetransmits++;
  }
  rec.dupAcks = 0;
  // Linux's tcp_new_space after an ACK freed room: the send buffer follows cwnd.
  if (t.config.sendBufferAutoSize) snd.expandSendBuffer(t.cc.cwnd);
  // RFC 6298 §5.2/§5.3: stop the timer when all is acknowledged, else restart it.
  t.timers.set('retransmit', seqGt(snd.nxt, snd.una) ? now + t.rtt.rtoMs : undefined);
  if (rec.sb.count === 0) {
    t.timers.stop('reorder');
    t.timers.stop('tlp');
    rec.zeroWindowProbed = false;
  }
}

/** The ACK acknowledged our SYN (SYN-SENT or SYN-RECEIVED). */
function ackSyn(t: Tcb, now: Instant, ack: number): void {
  const snd = t.snd;
  snd.una = ack;
  if (seqLt(snd.nxt, ack)) snd.nxt = ack;
  if (snd.rttSeq !== undefined && seqGe(ack, snd.rttSeq)) {
    t.rtt.sample(now - (snd.rttStart ?? 0));
    t.counters.rttSamples++;
  }
  snd.rttSeq = undefined;
  snd.rttStart = undefined;
  t.timers.stop('retransmit');
  t.rec.rtoRetries = 0;
  t.rtt.resetBackoff();
}

/** Seventh and eighth steps: segment text and FIN (§3.10.7.4). */
function processText(t: Tcb, now: Instant, seq: number, payload: Uint8Array, fin: boolean, push: boolean): void {
  // Text is taken only while the peer may still send it (§3.10.7.4 seventh).
  if (!t.traits.takesText) return;
  const rcv = t.rcv;
  const wnd = rcv.window;
  let off = seqDiff(seq, rcv.nxt);
  let data = payload;
  const finOff = off + payload.length;
  if (off < 0) {
    // Trim the part already received ("only the new parts are processed").
    data = -off >= data.length ? EMPTY : data.subarray(-off);
    off = 0;
  }
  let keepFin = fin && finOff >= 0;
  if (off + data.length > wnd) {
    // Trim what lies beyond the window; a FIN after trimmed data is dropped with it.
    data = off >= wnd ? EMPTY : data.subarray(0, wnd - off);
    keepFin = false;
    rcv.ackNow = true;
  }
  if (payload.length > rcv.mss) rcv.mss = Math.min(payload.length, t.config.mss);
  if (data.length > 0) {
    const interactive = rcv.sentSinceRecv;
    rcv.sentSinceRecv = false;
    const hadHoles = rcv.buf.outOfOrderRanges > 0;
    const streamOff = rcv.buf.contiguousEnd + off;
    const advanced = rcv.buf.write(off, data, t.config.maxOutOfOrderBytes, MAX_OOO_RANGES);
    if (off > 0) {
      // RFC 5681 §4.2: an out-of-order segment is acknowledged at once (a duplicate ACK). With
      // SACK one ACK per drain carries everything; without it the peer counts duplicates.
      t.counters.outOfOrderSegments++;
      if (advanced >= 0 && t.opt.sack) rcv.noteSackArrival(streamOff);
      if (t.opt.sack) rcv.ackNow = true;
      else if (rcv.dupAcksOwed < MAX_DUP_ACKS_PER_DRAIN) rcv.dupAcksOwed++;
    } else if (advanced > 0) {
      rcv.nxt = seqAdd(rcv.nxt, advanced);
      t.counters.bytesReceived += advanced;
      if (!t.readablePending) {
        t.readablePending = true;
        t.emit(EV_READABLE);
      }
      // RFC 5681 §4.2: a segment that fills a hole is acknowledged at once.
      rcv.requestAck(now, hadHoles, data.length, push && !interactive, t.config.delayedAckMs, t.timers);
    }
  } else if (payload.length > 0) {
    rcv.ackNow = true; // wholly old or beyond the window
  }
  if (keepFin) rcv.peerFinSeq = seqAdd(seq, payload.length);
  if (rcv.peerFinSeq !== undefined && rcv.peerFinSeq === rcv.nxt && !rcv.peerFinReceived) {
    processFin(t, now);
  } else if (keepFin && payload.length === 0 && off > 0) {
    // A bare FIN beyond RCV.NXT (data before it is missing) is an out-of-order segment too:
    // RFC 5681 §4.2, an immediate duplicate ACK, so the peer learns of the hole.
    t.counters.outOfOrderSegments++;
    if (t.opt.sack) rcv.ackNow = true;
    else if (rcv.dupAcksOwed < MAX_DUP_ACKS_PER_DRAIN) rcv.dupAcksOwed++;
  }
}

/** Eighth step: the peer's FIN, now in order (§3.10.7.4 eighth). */
function processFin(t: Tcb, now: Instant): void {
  const rcv = t.rcv;
  rcv.peerFinReceived = true;
  rcv.peerFinSeq = undefined;
  rcv.nxt = seqAdd(rcv.nxt, 1);
  rcv.ackNow = true;
  t.emit(EV_END);
  switch (t.st) {
    case 'ESTABLISHED':
      t.setState('CLOSE-WAIT');
      break;
    case 'FIN-WAIT-1':
      // Our FIN is not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
      t.setState('CLOSING');
      break;
    case 'FIN-WAIT-2':
      t.enterTimeWait(now);
      break;
    default:
      break;
  }
}
