/**
 * `Socket`: a TCP connection of the stack as a `stream.Duplex`, mapped as Node's lib/net.js
 * maps a kernel socket, so code written for `node:net` (Node's own http, pipe(), `for await`)
 * runs on it unchanged.
 *
 * - `_write`/`_writev` → `conn.send()`. The callback runs once EVERY byte was accepted into the
 *   engine's send buffer; while the buffer is full the rest waits for the engine's 'writable'
 *   event, so Writable's highWaterMark and 'drain' give real backpressure.
 * - `_read` → `conn.recvInto()` and `push()`; when `push()` returns false we stop taking
 *   bytes, so the engine's receive buffer fills and its advertised window closes: the peer is
 *   flow-controlled. The next `_read` resumes.
 * - `_final` → `conn.close()` (our FIN after the queued data); the peer's FIN → `push(null)`.
 *   `allowHalfOpen` is Duplex's, as in Node (default false: we end when the peer ends).
 * - `_destroy` → `conn.abort()` (RST) unless the connection is closed or closing cleanly (our
 *   FIN queued and nothing unread), which is how a kernel treats close() on a socket.
 */
import { Duplex } from 'node:stream';
import { setTimeout as setNodeTimeout, clearTimeout as clearNodeTimeout } from 'node:timers';
import { ipv4FromString, ipv4ToString, isIpv4String } from '@tcp-tun/ip';
import type { TcpConfig, TcpErrorCode, TcpEvent, TcpState } from '@tcp-tun/tcp';
import { SystemError, TcpTunError, argumentError, describe, validatePort } from './errors.js';
import type { ConnectionEntry, ConnectionOwner } from './internal.js';
import type { Server } from './server.js';
import type { Stack } from './stack.js';

/** Options of `new Socket()` (Node's `SocketConstructorOpts` that apply here). */
export interface SocketConstructorOpts {
  /** Keep our side open after the peer's FIN (default false: end with it, as Node). */
  readonly allowHalfOpen?: boolean;
  /** Aborting destroys the socket with an `AbortError`. */
  readonly signal?: AbortSignal;
  readonly highWaterMark?: number;
  readonly readableHighWaterMark?: number;
  readonly writableHighWaterMark?: number;
  /** The stack this socket belongs to (`stack.net.Socket` fills it in). */
  readonly stack?: Stack;
}

/** Options of `socket.connect()` / `createConnection()` (Node's `TcpSocketConnectOpts`). */
export interface TcpSocketConnectOpts {
  readonly port: number | string;
  /** An IPv4 literal (host names are not resolved: they fail with ENOTFOUND). Default 'localhost'. */
  readonly host?: string;
  /** Must be the stack's address (or 0.0.0.0) when given. */
  readonly localAddress?: string;
  readonly localPort?: number;
  /** Only 0 or 4. */
  readonly family?: number;
  /** Idle timeout, as `setTimeout()`. */
  readonly timeout?: number;
  /** Turn Nagle's algorithm off (`setNoDelay()`). */
  readonly noDelay?: boolean;
  /** Keepalive probes (`setKeepAlive()`), after `keepAliveInitialDelay` ms idle. */
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
  /**
   * Fail with ETIMEDOUT when written data stays unacknowledged this long, in ms (tcp-tun
   * extension, Linux's TCP_USER_TIMEOUT; `setUserTimeout()`). Default: the stack's
   * `tcp.userTimeoutMs` (0 = off: the retransmission limit decides).
   */
  readonly userTimeout?: number;
  readonly signal?: AbortSignal;
  /** Per-connection engine settings (tcp-tun extension; e.g. short `synRetries` in tests). */
  readonly tcp?: Partial<TcpConfig>;
}

/** `createConnection()` options: connect options plus constructor options. */
export type NetConnectOpts = TcpSocketConnectOpts & Omit<SocketConstructorOpts, 'stack'>;

/** `socket.address()`: the local endpoint. */
export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

/** Node's `AbortError` shape (`name` 'AbortError', `code` 'ABORT_ERR'). */
export class AbortError extends TcpTunError {
  constructor(cause?: unknown) {
    super('ABORT_ERR', 'The operation was aborted', cause === undefined ? undefined : { cause });
    this.name = 'AbortError';
  }
}

interface PendingWrite {
  readonly chunks: readonly Uint8Array[];
  index: number;
  offset: number;
  readonly callback: (error?: Error | null) => void;
}

// Largest single read: large enough to amortise the call, small enough to keep chunks sane.
const RECV_CHUNK = 64 * 1024;

// States in which the peer's FIN has already been received (RFC 9293 §3.3.2).
const PEER_FIN_STATES: ReadonlySet<TcpState> = new Set<TcpState>(['CLOSE-WAIT', 'LAST-ACK', 'CLOSING', 'TIME-WAIT']);

/** A TCP connection of a tcp-tun {@link Stack}, with `node:net`'s `Socket` API. */
export class Socket extends Duplex implements ConnectionOwner {
  /** Set on connecting sockets until 'connect' (Node's `socket.connecting`). */
  connecting = false;
  /** The server that accepted this socket, or null (as Node's `socket.server`). */
  server: Server | null = null;

  readonly #stack: Stack | undefined;
  #entry: ConnectionEntry | undefined;
  #released = false;
  #remoteAddress: string | undefined;
  #remotePort: number | undefined;
  #localPort: number | undefined;
  #wantRead = false;
  #pulling = false;
  #peerEnded = false;
  #pushedEof = false;
  #finQueued = false;
  #pendingWrite: PendingWrite | undefined;
  #pendingFinal: ((error?: Error | null) => void) | undefined;
  #finAckWait: ((error?: Error | null) => void) | undefined;
  #bytesRead = 0;
  #bytesDispatched = 0;
  #pendingAccepted = 0;
  #timeoutMs = 0;
  #idleTimer: ReturnType<typeof setNodeTimeout> | undefined;
  #refed = true;
  #counted = false;
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

  constructor(options: SocketConstructorOpts = {}) {
    if (options === null || typeof options !== 'object') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options" argument must be of type object. Received ${describe(options)}`, 'type');
    }
    super({
      allowHalfOpen: Boolean(options.allowHalfOpen),
      // 'close' is emitted by _destroy with Node's `hadError` argument.
      emitClose: false,
      autoDestroy: true,
      ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
      ...(options.readableHighWaterMark !== undefined ? { readableHighWaterMark: options.readableHighWaterMark } : {}),
      ...(options.writableHighWaterMark !== undefined ? { writableHighWaterMark: options.writableHighWaterMark } : {}),
    });
    this.#stack = options.stack;
    if (options.signal !== undefined) this.#watchSignal(options.signal);
  }

  // ---- getters (Node's names) ------------------------------------------------------------

  /** Remote IPv4 address, once connected. */
  get remoteAddress(): string | undefined {
    return this.connecting ? undefined : this.#remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.connecting ? undefined : this.#remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.remoteAddress === undefined ? undefined : 'IPv4';
  }
  /** Local address (the stack's), once a connection exists. */
  get localAddress(): string | undefined {
    return this.#localPort === undefined ? undefined : this.#stack?.address;
  }
  get localPort(): number | undefined {
    return this.#localPort;
  }
  get localFamily(): string | undefined {
    return this.#localPort === undefined ? undefined : 'IPv4';
  }
  /** Octets received and handed to the stream. */
  get bytesRead(): number {
    return this.#bytesRead;
  }
  /** Octets written: accepted by the engine plus those still queued in the stream (as Node). */
  get bytesWritten(): number {
    return this.#bytesDispatched + this.writableLength - this.#pendingAccepted;
  }
  /** 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed', as Node computes it. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }
  /** True until connected (no connection yet, or still connecting). */
  get pending(): boolean {
    return this.#entry === undefined || this.connecting;
  }
  /** The idle timeout set by `setTimeout()`, in ms (undefined when none). */
  get timeout(): number | undefined {
    return this.#timeoutMs === 0 ? undefined : this.#timeoutMs;
  }
  /** The engine state of the connection ('CLOSED' when there is none); tcp-tun extension. */
  get tcpState(): TcpState {
    const e = this.#entry;
    return e === undefined || e.removed ? 'CLOSED' : e.conn.state;
  }

  /** The local endpoint, `{}` before a connection exists (as Node). */
  address(): AddressInfo | Record<string, never> {
    const address = this.localAddress;
    const port = this.#localPort;
    if (address === undefined || port === undefined) return {};
    return { address, family: 'IPv4', port };
  }

  // ---- commands ------------------------------------------------------------------------

  /**
   * Opens the connection: `connect(options, cb?)` or `connect(port, host?, cb?)`. `cb` is a
   * one-time 'connect' listener. Failures (refused, timed out, no free port) arrive as 'error'.
   */
  connect(options: TcpSocketConnectOpts, connectListener?: () => void): this;
  connect(port: number | string, host?: string, connectListener?: () => void): this;
  connect(port: number | string, connectListener?: () => void): this;
  connect(...args: unknown[]): this {
    const [options, listener] = normalizeConnectArgs(args);
    const stack = this.#stack;
    if (stack === undefined) {
      throw argumentError('ERR_INVALID_ARG_VALUE', 'This Socket has no stack: create it with stack.net.Socket or stack.net.connect');
    }
    if (this.#entry !== undefined || this.connecting) {
      throw argumentError('ERR_INVALID_ARG_VALUE', 'Socket is already connecting or connected');
    }
    if (this.destroyed) throw argumentError('ERR_SOCKET_CLOSED', 'Socket is closed');
    if (options.port === undefined || options.port === null) {
      throw argumentError('ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified', 'type');
    }
    const port = validatePort(options.port);
    if (options.host !== undefined && typeof options.host !== 'string') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.host" property must be of type string. Received ${describe(options.host)}`, 'type');
    }
    if (options.localAddress !== undefined && !isIpv4String(options.localAddress)) {
      throw argumentError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(options.localAddress)}`, 'type');
    }
    const localPort = options.localPort === undefined ? undefined : validatePort(options.localPort, 'options.localPort');
    if (options.family !== undefined && options.family !== 0 && options.family !== 4) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `The property 'options.family' must be one of: 0, 4. Received ${String(options.family)}`, 'type');
    }
    const host = options.host ?? 'localhost';
    if (listener !== undefined) this.once('connect', listener);
    if (options.timeout !== undefined) this.setTimeout(options.timeout);
    if (options.noDelay !== undefined) this.setNoDelay(options.noDelay);
    if (options.keepAlive !== undefined) this.setKeepAlive(options.keepAlive, options.keepAliveInitialDelay);
    if (options.userTimeout !== undefined) this.setUserTimeout(options.userTimeout);
    if (options.signal !== undefined) this.#watchSignal(options.signal);
    this.connecting = true;
    this.#remotePort = port;
    this.#remoteAddress = host;
    this.#countRef(true);
    if (!isIpv4String(host)) {
      // No resolver: names fail as an unresolvable name does in Node.
      this.#failSoon(new SystemError('ENOTFOUND', 'getaddrinfo', host));
      return this;
    }
    if (options.localAddress !== undefined && options.localAddress !== stack.address && options.localAddress !== '0.0.0.0') {
      this.#failSoon(new SystemError('EADDRNOTAVAIL', 'connect', host, port));
      return this;
    }
    try {
      this.#attach(stack._open(this, ipv4FromString(host), port, localPort, options.tcp));
    } catch (err) {
      if (!(err instanceof SystemError)) throw err;
      this.#failSoon(err);
    }
    return this;
  }

  /**
   * Turns Nagle's algorithm (RFC 1122 §4.2.3.4) off (`true`, the default argument, as Node) or
   * on: with it off a small write goes out at once even while earlier small data is
   * unacknowledged. Data Nagle was holding is sent now. Before the connection exists the
   * setting is kept and applied when it does.
   */
  setNoDelay(noDelay = true): this {
    this.#noDelay = Boolean(noDelay);
    const e = this.#liveEntry();
    if (e !== undefined) {
      e.conn.setNoDelay(this.#noDelay);
      this.#stack?._schedule(e);
    }
    return this;
  }

  /**
   * Keepalive (RFC 1122 §4.2.3.6), as Node's: with `enable`, after `initialDelay` ms without a
   * segment from the peer (0 keeps the current idle time: the stack's `tcp.keepAliveIdleMs`,
   * 2 h by default) probes are sent every `tcp.keepAliveIntervalMs`; after
   * `tcp.keepAliveProbes` unanswered ones the socket fails with ETIMEDOUT.
   */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = Boolean(enable);
    this.#keepAliveInitialDelayMs = Math.min(0x7fffffff, Math.max(0, Math.trunc(Number(initialDelay) || 0)));
    this.#keepAliveSet = true;
    this.#applyKeepAlive();
    return this;
  }

  /**
   * User timeout (tcp-tun extension; RFC 9293 §3.10.8, RFC 5482, Linux's TCP_USER_TIMEOUT): when
   * written data stays unacknowledged (or held by a zero window) for `ms`, the connection is
   * reset and the socket fails with ETIMEDOUT, however many retransmissions that is. 0 turns it
   * off (the retransmission limit `tcp.maxRetransmits` decides).
   */
  setUserTimeout(ms: number): this {
    if (typeof ms !== 'number' || Number.isNaN(ms)) {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "msecs" argument must be of type number. Received ${describe(ms)}`, 'type');
    }
    if (ms < 0 || ms > 0x7fffffff || !Number.isFinite(ms)) {
      throw argumentError('ERR_OUT_OF_RANGE', `The value of "msecs" is out of range. It must be >= 0 && <= 2147483647. Received ${ms}`, 'range');
    }
    this.#userTimeoutMs = Math.trunc(ms);
    const e = this.#liveEntry();
    if (e !== undefined) {
      e.conn.setUserTimeout(this.#userTimeoutMs);
      this.#stack?._schedule(e);
    }
    return this;
  }

  /**
   * Emits 'timeout' after `ms` of inactivity (no bytes read or written), as Node: the socket is
   * NOT closed; 0 disables. `callback` becomes a one-time 'timeout' listener.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number' || Number.isNaN(ms)) {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "msecs" argument must be of type number. Received ${describe(ms)}`, 'type');
    }
    if (ms < 0 || !Number.isFinite(ms)) {
      throw argumentError('ERR_OUT_OF_RANGE', `The value of "msecs" is out of range. It must be a non-negative finite number. Received ${ms}`, 'range');
    }
    this.#timeoutMs = Math.trunc(ms);
    if (this.#idleTimer !== undefined) clearNodeTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (this.#timeoutMs === 0) {
      if (callback !== undefined) this.removeListener('timeout', callback);
      return this;
    }
    if (callback !== undefined) this.once('timeout', callback);
    if (!this.destroyed) {
      const timer = setNodeTimeout(() => {
        if (this.destroyed) return;
        this.emit('timeout');
      }, this.#timeoutMs);
      // Node's socket timeouts never keep the process alive.
      timer.unref();
      this.#idleTimer = timer;
    }
    return this;
  }

  /** The socket keeps the process alive while it is open (default). */
  ref(): this {
    if (!this.#refed) {
      this.#refed = true;
      if (this.#counted) this.#stack?._ref(1);
    }
    return this;
  }

  /** The socket no longer keeps the process alive. */
  unref(): this {
    if (this.#refed) {
      this.#refed = false;
      if (this.#counted) this.#stack?._ref(-1);
    }
    return this;
  }

  /** Ends the writable side, then destroys once everything is written (Node's). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Closes the connection with a RST (Node's `resetAndDestroy`). */
  resetAndDestroy(): this {
    const e = this.#entry;
    if (e !== undefined && !e.removed && !this.#released) {
      this.#released = true;
      this.#stack?._release(e, false);
    }
    this.destroy();
    return this;
  }

  /**
   * Tcp-tun extension: the `setNoDelay`/`setKeepAlive`/`setUserTimeout` settings in force
   * (the engine's defaults where the socket set none).
   */
  get socketOptions(): { noDelay: boolean; keepAlive: boolean; keepAliveInitialDelayMs: number; userTimeoutMs: number } {
    return {
      noDelay: this.#noDelay ?? this.#stack?.tcpConfig.noDelay ?? false,
      keepAlive: this.#keepAlive,
      keepAliveInitialDelayMs: this.#keepAliveInitialDelayMs,
      userTimeoutMs: this.#userTimeoutMs ?? this.#stack?.tcpConfig.userTimeoutMs ?? 0,
    };
  }

  // ---- stack side ----------------------------------------------------------------------

  /**
   * Takes over a connection a listener accepted (already ESTABLISHED or later).
   * @internal
   */
  _attachAccepted(entry: ConnectionEntry): void {
    this.#attach(entry);
    this.#countRef(true);
    // The peer may have sent its FIN before we took over.
    if (PEER_FIN_STATES.has(entry.conn.state)) this.#peerEnded = true;
    if (this.#peerEnded) this.#pull();
  }

  /** @internal Engine events of our connection, from the stack's drain. */
  onTcpEvent(event: TcpEvent): void {
    switch (event.type) {
      case 'connected':
        this.#onConnected();
        break;
      case 'readable':
        this.#touchIdle();
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
        this.#onFinAcked();
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

  override _read(_size: number): void {
    if (this.#deferredReset !== undefined) {
      this.destroy(this.#deferredReset);
      return;
    }
    this.#wantRead = true;
    this.#pull();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#startWrite([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    this.#startWrite(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.connecting || this.#entry === undefined) {
      this.#pendingFinal = callback;
      return;
    }
    this.#finish(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#idleTimer !== undefined) clearNodeTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#countRef(false);
    this.connecting = false;
    const e = this.#entry;
    if (e !== undefined && !this.#released) {
      this.#released = true;
      // Reset unless the close is clean: nothing left unread (Linux resets when close()
      // discards data) and either our FIN is queued or the peer has ended and this is a
      // plain destroy() (then our FIN completes the close, as close() on a kernel socket in
      // CLOSE-WAIT does). RFC 9293 §3.10.4/§3.10.5 permit both.
      const unread = !e.removed && e.conn.readableLength > 0;
      let graceful = this.#finQueued && !unread;
      if (!graceful && !unread && error === null && this.#peerEnded && this.#deferredReset === undefined && !e.removed) {
        e.conn.close();
        graceful = true;
      }
      this.#stack?._release(e, graceful);
    }
    const pending = this.#pendingWrite;
    this.#pendingWrite = undefined;
    const final = this.#pendingFinal ?? this.#finAckWait;
    this.#pendingFinal = undefined;
    this.#finAckWait = undefined;
    const err = error ?? undefined;
    this.#hadError = err !== undefined;
    if (pending !== undefined) pending.callback(err ?? argumentError('ERR_SOCKET_CLOSED', 'Socket is closed'));
    if (final !== undefined) final(err ?? argumentError('ERR_SOCKET_CLOSED', 'Socket is closed'));
    callback(error);
    // Node emits 'close' (with hadError) when the handle has closed: a later turn of the
    // event loop than 'error', so listeners added after 'error' still see it.
    setImmediate(() => this.emit('close', this.#hadError));
  }

  // ---- internals -----------------------------------------------------------------------

  #attach(entry: ConnectionEntry): void {
    this.#entry = entry;
    this.#localPort = entry.localPort;
    this.#remoteAddress = ipv4ToString(entry.remoteAddr);
    this.#remotePort = entry.remotePort;
    entry.owner = this;
    // Settings made before the connection existed (connect options, or set early).
    const conn = entry.conn;
    if (this.#noDelay !== undefined) conn.setNoDelay(this.#noDelay);
    if (this.#userTimeoutMs !== undefined) conn.setUserTimeout(this.#userTimeoutMs);
    this.#applyKeepAlive();
  }

  /** The connection, while this socket owns it and it is not closed. */
  #liveEntry(): ConnectionEntry | undefined {
    const e = this.#entry;
    return e === undefined || e.removed || this.#released ? undefined : e;
  }

  #applyKeepAlive(): void {
    const e = this.#liveEntry();
    if (e === undefined || !this.#keepAliveSet) return;
    const delay = this.#keepAliveInitialDelayMs;
    e.conn.setKeepAlive(this.#keepAlive, delay > 0 ? delay : undefined);
    // The drain re-reads the connection's deadline.
    this.#stack?._schedule(e);
  }

  #onConnected(): void {
    if (!this.connecting) return;
    this.connecting = false;
    this.#touchIdle();
    this.emit('connect');
    this.emit('ready');
    // As Node's afterConnect: start reading into the stream buffer (up to its highWaterMark)
    // even before anyone consumes, so a reset or FIN is noticed at once.
    if (!this.isPaused()) this.read(0);
    this.#flushWrites();
    const final = this.#pendingFinal;
    if (final !== undefined) {
      this.#pendingFinal = undefined;
      this.#finish(final);
    }
    if (this.#wantRead) this.#pull();
  }

  #onError(code: TcpErrorCode): void {
    let error: SystemError;
    if (code === 'ECONNREFUSED' || ((code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') && this.connecting)) {
      error = new SystemError(code, 'connect', this.#remoteAddress, this.#remotePort);
    } else if (code === 'EPIPE') {
      error = new SystemError(code, 'write');
    } else {
      error = new SystemError(code, 'read');
      // A reset is deferred only while something can still observe it: a read (the stream
      // has not ended) or a write (the writable side is open). When both sides are done and
      // end() waits for our FIN's acknowledgment, which will never come, it fails now;
      // deferring it would leave a socket that never closes.
      const observable = !this.#pushedEof || !this.writableEnded;
      if (code === 'ECONNRESET' && !this.#wantRead && !this.destroyed && this.#finAckWait === undefined && observable) {
        // As with Node over a kernel socket whose reading stopped (its stream buffer is full):
        // the reset is seen by the next read (ECONNRESET) or write (EPIPE), not before.
        this.#deferredReset = error;
        return;
      }
    }
    this.destroy(error);
  }

  #onClosed(): void {
    const e = this.#entry;
    if (this.destroyed || e === undefined) return;
    this.#released = true;
    e.owner = undefined;
    if (this.#deferredReset !== undefined) {
      // A write waiting for send-buffer room will never get it: it is the write that sees the
      // reset (EPIPE). Left waiting, the socket would never finish nor close.
      const p = this.#pendingWrite;
      this.#pendingWrite = undefined;
      p?.callback(new SystemError('EPIPE', 'write'));
      return;
    }
    if (this.#peerEnded && this.#finQueued) {
      // Both FINs were exchanged. When ours was acknowledged, 'fin-acked' has completed end()
      // already; a connection that closed without that ACK and without an error (a RST in
      // CLOSING or LAST-ACK, RFC 9293 §3.10.7.4, or an abort there) completes it here. Hand
      // over what the application has not read yet (bounded by the receive buffer); the
      // stream ends by itself.
      const callback = this.#finAckWait;
      this.#finAckWait = undefined;
      callback?.();
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
    const e = this.#entry;
    if (e !== undefined && !e.removed && !this.#released) {
      e.conn.close();
      this.#finQueued = true;
      // 'finish' (and so a clean 'close') waits until the peer has acknowledged our FIN, and
      // with it every byte written: unlike a kernel socket, nothing carries on delivering
      // after the program lets go, so 'close' must mean "the peer has it all".
      this.#finAckWait = callback;
      this.#stack?._schedule(e);
      return;
    }
    callback();
  }

  /**
   * The engine's `fin-acked` (RFC 9293 §3.10.7.4): the peer acknowledged our FIN, and with it
   * every byte written, so `end()` completes ('finish'). It comes at most once, before `closed`,
   * and never after a reset, abort or timeout: those reach the socket as 'error' or 'closed'.
   */
  #onFinAcked(): void {
    const callback = this.#finAckWait;
    this.#finAckWait = undefined;
    callback?.();
  }

  /** Moves received bytes into the stream while it wants them (or all of them when `all`). */
  #pull(all = false): void {
    if (this.#pulling) return;
    this.#pulling = true;
    try {
      const e = this.#entry;
      const conn = e?.conn;
      let took = false;
      if (conn !== undefined && !this.connecting) {
        while ((this.#wantRead || all) && !this.destroyed) {
          const n = Math.min(conn.readableLength, RECV_CHUNK);
          if (n === 0) break;
          // allocUnsafe: recvInto overwrites all n octets, so zero-filling them first (what a
          // fresh Uint8Array does) would be wasted work on every chunk. Only what it copied is
          // pushed, so uninitialised memory never reaches the application.
          const raw = Buffer.allocUnsafe(n);
          const copied = conn.recvInto(raw);
          if (copied === 0) break;
          const chunk = copied === n ? raw : raw.subarray(0, copied);
          took = true;
          this.#bytesRead += copied;
          if (!this.push(chunk)) this.#wantRead = false;
        }
        if (took) this.#touchIdle();
        // Reading opened the window: let the drain send a window update if one is due.
        if (took && e !== undefined && !this.#released) this.#stack?._schedule(e);
      }
      if (this.#peerEnded && !this.#pushedEof && !this.destroyed && (conn === undefined || conn.readableLength === 0)) {
        this.#pushedEof = true;
        this.push(null);
      }
    } finally {
      this.#pulling = false;
    }
  }

  #startWrite(chunks: readonly Uint8Array[], callback: (error?: Error | null) => void): void {
    if (this.#entry === undefined && !this.connecting) {
      callback(argumentError('ERR_SOCKET_CLOSED', 'Socket is closed'));
      return;
    }
    this.#pendingWrite = { chunks, index: 0, offset: 0, callback };
    this.#pendingAccepted = 0;
    this.#flushWrites();
  }

  /** Hands the pending write to the engine as far as its send buffer allows. */
  #flushWrites(): void {
    const p = this.#pendingWrite;
    const e = this.#entry;
    if (p === undefined || e === undefined) return;
    const conn = e.conn;
    let sent = false;
    while (p.index < p.chunks.length) {
      if (e.removed || this.#released || !conn.canSend) {
        this.#pendingWrite = undefined;
        if (sent) this.#stack?._schedule(e);
        p.callback(new SystemError('EPIPE', 'write'));
        return;
      }
      const chunk = p.chunks[p.index] as Uint8Array;
      const rest = p.offset === 0 ? chunk : chunk.subarray(p.offset);
      const n = rest.length === 0 ? 0 : conn.send(rest);
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
    if (sent) {
      this.#touchIdle();
      this.#stack?._schedule(e);
    }
    if (p.index < p.chunks.length) return;
    this.#pendingWrite = undefined;
    this.#pendingAccepted = 0;
    p.callback();
  }

  #touchIdle(): void {
    this.#idleTimer?.refresh();
  }

  #failSoon(error: Error): void {
    process.nextTick(() => this.destroy(error));
  }

  #countRef(on: boolean): void {
    if (on === this.#counted) return;
    this.#counted = on;
    if (this.#refed) this.#stack?._ref(on ? 1 : -1);
  }

  #watchSignal(signal: AbortSignal): void {
    if (signal === null || typeof signal !== 'object' || typeof signal.aborted !== 'boolean') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.signal" property must be an instance of AbortSignal. Received ${describe(signal)}`, 'type');
    }
    const onAbort = (): void => {
      this.destroy(new AbortError(signal.reason));
    };
    if (signal.aborted) {
      process.nextTick(onAbort);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    this.once('close', () => signal.removeEventListener('abort', onAbort));
  }
}

/** Node's normalizeArgs for connect: `(options, cb?)` or `(port, host?, cb?)`. */
export function normalizeConnectArgs(args: readonly unknown[]): [NetConnectOpts, (() => void) | undefined] {
  if (args.length === 0) {
    throw argumentError('ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified', 'type');
  }
  const last = args[args.length - 1];
  const cb = typeof last === 'function' ? (last as () => void) : undefined;
  const first = args[0];
  if (first !== null && typeof first === 'object') return [first as NetConnectOpts, cb];
  if (typeof first === 'string' && !/^\s*\d+\s*$/.test(first)) {
    throw argumentError('ERR_INVALID_ARG_VALUE', `IPC paths are not supported: ${first}`, 'type');
  }
  const host = typeof args[1] === 'string' ? args[1] : undefined;
  return [{ port: first as number, ...(host !== undefined ? { host } : {}) }, cb];
}
