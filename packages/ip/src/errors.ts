/**
 * Programmer-error helpers. Untrusted bytes never throw (parsers return a reason); only bad
 * arguments from our own callers do, and those errors carry a permanent `code` string so
 * callers can tell them apart without matching messages (as Node's errors do).
 */

/** An `Error` subclass instance with a permanent machine-readable `code`. */
export type CodedError<E extends Error = Error> = E & {
  /** Stable machine-readable code, e.g. `ERR_INVALID_IP_ADDRESS`; match on it, not on the message. */
  readonly code: string;
};

/** Builds a `TypeError` carrying `code`. @internal Used by this package to throw; not part of its API. */
export function codedTypeError(code: string, message: string): CodedError<TypeError> {
  const err = new TypeError(message) as TypeError & { code: string };
  err.code = code;
  return err;
}

/** Builds a `RangeError` carrying `code`. @internal Used by this package to throw; not part of its API. */
export function codedRangeError(code: string, message: string): CodedError<RangeError> {
  const err = new RangeError(message) as RangeError & { code: string };
  err.code = code;
  return err;
}
