/**
 * Programmer errors of the TCP layer (bad arguments, misuse of a connection). Peer misbehaviour
 * never throws: it arrives as an `error` event carrying a `TcpErrorCode`.
 */

/** Codes carried by {@link TcpUsageError}; permanent, so callers may switch on them. */
export type TcpUsageErrorCode = 'ERR_INVALID_ARG_VALUE' | 'ERR_TCP_NOT_WRITABLE';

/** Thrown on API misuse; `code` says which rule was broken. */
export class TcpUsageError extends Error {
  /** Permanent machine-readable code, e.g. `ERR_INVALID_ARG_VALUE`. */
  readonly code: TcpUsageErrorCode;

  constructor(code: TcpUsageErrorCode, message: string) {
    super(message);
    this.name = 'TcpUsageError';
    this.code = code;
  }
}
