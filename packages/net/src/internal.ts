/**
 * The stack's records of one connection and of one listening port. Private to the stack's files
 * (stack.ts, drain.ts, listeners.ts, ...) and handle.ts: the socket layer sees connections only
 * through a `ConnectionHandle`.
 */
import type { TcpConnection, TcpListener } from '@tcp-tun/tcp';
import type { HeapItem } from './deadline-heap.js';
import type { HandleOwner, ListenerOwner } from './handle.js';

/** The stack's record of one connection: table key, timer position, owner. */
export interface ConnectionEntry extends HeapItem {
  readonly conn: TcpConnection;
  readonly remoteAddr: number;
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
  readonly listener: TcpListener;
  readonly owner: ListenerOwner;
  /** Connections born from this listener and not yet handed to the owner. */
  readonly embryos: Map<TcpConnection, ConnectionEntry>;
  closed: boolean;
}
