/**
 * Types shared by the stack and the socket layer, not part of the public API: the stack's
 * record of one connection and of one listening port, and the callbacks through which the
 * stack hands engine events to the socket or server that owns them.
 */
import type { TcpConnection, TcpEvent, TcpListener } from '@tcp-tun/tcp';
import type { HeapItem } from './deadline-heap.js';

/** Receives the engine events of one connection (a `Socket`). */
export interface ConnectionOwner {
  onTcpEvent(event: TcpEvent): void;
}

/** Receives the connections a listener accepted (a `Server`). */
export interface ListenerOwner {
  onConnection(entry: ConnectionEntry): void;
  /** The stack closed, and the listener with it. */
  onListenerClosed(): void;
}

/** The stack's record of one connection: table key, timer position, owner. */
export interface ConnectionEntry extends HeapItem {
  readonly conn: TcpConnection;
  readonly remoteAddr: number;
  readonly remotePort: number;
  readonly localPort: number;
  /** The socket the events go to; undefined before accept() and after the socket is destroyed. */
  owner: ConnectionOwner | undefined;
  /** Set while the connection is embryonic or queued for accept on this listener. */
  listener: ListenerEntry | undefined;
  /** The socket let go of the connection (destroyed while it closes gracefully). */
  orphan: boolean;
  /** Queued for a drain. */
  touched: boolean;
  /** Reached CLOSED and left every table. */
  removed: boolean;
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
