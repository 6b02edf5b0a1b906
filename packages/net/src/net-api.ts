/**
 * `stack.net`: the `node:net` functions and classes bound to one stack, with Node's
 * signatures, so code that takes a `net`-shaped object (or a `createConnection` function, as
 * `http.request` and `http.Agent` do) runs over tcp-tun unchanged. It is built over the stack's
 * {@link StackPort} only.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { StackPort } from './handle.js';
import { Server, attachServerPort, constructServerWithPort, type ServerOpts } from './server.js';
import { installTlsSupport } from './socket-tls.js';
import { Socket, attachStackPort, constructWithPort, normalizeConnectArgs, type NetConnectOpts, type SocketConstructorOpts, type TcpSocketConnectOpts } from './socket.js';

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

/**
 * `stack.net.Socket` / `stack.net.Server`: the ONE shared class, bound to a stack by a proxy.
 * `new` (also from a subclass: `newTarget` keeps its prototype) and a plain call both construct
 * the shared class and then attach the stack's port. Why not a subclass per stack: every
 * stack's sockets would then have a map of their own (a different prototype), so with a few
 * stacks in a process — apps/echo's warm-up pair and its real one, or a test's several — every
 * property access and call in the socket and stream code turns polymorphic and the code
 * optimised on one stack's sockets is deoptimised by the next one's (measured: the warm-up
 * followed by a fresh stack ran its first 300 connections at 650-750 µs of CPU each, against
 * ~520 with no warm-up at all). `instanceof stack.net.Socket` holds through the proxy, which
 * reads the shared class's `prototype`.
 */
function bound<T extends abstract new (...args: never[]) => object>(ctor: T, withPort: <R>(construct: () => R) => R): T {
  const proxy: T = new Proxy(ctor, {
    // `new stack.net.Socket()` has the proxy as new.target: construct the class itself, so the
    // instance gets the class's own map (a proxy as new.target takes V8's slow path).
    construct: (target, args: unknown[], newTarget: new (...a: never[]) => object) =>
      withPort(() => Reflect.construct(target, args, (newTarget as unknown) === proxy ? target : newTarget) as object),
    apply: (target, _this, args: unknown[]) => withPort(() => Reflect.construct(target, args) as object),
  });
  return proxy;
}

/** Builds `stack.net` over the stack's port. */
export function createNetApi(port: StackPort): NetApi {
  installTlsSupport();
  const newSocket = (options: SocketConstructorOpts): Socket => {
    const socket = new Socket(options);
    attachStackPort(socket, port);
    return socket;
  };
  const BoundSocket = bound(Socket, (construct) => constructWithPort(port, construct));
  const BoundServer = bound(Server, (construct) => constructServerWithPort(port, newSocket, construct));

  const createConnection = ((...args: unknown[]): Socket => {
    const [options, listener] = normalizeConnectArgs(args);
    // As Node's createConnection: the options build the socket (signal, onread, allowHalfOpen,
    // highWaterMark, noDelay, keepAlive are the constructor's), then connect with them.
    const socket = newSocket(options);
    const { signal: _signal, ...connectOptions } = options;
    const opts = connectOptions as TcpSocketConnectOpts;
    if (options.timeout !== undefined) socket.setTimeout(options.timeout);
    return listener === undefined ? socket.connect(opts) : socket.connect(opts, listener);
  }) as CreateConnection;

  const createServer = ((options?: ServerOpts | ((socket: Socket) => void), listener?: (socket: Socket) => void): Server => {
    const server = new Server(options, listener);
    attachServerPort(server, port, newSocket);
    return server;
  }) as CreateServer;

  return Object.freeze({
    createServer,
    createConnection,
    connect: createConnection,
    Socket: BoundSocket as unknown as BoundSocketClass,
    Server: BoundServer as unknown as BoundServerClass,
    isIP,
    isIPv4,
    isIPv6,
  });
}
