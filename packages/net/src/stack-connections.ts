/**
 * The life cycle of the stack's connections, apart from the receive pipeline that leads to it:
 *
 * - the active open: our address of the remote's family, the local port chosen (RFC 6056) or
 *   checked, the SYN-SENT connection;
 * - the passive side: a segment that matches no connection goes to a TIME-WAIT record, or the
 *   listener of its port and family, or gets a RST (RFC 9293 §3.10.7.1); connections a
 *   listener completed are handed to its server;
 * - the table's entries: added, engine events dispatched (listener, socket or orphan), released
 *   by their socket, handed to a TIME-WAIT record, removed.
 *
 * These functions reach the stack's parts through {@link OpenContext}, made once by the stack.
 */
import { debuglog } from 'node:util';
import { IPV6_LOOPBACK, ipv6Equals, isIpv4Mapped, isIpv6Loopback, isIpv6Multicast, isIpv6Unspecified, type Ipv6Address } from '@tcp-tun/ip';
import { TcpConnection, resetFor, type Endpoint, type Instant, type IpAddress, type StateChangeHook, type TcpConfig, type TcpEvent, type TcpRepr, type TimeWaitRecord } from '@tcp-tun/tcp';
import type { ConnectionTable } from './connection-table.js';
import type { DeadlineHeap } from './deadline-heap.js';
import { diag } from './diagnostics.js';
import type { Drain } from './drain.js';
import { SystemError } from './errors.js';
import { ConnectionHandle, type HandleDriver } from './handle.js';
import type { ConnectionEntry, ListenerEntry } from './internal.js';
import type { ListenerTable } from './listeners.js';
import type { StackSecrets } from './secrets.js';
import type { StackEgress } from './stack-egress.js';
import { endpointToString, ipAddressToString, type StackCounters } from './stack-stats.js';
import type { TimeWaitTable } from './time-wait-table.js';

const debug = debuglog('tcp-tun');

/** The parts of a stack its connections' life cycle reaches (the stack's own objects, not copies). */
export interface OpenContext {
  readonly addressNumber: number | undefined;
  readonly address6Bytes: Ipv6Address | undefined;
  readonly tcpConfig: TcpConfig;
  readonly maxConnections: number;
  readonly secrets: StackSecrets;
  readonly table: ConnectionTable<ConnectionEntry>;
  readonly timeWait: TimeWaitTable;
  readonly listeners: ListenerTable;
  readonly counters: StackCounters;
  readonly egress: StackEgress;
  readonly drain: Drain;
  readonly driver: HandleDriver;
  readonly heap: DeadlineHeap<ConnectionEntry>;
  /** The stack, as the diagnostics channel names it. */
  readonly stack: object;
  /** The stack's IPv4 address text, as the diagnostics channel reports it. */
  readonly address: string | undefined;
  /** The state-change hook every connection of the stack shares (it tells the diagnostics channel). */
  readonly onStateChange: StateChangeHook;
  /** Counts a dropped segment (or refused open) under `reason`. */
  drop(reason: string): void;
  /** Whether the stack's close() has finished its linger. */
  closed(): boolean;
  /** The stack's clock. */
  now(): Instant;
}

/**
 * A new active-open connection to `remoteAddress_:remotePort` (SYN-SENT; not yet in the table).
 * @throws SystemError ENETUNREACH (no address of that family, or not a unicast peer),
 * EADDRINUSE (explicit local port taken), EADDRNOTAVAIL (no free port), ENOBUFS (table full).
 */
export function activeOpen(ctx: OpenContext, now: Instant, remoteAddress_: IpAddress, remotePort: number, localPort: number | undefined, config: Partial<TcpConfig> | undefined): TcpConnection<IpAddress> {
  const remoteAddress = ipAddressToString(remoteAddress_);
  // Our address is the stack's one of the remote's family; IPv6 `::1` talks to itself.
  let localAddr: IpAddress;
  let remoteAddr: IpAddress;
  if (typeof remoteAddress_ === 'number') {
    if (ctx.addressNumber === undefined) throw new SystemError('ENETUNREACH', 'connect', remoteAddress, remotePort);
    localAddr = ctx.addressNumber;
    remoteAddr = remoteAddress_;
  } else {
    // RFC 4291: no connection to `::`, multicast or IPv4-mapped (the socket layer turns
    // `::ffff:a.b.c.d` into the IPv4 number before it gets here).
    const a = remoteAddress_;
    if (ctx.address6Bytes === undefined || a.length !== 16 || isIpv6Unspecified(a) || isIpv6Multicast(a) || isIpv4Mapped(a)) {
      throw new SystemError('ENETUNREACH', 'connect', remoteAddress, remotePort);
    }
    // A copy of the caller's octets, or the one the peer's other connections share.
    remoteAddr = isIpv6Loopback(a) ? IPV6_LOOPBACK : ipv6Equals(a, ctx.address6Bytes) ? ctx.address6Bytes : (ctx.table.remoteAddress6(a) ?? a.slice());
    localAddr = remoteAddr === IPV6_LOOPBACK ? IPV6_LOOPBACK : ctx.address6Bytes;
  }
  let port = localPort;
  if (port === undefined || port === 0) {
    port = ctx.secrets.ports.choose(localAddr, remoteAddr, remotePort, (p) => !ctx.table.has(remoteAddr, remotePort, p) && !ctx.timeWait.has(remoteAddr, remotePort, p) && !ctx.listeners.has(p));
    if (port === undefined) throw new SystemError('EADDRNOTAVAIL', 'connect', remoteAddress, remotePort);
  } else if (ctx.table.has(remoteAddr, remotePort, port)) {
    throw new SystemError('EADDRINUSE', 'connect', remoteAddress, remotePort);
  }
  if (ctx.table.size >= ctx.maxConnections) {
    ctx.drop('max-connections');
    throw new SystemError('ENOBUFS', 'connect', remoteAddress, remotePort);
  }
  const local: Endpoint<IpAddress> = { addr: localAddr, port };
  const remote: Endpoint<IpAddress> = { addr: remoteAddr, port: remotePort };
  return TcpConnection.connect<IpAddress>(now, {
    local,
    remote,
    iss: ctx.secrets.isn.isn(now, local, remote),
    tsOffset: ctx.secrets.isn.tsOffset(local, remote),
    config: config === undefined ? ctx.tcpConfig : { ...ctx.tcpConfig, ...config },
  });
}

/**
 * A segment from `src` to `local` that matches no connection: a TIME-WAIT record, the listener
 * of its port and family, or a RST (RFC 9293 §3.10.7.1). `data` is its payload; an IPv6 `src`
 * is the parse target's (what is kept gets a copy).
 */
export function receiveUnmatched(ctx: OpenContext, now: Instant, src: IpAddress, local: IpAddress, repr: TcpRepr, data: Uint8Array): void {
  const family = typeof src === 'number' ? 4 : 6;
  if (ctx.timeWait.size > 0) {
    // A 4-tuple in TIME-WAIT answers through its record; a SYN it lets reopen goes on to the
    // listener below (RFC 6191).
    const answer = ctx.timeWait.handleSegment(now, src, repr, data.length, ctx.listeners.has(repr.dstPort, family));
    if (answer !== undefined && answer.kind !== 'reuse') {
      if (answer.kind === 'reply') ctx.egress.sendTcp(src, answer.transmit);
      return;
    }
  }
  // Only segments that match no connection look for a listener.
  const l = ctx.listeners.get(repr.dstPort, family);
  if (l !== undefined) {
    if (ctx.table.size >= ctx.maxConnections && repr.control !== 'rst') {
      // The table is full: drop whatever could open a connection (a SYN, or the ACK that
      // completes a SYN-cookie handshake); the peer retries, as with a full backlog.
      ctx.drop('max-connections');
      return;
    }
    const localEnd = listenerLocalEnd(l, local);
    // `src` is the parse target's: an IPv6 peer's address is copied, or shared with its other
    // connections (one copy per peer, not per connection: bench/PROFILE.md round 6).
    const remote: Endpoint<IpAddress> = { addr: typeof src === 'number' ? src : (ctx.table.remoteAddress6(src) ?? src.slice()), port: repr.srcPort };
    const result = l.listener.handleSegment(now, localEnd, remote, repr, data);
    switch (result.kind) {
      case 'connection': {
        const e = addEntry(ctx, result.connection, l);
        l.embryos.set(result.connection, e);
        ctx.drain.schedule(e);
        break;
      }
      case 'reply':
        ctx.egress.sendTcp(src, result.transmit);
        break;
      case 'drop':
        ctx.drop(`listen-${result.reason}`);
        break;
    }
    return;
  }
  // RFC 9293 §3.10.7.1: a segment for a CLOSED port gets a RST unless it is one.
  ctx.drop('no-socket');
  const rst = resetFor(repr, data.length);
  if (rst !== undefined) {
    ctx.counters.resetsSent++;
    ctx.egress.sendTcp(src, { repr: rst, payload: new Uint8Array(0) });
  }
}

/** Hands every connection listener `l` completed to its server (`onConnection`). */
export function acceptAll(ctx: OpenContext, l: ListenerEntry): void {
  for (let conn = l.listener.accept(); conn !== undefined; conn = l.listener.accept()) {
    const e = l.embryos.get(conn);
    if (e === undefined) continue;
    l.embryos.delete(conn);
    e.listener = undefined;
    ctx.counters.connectionsAccepted++;
    try {
      l.owner.onConnection(new ConnectionHandle(e, ctx.driver));
    } catch (err) {
      ctx.drain.defer(err);
    }
    // Nobody took it (and the server did not close it either): reset, as a listener would.
    if (e.owner === undefined && !e.removed && !e.orphan) releaseEntry(ctx, e, false);
  }
}

/**
 * The socket let go of `entry` (it was destroyed). A graceful release leaves the connection
 * to finish its close (our FIN is queued); otherwise it is aborted (RST).
 */
export function releaseEntry(ctx: OpenContext, entry: ConnectionEntry, graceful: boolean): void {
  entry.owner = undefined;
  if (entry.removed) return;
  entry.orphan = true;
  // What the connection already had to send (the ACK of the handshake the socket was just
  // told about) leaves before the RST, as from a kernel that sent it before the program ran.
  if (!graceful && !ctx.closed()) ctx.drain.transmitNow(entry, ctx.now());
  if (!graceful) entry.conn.abort();
  else entry.conn.orphan(ctx.now());
  ctx.drain.schedule(entry);
}

/** An engine event of `entry`: to the listener of an embryonic connection, to its socket, or (orphaned) handled here. */
export function dispatch(ctx: OpenContext, entry: ConnectionEntry, ev: TcpEvent): void {
  if (debug.enabled) debug('%s %s %s', endpointToString(entry.remoteAddr, entry.remotePort), entry.conn.state, ev.type);
  const l = entry.listener;
  if (l !== undefined) {
    // Embryonic: the listener learns of it; other events wait for the socket, which reads
    // the connection's state when it attaches.
    if (ev.type === 'connected') {
      l.listener.established(entry.conn);
      acceptAll(ctx, l);
    } else if (ev.type === 'closed') {
      l.embryos.delete(entry.conn);
      l.listener.release(entry.conn);
      entry.listener = undefined;
    }
    return;
  }
  const owner = entry.owner;
  if (owner !== undefined) {
    try {
      owner.onTcpEvent(ev);
    } catch (err) {
      ctx.drain.defer(err);
    }
    return;
  }
  // Orphaned (its socket is gone) and new data arrives: nobody will read it, so reset the
  // connection, as Linux does for data that reaches a closed socket.
  if (entry.orphan && ev.type === 'readable' && entry.conn.readableLength > 0) entry.conn.abort();
}

/**
 * The local endpoint for a connection of listener `l` to our address `local`: the listener's
 * shared one when the address is the same (an IPv6 one is kept as one copy of its own).
 */
function listenerLocalEnd(l: ListenerEntry, local: IpAddress): Endpoint<IpAddress> {
  if (typeof local === 'number') {
    const e = l.localEnd4;
    if (e !== undefined && e.addr === local) return e;
    return (l.localEnd4 = { addr: local, port: l.port });
  }
  const e = l.localEnd6;
  if (e !== undefined && ipv6Equals(e.addr as Ipv6Address, local)) return e;
  return (l.localEnd6 = { addr: local.slice(), port: l.port });
}

/** Puts `conn` in the table (embryonic while `listener` is given) and tells the diagnostics channel. */
export function addEntry(ctx: OpenContext, conn: TcpConnection<IpAddress>, listener: ListenerEntry | undefined): ConnectionEntry {
  const entry: ConnectionEntry = {
    conn,
    remoteAddr: conn.remote.addr,
    localAddr: conn.local.addr,
    family: typeof conn.remote.addr === 'number' ? 4 : 6,
    remotePort: conn.remote.port,
    localPort: conn.local.port,
    owner: undefined,
    listener,
    orphan: false,
    touched: false,
    removed: false,
    timeWait: false,
    deadline: 0,
    heapIndex: -1,
  };
  ctx.table.set(entry.remoteAddr, entry.remotePort, entry.localPort, entry);
  // One hook per stack, shared by its connections (a closure each cost ~100 B, bench/PROFILE.md
  // round 4); it builds a message only when someone subscribed.
  conn.onStateChange = ctx.onStateChange;
  diag.open(ctx.stack, ctx.address, entry);
  return entry;
}

/** Takes `entry` out of the table, the deadline heap and its listener, for good. */
export function removeEntry(ctx: OpenContext, entry: ConnectionEntry): void {
  if (entry.removed) return;
  entry.removed = true;
  ctx.table.delete(entry.remoteAddr, entry.remotePort, entry.localPort);
  ctx.heap.remove(entry);
  const l = entry.listener;
  if (l !== undefined) {
    l.embryos.delete(entry.conn);
    l.listener.release(entry.conn);
    entry.listener = undefined;
  }
  diag.close(ctx.stack, ctx.address, entry);
  if (debug.enabled) debug('%s removed', endpointToString(entry.remoteAddr, entry.remotePort));
}

/**
 * A TIME-WAIT record takes over the 4-tuple (answering retransmitted FINs, RSTs and new SYNs,
 * RFC 9293 §3.10.7.4, RFC 6191) and the connection leaves the table (the drain decided when).
 */
export function enterTimeWait(ctx: OpenContext, entry: ConnectionEntry, record: TimeWaitRecord): void {
  removeEntry(ctx, entry);
  ctx.timeWait.add(entry.remoteAddr, record);
}

