/**
 * Instrumentation through `node:diagnostics_channel`, the mechanism Node's `http`, `net` and
 * undici publish on. The stack publishes connection lifecycle events, retransmissions, RTOs
 * and drops on the channels named below. Nothing is built when nobody subscribes: every
 * publisher checks `channel.hasSubscribers` first (a property read).
 *
 * Messages are plain objects, published synchronously from inside the stack's processing: a
 * subscriber must not throw (Node reports a throwing subscriber as an uncaught exception on
 * the next tick) and should not call back into the stack.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IpAddress, TcpState } from '@tcp-tun/tcp';
import { ipAddressToString } from './stack-stats.js';
import type { ConnectionEntry } from './internal.js';
import { tcpInfoOf, type TcpInfo } from './tcp-info.js';

/** Channel name: a connection entered the stack's table (active open or SYN received). */
export const CHANNEL_CONNECTION_OPEN = 'tcp-tun:connection:open';
/** Channel name: a connection changed state (RFC 9293 §3.3.2). */
export const CHANNEL_CONNECTION_STATE = 'tcp-tun:connection:state';
/** Channel name: a segment was retransmitted (fast retransmit, RTO, tail loss probe of old data, SYN). */
export const CHANNEL_CONNECTION_RETRANSMIT = 'tcp-tun:connection:retransmit';
/** Channel name: a connection's retransmission timer expired (RFC 6298 §5.4–5.7). */
export const CHANNEL_CONNECTION_RTO = 'tcp-tun:connection:rto';
/** Channel name: a connection left the stack's table (CLOSED, or handed to a TIME-WAIT record). */
export const CHANNEL_CONNECTION_CLOSE = 'tcp-tun:connection:close';
/** Channel name: an inbound packet (or an open) was dropped; the message carries the reason. */
export const CHANNEL_DROP = 'tcp-tun:drop';

/** Identifies a connection in every connection message. */
export interface ConnectionMessageBase {
  /** The stack that publishes (a `Stack`; typed loosely to keep this module free of it). */
  stack: object;
  /** Our address, dotted quad. */
  localAddress: string;
  /** Our port. */
  localPort: number;
  /** The peer's address, dotted quad. */
  remoteAddress: string;
  /** The peer's port. */
  remotePort: number;
}

/** Message of {@link CHANNEL_CONNECTION_OPEN}. */
export interface ConnectionOpenMessage extends ConnectionMessageBase {
  /** State at entry: SYN-SENT for an active open, SYN-RECEIVED (or ESTABLISHED from a SYN cookie) for a passive one. */
  state: TcpState;
  /** Born from a listener (true) or opened by `connect` (false). */
  passive: boolean;
}

/** Message of {@link CHANNEL_CONNECTION_STATE}. */
export interface ConnectionStateMessage extends ConnectionMessageBase {
  /** The state left. */
  from: TcpState;
  /** The state entered. */
  to: TcpState;
}

/** Message of {@link CHANNEL_CONNECTION_RETRANSMIT}: one per resent segment. */
export interface ConnectionRetransmitMessage extends ConnectionMessageBase {
  /** Sequence number of the resent segment. */
  seq: number;
  /** Its payload length in octets (0 for a SYN or a bare FIN). */
  length: number;
  /** The connection's retransmission count after this one (`TcpInfo.retransmits`). */
  retransmits: number;
}

/** Message of {@link CHANNEL_CONNECTION_RTO}: one per timer expiry. */
export interface ConnectionRtoMessage extends ConnectionMessageBase {
  /** The connection's RTO count after this one (`TcpInfo.rtoCount`). */
  rtoCount: number;
  /** The backed-off timeout now armed, in ms (`TcpInfo.rtoMs`). */
  rtoMs: number;
}

/** Message of {@link CHANNEL_CONNECTION_CLOSE}. */
export interface ConnectionCloseMessage extends ConnectionMessageBase {
  /** The engine's final state: CLOSED (after a TIME-WAIT handoff too). */
  state: TcpState;
  /** The connection ended in TIME-WAIT: a compact record now answers for its 4-tuple (`stats().timeWait`). */
  timeWait: boolean;
  /** The connection's last counters. */
  info: TcpInfo;
}

/** Message of {@link CHANNEL_DROP}. */
export interface DropMessage {
  /** The stack that dropped. */
  stack: object;
  /** The reason, as counted in `stack.stats().drops` (e.g. `tcp-bad-checksum`, `no-socket`). */
  reason: string;
}

// Module-level references keep the channels (and so their subscribers) alive: Node < 20
// held channels weakly.
const openChannel = diagnosticsChannel.channel(CHANNEL_CONNECTION_OPEN);
const stateChannel = diagnosticsChannel.channel(CHANNEL_CONNECTION_STATE);
const retransmitChannel = diagnosticsChannel.channel(CHANNEL_CONNECTION_RETRANSMIT);
const rtoChannel = diagnosticsChannel.channel(CHANNEL_CONNECTION_RTO);
const closeChannel = diagnosticsChannel.channel(CHANNEL_CONNECTION_CLOSE);
const dropChannel = diagnosticsChannel.channel(CHANNEL_DROP);

/** The addresses come from the entry (IPv4 dotted quad or RFC 5952 text); `_local` is kept for the callers' shape. */
function base(stack: object, _local: string | undefined, e: ConnectionEntry): ConnectionMessageBase {
  return { stack, localAddress: ipAddressToString(e.localAddr), localPort: e.localPort, remoteAddress: ipAddressToString(e.remoteAddr), remotePort: e.remotePort };
}

/**
 * The stack's publishers. Each returns at once when its channel has no subscriber.
 * @internal
 */
export const diag = {
  /** Whether per-segment retransmission messages are wanted (the stack then polls segment by segment). */
  get retransmitWanted(): boolean {
    return retransmitChannel.hasSubscribers;
  },
  /** Whether RTO messages are wanted. */
  get rtoWanted(): boolean {
    return rtoChannel.hasSubscribers;
  },
  open(stack: object, localAddress: string | undefined, e: ConnectionEntry): void {
    if (!openChannel.hasSubscribers) return;
    const m: ConnectionOpenMessage = { ...base(stack, localAddress, e), state: e.conn.state, passive: e.listener !== undefined };
    openChannel.publish(m);
  },
  state(stack: object, localAddress: string | undefined, e: ConnectionEntry, from: TcpState, to: TcpState): void {
    if (!stateChannel.hasSubscribers) return;
    const m: ConnectionStateMessage = { ...base(stack, localAddress, e), from, to };
    stateChannel.publish(m);
  },
  /** `state` from a connection's endpoints (the engine's shared hook has no entry). */
  stateOf(stack: object, localAddr: IpAddress, localPort: number, remoteAddr: IpAddress, remotePort: number, from: TcpState, to: TcpState): void {
    if (!stateChannel.hasSubscribers) return;
    const m: ConnectionStateMessage = { stack, localAddress: ipAddressToString(localAddr), localPort, remoteAddress: ipAddressToString(remoteAddr), remotePort, from, to };
    stateChannel.publish(m);
  },
  retransmit(stack: object, localAddress: string | undefined, e: ConnectionEntry, seq: number, length: number): void {
    if (!retransmitChannel.hasSubscribers) return;
    const m: ConnectionRetransmitMessage = { ...base(stack, localAddress, e), seq, length, retransmits: e.conn.counters.retransmits };
    retransmitChannel.publish(m);
  },
  rto(stack: object, localAddress: string | undefined, e: ConnectionEntry): void {
    if (!rtoChannel.hasSubscribers) return;
    const m: ConnectionRtoMessage = { ...base(stack, localAddress, e), rtoCount: e.conn.counters.rtoCount, rtoMs: e.conn.stats.rtoMs };
    rtoChannel.publish(m);
  },
  close(stack: object, localAddress: string | undefined, e: ConnectionEntry): void {
    if (!closeChannel.hasSubscribers) return;
    const m: ConnectionCloseMessage = { ...base(stack, localAddress, e), state: e.conn.state, timeWait: e.timeWait, info: tcpInfoOf(e.conn) };
    closeChannel.publish(m);
  },
  drop(stack: object, reason: string): void {
    if (!dropChannel.hasSubscribers) return;
    const m: DropMessage = { stack, reason };
    dropChannel.publish(m);
  },
};
