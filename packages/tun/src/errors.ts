/**
 * Errors of the TUN layer. Every error has a permanent `code` (callers branch on it, never on
 * the message) and, when a system call failed, the `errno` name and the `syscall`, as Node's own
 * system errors do.
 */

/** The codes a {@link TunError} can carry. */
export type TunErrorCode =
  /** EPERM/EACCES: the process lacks CAP_NET_ADMIN (or may not open /dev/net/tun). */
  | 'ERR_TUN_PERMISSION'
  /** EBUSY: another process holds the named device. */
  | 'ERR_TUN_BUSY'
  /** /dev/net/tun is missing: the tun module is not loaded or the device node not created. */
  | 'ERR_TUN_NO_DEVICE'
  /** A configuration step (an ioctl, the IPv6 sysctl) failed; the message says which. */
  | 'ERR_TUN_CONFIG'
  /** Reading the device failed for a reason other than "no packet now" (e.g. it was deleted). */
  | 'ERR_TUN_IO'
  /** The device was used after `close()`. */
  | 'ERR_TUN_CLOSED'
  /** `start()` was called a second time. */
  | 'ERR_TUN_ALREADY_STARTED'
  /** `sendTso()` on a device opened without `offload` (programmer error). */
  | 'ERR_TUN_NO_OFFLOAD'
  /** A bad option or argument (programmer error). */
  | 'ERR_INVALID_ARG_VALUE';

/** Optional system-call details attached to a {@link TunError}. */
export interface TunErrorDetails {
  /** The errno name, e.g. `'EBUSY'`. */
  readonly errno?: string;
  /** The failing system call or ioctl, e.g. `'ioctl(TUNSETIFF)'`, `'open'`. */
  readonly syscall?: string;
  /** The underlying error, when there was one. */
  readonly cause?: unknown;
}

/** The one error class of `@tcp-tun/tun`. */
export class TunError extends Error {
  /** Permanent machine-readable code. */
  readonly code: TunErrorCode;
  /** The errno name when a system call failed (e.g. `'EPERM'`). */
  readonly errno: string | undefined;
  /** The failing system call when there was one (e.g. `'ioctl(SIOCSIFMTU)'`). */
  readonly syscall: string | undefined;

  constructor(code: TunErrorCode, message: string, details: TunErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TunError';
    this.code = code;
    this.errno = details.errno;
    this.syscall = details.syscall;
  }
}

/** Linux errno numbers we name (x86_64 and the other common Linux ABIs agree on these). */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  4: 'EINTR',
  5: 'EIO',
  6: 'ENXIO',
  9: 'EBADF',
  11: 'EAGAIN',
  13: 'EACCES',
  16: 'EBUSY',
  17: 'EEXIST',
  19: 'ENODEV',
  22: 'EINVAL',
  24: 'EMFILE',
  30: 'EROFS',
  77: 'EBADFD',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  71: 'EPROTO',
  99: 'EADDRNOTAVAIL',
  100: 'ENETDOWN',
  105: 'ENOBUFS',
};

/** Names an errno number (`16` → `'EBUSY'`), or `'E<n>'` when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** Error code for a failed set-up call: permission problems get their own code and hint. */
export function configError(what: string, errno: string, detail = ''): TunError {
  if (errno === 'EPERM' || errno === 'EACCES') {
    return new TunError(
      'ERR_TUN_PERMISSION',
      `${what} failed: ${errno}: needs CAP_NET_ADMIN: run as root or grant the capability${detail}`,
      { errno, syscall: what },
    );
  }
  return new TunError('ERR_TUN_CONFIG', `${what} failed: ${errno}${detail}`, { errno, syscall: what });
}

/** An `ERR_INVALID_ARG_VALUE` error for option `name` with the offending value. */
export function invalidArg(name: string, value: unknown, reason: string): TunError {
  let shown: string;
  try {
    shown = typeof value === 'string' ? `'${value}'` : String(JSON.stringify(value));
  } catch {
    shown = String(value);
  }
  return new TunError('ERR_INVALID_ARG_VALUE', `The option '${name}' ${reason}. Received ${shown}`);
}
