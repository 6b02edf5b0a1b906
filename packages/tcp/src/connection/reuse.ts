/**
 * The RFC 6191 decision, in one place: may a new SYN reopen a 4-tuple whose previous incarnation
 * is in TIME-WAIT? Used by `TcpConnection.reusableBy` and by the compact TIME-WAIT record
 * (time-wait.ts), which a connection in TIME-WAIT also uses.
 */
import { seqGt } from '../seq.js';
import type { TcpRepr } from '../types.js';

/**
 * RFC 6191 §2 (and RFC 1122 §4.2.2.13): a SYN without ACK may reopen the connection when the
 * previous incarnation used timestamps (`tsOk`) and the SYN's TSval is newer than TS.Recent (or
 * equal and SEG.SEQ > RCV.NXT), or, without timestamps on either, when SEG.SEQ > RCV.NXT
 * (RCV.NXT: the peer's sequence space ended just before it, its FIN included). Anything else is
 * an old duplicate or a peer that cannot prove it is new.
 */
export function synMayReuse(syn: TcpRepr, rcvNxt: number, tsOk: boolean, tsRecent: number): boolean {
  if (syn.control !== 'syn' || syn.ack !== undefined) return false;
  const seqNewer = seqGt(syn.seq >>> 0, rcvNxt >>> 0);
  if (tsOk && syn.timestamp !== undefined) {
    const ts = syn.timestamp.tsVal >>> 0;
    if (ts === tsRecent >>> 0) return seqNewer;
    return seqGt(ts, tsRecent >>> 0);
  }
  return seqNewer;
}
