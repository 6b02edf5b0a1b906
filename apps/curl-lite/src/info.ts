/**
 * What a transfer learned about itself, filled in as it goes so that `-w` can report it even
 * when the transfer fails half way (curl prints `--write-out` after errors too, with
 * `%{http_code}` 000 when no response came).
 */

/** Mutable facts about one transfer (the last request of a redirect chain, or totals). */
export interface TransferInfo {
  /** `performance.now()` when the operation began; every `time_*` is measured from here. */
  startedAt: number;
  /** Milliseconds from the start until the TCP connection of the last request was up. */
  connectMs: number;
  /** Until the TLS handshake finished; 0 for plain HTTP, as curl. */
  appConnectMs: number;
  /** Until the last request was about to be sent. */
  preTransferMs: number;
  /** Until the first byte of the last response. */
  startTransferMs: number;
  /** Time spent on redirect steps before the final request began. */
  redirectMs: number;
  /** Milliseconds from the start until the transfer ended (`%{time_total}`). */
  totalMs: number;
  /** Status of the last response; 0 when none came (curl prints 000). */
  httpCode: number;
  /** HTTP version of the last response, as Node reports it (`1.1`); `0` when none came. */
  httpVersion: string;
  /** Method of the last request (`%{method}`). */
  method: string;
  /** Scheme of the last request in capitals (`HTTP`, `HTTPS`); empty before the first request. */
  scheme: string;
  /** The URL as given on the command line (`%{url}`). */
  url: string;
  /** The URL of the last request, after redirects (`%{url_effective}`). */
  urlEffective: string;
  /** Where a 3xx response pointed, when it was not followed. */
  redirectUrl: string | undefined;
  /** Referer header sent with the last request (`-e`), if any. */
  referer: string | undefined;
  /** Content-Type of the last response, if it had one. */
  contentType: string | undefined;
  /** Redirects followed (`%{num_redirects}`). */
  numRedirects: number;
  /** New connections made (`%{num_connects}`). */
  numConnects: number;
  /** Header fields in the last response (`%{num_headers}`). */
  numHeaders: number;
  /** Address of the server connected to, dotted quad (`%{remote_ip}`). */
  remoteIp: string;
  /** Port of the server connected to (`%{remote_port}`). */
  remotePort: number;
  /** Our (the tcp-tun stack's) address on the connection (`%{local_ip}`). */
  localIp: string;
  /** Our port on the connection (`%{local_port}`). */
  localPort: number;
  /** Body bytes of the last response as they came over the wire (before `--compressed` decoding). */
  sizeDownload: number;
  /** Request body bytes sent with the last request. */
  sizeUpload: number;
  /** Bytes of all response headers received (every response of the chain, as curl). */
  sizeHeader: number;
  /** Bytes of all requests sent (headers and bodies). */
  sizeRequest: number;
  /** Raw response headers of the last response, for `%header{name}`. */
  responseHeaders: readonly string[];
  /** Verify result of the server's certificate: 0 verified (or plain HTTP), else OpenSSL's code. */
  sslVerifyResult: number;
  /** File the body was written to (`-o`/`-O`), if any (`%{filename_effective}`). */
  filenameEffective: string | undefined;
  /** The exit code the transfer ends with, curl's numbering (`%{exitcode}`). */
  exitCode: number;
  /** The error message of a failed transfer (`%{errormsg}`). */
  errorMessage: string | undefined;
}

/** A fresh record with curl's values for "nothing happened yet". */
export function newTransferInfo(url: string, now: number = performance.now()): TransferInfo {
  return {
    startedAt: now,
    connectMs: 0,
    appConnectMs: 0,
    preTransferMs: 0,
    startTransferMs: 0,
    redirectMs: 0,
    totalMs: 0,
    httpCode: 0,
    httpVersion: '0',
    method: 'GET',
    scheme: '',
    url,
    urlEffective: url,
    redirectUrl: undefined,
    referer: undefined,
    contentType: undefined,
    numRedirects: 0,
    numConnects: 0,
    numHeaders: 0,
    remoteIp: '',
    remotePort: 0,
    localIp: '',
    localPort: 0,
    sizeDownload: 0,
    sizeUpload: 0,
    sizeHeader: 0,
    sizeRequest: 0,
    responseHeaders: [],
    sslVerifyResult: 0,
    filenameEffective: undefined,
    exitCode: 0,
    errorMessage: undefined,
  };
}
