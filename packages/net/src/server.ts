/**
 * `Server`: a listening port of the stack. It IS a `node:net` `Server` (a subclass: Node's
 * constructor, option validation, `getConnections` and `maxConnections` are Node's own), with
 * every method that would touch a kernel handle overridden to use a {@link ListenerHandle} of
 * the stack. The engine's `TcpListener` does the handshakes; once a connection is ESTABLISHED
 * the stack hands its {@link ConnectionHandle} over and the server wraps it in a `Socket` and
 * emits 'connection'. As in Node, `close()` only stops accepting: 'close' follows when every
 * accepted connection has closed.
 */
import net from 'node:net';
import { inspect } from 'node:util';
import { ipv4ToString, ipv6ToString, isIpv4String } from '@tcp-tun/ip';
import { SystemError, argumentError, describe, validatePort } from './errors.js';
import type { ConnectionHandle, ListenerHandle, ListenerOwner, StackPort } from './handle.js';
import type { AddressInfo, Socket } from './socket.js';

/** Options of `createServer()` (Node's `ServerOpts` that apply here). */
export interface ServerOpts {
  /** Accepted sockets keep their side open after the peer's FIN (default false). */
  readonly allowHalfOpen?: boolean;
  /** Accepted sockets start paused (they do anyway until read: bytes wait in the engine). */
  readonly pauseOnConnect?: boolean;
  /** Accepted sockets get `setNoDelay(true)`: Nagle's algorithm (RFC 9293 §3.7.4) off (default false). */
  readonly noDelay?: boolean;
  /** Accepted sockets get `setKeepAlive(true, keepAliveInitialDelay)` (default false). */
  readonly keepAlive?: boolean;
  /** Idle time before the first keep-alive probe of an accepted socket, in milliseconds (default 0: the stack's default). */
  readonly keepAliveInitialDelay?: number;
  /** `highWaterMark` of the accepted sockets' streams, in bytes (default: Node's stream default). */
  readonly highWaterMark?: number;
  /** EventEmitter's: a rejected promise of an async listener becomes an 'error' event. */
  readonly captureRejections?: boolean;
}

/** Options of `server.listen(options)` (Node's `ListenOptions` that apply here). */
export interface ListenOptions {
  /** Port to listen on; 0 or absent picks a free ephemeral port (read it back with `server.address()`). */
  readonly port?: number | string;
  /** The stack's address, '0.0.0.0' or '::' (all mean "our one address"). */
  readonly host?: string;
  /** Most connections waiting for accept plus handshakes in progress (default 511). */
  readonly backlog?: number;
  /** Accepted for Node compatibility; has no effect (there is no cluster to share the port with). */
  readonly exclusive?: boolean;
  /** Aborting it closes the server, as `server.close()`. */
  readonly signal?: AbortSignal;
}

/** Node's default listen backlog. */
const DEFAULT_BACKLOG = 511;

/** Makes the stack's sockets (set by `stack.net`). */
export type SocketFactory = (options: { allowHalfOpen: boolean; highWaterMark?: number }) => Socket;

interface NodeServerInternals {
  _connections: number;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  /** Node keeps it in seconds. */
  keepAliveInitialDelay: number;
  highWaterMark: number;
}

let bindServer: (server: Server, port: StackPort, newSocket: SocketFactory) => void;
/** The stack `stack.net.Server` is constructing a server for (see {@link constructServerWithPort}). */
let constructing: { readonly port: StackPort; readonly newSocket: SocketFactory } | undefined;

/** A listening TCP port of a tcp-tun stack: a `node:net` `Server` driven by the stack. */
export class Server extends net.Server {
  #port: StackPort | undefined;
  #newSocket: SocketFactory | undefined;
  #listener: ListenerHandle | undefined;
  #host = '0.0.0.0';
  readonly #sockets = new Set<Socket>();
  #closing = false;
  #announced = false;
  #refed = true;
  #counted = false;

  static {
    bindServer = (server, port, newSocket) => {
      server.#port = port;
      server.#newSocket = newSocket;
    };
  }

  /** Created by `stack.net.createServer()` / `new stack.net.Server()` (Node's arguments). */
  constructor(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) {
    if (options !== undefined && options !== null && typeof options !== 'object' && typeof options !== 'function') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options" argument must be of type object. Received ${describe(options)}`, 'type');
    }
    super(options as net.ServerOpts, connectionListener as (socket: net.Socket) => void);
    // Node's Server does not pass its options to EventEmitter; capturing rejections is asked
    // of it here as of any emitter.
    if (typeof options === 'object' && options !== null && options.captureRejections === true) {
      const kCapture = Object.getOwnPropertySymbols(this).find((s) => s.description === 'kCapture');
      if (kCapture !== undefined) (this as unknown as Record<symbol, boolean>)[kCapture] = true;
    }
    if (constructing !== undefined) {
      this.#port = constructing.port;
      this.#newSocket = constructing.newSocket;
      constructing = undefined;
    }
  }

  get #stack(): StackPort {
    const port = this.#port;
    if (port === undefined) throw argumentError('ERR_INVALID_ARG_VALUE', 'This Server has no stack: create it with stack.net.createServer');
    return port;
  }

  /**
   * Starts listening: `listen(port?, host?, backlog?, cb?)` or `listen(options, cb?)`. Port 0
   * or none picks an ephemeral port. 'listening' (and `cb`) follow on the next tick; a port
   * already listened on gives an EADDRINUSE 'error'.
   */
  override listen(port?: number | string, host?: string, backlog?: number, listeningListener?: () => void): this;
  override listen(port?: number | string, host?: string, listeningListener?: () => void): this;
  override listen(port?: number | string, backlog?: number, listeningListener?: () => void): this;
  override listen(port?: number | string, listeningListener?: () => void): this;
  override listen(options: ListenOptions, listeningListener?: () => void): this;
  override listen(listeningListener?: () => void): this;
  override listen(...args: unknown[]): this {
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
    // Node's listen(): an options object needs a port (or a path); a port must be a number or
    // a string before its range is checked.
    if (first !== null && typeof first === 'object' && options.port === undefined) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `The argument 'options' must have the property "port" or "path". Received ${inspect(options)}`, 'type');
    }
    if (options.port !== undefined && options.port !== null && typeof options.port !== 'number' && typeof options.port !== 'string') {
      throw argumentError('ERR_INVALID_ARG_VALUE', `The argument 'options' is invalid. Received ${inspect(options)}`, 'type');
    }
    const port = options.port === undefined || options.port === null ? 0 : validatePort(options.port, 'options.port');
    const backlog = options.backlog === undefined ? DEFAULT_BACKLOG : options.backlog;
    if (typeof backlog !== 'number' || !Number.isInteger(backlog) || backlog < 0) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `The argument 'backlog' must be a non-negative integer. Received ${describe(backlog)}`, 'type');
    }
    const host = options.host ?? '0.0.0.0';
    if (typeof host !== 'string') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "hostname" argument must be of type string. Received ${describe(host)}`, 'type');
    }
    if (cb !== undefined) this.once('listening', cb);
    this.#closing = false;
    const any = host === '0.0.0.0' || host === '::' || host === '';
    // 127.0.0.0/8 is this host (the stack's loopback), as `localhost`.
    const loopback = host === 'localhost' || host.startsWith('127.');
    if (!any && !loopback && host !== this.#stack.address) {
      const code = isIpv4String(host) ? 'EADDRNOTAVAIL' : 'ENOTFOUND';
      const err = new SystemError(code, code === 'ENOTFOUND' ? 'getaddrinfo' : 'listen', host, code === 'ENOTFOUND' ? undefined : port);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.#host = any ? '0.0.0.0' : host === 'localhost' ? '127.0.0.1' : host;
    // With a host, Node resolves it first: `listening` turns true with the 'listening' event.
    this.#announced = options.host === undefined;
    let entry: ListenerHandle;
    try {
      // The backlog counts handshakes in progress and connections not yet accepted; 0 still
      // admits one, as Linux does.
      entry = this.#stack.listen(this, port, Math.max(1, backlog), this.#host);
    } catch (err) {
      if (!(err instanceof SystemError)) throw err;
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.#listener = entry;
    this.#setCounted(true);
    if (options.signal !== undefined && (options.signal === null || typeof options.signal !== 'object' || typeof options.signal.aborted !== 'boolean')) {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "options.signal" property must be an instance of AbortSignal. Received ${describe(options.signal)}`, 'type');
    }
    if (options.signal !== undefined) {
      const signal = options.signal;
      if (signal.aborted) process.nextTick(() => this.close());
      else signal.addEventListener('abort', () => this.close(), { once: true });
    }
    process.nextTick(() => {
      if (this.#listener !== entry) return;
      this.#announced = true;
      this.emit('listening');
    });
    return this;
  }

  /**
   * Stops accepting connections; 'close' (and `cb`) follow once every accepted connection has
   * closed. `cb` gets ERR_SERVER_NOT_RUNNING if the server was not listening (as Node).
   */
  override close(callback?: (err?: Error) => void): this {
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
      l.close();
      this.#setCounted(false);
    }
    this.#closing = true;
    this.#emitCloseIfDrained();
    return this;
  }

  /** `{ address, family: 'IPv4', port }` while listening, else null. */
  override address(): AddressInfo | null {
    const l = this.#listener;
    if (l === undefined) return null;
    return { address: this.#host, family: 'IPv4', port: l.port };
  }

  /** The server keeps the process alive while listening (default). */
  override ref(): this {
    if (!this.#refed) {
      this.#refed = true;
      if (this.#counted) this.#stack.hold(1);
    }
    return this;
  }

  /** The server no longer keeps the process alive. */
  override unref(): this {
    if (this.#refed) {
      this.#refed = false;
      if (this.#counted) this.#stack.hold(-1);
    }
    return this;
  }

  /** `await using`-style disposal: closes and waits for 'close'. */
  override [Symbol.asyncDispose](): Promise<void> {
    if (!this.listening) return Promise.resolve();
    return new Promise((resolve) => this.close(() => resolve()));
  }

  /** @internal The stack accepted an ESTABLISHED connection from our listener. */
  onConnection(handle: ConnectionHandle): void {
    const self = this as unknown as NodeServerInternals;
    const max = this.maxConnections;
    // As Node v20: 0 (or none) means no limit.
    if (typeof max === 'number' && max > 0 && self._connections >= max) {
      // As Node's onconnection: the connection is closed (close(), so a FIN, not a RST) and
      // reported with 'drop'.
      handle.close();
      this.emit('drop', {
        localAddress: this.#stack.address,
        localPort: handle.localPort,
        localFamily: 'IPv4',
        remoteAddress: typeof handle.remoteAddr === 'number' ? ipv4ToString(handle.remoteAddr) : ipv6ToString(handle.remoteAddr),
        remotePort: handle.remotePort,
        remoteFamily: 'IPv4',
      });
      return;
    }
    const newSocket = this.#newSocket;
    if (newSocket === undefined) {
      handle.abort();
      return;
    }
    const socket = newSocket({ allowHalfOpen: Boolean(self.allowHalfOpen), highWaterMark: self.highWaterMark });
    socket._attachAccepted(handle, this);
    if (self.noDelay) socket.setNoDelay(true);
    if (self.keepAlive) socket.setKeepAlive(true, self.keepAliveInitialDelay * 1000);
    // As Node's onconnection: the socket starts reading unless pauseOnConnect.
    if (self.pauseOnConnect) socket.pause();
    else socket.read(0);
    this.#sockets.add(socket);
    self._connections++;
    socket.once('close', () => this._socketDestroyed(socket));
    this.emit('connection', socket);
  }

  /** @internal Whether listening has been announced (Node's `listening`). */
  _isListening(): boolean {
    return this.#listener !== undefined && this.#announced;
  }

  /**
   * @internal An accepted socket was destroyed: as Node's socket._destroy, the count drops and
   * 'close' may follow (before the socket's own 'close', which waits for its handle).
   */
  _socketDestroyed(socket: Socket): void {
    if (!this.#sockets.delete(socket)) return;
    (this as unknown as NodeServerInternals)._connections--;
    this.#emitCloseIfDrained();
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
    if (this.#refed) this.#stack.hold(on ? 1 : -1);
  }
}


// Node's `listening` is an accessor of its prototype that reads the kernel handle.
Object.defineProperty(Server.prototype, 'listening', {
  configurable: true,
  get(this: Server): boolean {
    return this._isListening();
  },
});

/** @internal Gives a server its stack and socket factory (done by `stack.net`). */
/**
 * @internal Runs `construct` (a `new` of Server or a subclass) with the stack attached by
 * Server's own constructor, so a subclass of `stack.net.Server` has its stack in its constructor body.
 */
export function constructServerWithPort<T>(port: StackPort, newSocket: SocketFactory, construct: () => T): T {
  // Saved and restored: an argument of a subclass's super() call may construct another one.
  const outer = constructing;
  constructing = { port, newSocket };
  try {
    return construct();
  } finally {
    constructing = outer;
  }
}

export function attachServerPort(server: Server, port: StackPort, newSocket: SocketFactory): void {
  bindServer(server, port, newSocket);
}

/**
 * @internal The stack drives a Server through `ListenerOwner`, whose members are internal. The class
 * does not name it in an `implements` clause: the published .d.ts (stripInternal) drops those
 * members, and the clause would then be false. This keeps the check at compile time.
 */
export type ServerIsListenerOwner = IsTrue<Server extends ListenerOwner ? true : false>;
/** @internal */
type IsTrue<T extends true> = T;
