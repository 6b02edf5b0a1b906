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
import { ipv6FromString, ipv6ToString } from '@tcp-tun/ip';
import { SystemError, argumentError, describe, validatePort } from './errors.js';
import type { ConnectionHandle, ListenerHandle, ListenerOwner, StackPort } from './handle.js';
import type { AddressInfo, Socket } from './socket.js';
import { handleEnds, ipType } from './socket-address.js';

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
  /**
   * Where to listen: '::' (both families on a dual-stack stack, IPv6 peers and IPv4 ones as
   * `::ffff:a.b.c.d`), '0.0.0.0' (IPv4), the stack's IPv4 or IPv6 address, a 127.0.0.0/8
   * address, '::1' or 'localhost' (the stack's loopback). Default '::' when the stack has an
   * IPv6 address, else '0.0.0.0' (Node listens on '::' when the host has IPv6). On a stack
   * without IPv6, '::' is '0.0.0.0'.
   */
  readonly host?: string;
  /** With host '::': IPv6 peers only (Linux's IPV6_V6ONLY), so '0.0.0.0' may be listened on the same port. */
  readonly ipv6Only?: boolean;
  /** Most connections waiting for accept plus handshakes in progress (default 511). */
  readonly backlog?: number;
  /** Accepted for Node compatibility; has no effect (there is no cluster to share the port with). */
  readonly exclusive?: boolean;
  /** Aborting it closes the server, as `server.close()`. */
  readonly signal?: AbortSignal;
}

/**
 * The host a listener binds, as the stack takes it, or why not: '::' (on a stack without IPv6,
 * '0.0.0.0', as before IPv6), '0.0.0.0', our addresses (IPv6 in RFC 5952 text), 127.0.0.0/8,
 * '::1' and 'localhost' (127.0.0.1, what `dns.lookup('localhost')` answers from /etc/hosts).
 * Another IP literal is not ours (EADDRNOTAVAIL); a name is not resolved (ENOTFOUND).
 */
function listenHost(host: string, stack: StackPort): string | { code: 'EADDRNOTAVAIL' | 'ENOTFOUND' } {
  if (host === '' || host === '::') return stack.address6 !== undefined ? '::' : '0.0.0.0';
  if (host === '0.0.0.0') return host;
  if (host === 'localhost') return '127.0.0.1';
  const type = ipType(host);
  if (type === 4) return host.startsWith('127.') || host === stack.address ? host : { code: 'EADDRNOTAVAIL' };
  if (type === 6) {
    if (stack.address6 === undefined) return { code: 'EADDRNOTAVAIL' };
    const text = ipv6ToString(ipv6FromString(host.split('%')[0] ?? host));
    return text === '::1' || text === stack.address6 ? text : { code: 'EADDRNOTAVAIL' };
  }
  return { code: 'ENOTFOUND' };
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
  /** Listening on '::' without ipv6Only: IPv4 peers arrive v4-mapped. */
  #dual = false;
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
    const stack = this.#stack;
    const hasIpv6 = stack.address6 !== undefined;
    const host = options.host ?? (hasIpv6 ? '::' : '0.0.0.0');
    if (typeof host !== 'string') {
      throw argumentError('ERR_INVALID_ARG_TYPE', `The "hostname" argument must be of type string. Received ${describe(host)}`, 'type');
    }
    if (cb !== undefined) this.once('listening', cb);
    this.#closing = false;
    const bound = listenHost(host, stack);
    if (typeof bound !== 'string') {
      const code = bound.code;
      const err = new SystemError(code, code === 'ENOTFOUND' ? 'getaddrinfo' : 'listen', host, code === 'ENOTFOUND' ? undefined : port);
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.#host = bound;
    // IPV6_V6ONLY matters only to a '::' listener; a dual one reports IPv4 peers as v4-mapped.
    const ipv6Only = bound === '::' && Boolean(options.ipv6Only);
    this.#dual = bound === '::' && !ipv6Only;
    // With a host, Node resolves it first: `listening` turns true with the 'listening' event.
    this.#announced = options.host === undefined;
    let entry: ListenerHandle;
    try {
      // The backlog counts handshakes in progress and connections not yet accepted; 0 still
      // admits one, as Linux does.
      entry = stack.listen(this, port, Math.max(1, backlog), this.#host, ipv6Only);
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

  /** `{ address, family, port }` while listening (family 'IPv6' for '::' and IPv6 hosts), else null. */
  override address(): AddressInfo | null {
    const l = this.#listener;
    if (l === undefined) return null;
    return { address: this.#host, family: ipType(this.#host) === 6 ? 'IPv6' : 'IPv4', port: l.port };
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
      const ends = handleEnds(handle, this.#dual);
      handle.close();
      this.emit('drop', {
        localAddress: ends.local,
        localPort: handle.localPort,
        localFamily: ends.family,
        remoteAddress: ends.remote,
        remotePort: handle.remotePort,
        remoteFamily: ends.family,
      });
      return;
    }
    const newSocket = this.#newSocket;
    if (newSocket === undefined) {
      handle.abort();
      return;
    }
    const socket = newSocket({ allowHalfOpen: Boolean(self.allowHalfOpen), highWaterMark: self.highWaterMark });
    // Counted before anything can destroy it: the socket's _destroy uncounts it (as Node's
    // does), with no 'close' listener per connection (a once() wrapper, its state and a
    // closure were ~250 octets of every idle connection, bench/PROFILE.md round 6).
    this.#sockets.add(socket);
    self._connections++;
    socket._attachAccepted(handle, this, this.#dual);
    if (self.noDelay) socket.setNoDelay(true);
    if (self.keepAlive) socket.setKeepAlive(true, self.keepAliveInitialDelay * 1000);
    // As Node's onconnection: the socket starts reading unless pauseOnConnect.
    if (self.pauseOnConnect) socket.pause();
    else socket.read(0);
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
