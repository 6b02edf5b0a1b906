/**
 * Errors of the net layer, shaped as Node's own so code written for `node:net` handles them
 * unchanged:
 * - *System errors* (what the kernel would report: `ECONNREFUSED`, `ECONNRESET`, …) read like
 *   Node's (`connect ECONNREFUSED 10.0.0.2:80`) and carry `code`, `errno` (negative, libuv's
 *   numbers), `syscall`, `address`, `port`. They arrive as `'error'` events.
 * - *Argument errors* (API misuse) are thrown at once with Node's `ERR_*` codes and Node's
 *   classes (`RangeError` for a bad port, `TypeError` for a bad type).
 * Both kinds are `instanceof TcpTunError`, the one base class of this package's errors.
 */

const BRAND: unique symbol = Symbol('tcp-tun.error');

/**
 * Base class of every error this package creates. `code` is permanent: match on it, never on
 * the message. Errors that must also be a `RangeError`/`TypeError` (as Node's are) are built by
 * the package's internal argument checks and still pass `instanceof TcpTunError`.
 */
export class TcpTunError extends Error {
  /** Stable machine-readable code, e.g. `ECONNREFUSED` or `ERR_SOCKET_BAD_PORT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TcpTunError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * `instanceof` check: lets the RangeError/TypeError-based errors of this package count as
   * `TcpTunError` too (they carry a private brand), while subclasses keep the ordinary
   * prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== TcpTunError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && BRAND in value;
  }
}

/** Codes of the system errors the stack reports, with libuv's (negative Linux) errno values. */
export const SYSTEM_ERRNO = {
  /** A write after our end or after the peer reset the connection. */
  EPIPE: -32,
  /** The local port is already in use (listen or bind). */
  EADDRINUSE: -98,
  /** The local address is not the stack's, or no ephemeral port is free. */
  EADDRNOTAVAIL: -99,
  /** Reserved for a connection aborted on our side, as Linux's; not raised by the stack today. */
  ECONNABORTED: -103,
  /** The peer sent a RST on an established connection. */
  ECONNRESET: -104,
  /** The stack's `maxConnections` is reached (an active open beyond it). */
  ENOBUFS: -105,
  /** Retransmissions, the user timeout or keep-alive probes ran out. */
  ETIMEDOUT: -110,
  /** The peer answered our SYN with a RST, or an ICMP port unreachable ended the connection attempt. */
  ECONNREFUSED: -111,
  /** An ICMP network unreachable (RFC 792) ended a connection attempt. */
  ENETUNREACH: -101,
  /** An ICMP host unreachable (RFC 792) ended a connection attempt. */
  EHOSTUNREACH: -113,
  /** The host name did not resolve (libuv's EAI_NONAME number). */
  ENOTFOUND: -3008,
  /** A connect is already in progress on the socket. */
  EALREADY: -114,
  /** A local address of the other family than the connection's (Linux's bind() on an AF_INET6 socket given an IPv4 address). */
  EINVAL: -22,
} as const;

/** A system error code the stack can report. */
export type SystemErrorCode = keyof typeof SYSTEM_ERRNO;

/** The syscall a system error is attributed to, as Node names them. */
export type SystemErrorSyscall = 'connect' | 'read' | 'write' | 'listen' | 'bind' | 'getaddrinfo';

// libuv's descriptions, used in the `listen` messages (Node's uvExceptionWithHostPort).
const DESCRIPTIONS: Record<SystemErrorCode, string> = {
  EPIPE: 'broken pipe',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  ECONNABORTED: 'software caused connection abort',
  ECONNRESET: 'connection reset by peer',
  ENOBUFS: 'no buffer space available',
  ETIMEDOUT: 'connection timed out',
  ECONNREFUSED: 'connection refused',
  ENETUNREACH: 'network is unreachable',
  EHOSTUNREACH: 'host is unreachable',
  ENOTFOUND: 'name not found',
  EALREADY: 'connection already in progress',
  EINVAL: 'invalid argument',
};

/** A Node-shaped system error (`err.code`, `err.errno`, `err.syscall`, `err.address`, `err.port`). */
export class SystemError extends TcpTunError {
  /** libuv's errno for `code`: the negative Linux value (see {@link SYSTEM_ERRNO}). */
  readonly errno: number;
  /** The operation that failed, as Node names it (`connect`, `read`, `write`, ...). */
  readonly syscall: SystemErrorSyscall;
  /** Remote (or, for listen, local) IPv4 address involved; absent when none or for `getaddrinfo`. */
  readonly address: string | undefined;
  /** Port involved; absent when none. */
  readonly port: number | undefined;

  constructor(code: SystemErrorCode, syscall: SystemErrorSyscall, address?: string, port?: number) {
    super(code, systemMessage(code, syscall, address, port));
    this.name = 'Error';
    this.errno = SYSTEM_ERRNO[code];
    this.syscall = syscall;
    // Node only sets the fields it knows; keep the same shape (absent, not undefined).
    // getaddrinfo errors carry `hostname`, not `address` (as Node's dns errors).
    if (address === undefined || syscall === 'getaddrinfo') delete (this as { address?: string }).address;
    else this.address = address;
    if (port === undefined) delete (this as { port?: number }).port;
    else this.port = port;
    if (syscall === 'getaddrinfo') (this as { hostname?: string }).hostname = address;
  }
}

function systemMessage(code: SystemErrorCode, syscall: SystemErrorSyscall, address?: string, port?: number): string {
  let details = '';
  if (port !== undefined && port > 0) details = ` ${address ?? ''}:${port}`;
  else if (address !== undefined) details = ` ${address}`;
  // Node words listen errors with libuv's description ("listen EADDRINUSE: address already in
  // use 0.0.0.0:80") and the others without ("connect ECONNREFUSED 10.0.0.2:80").
  if (syscall === 'listen') return `${syscall} ${code}: ${DESCRIPTIONS[code]}${details}`;
  return `${syscall} ${code}${details}`;
}

/** Node's codes for argument errors thrown by this package. */
export type ArgumentErrorCode =
  | 'ERR_SOCKET_BAD_PORT'
  | 'ERR_INVALID_IP_ADDRESS'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_MISSING_ARGS'
  | 'ERR_SERVER_ALREADY_LISTEN'
  | 'ERR_SERVER_NOT_RUNNING'
  | 'ERR_SOCKET_CLOSED'
  | 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION'
  | 'ERR_STACK_CLOSED'
  | 'ERR_INVALID_ADDRESS_FAMILY'
  | 'ERR_SOCKET_CONNECTION_TIMEOUT';

/**
 * Builds an argument error: a `RangeError` or `TypeError` (Node's class for the code) with a
 * `code` property, branded so that it is also `instanceof TcpTunError`.
 */
export function argumentError(code: ArgumentErrorCode, message: string, kind: 'range' | 'type' | 'plain' = 'plain'): Error & { code: string } {
  const Ctor = kind === 'range' ? RangeError : kind === 'type' ? TypeError : Error;
  const err = new Ctor(message) as Error & { code: string };
  Object.defineProperty(err, BRAND, { value: true });
  err.code = code;
  // Node shows the code in the stack's first line: "RangeError [ERR_SOCKET_BAD_PORT]: ...".
  if (err.stack !== undefined) {
    const nl = err.stack.indexOf('\n');
    err.stack = `${Ctor.name} [${code}]: ${message}${nl < 0 ? '' : err.stack.slice(nl)}`;
  }
  return err;
}

/** Throws `ERR_SOCKET_BAD_PORT` unless `port` is an integer 0..65535 (or a numeric string, as Node accepts). */
export function validatePort(port: unknown, name = 'Port', allowZero = true): number {
  const n = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535 || (!allowZero && n === 0)) {
    throw argumentError(
      'ERR_SOCKET_BAD_PORT',
      `${name} should be >= ${allowZero ? 0 : 1} and < 65536. Received ${describe(port)}.`,
      'range',
    );
  }
  return n;
}

/** Node-like rendering of a received value in an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `type string ('${value}')`;
  if (typeof value === 'number') return `type number (${value})`;
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'function';
  if (typeof value === 'boolean') return `type boolean (${String(value)})`;
  return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
}

/**
 * Every attempt of a connect to several addresses failed (Node's `NodeAggregateError` of
 * `autoSelectFamily`): `errors` holds each attempt's error, `code` is the first one's.
 */
export class ConnectAggregateError extends AggregateError {
  /** The first attempt's error code (as Node's). */
  readonly code: string | undefined;
  constructor(errors: readonly Error[]) {
    super(errors, '');
    this.name = 'AggregateError';
    this.code = (errors[0] as { code?: string } | undefined)?.code;
    Object.defineProperty(this, BRAND, { value: true });
  }
}
