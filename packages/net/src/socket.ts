/**
 * `Socket`: a TCP connection of the stack. It IS a `node:net` `Socket` (a subclass), so it
 * type-checks and passes `instanceof net.Socket` wherever Node expects one (`http.Agent`'s
 * `createConnection`, `tls.connect({ socket })`, undici's `connect`). Node's own Socket is
 * driven by its `_handle` (a kernel TCP socket); ours keeps `_handle` null and overrides every
 * method that would touch it, driving a {@link ConnectionHandle} of the stack instead. What does
 * not touch the handle stays Node's own code: the constructor's option handling (`signal`,
 * `onread`, `noDelay`, `keepAlive`, `allowHalfOpen`), `setTimeout` and its validation,
 * `readyState`, `destroySoon`, `end`, and what happens after the peer's FIN.
 *
 * - `_write`/`_writev` → `handle.send()`. The callback runs once EVERY byte was accepted into
 *   the engine's send buffer (as Node's runs once the kernel took them); while the buffer is
 *   full the rest waits for the engine's 'writable' event: real backpressure and 'drain'.
 * - `_read` → `handle.readInto()` and `push()`; when `push()` returns false we stop taking
 *   bytes, the engine's receive buffer fills and the advertised window closes.
 * - The peer's FIN → `push(null)` and `read(0)` (Node's onStreamRead), so 'end' is emitted even
 *   without a reader when the buffer is empty; with `allowHalfOpen: false` Duplex then ends our
 *   side.
 * - `_final` → `handle.shutdown()` (our FIN after the queued data); 'finish' follows at once,
 *   as Node's afterShutdown does.
 * - `_destroy` → `handle.close()`: the kernel's close(). Accepted bytes are still delivered and
 *   followed by our FIN; a RST only when received data is discarded unread (RFC 1122
 *   §4.2.2.13, as Linux) or for `resetAndDestroy()` (`handle.abort()`).
 *
 * The parts: the private state is one `SocketState` (socket-state.ts) handed to module
 * functions: socket-attempts.ts (connecting to an address, autoSelectFamily attempts),
 * socket-io.ts (read and write paths), socket-lifecycle.ts (connected, errors, closed, reset).
 */
import net from 'node:net';
import type { TcpEvent, TcpState } from '@tcp-tun/tcp';
import { argumentError, describe } from './errors.js';
import { checkConnectOptions, resolveAll, resolveDefault, resolveOne, type ConnectTarget } from './socket-connect.js';
import { attach, endAttempts, failAlready, openAddress, resolveHooks } from './socket-attempts.js';
import { finish, flushWrites, pull, startWrite } from './socket-io.js';
import { onClosed, onConnected, onError, resetForReconnect } from './socket-lifecycle.js';
import { SocketState, applyKeepAlive, localOf, peerOf, setConnecting, unrefTimer, updateHold } from './socket-state.js';
import type { ConnectionHandle, HandleOwner, StackPort } from './handle.js';
import type { TcpInfo } from './tcp-info.js';
import type { Server } from './server.js';

import { AbortError, normalizeConnectArgs, type AddressInfo, type SocketConstructorOpts, type TcpSocketConnectOpts } from './socket-args.js';

export { AbortError, normalizeConnectArgs, type AddressInfo, type NetConnectOpts, type SocketConstructorOpts, type TcpSocketConnectOpts } from './socket-args.js';

// States in which the peer's FIN has already been received (RFC 9293 §3.3.2).
const PEER_FIN_STATES: ReadonlySet<TcpState> = new Set<TcpState>(['CLOSE-WAIT', 'LAST-ACK', 'CLOSING', 'TIME-WAIT']);

// Node keeps a socket's idle timer under a private symbol; _destroy clears it as Node's does.
const kTimeout = Object.getOwnPropertySymbols(new net.Socket()).find((s) => s.description === 'timeout');

const LOOPBACK = '127.0.0.1';
/** `dns.ADDRCONFIG`. */
const ADDRCONFIG = 32;

let bindPort: (socket: Socket, port: StackPort) => void;
/** The port `stack.net.Socket` is constructing a socket for (see {@link constructWithPort}). */
let constructingPort: StackPort | undefined;

/** A TCP connection of a tcp-tun stack: a `node:net` `Socket` driven by the stack. */
export class Socket extends net.Socket {
  /**
   * The server that accepted this socket, or null (as Node's `socket.server`). Others may
   * overwrite it (Node's http sets its http.Server here), so the socket layer keeps its own
   * reference to the accepting server, as Node's `_server`.
   */
  server: Server | null = null;

  /** Everything this socket keeps besides what Node's Socket keeps (one object, one shape). */
  readonly #s = new SocketState();

  static {
    bindPort = (socket, port) => {
      socket.#s.port = port;
    };
  }

  constructor(options: SocketConstructorOpts = {}) {
    if (options === null || typeof options !== 'object') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options" argument must be of type object. Received ${describe(options)}`, 'type');
    }
    // Node's constructor: option handling, `signal`, 'end' → writeAfterFIN. A file descriptor
    // or handle of the kernel has no meaning here, and `onread` is ours to drive.
    // The signal is watched below: Duplex's constructor would destroy an already aborted socket
    // before this class's fields exist.
    const { onread, signal, ...rest } = options as SocketConstructorOpts & { fd?: unknown; handle?: unknown };
    delete (rest as { fd?: unknown }).fd;
    delete (rest as { handle?: unknown }).handle;
    super(rest as net.SocketConstructorOpts);
    if (onread !== undefined && onread !== null && typeof onread === 'object' && typeof onread.callback === 'function') {
      const buffer = onread.buffer;
      if (buffer instanceof Uint8Array || typeof buffer === 'function') this.#s.onread = { buffer, callback: onread.callback };
    }
    // As Node 20's constructor (stream.addAbortSignal): an already aborted signal destroys the
    // socket at once; a later connect() then revives it, as Node's does.
    if (signal !== undefined) this.#watchSignal(signal, true);
    if (options.noDelay !== undefined) this.#s.noDelay = Boolean(options.noDelay);
    if (options.keepAlive !== undefined) {
      this.#s.keepAlive = Boolean(options.keepAlive);
      this.#s.keepAliveInitialDelayMs = Math.max(0, Math.trunc(Number(options.keepAliveInitialDelay) || 0));
      this.#s.keepAliveSet = true;
    }
    if (constructingPort !== undefined) {
      this.#s.port = constructingPort;
      constructingPort = undefined;
    }
  }

  // ---- getters (Node's, through _getpeername/_getsockname as Node's are) -------------------

  /** @internal Node's remoteAddress/remotePort/remoteFamily read this. */
  _getpeername(): AddressInfo | Record<string, never> {
    return this.connecting ? {} : peerOf(this.#s) ?? {};
  }

  /** @internal Node's address()/localAddress/localPort/localFamily read this. */
  _getsockname(): AddressInfo | Record<string, never> {
    return localOf(this.#s) ?? {};
  }

  /** The engine state of the connection ('CLOSED' when there is none); tcp-tun extension. */
  get tcpState(): TcpState {
    return this.#s.handle?.state ?? 'CLOSED';
  }

  /**
   * The connection's counters and estimators now, as Linux's `getsockopt(TCP_INFO)` /
   * `ss -ti` (see {@link TcpInfo}); undefined while the socket has no connection: before
   * `connect()`, and once destroyed (as getsockopt on a closed descriptor fails). tcp-tun extension.
   */
  getTcpInfo(): TcpInfo | undefined {
    return this.destroyed ? undefined : this.#s.handle?.tcpInfo();
  }

  // ---- commands ------------------------------------------------------------------------

  /**
   * Opens the connection: `connect(options, cb?)` or `connect(port, host?, cb?)`. `cb` is a
   * one-time 'connect' listener. Failures (refused, timed out, no free port, unresolvable
   * name) arrive as 'error'. A socket that was closed may connect again, as Node's.
   */
  override connect(options: net.SocketConnectOpts | TcpSocketConnectOpts, connectionListener?: () => void): this;
  override connect(port: number, host: string, connectionListener?: () => void): this;
  override connect(port: number, connectionListener?: () => void): this;
  override connect(path: string, connectionListener?: () => void): this;
  override connect(...args: unknown[]): this {
    const [options, listener] = normalizeConnectArgs(args);
    const port = this.#s.port;
    if (port === undefined) {
      throw argumentError('ERR_INVALID_ARG_VALUE', 'This Socket has no stack: create it with stack.net.Socket or stack.net.connect');
    }
    if (options.port !== undefined && typeof options.port !== 'number' && typeof options.port !== 'string') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.port" property must be one of type number or string. Received ${describe(options.port)}`, 'type');
    }
    if (port.closed) throw argumentError('ERR_STACK_CLOSED', 'The stack is closed');
    if (listener !== undefined) this.once('connect', listener);
    if (options.port === undefined) throw argumentError('ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified', 'type');
    const { remotePort, localAddress, localPort, autoSelect, attemptTimeoutMs, host, hostType, family } = checkConnectOptions(options);
    const lookup = options.lookup ?? port.lookup;
    if (lookup !== undefined && typeof lookup !== 'function') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.lookup" property must be of type function. Received ${describe(lookup)}`, 'type');
    }
    if (this.connecting && !this.destroyed) {
      // A second connect while a connect request is pending: libuv refuses it (EALREADY).
      process.nextTick(() => failAlready(this, this.#s, String(options.host ?? LOOPBACK), remotePort));
      return this;
    }
    if (this.#s.connected && !this.destroyed) throw argumentError('ERR_INVALID_ARG_VALUE', 'Socket is already connected');
    if (this.destroyed) resetForReconnect(this, this.#s);
    if (options.timeout !== undefined) this.setTimeout(options.timeout);
    if (options.noDelay !== undefined) this.setNoDelay(options.noDelay);
    if (options.keepAlive !== undefined) this.setKeepAlive(options.keepAlive, options.keepAliveInitialDelay);
    if (options.userTimeout !== undefined) this.setUserTimeout(options.userTimeout);
    if (options.signal !== undefined) this.#watchSignal(options.signal);
    if (this.write !== net.Socket.prototype.write) this.write = net.Socket.prototype.write;
    setConnecting(this, this.#s, true);
    unrefTimer(this);
    const target: ConnectTarget = { remotePort, localPort, localAddress, tcp: options.tcp };
    if (hostType !== 0) {
      // As Node: an IP literal connects on the next tick, without a lookup or 'lookup' event.
      process.nextTick(() => {
        if (this.connecting) openAddress(this, this.#s, host, hostType, target);
      });
    } else if (lookup === undefined) {
      resolveDefault(host, family, port.addressNumber !== undefined, resolveHooks(this, this.#s, target, attemptTimeoutMs));
    } else {
      const dnsFamily = family === 4 || family === 6 ? family : undefined;
      const hints = typeof options.hints === 'number' && options.hints !== 0 ? options.hints : dnsFamily === undefined ? ADDRCONFIG : 0;
      const dnsOptions: { family: unknown; hints: number; all?: true } = { family, hints };
      if (dnsFamily === undefined && localAddress === undefined && autoSelect) {
        dnsOptions.all = true;
        resolveAll(lookup, host, dnsOptions, remotePort, resolveHooks(this, this.#s, target, attemptTimeoutMs));
      } else resolveOne(lookup, host, dnsOptions, remotePort, resolveHooks(this, this.#s, target, attemptTimeoutMs));
    }
    return this;
  }

  /** Nagle's algorithm (RFC 1122 §4.2.3.4) off (`true`, the default argument, as Node) or on. */
  override setNoDelay(noDelay?: boolean): this {
    this.#s.noDelay = noDelay === undefined ? true : Boolean(noDelay);
    this.#s.handle?.setNoDelay(this.#s.noDelay);
    return this;
  }

  /**
   * Keepalive (RFC 1122 §4.2.3.6), as Node's: with `enable`, after `initialDelay` ms without a
   * segment from the peer (0 keeps the stack's `tcp.keepAliveIdleMs`) probes are sent every
   * `tcp.keepAliveIntervalMs`; after `tcp.keepAliveProbes` unanswered ones, ETIMEDOUT.
   */
  override setKeepAlive(enable = false, initialDelay = 0): this {
    this.#s.keepAlive = Boolean(enable);
    this.#s.keepAliveInitialDelayMs = Math.min(0x7fffffff, Math.max(0, Math.trunc(Number(initialDelay) || 0)));
    this.#s.keepAliveSet = true;
    applyKeepAlive(this.#s);
    return this;
  }

  /**
   * User timeout (tcp-tun extension; RFC 5482, Linux's TCP_USER_TIMEOUT): when written data
   * stays unacknowledged for `ms`, the connection is reset and the socket fails with ETIMEDOUT.
   * 0 turns it off.
   */
  setUserTimeout(ms: number): this {
    if (typeof ms !== 'number' || Number.isNaN(ms)) {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "msecs" argument must be of type number. Received ${describe(ms)}`, 'type');
    }
    if (ms < 0 || ms > 0x7fffffff || !Number.isFinite(ms)) {
      throw argumentError('ERR_OUT_OF_RANGE', `The value of "msecs" is out of range. It must be >= 0 && <= 2147483647. Received ${ms}`, 'range');
    }
    this.#s.userTimeoutMs = Math.trunc(ms);
    this.#s.handle?.setUserTimeout(this.#s.userTimeoutMs);
    return this;
  }

  /** The socket keeps the process alive while it is open (default). */
  override ref(): this {
    this.#s.refed = true;
    updateHold(this, this.#s);
    return this;
  }

  /** The socket no longer keeps the process alive (a pending connect or write still does). */
  override unref(): this {
    this.#s.refed = false;
    updateHold(this, this.#s);
    return this;
  }

  /** Closes the connection with a RST (Node's `resetAndDestroy`); ERR_SOCKET_CLOSED before connect. */
  override resetAndDestroy(): this {
    const h = this.#s.handle;
    if (h === undefined && !this.connecting) {
      this.destroy(argumentError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return this;
    }
    if (this.connecting) {
      this.once('connect', () => this.resetAndDestroy());
      return this;
    }
    h?.abort();
    this.destroy();
    return this;
  }

  /** Resumes reading after an `onread` callback returned false (and as Node's resume()). */
  override resume(): this {
    if (this.#s.onread !== undefined && this.#s.onreadStopped) {
      this.#s.onreadStopped = false;
      pull(this, this.#s);
    }
    return super.resume();
  }

  override pause(): this {
    if (this.#s.onread !== undefined) this.#s.onreadStopped = true;
    return super.pause();
  }

  /**
   * Tcp-tun extension: the `setNoDelay`/`setKeepAlive`/`setUserTimeout` settings in force
   * (the engine's defaults where the socket set none).
   */
  get socketOptions(): {
    /** Nagle's algorithm (RFC 9293 §3.7.4) is off. */
    noDelay: boolean;
    /** Keep-alive probes (RFC 9293 §3.8.4) are on. */
    keepAlive: boolean;
    /** Idle time before the first keep-alive probe, in milliseconds (0: the engine's default). */
    keepAliveInitialDelayMs: number;
    /** Longest time sent data may stay unacknowledged before the connection is dropped, in milliseconds (Linux's TCP_USER_TIMEOUT; 0: no limit). */
    userTimeoutMs: number;
  } {
    return {
      noDelay: this.#s.noDelay ?? this.#s.port?.tcpConfig.noDelay ?? false,
      keepAlive: this.#s.keepAlive,
      keepAliveInitialDelayMs: this.#s.keepAliveInitialDelayMs,
      userTimeoutMs: this.#s.userTimeoutMs ?? this.#s.port?.tcpConfig.userTimeoutMs ?? 0,
    };
  }

  // ---- stack side ----------------------------------------------------------------------

  /**
   * Takes over a connection a listener accepted (already ESTABLISHED or later). `dual`: the
   * listener is a dual-stack `'::'` one, so an IPv4 peer reads as `::ffff:a.b.c.d`, family 'IPv6'.
   * @internal
   */
  _attachAccepted(handle: ConnectionHandle, server: Server, dual = false): void {
    this.#s.server = server;
    this.server = server;
    // The peer's address is built on its first read (peerOf), from the handle.
    attach(this, this.#s, handle, dual);
    // The peer may have sent its FIN before we took over: Node reads it (and emits 'end') from
    // the event loop after 'connection', not before.
    if (PEER_FIN_STATES.has(handle.state)) {
      setImmediate(() => {
        this.#s.peerEnded = true;
        pull(this, this.#s);
      });
    }
  }

  /** @internal Engine events of our connection, from the stack's drain. */
  onTcpEvent(event: TcpEvent): void {
    switch (event.type) {
      case 'connected':
        // Node learns of a completed connect from the event loop after the kernel finished the
        // handshake, so a server on the same host has its 'connection' before the client's
        // 'connect'. Two turns later the handshake's last ACK has crossed the link (or the
        // loopback) and the order is Node's; what arrives meanwhile waits in the engine.
        {
          // An autoSelectFamily attempt that timed out meanwhile is no longer this socket's.
          const h = this.#s.handle;
          setImmediate(() => setImmediate(() => h === this.#s.handle && onConnected(this, this.#s)));
        }
        break;
      case 'readable':
        unrefTimer(this);
        pull(this, this.#s);
        break;
      case 'writable':
        flushWrites(this, this.#s);
        break;
      case 'end':
        this.#s.peerEnded = true;
        pull(this, this.#s);
        break;
      case 'fin-acked':
        break;
      case 'error':
        onError(this, this.#s, event.code);
        break;
      case 'closed':
        onClosed(this, this.#s);
        break;
    }
  }

  // ---- Duplex implementation -----------------------------------------------------------

  /** `Readable` hook, called by the stream machinery (not by users): pushes the bytes the connection has received, and resumes pushing as they arrive. */
  override _read(_size: number): void {
    if (this.#s.deferredReset !== undefined) {
      this.destroy(this.#s.deferredReset);
      return;
    }
    this.#s.wantRead = true;
    pull(this, this.#s);
  }

  /** `Writable` hook, called by the stream machinery: queues one chunk on the connection's send buffer; `callback` runs once the engine has taken it. */
  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    startWrite(this, this.#s, [typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk], callback);
  }

  /** `Writable` hook: as `_write`, for the chunks corked or queued together, handed to the engine as one batch. */
  override _writev(chunks: Array<{ chunk: Buffer | string; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    startWrite(this, this.#s, 
      chunks.map((c) => (typeof c.chunk === 'string' ? Buffer.from(c.chunk, c.encoding) : c.chunk)),
      callback,
    );
  }

  /** `Writable` hook behind `end()`: sends our FIN after the queued data (RFC 9293 §3.10.4, CLOSE); before the connection exists it waits for 'connect'. */
  override _final(callback: (error?: Error | null) => void): void {
    // As Node's: before the connection exists the end waits for 'connect' (forever if none).
    if (this.connecting || this.#s.handle === undefined) {
      this.#s.pendingFinal = callback;
      return;
    }
    finish(this.#s, callback);
  }

  /** Stream hook behind `destroy()`: closes the connection as the kernel's close() does (our FIN, or a RST when received data is left unread) and fails a pending write. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (kTimeout !== undefined) clearTimeout((this as unknown as Record<symbol, ReturnType<typeof setTimeout> | undefined>)[kTimeout]);
    const wasConnecting = this.connecting;
    endAttempts(this.#s);
    setConnecting(this, this.#s, false);
    // The kernel's close(): delivery of what was accepted and our FIN go on without us (or a
    // RST when received data is discarded unread); see ConnectionHandle.close.
    this.#s.handle?.close();
    this.#s.handle?.setOwner(undefined);
    const pending = this.#s.pendingWrite;
    this.#s.pendingWrite = undefined;
    // An end() still waiting for a connection is never completed (Writable reports it).
    this.#s.pendingFinal = undefined;
    const err = error ?? undefined;
    this.#s.hadError = err !== undefined;
    updateHold(this, this.#s);
    if (pending !== undefined) {
      if (pending.beforeConnect) {
        // Node's _writeGeneric: a write queued before the connection fails when 'close' comes.
        this.once('close', () => pending.callback(argumentError('ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established')));
      } else {
        pending.callback(err ?? argumentError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      }
    }
    callback(error);
    this.#s.server?._socketDestroyed(this);
    if (this.#s.handle === undefined && !wasConnecting) {
      // Never had a connection: Node emits 'close' (without hadError) on the next tick.
      process.nextTick(() => this.emit('close'));
      return;
    }
    // Node emits 'close' (with hadError) when the handle has closed: a later turn of the
    // event loop than 'error', so listeners added after 'error' still see it.
    const hadError = this.#s.hadError;
    setImmediate(() => this.emit('close', hadError));
  }

  // ---- internals -----------------------------------------------------------------------





















  /** @internal Octets received and handed to the stream (Node's `bytesRead`). */
  get _bytesReadCount(): number {
    return this.#s.bytesRead;
  }

  /** @internal Octets written: accepted by the engine plus those queued in the stream (as Node). */
  get _bytesWrittenCount(): number {
    // As Node's: what was handed over, plus what waits in the stream, strings counted in octets
    // of their encoding.
    let bytes = this.#s.bytesDispatched;
    const p = this.#s.pendingWrite;
    if (p !== undefined) for (const c of p.chunks) bytes += c.length;
    bytes -= this.#s.pendingAccepted;
    const buffered = (this as unknown as { writableBuffer?: Array<{ chunk: Buffer | string; encoding: BufferEncoding }> }).writableBuffer ?? [];
    for (const el of buffered) bytes += typeof el.chunk === 'string' ? Buffer.byteLength(el.chunk, el.encoding) : el.chunk.length;
    return bytes;
  }

  /** @internal True until connected (no connection yet, or still connecting), as Node's `pending`. */
  get _pendingState(): boolean {
    return this.#s.handle === undefined || this.destroyed || this.connecting;
  }

  #watchSignal(signal: AbortSignal, now = false): void {
    if (signal === null || typeof signal !== 'object' || typeof signal.aborted !== 'boolean') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "signal" argument must be an instance of AbortSignal. Received ${describe(signal)}`, 'type');
    }
    const onAbort = (): void => {
      this.destroy(new AbortError(signal.reason));
    };
    if (signal.aborted) {
      if (now) onAbort();
      else process.nextTick(onAbort);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    this.once('close', () => signal.removeEventListener('abort', onAbort));
  }
}

// Accessors @types/node declares as plain properties (a subclass may not redeclare them as
// accessors in TypeScript): Node's own are accessors on its prototype, replaced here.
Object.defineProperties(Socket.prototype, {
  bytesRead: {
    configurable: true,
    get(this: Socket): number {
      return this._bytesReadCount;
    },
  },
  bytesWritten: {
    configurable: true,
    get(this: Socket): number {
      return this._bytesWrittenCount;
    },
  },
  pending: {
    configurable: true,
    get(this: Socket): boolean {
      return this._pendingState;
    },
  },
  bufferSize: {
    configurable: true,
    get(this: Socket): number | undefined {
      return this._pendingState && !this.connecting ? undefined : this.writableLength;
    },
  },
});

/**
 * @internal Runs `construct` (a `new` of Socket or a subclass) with `port` attached by Socket's
 * own constructor, so a subclass of `stack.net.Socket` has its stack in its constructor body.
 */
export function constructWithPort<T>(port: StackPort, construct: () => T): T {
  // Saved and restored: an argument of a subclass's super() call may construct another one.
  const outer = constructingPort;
  constructingPort = port;
  try {
    return construct();
  } finally {
    constructingPort = outer;
  }
}

/** @internal Gives a socket its stack (done by `stack.net`). */
export function attachStackPort(socket: Socket, port: StackPort): void {
  bindPort(socket, port);
}

/**
 * @internal The stack drives a Socket through `HandleOwner`, whose members are internal. The class
 * does not name it in an `implements` clause: the published .d.ts (stripInternal) drops those
 * members, and the clause would then be false. This keeps the check at compile time.
 */
export type SocketIsHandleOwner = IsTrue<Socket extends HandleOwner ? true : false>;
/** @internal */
type IsTrue<T extends true> = T;
