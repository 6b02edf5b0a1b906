/**
 * `stack.net`: the `node:net` functions and classes bound to one stack, with Node's
 * signatures, so code that takes a `net`-shaped object (or a `createConnection` function, as
 * `http.request` and `http.Agent` do) runs over tcp-tun unchanged. It is built over the stack's
 * {@link StackPort} only.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { StackPort } from './handle.js';
import { Server, attachServerPort, type ServerOpts } from './server.js';
import { installTlsSupport } from './socket-tls.js';
import { Socket, attachStackPort, normalizeConnectArgs, type NetConnectOpts, type SocketConstructorOpts, type TcpSocketConnectOpts } from './socket.js';

/**
 * The `Socket` class of one stack: `new stack.net.Socket(options?)` or `stack.net.Socket(options?)`;
 * assignable to `typeof net.Socket`.
 */
export type BoundSocketClass = typeof Socket & ((options?: SocketConstructorOpts) => Socket);
/**
 * The `Server` class of one stack: `new stack.net.Server(options?, listener?)`, callable as
 * Node's; assignable to `typeof net.Server`.
 */
export type BoundServerClass = typeof Server &
  ((options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) => Server);

/** `createConnection`/`connect` with Node's overloads. */
export interface CreateConnection {
  (options: NetConnectOpts, connectionListener?: () => void): Socket;
  (port: number | string, host?: string, connectionListener?: () => void): Socket;
  (port: number | string, connectionListener?: () => void): Socket;
}

/** `createServer` with Node's overloads. */
export interface CreateServer {
  (connectionListener?: (socket: Socket) => void): Server;
  (options?: ServerOpts, connectionListener?: (socket: Socket) => void): Server;
}

/** The `node:net`-shaped API of a stack. */
export interface NetApi {
  /** `net.createServer()`: a `Server` listening on this stack once `listen()` is called. */
  readonly createServer: CreateServer;
  /** `net.createConnection()`: a `Socket` connecting from this stack's address of the peer's family. */
  readonly createConnection: CreateConnection;
  /** `net.connect()`: the same function as `createConnection`. */
  readonly connect: CreateConnection;
  /** `net.Socket` bound to this stack. */
  readonly Socket: BoundSocketClass;
  /** `net.Server` bound to this stack. */
  readonly Server: BoundServerClass;
  /** Node's own `net.isIP`: 4, 6 or 0 for a non-address. */
  readonly isIP: (input: string) => number;
  /** Node's own `net.isIPv4`. */
  readonly isIPv4: (input: string) => boolean;
  /** Node's own `net.isIPv6`. */
  readonly isIPv6: (input: string) => boolean;
}

/** A class that may also be called without `new`, as Node's `net.Socket()` and `net.Server()`. */
function callable<T extends abstract new (...args: never[]) => unknown>(ctor: T): T {
  return new Proxy(ctor, {
    apply: (target, _this, args: unknown[]) => Reflect.construct(target, args),
  });
}

/** Builds `stack.net` over the stack's port. */
export function createNetApi(port: StackPort): NetApi {
  installTlsSupport();
  class StackSocket extends Socket {
    constructor(options?: SocketConstructorOpts) {
      super(options);
      attachStackPort(this, port);
    }
  }
  Object.defineProperty(StackSocket, 'name', { value: 'Socket' });
  const newSocket = (options: { allowHalfOpen: boolean; highWaterMark?: number }): Socket => new StackSocket(options);

  class StackServer extends Server {
    constructor(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) {
      super(options, connectionListener);
      attachServerPort(this, port, newSocket);
    }
  }
  Object.defineProperty(StackServer, 'name', { value: 'Server' });

  const createConnection = ((...args: unknown[]): Socket => {
    const [options, listener] = normalizeConnectArgs(args);
    // As Node's createConnection: the options build the socket (signal, onread, allowHalfOpen,
    // highWaterMark, noDelay, keepAlive are the constructor's), then connect with them.
    const socket = new StackSocket(options);
    const { signal: _signal, ...connectOptions } = options;
    const opts = connectOptions as TcpSocketConnectOpts;
    if (options.timeout !== undefined) socket.setTimeout(options.timeout);
    return listener === undefined ? socket.connect(opts) : socket.connect(opts, listener);
  }) as CreateConnection;

  const createServer = ((options?: ServerOpts | ((socket: Socket) => void), listener?: (socket: Socket) => void): Server =>
    new StackServer(options, listener)) as CreateServer;

  return Object.freeze({
    createServer,
    createConnection,
    connect: createConnection,
    Socket: callable(StackSocket) as unknown as BoundSocketClass,
    Server: callable(StackServer) as unknown as BoundServerClass,
    isIP,
    isIPv4,
    isIPv6,
  });
}
