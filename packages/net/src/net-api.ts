/**
 * `stack.net`: the `node:net` functions and classes bound to one stack, with Node's
 * signatures, so code that takes a `net`-shaped object (or a `createConnection` function, as
 * `http.request` and `http.Agent` do) runs over tcp-tun unchanged.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { Server, type ServerOpts } from './server.js';
import { Socket, normalizeConnectArgs, type NetConnectOpts, type SocketConstructorOpts, type TcpSocketConnectOpts } from './socket.js';
import type { Stack } from './stack.js';

/** The `Socket` class of one stack: `new stack.net.Socket(options?)`. */
export type BoundSocketClass = new (options?: Omit<SocketConstructorOpts, 'stack'>) => Socket;
/** The `Server` class of one stack: `new stack.net.Server(options?, listener?)`. */
export type BoundServerClass = new (
  options?: ServerOpts | ((socket: Socket) => void),
  connectionListener?: (socket: Socket) => void,
) => Server;

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
  readonly createServer: CreateServer;
  readonly createConnection: CreateConnection;
  readonly connect: CreateConnection;
  readonly Socket: BoundSocketClass;
  readonly Server: BoundServerClass;
  readonly isIP: (input: string) => number;
  readonly isIPv4: (input: string) => boolean;
  readonly isIPv6: (input: string) => boolean;
}

/** Builds `stack.net` for `stack`. */
export function createNetApi(stack: Stack): NetApi {
  const BoundSocket = class Socket_ extends Socket {
    constructor(options: Omit<SocketConstructorOpts, 'stack'> = {}) {
      super({ ...options, stack });
    }
  };
  Object.defineProperty(BoundSocket, 'name', { value: 'Socket' });
  const newSocket = (options: { allowHalfOpen: boolean; highWaterMark?: number }): Socket => new BoundSocket(options);

  const BoundServer = class Server_ extends Server {
    constructor(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) {
      if (typeof options === 'function') super(stack, newSocket, {}, options);
      else super(stack, newSocket, options ?? {}, connectionListener);
    }
  };
  Object.defineProperty(BoundServer, 'name', { value: 'Server' });

  const createConnection = ((...args: unknown[]): Socket => {
    const [options, listener] = normalizeConnectArgs(args);
    const { allowHalfOpen, signal, highWaterMark, readableHighWaterMark, writableHighWaterMark } = options;
    const socket = new BoundSocket({
      ...(allowHalfOpen !== undefined ? { allowHalfOpen } : {}),
      ...(highWaterMark !== undefined ? { highWaterMark } : {}),
      ...(readableHighWaterMark !== undefined ? { readableHighWaterMark } : {}),
      ...(writableHighWaterMark !== undefined ? { writableHighWaterMark } : {}),
    });
    // The signal is watched by connect() (once), not by the constructor too.
    const connectOptions: TcpSocketConnectOpts = signal === undefined ? options : { ...options, signal };
    return listener === undefined ? socket.connect(connectOptions) : socket.connect(connectOptions, listener);
  }) as CreateConnection;

  const createServer = ((options?: ServerOpts | ((socket: Socket) => void), listener?: (socket: Socket) => void): Server =>
    new BoundServer(options, listener)) as CreateServer;

  return Object.freeze({
    createServer,
    createConnection,
    connect: createConnection,
    Socket: BoundSocket,
    Server: BoundServer,
    isIP,
    isIPv4,
    isIPv6,
  });
}
