/**
 * Failures of a transfer, each with curl's exit code so scripts written for curl read ours the
 * same way (see curl's man page, "EXIT CODES").
 */
export const EXIT = {
  /** The URL scheme is neither http nor https. */
  UNSUPPORTED_PROTOCOL: 1,
  /** Start-up failed: conflicting options, or the device or stack could not be set up. */
  FAILED_INIT: 2,
  /** The URL could not be parsed. */
  URL_MALFORMAT: 3,
  /** The host name did not resolve. */
  COULDNT_RESOLVE_HOST: 6,
  /** The connection was refused or the host/network unreachable. */
  COULDNT_CONNECT: 7,
  /** `-f`: the server answered with a status of 400 or more. */
  HTTP_RETURNED_ERROR: 22,
  /** Writing the output (stdout or the `-o`/`-O` file) failed. */
  WRITE_ERROR: 23,
  /** Reading a local file (`-d @file`, `-T`, a `-w @file` format) failed. */
  READ_ERROR: 26,
  /** The connection or the whole operation timed out. */
  OPERATION_TIMEDOUT: 28,
  /** The TLS handshake failed. */
  SSL_CONNECT_ERROR: 35,
  /** More redirects than `--max-redirs` allows. */
  TOO_MANY_REDIRECTS: 47,
  /** The server closed the connection without sending a response. */
  GOT_NOTHING: 52,
  /** Sending the request failed. */
  SEND_ERROR: 55,
  /** Receiving the response failed (reset, or not valid HTTP). */
  RECV_ERROR: 56,
  /** The server certificate did not verify (and `-k` was not given). */
  PEER_FAILED_VERIFICATION: 60,
  /** `--compressed`: the body could not be decoded. */
  BAD_CONTENT_ENCODING: 61,
  /** The `--cacert` file could not be loaded. */
  SSL_CACERT_BADFILE: 77,
} as const;

/** An error that ends the program with `exitCode` and a one-line message. */
export class CurlError extends Error {
  constructor(
    /** curl's exit code for this failure (one of {@link EXIT}). */
    readonly exitCode: number,
    message: string,
    /** curl's name for it, e.g. `CURLE_COULDNT_CONNECT` (`CURLE_FAILED` for a code not in {@link EXIT}). */
    readonly code: string = `CURLE_${Object.entries(EXIT).find(([, v]) => v === exitCode)?.[0] ?? 'FAILED'}`,
  ) {
    super(message);
    this.name = 'CurlError';
  }
}

/** Maps a socket or HTTP-parser error to the curl exit code a user would expect. */
export function fromSocketError(err: NodeJS.ErrnoException, target: string): CurlError {
  switch (err.code) {
    case 'ECONNREFUSED':
      return new CurlError(EXIT.COULDNT_CONNECT, `Failed to connect to ${target}: Connection refused`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new CurlError(EXIT.COULDNT_CONNECT, `Failed to connect to ${target}: ${err.code}`);
    case 'ETIMEDOUT':
      return new CurlError(EXIT.OPERATION_TIMEDOUT, `Connection to ${target} timed out`);
    case 'ECONNRESET':
      return new CurlError(EXIT.RECV_ERROR, `Connection to ${target} was reset by the peer`);
    case 'EPIPE':
      return new CurlError(EXIT.SEND_ERROR, `Failed sending data to ${target}: connection closed`);
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_VERSION':
      return new CurlError(EXIT.RECV_ERROR, `Invalid HTTP response from ${target}: ${err.message}`);
    default:
      if (err.message === 'socket hang up') {
        return new CurlError(EXIT.GOT_NOTHING, `Empty reply from server ${target}`);
      }
      return new CurlError(EXIT.RECV_ERROR, `Failure receiving from ${target}: ${err.message}${err.code ? ` (${err.code})` : ''}`);
  }
}
