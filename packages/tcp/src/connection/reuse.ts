/**
 * The RFC 6191 decision, in one place: may a new SYN reopen a 4-tuple whose previous incarnation
 * is in TIME-WAIT? Used by `TcpConnection.reusableBy` and by the compact TIME-WAIT record.
 */
import { seqGt } from '../seq.js';
import type { TcpRepr } from '../types.js';

/** What TIME-WAIT remembers of the previous incarnation for the decision. */
export interface ReuseState {
  /** RCV.NXT: the peer's sequence space ended just before it (its FIN included). */
  readonly rcvNxt: number;
  /** Timestamps were in use (RFC 7323). */
  readonly tsOk: boolean;
  /** TS.Recent: the peer's last TSval we accepted. */
  readonly tsRecent: number;
}

/**
 * RFC 6191 §2 (and RFC 1122 §4.2.2.13): a SYN without ACK may reopen the connection when the
 * previous incarnation used timestamps and the SYN's TSval is newer than TS.Recent (or equal and
 * SEG.SEQ > RCV.NXT), or, without timestamps on either, when SEG.SEQ > RCV.NXT. Anything else is
 * an old duplicate or a peer that cannot prove it is new.
 */
export function synMayReuse(syn: TcpRepr, tw: ReuseState): boolean {
  if (syn.control !== 'syn' || syn.ack !== undefined) return false;
  const seqNewer = seqGt(syn.seq >>> 0, tw.rcvNxt);
  if (tw.tsOk && syn.timestamp !== undefined) {
    const ts = syn.timestamp.tsVal >>> 0;
    if (ts === tw.tsRecent) return seqNewer;
    return seqGt(ts, tw.tsRecent);
  }
  return seqNewer;
}
