/**
 * What each RFC 9293 state (§3.3.2) allows, in one table, so no rule elsewhere spells out a list
 * of states: "which states may send data", "which states take text", and so on are traits here.
 */
import type { TcpState } from '../types.js';

/** The rules a state implies. */
export interface StateTraits {
  /** The three-way handshake is not complete: our SYN (or SYN-ACK) is what is outstanding. */
  readonly handshake: boolean;
  /**
   * We know RCV.NXT and may acknowledge (SYN-RECEIVED on): the segment goes through the
   * §3.10.7.4 checks, ACKs go out, and `recv()` may make a window update due.
   */
  readonly synchronized: boolean;
  /** The application may queue data (`canSend`, before `close()`): it is sent once synchronized. */
  readonly appMaySend: boolean;
  /** Data and the FIN may be sent and retransmitted (§3.10.7.4: our direction is open or closing). */
  readonly transmitsData: boolean;
  /** Segment text is taken (§3.10.7.4 seventh): the peer has not closed its direction. */
  readonly takesText: boolean;
  /** `abort()` sends a RST (§3.10.5). */
  readonly rstOnAbort: boolean;
  /** A valid RST reports ECONNRESET (§3.10.7.4 second); in the others the connection ends quietly. */
  readonly resetIsError: boolean;
  /** An idle connection in this state is probed by keepalive (RFC 1122 §4.2.3.6; as Linux). */
  readonly keepAliveProbes: boolean;
  /** The keepalive timer may run at all (not once CLOSED or in TIME-WAIT). */
  readonly keepAliveTimer: boolean;
  /** A segment of ours may be outstanding, so an ICMP error can be about it (RFC 5927). */
  readonly icmpApplies: boolean;
}

function traits(list: string): StateTraits {
  const has = (c: string): boolean => list.includes(c);
  return Object.freeze({
    handshake: has('h'),
    synchronized: has('s'),
    appMaySend: has('w'),
    transmitsData: has('d'),
    takesText: has('t'),
    rstOnAbort: has('r'),
    resetIsError: has('e'),
    keepAliveProbes: has('k'),
    keepAliveTimer: has('K'),
    icmpApplies: has('i'),
  });
}

/**
 * The table. Letters: h handshake, s synchronized, w app may send, d transmits data, t takes
 * text, r RST on abort, e RST is an error, k keepalive probes, K keepalive timer, i ICMP applies.
 */
export const STATE_TRAITS: Readonly<Record<TcpState, StateTraits>> = Object.freeze({
  CLOSED: traits(''),
  LISTEN: traits('K'),
  'SYN-SENT': traits('hwKi'),
  'SYN-RECEIVED': traits('hswrKi'),
  ESTABLISHED: traits('swdtrekKi'),
  'FIN-WAIT-1': traits('sdtreKi'),
  'FIN-WAIT-2': traits('streKki'),
  'CLOSE-WAIT': traits('swdrekKi'),
  CLOSING: traits('sdKi'),
  'LAST-ACK': traits('sdKi'),
  'TIME-WAIT': traits('s'),
});
