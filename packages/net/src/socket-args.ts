/**
 * The arguments of the socket layer: Node's option shapes as tcp-tun takes them, Node's
 * `normalizeArgs` for `connect()`, and `AbortError`.
 */
import type net from 'node:net';
import type { TcpConfig } from '@tcp-tun/tcp';
import { TcpTunError, argumentError } from './errors.js';
import type { LookupFunction } from './handle.js';

/** Options of `new Socket()` (Node's `SocketConstructorOpts` that apply here). */
export interface SocketConstructorOpts {
  /** Keep our side open after the peer's FIN (default false: end with it, as Node). */
  readonly allowHalfOpen?: boolean;
  /** Aborting destroys the socket with an `AbortError`. */
  readonly signal?: AbortSignal;
  /** Buffer limit of both stream sides, in bytes (default: Node's stream default). */
  readonly highWaterMark?: number;
  /** Buffer limit of the readable side, in bytes; overrides `highWaterMark` there. */
  readonly readableHighWaterMark?: number;
  /** Buffer limit of the writable side, in bytes; overrides `highWaterMark` there. */
  readonly writableHighWaterMark?: number;
  /** Node's `onread`: received data goes into `buffer` and to `callback`, not to 'data'. */
  readonly onread?: net.OnReadOpts;
  /** Turn Nagle's algorithm (RFC 9293 §3.7.4) off at connect, as `setNoDelay(true)`. */
  readonly noDelay?: boolean;
  /** Send keep-alive probes once connected, as `setKeepAlive(true)`. */
  readonly keepAlive?: boolean;
  /** Idle time before the first keep-alive probe, in milliseconds (0: the stack's default). */
  readonly keepAliveInitialDelay?: number;
  /** EventEmitter's: a rejected promise of an async listener becomes an 'error' event. */
  readonly captureRejections?: boolean;
}

/** Options of `socket.connect()` / `createConnection()` (Node's `TcpSocketConnectOpts`). */
export interface TcpSocketConnectOpts {
  /** Remote port, 0–65535 as Node validates it (a numeric string is accepted too). */
  readonly port: number | string;
  /**
   * An IPv4 or IPv6 literal (without brackets: `[::1]` is a name, as in Node), `localhost`, or
   * a name the `lookup` option (or the stack's) resolves. 127.0.0.0/8, `::1` and the stack's
   * own addresses are this stack (loopback); a v4-mapped literal (`::ffff:10.0.0.2`) reaches
   * the IPv4 address from an IPv6 socket (its ends then read as `::ffff:…`, family 'IPv6').
   * Default 'localhost'.
   */
  readonly host?: string;
  /**
   * Our address for the connection: the stack's address of the peer's family (or `0.0.0.0` /
   * `::`, `::1`). Not an IP literal: throws ERR_INVALID_IP_ADDRESS; the other family than the
   * peer's: EINVAL (`bind`), as Linux; not ours: EADDRNOTAVAIL.
   */
  readonly localAddress?: string;
  /** Local port to bind; default a free ephemeral port. */
  readonly localPort?: number;
  /**
   * The family asked of the resolver: 0, 4, 6, or 'IPv4'/'IPv6' (as `address().family` spells
   * them). Without a `lookup` option it must be one of those (else ERR_INVALID_ARG_VALUE, as
   * `dns.lookup`); an IP literal host ignores it.
   */
  readonly family?: number | string;
  /** Resolver with `dns.lookup`'s signature; default the stack's `lookup`. */
  readonly lookup?: LookupFunction;
  /** `dns.lookup` hints (`dns.ADDRCONFIG`, ...) passed to the resolver; default ADDRCONFIG when no `family` is given, as Node on Linux. */
  readonly hints?: number;
  /** Idle timeout, as `setTimeout()`. */
  readonly timeout?: number;
  /** Turn Nagle's algorithm off (`setNoDelay()`). */
  readonly noDelay?: boolean;
  /** Keepalive probes (`setKeepAlive()`), after `keepAliveInitialDelay` ms idle. */
  readonly keepAlive?: boolean;
  /** Idle time before the first keep-alive probe, in milliseconds (0: the stack's default). */
  readonly keepAliveInitialDelay?: number;
  /**
   * Fail with ETIMEDOUT when written data stays unacknowledged this long, in ms (tcp-tun
   * extension, Linux's TCP_USER_TIMEOUT; `setUserTimeout()`). Default: the stack's
   * `tcp.userTimeoutMs` (0 = off: the retransmission limit decides).
   */
  readonly userTimeout?: number;
  /** Aborting it destroys the socket with an `AbortError`. */
  readonly signal?: AbortSignal;
  /** Per-connection engine settings (tcp-tun extension; e.g. short `synRetries` in tests). */
  readonly tcp?: Partial<TcpConfig>;
  /**
   * Node 20's Happy Eyeballs (default `net.getDefaultAutoSelectFamily()`, true): without a
   * fixed `family` or a `localAddress` the resolver is asked for every address, each answer is
   * a 'lookup' event, and the addresses are tried in turn, alternating families, until one
   * connects ('connectionAttempt', 'connectionAttemptFailed', 'connectionAttemptTimeout',
   * `autoSelectFamilyAttemptedAddresses`); all failing gives an `AggregateError`.
   */
  readonly autoSelectFamily?: boolean;
  /** Milliseconds each autoSelectFamily attempt gets before the next address is tried (default Node's, 250; at least 10). */
  readonly autoSelectFamilyAttemptTimeout?: number;
}

/** `createConnection()` options: Node's `NetConnectOpts` (IPC paths are refused at run time). */
export type NetConnectOpts = net.NetConnectOpts | (TcpSocketConnectOpts & SocketConstructorOpts);

/** `socket.address()`: the local endpoint. */
export interface AddressInfo {
  /** IPv4 dotted quad, IPv6 RFC 5952 text, or `::ffff:a.b.c.d` on a dual-stack socket. */
  address: string;
  /** 'IPv4' or 'IPv6' (Node 20's strings). */
  family: string;
  /** Port number. */
  port: number;
}

/** Node's `AbortError` shape (`name` 'AbortError', `code` 'ABORT_ERR'). */
export class AbortError extends TcpTunError {
  constructor(cause?: unknown) {
    super('ABORT_ERR', 'The operation was aborted', cause === undefined ? undefined : { cause });
    this.name = 'AbortError';
  }
}

/** Node's normalizeArgs for connect: `(options, cb?)` or `(port, host?, cb?)`. */
export function normalizeConnectArgs(args: readonly unknown[]): [TcpSocketConnectOpts & SocketConstructorOpts, (() => void) | undefined] {
  if (args.length === 0) {
    throw argumentError('ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified', 'type');
  }
  const last = args[args.length - 1];
  const cb = typeof last === 'function' ? (last as () => void) : undefined;
  const first = args[0];
  if (first !== null && typeof first === 'object') {
    const o = first as { path?: unknown; port?: unknown };
    if (o.path !== undefined && o.path !== null && o.port === undefined) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `IPC paths are not supported: ${String(o.path)}`, 'type');
    }
    return [first as TcpSocketConnectOpts & SocketConstructorOpts, cb];
  }
  if (typeof first === 'string' && !/^\s*\d+\s*$/.test(first)) {
    throw argumentError('ERR_INVALID_ARG_VALUE', `IPC paths are not supported: ${first}`, 'type');
  }
  const host = typeof args[1] === 'string' ? args[1] : undefined;
  return [{ port: first as number, ...(host !== undefined ? { host } : {}) }, cb];
}
