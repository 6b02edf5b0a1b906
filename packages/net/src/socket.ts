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
 */
import net from 'node:net';
import type { IpAddress, TcpErrorCode, TcpEvent, TcpState } from '@tcp-tun/tcp';
import { ConnectAggregateError, SystemError, argumentError, describe } from './errors.js';
import { handleEnds, ipType, stackAddress } from './socket-address.js';
import { checkConnectOptions, resolveAll, resolveDefault, resolveOne, sameIpv6, type Attempts, type ConnectTarget, type ResolveHooks } from './socket-connect.js';
import type { ConnectionHandle, HandleOwner, StackPort } from './handle.js';
import type { TcpInfo } from './tcp-info.js';
import type { Server } from './server.js';

import { AbortError, normalizeConnectArgs, type AddressInfo, type SocketConstructorOpts, type TcpSocketConnectOpts } from './socket-args.js';

export { AbortError, normalizeConnectArgs, type AddressInfo, type NetConnectOpts, type SocketConstructorOpts, type TcpSocketConnectOpts } from './socket-args.js';

interface PendingWrite {
  readonly chunks: readonly Uint8Array[];
  index: number;
  offset: number;
  readonly callback: (error?: Error | null) => void;
  /** Written while connecting (fails with ERR_SOCKET_CLOSED_BEFORE_CONNECTION, as Node's). */
  readonly beforeConnect: boolean;
}

/** The members of Node's Socket (and Duplex) this class uses that @types/node does not declare. */
interface NodeSocketInternals {
  _unrefTimer(): void;
  _undestroy(): void;
  _peername: AddressInfo | null;
  _sockname: AddressInfo | null;
}

// Largest single read: large enough to amortise the call, small enough to keep chunks sane.
const RECV_CHUNK = 64 * 1024;

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

  #server: Server | undefined;

  #port: StackPort | undefined;
  #handle: ConnectionHandle | undefined;
  #connected = false;
  #peer: AddressInfo | undefined;
  #local: AddressInfo | undefined;
  #wantRead = false;
  #pulling = false;
  #peerEnded = false;
  #pushedEof = false;
  #pendingWrite: PendingWrite | undefined;
  #pendingFinal: ((error?: Error | null) => void) | undefined;
  #bytesRead = 0;
  #bytesDispatched = 0;
  #pendingAccepted = 0;
  #refed = true;
  #holding = false;
  /** Set by setNoDelay(); undefined keeps the engine's configured default. */
  #noDelay: boolean | undefined;
  #keepAlive = false;
  #keepAliveInitialDelayMs = 0;
  #keepAliveSet = false;
  /** Set by setUserTimeout(); undefined keeps the stack's `tcp.userTimeoutMs`. */
  #userTimeoutMs: number | undefined;
  #hadError = false;
  /** A reset that arrived while nobody was reading; surfaces on the next read or write. */
  #deferredReset: SystemError | undefined;
  /** Node's `onread` option: a buffer (or its factory) and the callback that gets the data. */
  #onread: { buffer: Uint8Array | (() => Uint8Array); callback: (n: number, buf: Uint8Array) => boolean | void } | undefined;
  #onreadStopped = false;
  /** The addresses of an autoSelectFamily connect still to try, and the errors so far. */
  #attempts: Attempts | undefined;
  /**
   * False between an active open's 'connect' and its first read from the event loop: what
   * arrived meanwhile waits in the engine (libuv's first read comes after the requests, such
   * as a shutdown, that the program made in 'connect').
   */
  #readOpen = true;

  static {
    bindPort = (socket, port) => {
      socket.#port = port;
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
      if (buffer instanceof Uint8Array || typeof buffer === 'function') this.#onread = { buffer, callback: onread.callback };
    }
    // As Node 20's constructor (stream.addAbortSignal): an already aborted signal destroys the
    // socket at once; a later connect() then revives it, as Node's does.
    if (signal !== undefined) this.#watchSignal(signal, true);
    if (options.noDelay !== undefined) this.#noDelay = Boolean(options.noDelay);
    if (options.keepAlive !== undefined) {
      this.#keepAlive = Boolean(options.keepAlive);
      this.#keepAliveInitialDelayMs = Math.max(0, Math.trunc(Number(options.keepAliveInitialDelay) || 0));
      this.#keepAliveSet = true;
    }
    if (constructingPort !== undefined) {
      this.#port = constructingPort;
      constructingPort = undefined;
    }
  }

  // ---- getters (Node's, through _getpeername/_getsockname as Node's are) -------------------

  /** @internal Node's remoteAddress/remotePort/remoteFamily read this. */
  _getpeername(): AddressInfo | Record<string, never> {
    return this.connecting || this.#peer === undefined ? {} : this.#peer;
  }

  /** @internal Node's address()/localAddress/localPort/localFamily read this. */
  _getsockname(): AddressInfo | Record<string, never> {
    return this.#local ?? {};
  }

  /** The engine state of the connection ('CLOSED' when there is none); tcp-tun extension. */
  get tcpState(): TcpState {
    return this.#handle?.state ?? 'CLOSED';
  }

  /**
   * The connection's counters and estimators now, as Linux's `getsockopt(TCP_INFO)` /
   * `ss -ti` (see {@link TcpInfo}); undefined while the socket has no connection: before
   * `connect()`, and once destroyed (as getsockopt on a closed descriptor fails). tcp-tun extension.
   */
  getTcpInfo(): TcpInfo | undefined {
    return this.destroyed ? undefined : this.#handle?.tcpInfo();
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
    const port = this.#port;
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
      process.nextTick(() => this.#failAlready(String(options.host ?? LOOPBACK), remotePort));
      return this;
    }
    if (this.#connected && !this.destroyed) throw argumentError('ERR_INVALID_ARG_VALUE', 'Socket is already connected');
    if (this.destroyed) this.#reset();
    if (options.timeout !== undefined) this.setTimeout(options.timeout);
    if (options.noDelay !== undefined) this.setNoDelay(options.noDelay);
    if (options.keepAlive !== undefined) this.setKeepAlive(options.keepAlive, options.keepAliveInitialDelay);
    if (options.userTimeout !== undefined) this.setUserTimeout(options.userTimeout);
    if (options.signal !== undefined) this.#watchSignal(options.signal);
    if (this.write !== net.Socket.prototype.write) this.write = net.Socket.prototype.write;
    this.#setConnecting(true);
    this.#unrefTimer();
    const target: ConnectTarget = { remotePort, localPort, localAddress, tcp: options.tcp };
    if (hostType !== 0) {
      // As Node: an IP literal connects on the next tick, without a lookup or 'lookup' event.
      process.nextTick(() => {
        if (this.connecting) this.#open(host, hostType, target);
      });
    } else if (lookup === undefined) {
      resolveDefault(host, family, port.addressNumber !== undefined, this.#resolveHooks(target, attemptTimeoutMs));
    } else {
      const dnsFamily = family === 4 || family === 6 ? family : undefined;
      const hints = typeof options.hints === 'number' && options.hints !== 0 ? options.hints : dnsFamily === undefined ? ADDRCONFIG : 0;
      const dnsOptions: { family: unknown; hints: number; all?: true } = { family, hints };
      if (dnsFamily === undefined && localAddress === undefined && autoSelect) {
        dnsOptions.all = true;
        resolveAll(lookup, host, dnsOptions, remotePort, this.#resolveHooks(target, attemptTimeoutMs));
      } else resolveOne(lookup, host, dnsOptions, remotePort, this.#resolveHooks(target, attemptTimeoutMs));
    }
    return this;
  }

  /** Nagle's algorithm (RFC 1122 §4.2.3.4) off (`true`, the default argument, as Node) or on. */
  override setNoDelay(noDelay?: boolean): this {
    this.#noDelay = noDelay === undefined ? true : Boolean(noDelay);
    this.#handle?.setNoDelay(this.#noDelay);
    return this;
  }

  /**
   * Keepalive (RFC 1122 §4.2.3.6), as Node's: with `enable`, after `initialDelay` ms without a
   * segment from the peer (0 keeps the stack's `tcp.keepAliveIdleMs`) probes are sent every
   * `tcp.keepAliveIntervalMs`; after `tcp.keepAliveProbes` unanswered ones, ETIMEDOUT.
   */
  override setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = Boolean(enable);
    this.#keepAliveInitialDelayMs = Math.min(0x7fffffff, Math.max(0, Math.trunc(Number(initialDelay) || 0)));
    this.#keepAliveSet = true;
    this.#applyKeepAlive();
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
    this.#userTimeoutMs = Math.trunc(ms);
    this.#handle?.setUserTimeout(this.#userTimeoutMs);
    return this;
  }

  /** The socket keeps the process alive while it is open (default). */
  override ref(): this {
    this.#refed = true;
    this.#updateHold();
    return this;
  }

  /** The socket no longer keeps the process alive (a pending connect or write still does). */
  override unref(): this {
    this.#refed = false;
    this.#updateHold();
    return this;
  }

  /** Closes the connection with a RST (Node's `resetAndDestroy`); ERR_SOCKET_CLOSED before connect. */
  override resetAndDestroy(): this {
    const h = this.#handle;
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
    if (this.#onread !== undefined && this.#onreadStopped) {
      this.#onreadStopped = false;
      this.#pull();
    }
    return super.resume();
  }

  override pause(): this {
    if (this.#onread !== undefined) this.#onreadStopped = true;
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
      noDelay: this.#noDelay ?? this.#port?.tcpConfig.noDelay ?? false,
      keepAlive: this.#keepAlive,
      keepAliveInitialDelayMs: this.#keepAliveInitialDelayMs,
      userTimeoutMs: this.#userTimeoutMs ?? this.#port?.tcpConfig.userTimeoutMs ?? 0,
    };
  }

  // ---- stack side ----------------------------------------------------------------------

  /**
   * Takes over a connection a listener accepted (already ESTABLISHED or later). `dual`: the
   * listener is a dual-stack `'::'` one, so an IPv4 peer reads as `::ffff:a.b.c.d`, family 'IPv6'.
   * @internal
   */
  _attachAccepted(handle: ConnectionHandle, server: Server, dual = false): void {
    this.#server = server;
    this.server = server;
    const ends = handleEnds(handle, dual);
    this.#peer = { address: ends.remote, family: ends.family, port: handle.remotePort };
    this.#attach(handle, dual);
    // The peer may have sent its FIN before we took over: Node reads it (and emits 'end') from
    // the event loop after 'connection', not before.
    if (PEER_FIN_STATES.has(handle.state)) {
      setImmediate(() => {
        this.#peerEnded = true;
        this.#pull();
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
          const h = this.#handle;
          setImmediate(() => setImmediate(() => h === this.#handle && this.#onConnected()));
        }
        break;
      case 'readable':
        this.#unrefTimer();
        this.#pull();
        break;
      case 'writable':
        this.#flushWrites();
        break;
      case 'end':
        this.#peerEnded = true;
        this.#pull();
        break;
      case 'fin-acked':
        break;
      case 'error':
        this.#onError(event.code);
        break;
      case 'closed':
        this.#onClosed();
        break;
    }
  }

  // ---- Duplex implementation -----------------------------------------------------------

  /** `Readable` hook, called by the stream machinery (not by users): pushes the bytes the connection has received, and resumes pushing as they arrive. */
  override _read(_size: number): void {
    if (this.#deferredReset !== undefined) {
      this.destroy(this.#deferredReset);
      return;
    }
    this.#wantRead = true;
    this.#pull();
  }

  /** `Writable` hook, called by the stream machinery: queues one chunk on the connection's send buffer; `callback` runs once the engine has taken it. */
  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#startWrite([typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk], callback);
  }

  /** `Writable` hook: as `_write`, for the chunks corked or queued together, handed to the engine as one batch. */
  override _writev(chunks: Array<{ chunk: Buffer | string; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    this.#startWrite(
      chunks.map((c) => (typeof c.chunk === 'string' ? Buffer.from(c.chunk, c.encoding) : c.chunk)),
      callback,
    );
  }

  /** `Writable` hook behind `end()`: sends our FIN after the queued data (RFC 9293 §3.10.4, CLOSE); before the connection exists it waits for 'connect'. */
  override _final(callback: (error?: Error | null) => void): void {
    // As Node's: before the connection exists the end waits for 'connect' (forever if none).
    if (this.connecting || this.#handle === undefined) {
      this.#pendingFinal = callback;
      return;
    }
    this.#finish(callback);
  }

  /** Stream hook behind `destroy()`: closes the connection as the kernel's close() does (our FIN, or a RST when received data is left unread) and fails a pending write. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (kTimeout !== undefined) clearTimeout((this as unknown as Record<symbol, ReturnType<typeof setTimeout> | undefined>)[kTimeout]);
    const wasConnecting = this.connecting;
    this.#endAttempts();
    this.#setConnecting(false);
    // The kernel's close(): delivery of what was accepted and our FIN go on without us (or a
    // RST when received data is discarded unread); see ConnectionHandle.close.
    this.#handle?.close();
    this.#handle?.setOwner(undefined);
    const pending = this.#pendingWrite;
    this.#pendingWrite = undefined;
    // An end() still waiting for a connection is never completed (Writable reports it).
    this.#pendingFinal = undefined;
    const err = error ?? undefined;
    this.#hadError = err !== undefined;
    this.#updateHold();
    if (pending !== undefined) {
      if (pending.beforeConnect) {
        // Node's _writeGeneric: a write queued before the connection fails when 'close' comes.
        this.once('close', () => pending.callback(argumentError('ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established')));
      } else {
        pending.callback(err ?? argumentError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      }
    }
    callback(error);
    this.#server?._socketDestroyed(this);
    if (this.#handle === undefined && !wasConnecting) {
      // Never had a connection: Node emits 'close' (without hadError) on the next tick.
      process.nextTick(() => this.emit('close'));
      return;
    }
    // Node emits 'close' (with hadError) when the handle has closed: a later turn of the
    // event loop than 'error', so listeners added after 'error' still see it.
    const hadError = this.#hadError;
    setImmediate(() => this.emit('close', hadError));
  }

  // ---- internals -----------------------------------------------------------------------

  /** A destroyed socket connects again (Node's connect() on a closed socket). */
  #reset(): void {
    (this as unknown as NodeSocketInternals)._undestroy();
    this.#handle = undefined;
    this.#connected = false;
    this.#endAttempts();
    this.#peer = undefined;
    this.#local = undefined;
    this.#wantRead = false;
    this.#peerEnded = false;
    this.#pushedEof = false;
    this.#deferredReset = undefined;
    this.#hadError = false;
    this.#bytesRead = 0;
    this.#bytesDispatched = 0;
  }

  /** An autoSelectFamily connect is over (connected, destroyed or reconnecting). */
  #endAttempts(): void {
    const a = this.#attempts;
    if (a === undefined) return;
    clearTimeout(a.timer);
    this.#attempts = undefined;
  }

  /** Fails a connect made while another is pending with EALREADY, as Node does on Linux. */
  #failAlready(host: string, remotePort: number): void {
    if (this.destroyed) return;
    const peer = this.#peer;
    const err = new SystemError('EALREADY', 'connect', peer?.address ?? host, peer?.port ?? remotePort);
    const local = this.#local;
    if (local !== undefined) err.message += ` - Local (${local.address}:${local.port})`;
    this.destroy(err);
  }

  #setConnecting(on: boolean): void {
    (this as { connecting: boolean }).connecting = on;
    this.#updateHold();
  }

  /** What the resolvers of socket-connect.ts may do to this socket. */
  #resolveHooks(target: ConnectTarget, attemptTimeoutMs: number): ResolveHooks {
    return {
      alive: () => this.connecting && !this.destroyed,
      lookupEvent: (err, address, family, host) => this.emit('lookup', err, address, family, host),
      fail: (err) => this.destroy(err),
      open: (address, type) => {
        this.#unrefTimer();
        this.#open(address, type, target);
      },
      attemptAll: (order) => {
        this.#unrefTimer();
        (this as { autoSelectFamilyAttemptedAddresses: string[] }).autoSelectFamilyAttemptedAddresses = [];
        this.#attempts = { candidates: order, next: 0, errors: [], target, timeoutMs: attemptTimeoutMs, timer: undefined };
        this.#attemptNext();
      },
    };
  }

  /** Tries the next address of an autoSelectFamily connect, or fails with every attempt's error. */
  #attemptNext(): void {
    const a = this.#attempts;
    if (a === undefined || !this.connecting || this.destroyed) return;
    clearTimeout(a.timer);
    a.timer = undefined;
    const old = this.#handle;
    if (old !== undefined) {
      // The previous attempt is over (failed or timed out): let its connection go quietly
      // (SYN-SENT ends without a RST, as Linux's close()).
      old.setOwner(undefined);
      old.close();
      this.#handle = undefined;
      this.#local = undefined;
    }
    if (a.next === a.candidates.length) {
      this.#attempts = undefined;
      this.destroy(a.errors.length === 0 ? argumentError('ERR_SOCKET_CONNECTION_TIMEOUT', 'Socket connection timeout') : new ConnectAggregateError(a.errors));
      return;
    }
    const current = a.next++;
    const { address, family } = a.candidates[current]!;
    (this as { autoSelectFamilyAttemptedAddresses: string[] }).autoSelectFamilyAttemptedAddresses.push(`${address}:${a.target.remotePort}`);
    if (a.next < a.candidates.length) {
      a.timer = setTimeout(() => {
        if (this.#attempts !== a || a.next !== current + 1 || !this.connecting) return;
        this.emit('connectionAttemptTimeout', address, a.target.remotePort, family);
        a.errors.push(new SystemError('ETIMEDOUT', 'connect', address, a.target.remotePort));
        this.#attemptNext();
      }, a.timeoutMs);
      a.timer.unref();
    }
    this.#open(address, family, a.target);
  }

  /**
   * One attempt of an autoSelectFamily connect failed with `error`: Node's
   * afterConnectMultiple records it, emits 'connectionAttemptFailed' and tries the next address.
   * Returns false when no multi-address connect is under way (the error is the socket's).
   */
  #attemptFailed(error: Error): boolean {
    const a = this.#attempts;
    if (a === undefined || !this.connecting || this.destroyed) return false;
    const peer = this.#peer;
    a.errors.push(error);
    a.failed = this.#handle;
    this.emit('connectionAttemptFailed', peer?.address, peer?.port, peer?.family === 'IPv6' ? 6 : 4, error);
    // From the next turn: the failed connection's own events are still being delivered.
    process.nextTick(() => this.#attemptNext());
    return true;
  }

  /**
   * Opens the connection to the IP literal `address` of family `type` (Node's
   * internalConnect): the local address is checked against the stack's, 'connectionAttempt'
   * is emitted and the stack opens it. Failures destroy the socket (or, in an autoSelectFamily
   * connect, move on to the next address).
   */
  #open(requested: string, type: 4 | 6, target: ConnectTarget): void {
    if (!this.connecting || this.destroyed) return;
    // Linux connects to the unspecified address as to loopback, and getpeername() then reads
    // 127.0.0.1 or ::1 (so `connect(port, server.address().address)` works for a '::' server).
    const address = requested === '0.0.0.0' ? LOOPBACK : type === 6 && sameIpv6(requested, '::') ? '::1' : requested;
    const port = this.#port;
    if (port === undefined) return;
    if (this.#handle !== undefined) {
      // An earlier connect() of this socket (before a destroy() and this connect()) opened
      // the connection already: its own request is pending, so as libuv's second
      // uv_tcp_connect this one fails with EALREADY (Node's test-net-connect-after-destroy).
      this.#failAlready(address, target.remotePort);
      return;
    }
    const { remotePort, localAddress } = target;
    this.#peer = { address, family: type === 6 ? 'IPv6' : 'IPv4', port: remotePort };
    const fail = (err: Error): void => {
      if (!this.#attemptFailed(err)) this.destroy(err);
    };
    if (localAddress !== undefined) {
      const localType = ipType(localAddress);
      // bind() of an address of the other family: Linux refuses it with EINVAL (an AF_INET6
      // socket given an IPv4 address, or the reverse), as Node reports.
      if (localType !== type) {
        fail(new SystemError('EINVAL', 'bind', localAddress, target.localPort));
        return;
      }
      // An address that is not ours: bind() fails with EADDRNOTAVAIL (Node: `bind
      // EADDRNOTAVAIL 10.9.9.9`); the unspecified address lets the stack choose.
      const ours = type === 4 ? localAddress === port.address || localAddress === '0.0.0.0' : localAddress === '::' || localAddress === '::1' || sameIpv6(localAddress, port.address6);
      if (!ours) {
        fail(new SystemError('EADDRNOTAVAIL', 'bind', localAddress, target.localPort));
        return;
      }
    }
    this.emit('connectionAttempt', address, remotePort, type);
    let remote: IpAddress;
    try {
      remote = stackAddress(address, type, port);
    } catch {
      fail(new SystemError('EADDRNOTAVAIL', 'connect', address, remotePort));
      return;
    }
    if (typeof remote !== 'number' && port.address6 === undefined) {
      // No IPv6 address and no IPv6 route: as a host whose IPv6 is off (the agreed stack
      // interface throws the same; checked here so an IPv4-only stack never sees 16 octets).
      fail(new SystemError('ENETUNREACH', 'connect', address, remotePort));
      return;
    }
    if (typeof remote === 'number' && port.addressNumber === undefined) {
      fail(new SystemError('ENETUNREACH', 'connect', address, remotePort));
      return;
    }
    try {
      // A v4-mapped literal is an AF_INET6 socket reaching an IPv4 peer: its ends read as IPv6.
      this.#attach(port.open(this, remote, remotePort, target.localPort, target.tcp), type === 6 && typeof remote === 'number');
    } catch (err) {
      if (!(err instanceof SystemError)) throw err;
      fail(err);
    }
  }

  /** Takes `handle` as this socket's connection; `dual`: it belongs to an AF_INET6 socket (IPv4 ends read as `::ffff:a.b.c.d`). */
  #attach(handle: ConnectionHandle, dual = false): void {
    this.#handle = handle;
    const ends = handleEnds(handle, dual);
    this.#local = { address: ends.local, family: ends.family, port: handle.localPort };
    handle.setOwner(this);
    // Settings made before the connection existed (constructor/connect options, or set early).
    if (this.#noDelay !== undefined) handle.setNoDelay(this.#noDelay);
    if (this.#userTimeoutMs !== undefined) handle.setUserTimeout(this.#userTimeoutMs);
    this.#applyKeepAlive();
    this.#updateHold();
  }

  #applyKeepAlive(): void {
    if (!this.#keepAliveSet) return;
    const delay = this.#keepAliveInitialDelayMs;
    this.#handle?.setKeepAlive(this.#keepAlive, delay > 0 ? delay : undefined);
  }

  /**
   * Whether this socket keeps the process alive, as libuv decides for Node's: a ref'd open
   * socket, and (ref'd or not) a pending connect or write (an active request).
   */
  #updateHold(): void {
    const open = this.#handle !== undefined && !this.destroyed;
    const want = !this.destroyed && ((open && this.#refed) || this.connecting || this.#pendingWrite !== undefined);
    if (want === this.#holding) return;
    this.#holding = want;
    this.#port?.hold(want ? 1 : -1);
  }

  #unrefTimer(): void {
    (this as unknown as NodeSocketInternals)._unrefTimer();
  }

  #onConnected(): void {
    if (!this.connecting) return;
    this.#endAttempts();
    this.#connected = true;
    this.#setConnecting(false);
    this.#unrefTimer();
    this.emit('connect');
    // Writes queued while connecting go as Node's do: from a 'connect' listener, before 'ready'.
    this.#flushWrites();
    this.emit('ready');
    const final = this.#pendingFinal;
    if (final !== undefined) {
      this.#pendingFinal = undefined;
      this.#finish(final);
    }
    // As Node's afterConnect: start reading into the stream buffer (up to its highWaterMark)
    // even before anyone consumes, so a reset or FIN is noticed at once; the first read comes
    // from the event loop.
    this.#readOpen = false;
    setImmediate(() =>
      setImmediate(() => {
        this.#readOpen = true;
        if (this.destroyed) return;
        if (!this.isPaused() || this.#onread !== undefined) this.read(0);
        this.#pull();
      }),
    );
  }

  #onError(code: TcpErrorCode): void {
    let error: SystemError;
    const peer = this.#peer;
    if (code === 'ECONNREFUSED' || ((code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ECONNRESET') && this.connecting)) {
      error = new SystemError(code, 'connect', peer?.address, peer?.port);
      if (this.connecting && this.#attemptFailed(error)) return;
    } else if (code === 'EPIPE' || (code === 'ECONNRESET' && this.#peerEnded)) {
      // A reset after the peer's FIN (CLOSE-WAIT) is EPIPE, as Linux's tcp_reset() reports it,
      // and with reading over only a write can see it: Node reports nothing until the next
      // write fails.
      error = new SystemError('EPIPE', 'write');
      if (code === 'ECONNRESET' && !this.writableEnded && !this.destroyed) {
        this.#deferredReset = error;
        return;
      }
    } else {
      error = new SystemError(code, 'read');
      // A reset is deferred only while something can still observe it: a read (the stream
      // has not ended) or a write (the writable side is open).
      const observable = !this.#pushedEof || !this.writableEnded;
      if (code === 'ECONNRESET' && !this.#wantRead && !this.destroyed && observable && this.#onread === undefined) {
        // As with Node over a kernel socket whose reading stopped (its stream buffer is full):
        // the reset is seen by the next read (ECONNRESET) or write (EPIPE), not before.
        this.#deferredReset = error;
        return;
      }
    }
    this.destroy(error);
  }

  #onClosed(): void {
    if (this.destroyed || this.#handle === undefined) return;
    // A failed attempt of an autoSelectFamily connect: the next address is being tried.
    if (this.#attempts !== undefined && this.#attempts.failed === this.#handle) return;
    if (this.#deferredReset !== undefined) {
      // A write waiting for send-buffer room will never get it: it is the write that sees the
      // reset (EPIPE). Left waiting, the socket would never finish nor close.
      const p = this.#pendingWrite;
      this.#pendingWrite = undefined;
      this.#updateHold();
      p?.callback(new SystemError('EPIPE', 'write'));
      return;
    }
    if (this.#peerEnded) {
      // Both FINs were exchanged (or a RST in CLOSING/LAST-ACK closed quietly, RFC 9293
      // §3.10.7.4): hand over what the application has not read yet; the stream ends by itself.
      this.#pull(true);
      return;
    }
    // Closed without an error event: aborted (e.g. by stack.close()).
    this.destroy();
  }

  #finish(callback: (error?: Error | null) => void): void {
    if (this.#deferredReset !== undefined) {
      callback(new SystemError('EPIPE', 'write'));
      return;
    }
    // Node's _final: shutdown() queues our FIN after the written data and 'finish' follows
    // (the kernel, here the stack, goes on delivering on its own).
    this.#handle?.shutdown();
    // libuv completes a shutdown request from the event loop, in a later turn.
    setImmediate(callback);
  }

  /** Moves received bytes into the stream while it wants them (or all of them when `all`). */
  #pull(all = false): void {
    if (this.#pulling) return;
    this.#pulling = true;
    try {
      const h = this.#handle;
      let took = false;
      if (!this.#readOpen) return;
      if (h !== undefined && !this.connecting) {
        if (this.#onread !== undefined) took = this.#pullOnread(h);
        else {
          while ((this.#wantRead || all) && !this.destroyed) {
            const n = Math.min(h.readableLength, RECV_CHUNK);
            if (n === 0) break;
            // allocUnsafe: readInto overwrites the octets it reports, and only those are pushed.
            const raw = Buffer.allocUnsafe(n);
            const copied = h.readInto(raw);
            if (copied === 0) break;
            took = true;
            this.#bytesRead += copied;
            if (!this.push(copied === n ? raw : raw.subarray(0, copied))) this.#wantRead = false;
          }
        }
        if (took) this.#unrefTimer();
      }
      // With `onread`, a callback that returned false stopped reading (Node's readStop()): the
      // end of stream is not seen until resume().
      const stopped = this.#onread !== undefined && this.#onreadStopped;
      if (this.#peerEnded && !this.#pushedEof && !this.destroyed && !stopped && (h === undefined || h.readableLength === 0)) {
        this.#pushedEof = true;
        this.push(null);
        // Node's onStreamRead on EOF: push the end and read zero, so 'end' is emitted even when
        // nobody reads, as long as the stream buffer is empty.
        this.read(0);
      }
    } finally {
      this.#pulling = false;
    }
  }

  /** Node's `onread` mode: data goes into the given buffer and to the callback, not to 'data'. */
  #pullOnread(h: ConnectionHandle): boolean {
    const o = this.#onread;
    if (o === undefined) return false;
    let took = false;
    while (!this.#onreadStopped && !this.destroyed && h.readableLength > 0) {
      const buf = typeof o.buffer === 'function' ? o.buffer() : o.buffer;
      const n = h.readInto(buf);
      if (n === 0) break;
      took = true;
      this.#bytesRead += n;
      if (o.callback.call(this, n, buf) === false) this.#onreadStopped = true;
    }
    return took;
  }

  #startWrite(chunks: readonly Uint8Array[], callback: (error?: Error | null) => void): void {
    if (this.#handle === undefined && !this.connecting) {
      callback(argumentError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return;
    }
    this.#pendingWrite = { chunks, index: 0, offset: 0, callback, beforeConnect: this.connecting };
    this.#pendingAccepted = 0;
    this.#updateHold();
    this.#flushWrites();
  }

  /** Hands the pending write to the engine as far as its send buffer allows. */
  #flushWrites(): void {
    const p = this.#pendingWrite;
    const h = this.#handle;
    if (p === undefined || h === undefined || this.connecting) return;
    let sent = false;
    while (p.index < p.chunks.length) {
      if (!h.canSend) {
        this.#pendingWrite = undefined;
        this.#updateHold();
        p.callback(new SystemError('EPIPE', 'write'));
        return;
      }
      const chunk = p.chunks[p.index] as Uint8Array;
      const rest = p.offset === 0 ? chunk : chunk.subarray(p.offset);
      const n = rest.length === 0 ? 0 : h.send(rest);
      if (n > 0) {
        sent = true;
        this.#bytesDispatched += n;
        this.#pendingAccepted += n;
      }
      if (n < rest.length) {
        // Send buffer full: the rest (and the callback) wait for 'writable'.
        p.offset += n;
        break;
      }
      p.index++;
      p.offset = 0;
    }
    if (sent) this.#unrefTimer();
    if (p.index < p.chunks.length) return;
    this.#pendingWrite = undefined;
    this.#pendingAccepted = 0;
    this.#updateHold();
    p.callback();
  }

  /** @internal Octets received and handed to the stream (Node's `bytesRead`). */
  get _bytesReadCount(): number {
    return this.#bytesRead;
  }

  /** @internal Octets written: accepted by the engine plus those queued in the stream (as Node). */
  get _bytesWrittenCount(): number {
    // As Node's: what was handed over, plus what waits in the stream, strings counted in octets
    // of their encoding.
    let bytes = this.#bytesDispatched;
    const p = this.#pendingWrite;
    if (p !== undefined) for (const c of p.chunks) bytes += c.length;
    bytes -= this.#pendingAccepted;
    const buffered = (this as unknown as { writableBuffer?: Array<{ chunk: Buffer | string; encoding: BufferEncoding }> }).writableBuffer ?? [];
    for (const el of buffered) bytes += typeof el.chunk === 'string' ? Buffer.byteLength(el.chunk, el.encoding) : el.chunk.length;
    return bytes;
  }

  /** @internal True until connected (no connection yet, or still connecting), as Node's `pending`. */
  get _pendingState(): boolean {
    return this.#handle === undefined || this.destroyed || this.connecting;
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
