/**
 * Failures of a transfer, each with curl's exit code so scripts written for curl read ours the
 * same way (see curl's man page, "EXIT CODES").
 */
export const EXIT = {
  UNSUPPORTED_PROTOCOL: 1,
  FAILED_INIT: 2,
  URL_MALFORMAT: 3,
  COULDNT_RESOLVE_HOST: 6,
  COULDNT_CONNECT: 7,
  HTTP_RETURNED_ERROR: 22,
  WRITE_ERROR: 23,
  READ_ERROR: 26,
  OPERATION_TIMEDOUT: 28,
  SSL_CONNECT_ERROR: 35,
  TOO_MANY_REDIRECTS: 47,
  GOT_NOTHING: 52,
  SEND_ERROR: 55,
  RECV_ERROR: 56,
  PEER_FAILED_VERIFICATION: 60,
  BAD_CONTENT_ENCODING: 61,
  SSL_CACERT_BADFILE: 77,
} as const;

/** An error that ends the program with `exitCode` and a one-line message. */
export class CurlError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
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
