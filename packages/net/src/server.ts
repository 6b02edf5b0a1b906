/**
 * `Server`: a listening port of the stack with `node:net`'s `Server` API. The engine's
 * `TcpListener` does the handshakes; once a connection is ESTABLISHED the stack accepts it and
 * the server wraps it in a `Socket` and emits 'connection'. As in Node, `close()` only stops
 * accepting: 'close' follows when every accepted connection has closed.
 */
import { EventEmitter } from 'node:events';
import { ipv4ToString, isIpv4String } from '@tcp-tun/ip';
import { SystemError, argumentError, describe, validatePort } from './errors.js';
import type { ConnectionEntry, ListenerEntry, ListenerOwner } from './internal.js';
import type { AddressInfo, Socket } from './socket.js';
import type { Stack } from './stack.js';

/** Options of `createServer()` (Node's `ServerOpts` that apply here). */
export interface ServerOpts {
  /** Accepted sockets keep their side open after the peer's FIN (default false). */
  readonly allowHalfOpen?: boolean;
  /** Accepted sockets start paused (they do anyway until read: bytes wait in the engine). */
  readonly pauseOnConnect?: boolean;
  readonly noDelay?: boolean;
  readonly keepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
  readonly highWaterMark?: number;
}

/** Options of `server.listen(options)` (Node's `ListenOptions` that apply here). */
export interface ListenOptions {
  readonly port?: number | string;
  /** The stack's address, '0.0.0.0' or '::' (all mean "our one address"). */
  readonly host?: string;
  /** Most connections waiting for accept plus handshakes in progress (default 511). */
  readonly backlog?: number;
  readonly exclusive?: boolean;
  readonly signal?: AbortSignal;
}

/** Node's default listen backlog. */
const DEFAULT_BACKLOG = 511;

type SocketFactory = (options: { allowHalfOpen: boolean; highWaterMark?: number }) => Socket;

/** A listening TCP port of a tcp-tun {@link Stack}, with `node:net`'s `Server` API. */
export class Server extends EventEmitter implements ListenerOwner {
  /** Most simultaneous connections; further ones are reset and 'drop' is emitted (as Node). */
  maxConnections: number | undefined;

  readonly #stack: Stack;
  readonly #options: ServerOpts;
  readonly #newSocket: SocketFactory;
  #listener: ListenerEntry | undefined;
  #host = '0.0.0.0';
  readonly #sockets = new Set<Socket>();
  #closing = false;
  #refed = true;
  #counted = false;

  /** @internal Created by `stack.net.createServer()` / `new stack.net.Server()`. */
  constructor(stack: Stack, newSocket: SocketFactory, options: ServerOpts = {}, connectionListener?: (socket: Socket) => void) {
    super();
    if (options === null || typeof options !== 'object') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options" argument must be of type object. Received ${describe(options)}`, 'type');
    }
    this.#stack = stack;
    this.#options = options;
    this.#newSocket = newSocket;
    if (connectionListener !== undefined) this.on('connection', connectionListener);
  }

  /** Whether the server is listening. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /**
   * Starts listening: `listen(port?, host?, backlog?, cb?)` or `listen(options, cb?)`. Port 0
   * or none picks an ephemeral port. 'listening' (and `cb`) follow on the next tick; a port
   * already listened on gives an EADDRINUSE 'error'.
   */
  listen(port?: number | string, host?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, host?: string, listeningListener?: () => void): this;
  listen(port?: number | string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  listen(listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    const last = args[args.length - 1];
    const cb = typeof last === 'function' ? (last as () => void) : undefined;
    const rest = cb === undefined ? args : args.slice(0, -1);
    let options: ListenOptions;
    const first = rest[0];
    if (first !== null && typeof first === 'object') {
      options = first as ListenOptions;
    } else {
      const host = typeof rest[1] === 'string' ? rest[1] : undefined;
      const backlog = typeof rest[1] === 'number' ? rest[1] : typeof rest[2] === 'number' ? rest[2] : undefined;
      options = {
        ...(first !== undefined && first !== null ? { port: first as number | string } : {}),
        ...(host !== undefined ? { host } : {}),
        ...(backlog !== undefined ? { backlog } : {}),
      };
    }
    if (this.#listener !== undefined) {
      throw argumentError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
    }
    const port = options.port === undefined ? 0 : validatePort(options.port, 'options.port');
    const backlog = options.backlog === undefined ? DEFAULT_BACKLOG : options.backlog;
    if (typeof backlog !== 'number' || !Number.isInteger(backlog) || backlog < 0) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `The argument 'backlog' must be a non-negative integer. Received ${describe(backlog)}`, 'type');
    }
    const host = options.host ?? '0.0.0.0';
    if (typeof host !== 'string') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.host" property must be of type string. Received ${describe(host)}`, 'type');
    }
    if (cb !== undefined) this.once('listening', cb);
    this.#closing = false;
    const any = host === '0.0.0.0' || host === '::' || host === '';
    if (!any && host !== this.#stack.address) {
      const code = isIpv4String(host) ? 'EADDRNOTAVAIL' : 'ENOTFOUND';
      const err = new SystemError(code, code === 'ENOTFOUND' ? 'getaddrinfo' : 'listen', host, code === 'ENOTFOUND' ? undefined : port);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.#host = any ? '0.0.0.0' : host;
    let entry: ListenerEntry;
    try {
      // The backlog counts handshakes in progress and connections not yet accepted; 0 still
      // admits one, as Linux does.
      entry = this.#stack._listen(this, port, Math.max(1, backlog), this.#host);
    } catch (err) {
      if (!(err instanceof SystemError)) throw err;
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.#listener = entry;
    this.#setCounted(true);
    if (options.signal !== undefined) {
      const signal = options.signal;
      if (signal.aborted) process.nextTick(() => this.close());
      else signal.addEventListener('abort', () => this.close(), { once: true });
    }
    process.nextTick(() => {
      if (this.#listener === entry) this.emit('listening');
    });
    return this;
  }

  /**
   * Stops accepting connections; 'close' (and `cb`) follow once every accepted connection has
   * closed. `cb` gets ERR_SERVER_NOT_RUNNING if the server was not listening (as Node).
   */
  close(callback?: (err?: Error) => void): this {
    if (typeof callback === 'function') {
      if (this.#listener === undefined) {
        this.once('close', () => callback(argumentError('ERR_SERVER_NOT_RUNNING', 'Server is not running.')));
      } else {
        this.once('close', () => callback());
      }
    }
    const l = this.#listener;
    if (l !== undefined) {
      this.#listener = undefined;
      this.#stack._unlisten(l);
      this.#setCounted(false);
    }
    this.#closing = true;
    this.#emitCloseIfDrained();
    return this;
  }

  /** `{ address, family: 'IPv4', port }` while listening, else null. */
  address(): AddressInfo | null {
    const l = this.#listener;
    if (l === undefined) return null;
    return { address: this.#host, family: 'IPv4', port: l.port };
  }

  /** Calls back (asynchronously) with the number of open accepted connections. */
  getConnections(callback: (err: Error | null, count: number) => void): this {
    const count = this.#sockets.size;
    process.nextTick(() => callback(null, count));
    return this;
  }

  /** The server keeps the process alive while listening (default). */
  ref(): this {
    if (!this.#refed) {
      this.#refed = true;
      if (this.#counted) this.#stack._ref(1);
    }
    return this;
  }

  /** The server no longer keeps the process alive. */
  unref(): this {
    if (this.#refed) {
      this.#refed = false;
      if (this.#counted) this.#stack._ref(-1);
    }
    return this;
  }

  /** `await using`-style disposal: closes and waits for 'close'. */
  [Symbol.asyncDispose](): Promise<void> {
    if (!this.listening) return Promise.resolve();
    return new Promise((resolve) => this.close(() => resolve()));
  }

  /** @internal The stack accepted an ESTABLISHED connection from our listener. */
  onConnection(entry: ConnectionEntry): void {
    if (this.maxConnections !== undefined && this.#sockets.size >= this.maxConnections) {
      // Node closes the connection at once and reports it with 'drop'.
      this.emit('drop', {
        localAddress: this.#stack.address,
        localPort: entry.localPort,
        localFamily: 'IPv4',
        remoteAddress: ipv4ToString(entry.remoteAddr),
        remotePort: entry.remotePort,
        remoteFamily: 'IPv4',
      });
      return;
    }
    const o = this.#options;
    const socket = this.#newSocket({
      allowHalfOpen: Boolean(o.allowHalfOpen),
      ...(o.highWaterMark !== undefined ? { highWaterMark: o.highWaterMark } : {}),
    });
    socket._attachAccepted(entry);
    socket.server = this;
    if (o.noDelay !== undefined) socket.setNoDelay(o.noDelay);
    if (o.keepAlive !== undefined) socket.setKeepAlive(o.keepAlive, o.keepAliveInitialDelay);
    // As Node's onconnection: the socket starts reading unless pauseOnConnect.
    if (o.pauseOnConnect === true) socket.pause();
    else socket.read(0);
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#emitCloseIfDrained();
    });
    this.emit('connection', socket);
  }

  /** @internal The stack was closed. */
  onListenerClosed(): void {
    if (this.#listener === undefined) return;
    this.#listener = undefined;
    this.#setCounted(false);
    this.#closing = true;
    this.#emitCloseIfDrained();
  }

  #emitCloseIfDrained(): void {
    if (!this.#closing || this.#listener !== undefined || this.#sockets.size > 0) return;
    this.#closing = false;
    process.nextTick(() => this.emit('close'));
  }

  #setCounted(on: boolean): void {
    if (on === this.#counted) return;
    this.#counted = on;
    if (this.#refed) this.#stack._ref(on ? 1 : -1);
  }
}

