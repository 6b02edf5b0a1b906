/**
 * What leaves, and in which order (`pollTransmit`): a final RST, queued replies, a keepalive
 * probe, our SYN; then, while data may flow, a tail loss probe, the first retransmission of a
 * recovery episode, lost segments while pipe leaves room in cwnd (RFC 6675 §4 NextSeg rule 1), a
 * zero-window probe, new data (rule 2); and last a pure ACK when one is owed. One segment per call.
 *
 * Every segment with ACK carries everything an ACK would: RCV.NXT, the window (receiver.ts),
 * timestamps (RFC 7323 §3.2), SACK blocks fitted beside the data (RFC 2018, RFC 6691) and ECE.
 */
import { FIN } from '../scoreboard.js';
import { seqAdd, seqDiff, seqGe, seqGt } from '../seq.js';
import type { Instant, SackBlock, TcpControl, TcpRepr, Transmit } from '../types.js';
import { LIMIT_APP, LIMIT_CWND, LIMIT_IDLE, LIMIT_RWND, type LimitState } from './counters.js';
import { keepAliveProbeSeq } from './liveness.js';
import { SACK_BLOCK_LENGTH, SACK_OPTION_BASE, sackOptionLength } from './receiver.js';
import { armTlp, tlpAllowed } from './recovery.js';
import { nagleHolds, quantumDefers, swsHolds } from './sender.js';
import type { Tcb } from './tcb.js';

const EMPTY = new Uint8Array(0);

/** A timestamps option (RFC 7323 §3) as a Repr carries it. */
type TimestampOption = NonNullable<TcpRepr['timestamp']>;

/**
 * The last timestamps option built, handed again to every segment (of any connection) that
 * carries the same two values: the segments of a burst, polled at one instant, all do. Reprs are
 * values no one mutates, so sharing is safe; it saves an object (and often a boxed TSval) per
 * segment, with nothing held per connection (measured in bench/PROFILE.md round 4).
 */
let lastTimestamp: TimestampOption = { tsVal: 0, tsEcr: 0 };

function timestampOption(tsVal: number, tsEcr: number): TimestampOption {
  const last = lastTimestamp;
  if (last.tsVal === tsVal && last.tsEcr === tsEcr) return last;
  return (lastTimestamp = { tsVal, tsEcr });
}

/** The next segment to send, or undefined. */
export function pollTransmit(t: Tcb, now: Instant): Transmit | undefined {
  if (t.st === 'CLOSED') {
    const rst = t.finalRst;
    if (rst === undefined) return undefined;
    t.finalRst = undefined;
    return out(t, rst, EMPTY, false);
  }
  const reply = t.replies.shift();
  if (reply !== undefined) return out(t, reply, EMPTY, false);
  if (t.live.kaProbePending) {
    // RFC 1122 §4.2.3.6: <SEQ=SND.NXT−1> with no data: the peer must answer with an ACK.
    t.live.kaProbePending = false;
    return out(t, dataRepr(t, now, 'none', keepAliveProbeSeq(t), false, 0), EMPTY, false);
  }

  if (t.traits.handshake && t.snd.nxt === t.iss) return transmitSyn(t, now);

  if (t.traits.transmitsData) {
    const rec = t.rec;
    if (rec.tlpPending) {
      rec.tlpPending = false;
      const tx = transmitTlp(t, now);
      if (tx !== undefined) return tx;
    }
    // RFC 6675 §5 step 4.3 / RFC 5681 §3.2 step 2: the first retransmission of an episode goes at once.
    if (rec.fastRetransmitPending) {
      rec.fastRetransmitPending = false;
      const i = rec.sb.firstLostToSend();
      if (i >= 0) return retransmitRecord(t, i, now);
    }
    // RFC 6675 §4 NextSeg rule 1: lost segments first, while pipe leaves room in cwnd.
    const i = rec.sb.firstLostToSend();
    if (i >= 0 && rec.sb.pipe + rec.sb.spanOf(i) <= t.cc.cwnd) return retransmitRecord(t, i, now);
    // A lost segment waits for room in cwnd: the sender is cwnd-limited.
    if (i >= 0) t.enterLimit(LIMIT_CWND, now);
    if (t.snd.probePending) {
      t.snd.probePending = false;
      const tx = transmitProbe(t, now);
      if (tx !== undefined) return tx;
    }
    if (i < 0) {
      // NextSeg rule 2: new data only when no lost segment waits for room.
      const tx = transmitData(t, now, false);
      if (tx !== undefined) return tx;
    }
  }

  const rcv = t.rcv;
  if (t.traits.synchronized && (rcv.ackNow || rcv.dupAcksOwed > 0 || t.timers.expired('delayedAck', now))) {
    if (rcv.dupAcksOwed > 0) rcv.dupAcksOwed--;
    // <SEQ=SND.NXT>: the highest sequence number sent, which the peer expects next.
    return out(t, dataRepr(t, now, 'none', t.snd.max, false, 0), EMPTY, false);
  }
  return undefined;
}

/** Our SYN, or SYN-ACK once SYN-RECEIVED (first transmission or again). */
function transmitSyn(t: Tcb, now: Instant): Transmit {
  const snd = t.snd;
  const opt = t.opt;
  const synAck = t.st === 'SYN-RECEIVED';
  const fresh = snd.max === t.iss;
  const cfg = t.config;
  let repr: TcpRepr;
  if (synAck) {
    // Answer exactly the options the peer's SYN offered (RFC 7323 §1.3, RFC 2018 §2).
    repr = {
      srcPort: t.local.port,
      dstPort: t.remote.port,
      control: 'syn',
      seq: t.iss,
      ack: t.rcv.nxt,
      window: t.rcv.synAckWindow(),
      mss: cfg.mss,
      windowScale: opt.ws ? t.rcv.shift : undefined,
      sackPermitted: opt.sack ? true : undefined,
      timestamp: opt.ts ? { tsVal: opt.tsNow(now), tsEcr: opt.tsRecent } : undefined,
      // RFC 3168 §6.1.1: an ECN-setup SYN-ACK carries ECE without CWR.
      ece: opt.ecn ? true : undefined,
    };
  } else {
    // RFC 3168 §6.1.1.1: a retransmitted SYN goes without ECN setup, in case ECN was the problem.
    opt.ecnSynSent = cfg.ecn && fresh;
    repr = {
      srcPort: t.local.port,
      dstPort: t.remote.port,
      control: 'syn',
      seq: t.iss,
      ack: undefined,
      window: t.rcv.synWindow,
      // RFC 9293 §3.7.1: announce the largest segment we can receive.
      mss: cfg.mss,
      windowScale: opt.wsOffered >= 0 ? opt.wsOffered : undefined,
      sackPermitted: cfg.sack ? true : undefined,
      timestamp: cfg.timestamps ? { tsVal: opt.tsNow(now), tsEcr: 0 } : undefined,
      ece: opt.ecnSynSent ? true : undefined,
      cwr: opt.ecnSynSent ? true : undefined,
    };
  }
  snd.nxt = seqAdd(t.iss, 1);
  snd.max = snd.nxt;
  if (fresh) {
    snd.rttSeq = snd.nxt;
    snd.rttStart = now;
  } else {
    t.counters.retransmits++;
    snd.rttSeq = undefined;
  }
  t.timers.arm('retransmit', now + t.rtt.rtoMs);
  return out(t, repr, EMPTY, false);
}

/**
 * New data (and FIN) from SND.NXT, within the peer's window, cwnd − pipe and the MSS, subject to
 * sender SWS avoidance (RFC 9293 §3.8.6.2.1), Nagle (RFC 1122 §4.2.3.4) and the send quantum
 * (`quantumDefers`). A tail loss probe (`probe`) ignores cwnd, Nagle and the quantum (RFC 8985 §7.3).
 */
function transmitData(t: Tcb, now: Instant, probe: boolean): Transmit | undefined {
  const snd = t.snd;
  const rcv = t.rcv;
  const rec = t.rec;
  const bufLen = snd.buf.length;
  const off = seqDiff(snd.nxt, snd.bufSeq);
  const avail = off >= 0 ? bufLen - off : 0;
  let len = 0;
  let full = snd.mss;
  let limit: LimitState = LIMIT_APP;
  if (avail > 0) {
    if (!probe && snd.nxt === snd.una && snd.lastSendAt !== undefined) {
      // Sending resumes with nothing in flight: after more than an RTO of not sending data the
      // old cwnd is no longer a measure of the path (RFC 5681 §4.1), and CUBIC's clock must
      // not have run meanwhile (RFC 9438 §5.8).
      const idle = now - snd.lastSendAt;
      if (idle > 0) t.cc.onResume(idle, now, idle > t.rtt.rtoMs);
      snd.lastSendAt = now;
    }
    const rwndRoom = seqDiff(seqAdd(snd.una, snd.wnd), snd.nxt);
    const cwndRoom = probe ? snd.mss : Math.floor(t.cc.cwnd - rec.sb.pipe);
    // SACK blocks we owe ride on data too, so they take room from the payload (RFC 6691).
    full = snd.mss - sackOptionLength(rcv.sackBlockLimit(t.opt.sack, t.opt.ts));
    len = Math.max(0, Math.min(avail, full, rwndRoom, cwndRoom));
    const inFlight = snd.nxt !== snd.una;
    const finRides = snd.finQueued && seqAdd(snd.nxt, len) === snd.finSeq;
    if (len > 0 && len < full && !probe) {
      if (len < avail) {
        if (swsHolds(len, snd.maxWnd, inFlight)) len = 0;
      } else if (nagleHolds(snd.noDelay, finRides, inFlight, snd.sml, snd.una)) {
        len = 0;
      }
    }
    // A window-limited sender waits for room for a whole super-packet (sendQuantum, Linux's
    // tcp_tso_should_defer). Not a zero window: data is in flight, so no persist timer.
    const deferred = len > 0 && !probe && t.config.sendQuantum > 0 && quantumDefers(t, full, avail, rwndRoom, cwndRoom, finRides);
    if (deferred) len = 0;
    // What held this segment to `len`: all queued data went (the application), the peer's
    // window, or else cwnd (or Nagle/SWS waiting for an ACK, which the network paces too); a
    // deferral, the tighter of the two windows.
    if (deferred) limit = rwndRoom <= cwndRoom ? LIMIT_RWND : LIMIT_CWND;
    else if (len === avail) limit = LIMIT_APP;
    else if (rwndRoom < full && rwndRoom <= cwndRoom) limit = LIMIT_RWND;
    else limit = LIMIT_CWND;
    if (len === 0 && snd.zeroWindowBlocked(t.traits.transmitsData)) {
      t.timers.arm('persist', now + snd.persistIntervalMs(t.rtt.rtoMs, t.config.rtoMaxMs));
      // User timeout: data held by a zero window counts as unacknowledged (RFC 5482, Linux).
      t.live.stallFrom(now, t.timers);
    }
  }
  const end = seqAdd(snd.nxt, len);
  // FIN goes after the last octet, riding on it when it fits. A lone FIN does not wait for
  // window (it takes no buffer; Linux accepts a bare FIN at RCV.NXT into a zero window).
  const sendFin = snd.finQueued && !snd.finAcked && end === snd.finSeq && seqGe(end, snd.max) && (len > 0 || len === avail);
  if (!probe) t.enterLimit(len === 0 && !sendFin && avail === 0 && snd.nxt === snd.una ? LIMIT_IDLE : limit, now);
  if (len === 0 && !sendFin) return undefined;

  const lastOfBurst = len > 0 && len === avail;
  const cwr = rec.cwrPending && len > 0;
  if (cwr) rec.cwrPending = false;
  const repr = dataRepr(t, now, sendFin ? 'fin' : lastOfBurst ? 'psh' : 'none', snd.nxt, cwr, len);
  const payload = len > 0 ? snd.buf.slice(off, len) : EMPTY;
  rec.sentSegment(snd.bufOff + off, len, sendFin, now);
  t.live.stallFrom(now, t.timers);
  snd.nxt = sendFin ? seqAdd(end, 1) : end;
  if (seqGt(snd.nxt, snd.max)) snd.max = snd.nxt;
  if (len > 0 && len < full) snd.sml = end;
  if (len > 0) {
    snd.lastSendAt = now;
    rcv.sentSinceRecv = true;
    rcv.quickAcks = 0; // we reply with data: delayed ACKs will ride on it
  }
  t.timers.arm('retransmit', now + t.rtt.rtoMs);
  if (!probe) armTlp(t, now);
  // RFC 3168 §6.1.2: new data of an ECN-capable connection is ECT(0).
  return out(t, repr, payload, t.opt.ecn && len > 0);
}

/** Resends scoreboard record `i` (RFC 6675 NextSeg; RFC 6298 §5.4; RFC 6582 §3.2). */
function retransmitRecord(t: Tcb, i: number, now: Instant): Transmit {
  const snd = t.snd;
  const sb = t.rec.sb;
  const start = sb.startOf(i);
  const len = sb.lenOf(i);
  const fin = (sb.flagsOf(i) & FIN) !== 0;
  const rel = start - snd.bufOff;
  const repr = dataRepr(t, now, fin ? 'fin' : 'psh', seqAdd(snd.bufSeq, rel), false, len);
  sb.retransmitted(i, now);
  t.counters.retransmits++;
  t.counters.bytesRetransmitted += len;
  t.timers.arm('retransmit', now + t.rtt.rtoMs);
  // RFC 3168 §6.1.5: retransmitted data is not ECN-capable.
  return out(t, repr, len > 0 ? snd.buf.slice(rel, len) : EMPTY, false);
}

/**
 * RFC 8985 §7.3: the tail loss probe: one new segment when the window allows, else the last
 * segment sent again. Then the RTO is re-armed and the episode lasts until the probe is acknowledged.
 */
function transmitTlp(t: Tcb, now: Instant): Transmit | undefined {
  if (!tlpAllowed(t)) return undefined;
  const rec = t.rec;
  let tx = transmitData(t, now, true);
  if (tx !== undefined) {
    rec.tlpIsRetrans = false;
  } else {
    tx = retransmitRecord(t, rec.sb.count - 1, now);
    rec.tlpIsRetrans = true;
  }
  t.counters.tlpProbes++;
  rec.tlpEndSeq = t.snd.max;
  rec.tlpDsack = false;
  t.timers.set('retransmit', now + t.rtt.rtoMs);
  return tx;
}

/** One octet beyond the zero window (RFC 9293 §3.8.6.1); sequence space is not advanced. */
function transmitProbe(t: Tcb, now: Instant): Transmit | undefined {
  const snd = t.snd;
  if (!snd.zeroWindowBlocked(t.traits.transmitsData)) return undefined;
  const off = seqDiff(snd.una, snd.bufSeq);
  t.counters.persistProbes++;
  snd.probeEnd = seqAdd(snd.una, 1);
  const repr = dataRepr(t, now, 'none', snd.una, false, 1);
  return out(t, repr, snd.buf.slice(off, 1), false);
}

/**
 * A segment with ACK and every option a synchronized segment carries (timestamps, SACK, ECE).
 * SACK blocks are limited to what fits beside `payloadLength` octets within the MSS.
 */
function dataRepr(t: Tcb, now: Instant, control: TcpControl, seq: number, cwr: boolean, payloadLength: number): TcpRepr {
  const rcv = t.rcv;
  const opt = t.opt;
  let sackBlocks: SackBlock[] | undefined;
  if (opt.sack && rcv.buf.outOfOrderRanges > 0) {
    const fit = Math.floor((t.snd.mss - payloadLength - SACK_OPTION_BASE) / SACK_BLOCK_LENGTH);
    const n = Math.min(fit, rcv.sackBlockLimit(opt.sack, opt.ts));
    if (n > 0) sackBlocks = rcv.sackBlocks(n);
  }
  return {
    srcPort: t.local.port,
    dstPort: t.remote.port,
    control,
    seq,
    ack: rcv.nxt,
    window: rcv.advertise(),
    // RFC 3168 §6.1.3: ECE on every ACK until the peer's CWR.
    ece: rcv.eceEcho ? true : undefined,
    cwr: cwr ? true : undefined,
    // RFC 7323 §3.2: once negotiated, TSopt is sent in every non-RST segment.
    timestamp: opt.ts ? timestampOption(opt.tsNow(now), opt.tsRecent) : undefined,
    sackBlocks,
  };
}

/** Books an outgoing segment; every segment with ACK carries everything an ACK would. */
function out(t: Tcb, repr: TcpRepr, payload: Uint8Array, ect: boolean): Transmit {
  t.counters.segmentsOut++;
  t.counters.bytesSent += payload.length;
  if (repr.ack !== undefined) {
    const rcv = t.rcv;
    rcv.ackNow = false;
    t.timers.stop('delayedAck');
    rcv.unackedBytes = 0;
    t.opt.lastAckSent = repr.ack;
  }
  return { repr, payload, ecn: ect ? 'ect0' : 'not-ect' };
}
