/**
 * curl-lite as a library: `transfer()` runs one curl-style HTTP/1.1 transfer over any
 * `node:net`-shaped connector (a tcp-tun `Stack`'s `net.createConnection`, or Node's own), over
 * TLS for https:// URLs; `perform()` adds curl's `--retry` and `-w` around it.
 */
export { transfer, DEFAULT_KEEPALIVE_MS, type Connector, type ConnectOptions, type TransferOptions, type TransferOutput, type TransferResult } from './transfer.js';
export { CurlError, EXIT } from './errors.js';
export { parseCurlOptions, type CurlOptions } from './options.js';
export { perform, type PerformOptions, type PerformIo } from './perform.js';
export { newTransferInfo, type TransferInfo } from './info.js';
export { formatWriteOut, writeOutJson, WRITE_OUT_VARIABLES, type WriteOutPiece } from './write-out.js';
export type { RetrySettings } from './retry.js';
export type { CurlExtraOptions } from './flags.js';
export { parseTarget, resolveHost, type IpFamily, type ResolvedHost } from './target.js';
