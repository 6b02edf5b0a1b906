/**
 * The private state of one {@link Socket} and the small helpers every part of the socket layer
 * shares (the process-lifetime hold, Node's idle timer, `connecting`). The state is one object
 * made with every field in its constructor (one stable V8 shape); `Socket` holds it in a
 * private field and hands it to the functions of socket-attempts.ts, socket-io.ts and
 * socket-lifecycle.ts, so those parts work on the socket without public members for it.
 */
import type { ConnectionHandle, StackPort } from './handle.js';
import type { SystemError } from './errors.js';
import type { Server } from './server.js';
import type { Socket } from './socket.js';
import type { AddressInfo } from './socket-args.js';
import { handleEnds } from './socket-address.js';
import type { Attempts } from './socket-connect.js';

/** A write (one chunk or a `_writev` batch) being handed to the engine. */
export interface PendingWrite {
  readonly chunks: readonly Uint8Array[];
  index: number;
  offset: number;
  readonly callback: (error?: Error | null) => void;
  /** Written while connecting (fails with ERR_SOCKET_CLOSED_BEFORE_CONNECTION, as Node's). */
  readonly beforeConnect: boolean;
}

/** The members of Node's Socket (and Duplex) the socket layer uses that @types/node does not declare. */
export interface NodeSocketInternals {
  _unrefTimer(): void;
  _undestroy(): void;
  _peername: AddressInfo | null;
  _sockname: AddressInfo | null;
}

/** Node's `onread` option: a buffer (or its factory) and the callback that gets the data. */
export interface OnRead {
  readonly buffer: Uint8Array | (() => Uint8Array);
  readonly callback: (n: number, buf: Uint8Array) => boolean | void;
}

/** Everything a Socket keeps besides what Node's own Socket keeps. */
export class SocketState {
  /** The server that accepted the socket (Node's `_server`; `socket.server` may be overwritten). */
  server: Server | undefined = undefined;
  port: StackPort | undefined = undefined;
  handle: ConnectionHandle | undefined = undefined;
  connected = false;
  /**
   * The peer's and our address as Node reports them. An active open sets `peer` before it
   * connects (errors name it); otherwise both are built from the handle on first read
   * (`peerOf`, `localOf`): an idle connection keeps no objects or strings for them (bench/PROFILE.md
   * round 5).
   */
  peer: AddressInfo | undefined = undefined;
  local: AddressInfo | undefined = undefined;
  /** The connection belongs to an AF_INET6 socket: IPv4 ends read as `::ffff:a.b.c.d` (see `handleEnds`). */
  dual = false;
  wantRead = false;
  pulling = false;
  peerEnded = false;
  pushedEof = false;
  pendingWrite: PendingWrite | undefined = undefined;
  pendingFinal: ((error?: Error | null) => void) | undefined = undefined;
  bytesRead = 0;
  bytesDispatched = 0;
  pendingAccepted = 0;
  refed = true;
  holding = false;
  /** Set by setNoDelay(); undefined keeps the engine's configured default. */
  noDelay: boolean | undefined = undefined;
  keepAlive = false;
  keepAliveInitialDelayMs = 0;
  keepAliveSet = false;
  /** Set by setUserTimeout(); undefined keeps the stack's `tcp.userTimeoutMs`. */
  userTimeoutMs: number | undefined = undefined;
  hadError = false;
  /** A reset that arrived while nobody was reading; surfaces on the next read or write. */
  deferredReset: SystemError | undefined = undefined;
  onread: OnRead | undefined = undefined;
  onreadStopped = false;
  /** The addresses of an autoSelectFamily connect still to try, and the errors so far. */
  attempts: Attempts | undefined = undefined;
  /**
   * False between an active open's 'connect' and its first read from the event loop: what
   * arrived meanwhile waits in the engine (libuv's first read comes after the requests, such
   * as a shutdown, that the program made in 'connect').
   */
  readOpen = true;
}

/**
 * Whether the socket keeps the process alive, as libuv decides for Node's: a ref'd open
 * socket, and (ref'd or not) a pending connect or write (an active request).
 */
export function updateHold(socket: Socket, s: SocketState): void {
  const open = s.handle !== undefined && !socket.destroyed;
  const want = !socket.destroyed && ((open && s.refed) || socket.connecting || s.pendingWrite !== undefined);
  if (want === s.holding) return;
  s.holding = want;
  s.port?.hold(want ? 1 : -1);
}

/** Restarts Node's idle timer (`setTimeout`): activity on the socket. */
export function unrefTimer(socket: Socket): void {
  (socket as unknown as NodeSocketInternals)._unrefTimer();
}

/** Sets Node's `connecting` (read-only in @types/node) and updates the hold. */
export function setConnecting(socket: Socket, s: SocketState, on: boolean): void {
  (socket as { connecting: boolean }).connecting = on;
  updateHold(socket, s);
}

/** Applies the keep-alive setting, if one was made, to the connection. */
export function applyKeepAlive(s: SocketState): void {
  if (!s.keepAliveSet) return;
  const delay = s.keepAliveInitialDelayMs;
  s.handle?.setKeepAlive(s.keepAlive, delay > 0 ? delay : undefined);
}

/** The peer's address (built from the handle on first read, then kept, as Node keeps `_peername`). */
export function peerOf(s: SocketState): AddressInfo | undefined {
  const h = s.handle;
  if (s.peer === undefined && h !== undefined) {
    const ends = handleEnds(h, s.dual);
    s.peer = { address: ends.remote, family: ends.family, port: h.remotePort };
  }
  return s.peer;
}

/** Our address (built from the handle on first read, then kept, as Node keeps `_sockname`). */
export function localOf(s: SocketState): AddressInfo | undefined {
  const h = s.handle;
  if (s.local === undefined && h !== undefined) {
    const ends = handleEnds(h, s.dual);
    s.local = { address: ends.local, family: ends.family, port: h.localPort };
  }
  return s.local;
}
