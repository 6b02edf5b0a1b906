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

// The bits of `SocketState.#flags`: thirteen booleans in one Smi field instead of thirteen
// fields (8 octets each in every socket: ~100 octets of an idle connection, bench/PROFILE.md
// round 6), read and written through accessors so the rest of the socket layer sees fields.
const CONNECTED = 1 << 0;
const DUAL = 1 << 1;
const WANT_READ = 1 << 2;
const PULLING = 1 << 3;
const PEER_ENDED = 1 << 4;
const PUSHED_EOF = 1 << 5;
const REFED = 1 << 6;
const HOLDING = 1 << 7;
const KEEP_ALIVE = 1 << 8;
const KEEP_ALIVE_SET = 1 << 9;
const HAD_ERROR = 1 << 10;
const ONREAD_STOPPED = 1 << 11;
const READ_OPEN = 1 << 12;
const NO_DELAY_SET = 1 << 13;
const NO_DELAY = 1 << 14;

/**
 * Everything a Socket keeps besides what Node's own Socket keeps. The booleans share one
 * integer field behind accessors (which V8 inlines); every field is made in the constructor
 * (one stable V8 shape).
 */
export class SocketState {
  /** The server that accepted the socket (Node's `_server`; `socket.server` may be overwritten). */
  server: Server | undefined = undefined;
  port: StackPort | undefined = undefined;
  handle: ConnectionHandle | undefined = undefined;
  /**
   * The peer's and our address as Node reports them. An active open sets `peer` before it
   * connects (errors name it); otherwise both are built from the handle on first read
   * (`peerOf`, `localOf`): an idle connection keeps no objects or strings for them (bench/PROFILE.md
   * round 5).
   */
  peer: AddressInfo | undefined = undefined;
  local: AddressInfo | undefined = undefined;
  pendingWrite: PendingWrite | undefined = undefined;
  pendingFinal: ((error?: Error | null) => void) | undefined = undefined;
  bytesRead = 0;
  bytesDispatched = 0;
  pendingAccepted = 0;
  keepAliveInitialDelayMs = 0;
  /** Set by setUserTimeout(); undefined keeps the stack's `tcp.userTimeoutMs`. */
  userTimeoutMs: number | undefined = undefined;
  /** A reset that arrived while nobody was reading; surfaces on the next read or write. */
  deferredReset: SystemError | undefined = undefined;
  onread: OnRead | undefined = undefined;
  /** The addresses of an autoSelectFamily connect still to try, and the errors so far. */
  attempts: Attempts | undefined = undefined;
  /** The booleans below; refed and readOpen start true. */
  #flags = REFED | READ_OPEN;

  #get(bit: number): boolean {
    return (this.#flags & bit) !== 0;
  }

  #set(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }

  get connected(): boolean {
    return this.#get(CONNECTED);
  }
  set connected(on: boolean) {
    this.#set(CONNECTED, on);
  }
  /** The connection belongs to an AF_INET6 socket: IPv4 ends read as `::ffff:a.b.c.d` (see `handleEnds`). */
  get dual(): boolean {
    return this.#get(DUAL);
  }
  set dual(on: boolean) {
    this.#set(DUAL, on);
  }
  get wantRead(): boolean {
    return this.#get(WANT_READ);
  }
  set wantRead(on: boolean) {
    this.#set(WANT_READ, on);
  }
  get pulling(): boolean {
    return this.#get(PULLING);
  }
  set pulling(on: boolean) {
    this.#set(PULLING, on);
  }
  get peerEnded(): boolean {
    return this.#get(PEER_ENDED);
  }
  set peerEnded(on: boolean) {
    this.#set(PEER_ENDED, on);
  }
  get pushedEof(): boolean {
    return this.#get(PUSHED_EOF);
  }
  set pushedEof(on: boolean) {
    this.#set(PUSHED_EOF, on);
  }
  get refed(): boolean {
    return this.#get(REFED);
  }
  set refed(on: boolean) {
    this.#set(REFED, on);
  }
  get holding(): boolean {
    return this.#get(HOLDING);
  }
  set holding(on: boolean) {
    this.#set(HOLDING, on);
  }
  /** Set by setNoDelay(); undefined keeps the engine's configured default. */
  get noDelay(): boolean | undefined {
    return this.#get(NO_DELAY_SET) ? this.#get(NO_DELAY) : undefined;
  }
  set noDelay(on: boolean | undefined) {
    this.#set(NO_DELAY_SET, on !== undefined);
    this.#set(NO_DELAY, on === true);
  }
  get keepAlive(): boolean {
    return this.#get(KEEP_ALIVE);
  }
  set keepAlive(on: boolean) {
    this.#set(KEEP_ALIVE, on);
  }
  get keepAliveSet(): boolean {
    return this.#get(KEEP_ALIVE_SET);
  }
  set keepAliveSet(on: boolean) {
    this.#set(KEEP_ALIVE_SET, on);
  }
  get hadError(): boolean {
    return this.#get(HAD_ERROR);
  }
  set hadError(on: boolean) {
    this.#set(HAD_ERROR, on);
  }
  get onreadStopped(): boolean {
    return this.#get(ONREAD_STOPPED);
  }
  set onreadStopped(on: boolean) {
    this.#set(ONREAD_STOPPED, on);
  }
  /**
   * False between an active open's 'connect' and its first read from the event loop: what
   * arrived meanwhile waits in the engine (libuv's first read comes after the requests, such
   * as a shutdown, that the program made in 'connect').
   */
  get readOpen(): boolean {
    return this.#get(READ_OPEN);
  }
  set readOpen(on: boolean) {
    this.#set(READ_OPEN, on);
  }
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
