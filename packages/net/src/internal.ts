/**
 * The stack's records of one connection and of one listening port. Private to the stack's files
 * (stack.ts, drain.ts, listeners.ts, ...) and handle.ts: the socket layer sees connections only
 * through a `ConnectionHandle`.
 */
import type { Endpoint, IpAddress, TcpConnection, TcpListener } from '@tcp-tun/tcp';
import type { HeapItem } from './deadline-heap.js';
import type { HandleOwner, ListenerOwner } from './handle.js';

/** The stack's record of one connection: table key, timer position, owner. */
export interface ConnectionEntry extends HeapItem {
  readonly conn: TcpConnection<IpAddress>;
  /** The peer: an IPv4 number or IPv6 octets (the same object for the connection's life). */
  readonly remoteAddr: IpAddress;
  /** Our address on this connection (IPv4 number, our IPv6 address or `::1`). */
  readonly localAddr: IpAddress;
  /** The IP family of the connection. */
  readonly family: 4 | 6;
  readonly remotePort: number;
  readonly localPort: number;
  /** The socket the events go to; undefined before accept() and after the socket is destroyed. */
  owner: HandleOwner | undefined;
  /** Set while the connection is embryonic or queued for accept on this listener. */
  listener: ListenerEntry | undefined;
  /** The socket let go of the connection (destroyed while it closes gracefully). */
  orphan: boolean;
  /** Queued for a drain. */
  touched: boolean;
  /** Reached CLOSED and left every table. */
  removed: boolean;
  /** Handed to a TIME-WAIT record (set just before it leaves the table). */
  timeWait: boolean;
}

/** The stack's record of one listening port. */
export interface ListenerEntry {
  readonly port: number;
  readonly listener: TcpListener<IpAddress>;
  /** The families it takes: IPv4 (`0.0.0.0`, our IPv4 address, `::` without ipv6Only) and/or IPv6. */
  readonly v4: boolean;
  readonly v6: boolean;
  /** The host it was asked to listen on, as given. */
  readonly host: string;
  readonly owner: ListenerOwner;
  /** Connections born from this listener and not yet handed to the owner. */
  readonly embryos: Map<TcpConnection<IpAddress>, ConnectionEntry>;
  closed: boolean;
  /**
   * The local endpoint its latest IPv4 / IPv6 connection got, shared by the next ones with the
   * same address (endpoints are immutable): one object per listener and address, not one per
   * connection (40 B each, bench/PROFILE.md round 4).
   */
  localEnd4: Endpoint<IpAddress> | undefined;
  localEnd6: Endpoint<IpAddress> | undefined;
}
