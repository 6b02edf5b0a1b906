/**
 * curl-lite as a library: `transfer()` runs one curl-style HTTP/1.1 transfer over any
 * `node:net`-shaped connector (a tcp-tun `Stack`'s `net.createConnection`, or Node's own).
 */
export { transfer, parseTarget, DEFAULT_KEEPALIVE_MS, type Connector, type ConnectOptions, type TransferOptions, type TransferOutput, type TransferResult } from './transfer.js';
export { CurlError, EXIT } from './errors.js';
export { parseCurlOptions, type CurlOptions } from './options.js';
