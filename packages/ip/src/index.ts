/**
 * @tcp-tun/ip — the IPv4 layer of tcp-tun, as pure wire codecs.
 *
 * What it does: parses and emits IPv4 headers (RFC 791) and ICMPv4 messages (RFC 792),
 * computes and verifies the Internet checksum (RFC 1071) including the TCP/UDP
 * pseudo-header, converts addresses between dotted quads and uint32 numbers, and reassembles
 * fragmented datagrams under fixed memory bounds (RFC 791, RFC 815, RFC 5722).
 *
 * What it guarantees:
 * - No I/O, no clock, no randomness, no Node-only APIs: it runs unchanged in Node, a browser
 *   or a worker. Time is passed in (`now`, milliseconds).
 * - Untrusted bytes never throw: `parse…` returns `{ ok: true, … } | { ok: false, reason }`.
 *   Only programmer errors (bad arguments to `emit…`, malformed address strings) throw, with
 *   a permanent `code` property.
 * - Views and parsed payloads are zero-copy subarrays and respect any `byteOffset`;
 *   `emit…` writes every byte it covers, so output buffers may be reused without clearing.
 * - Emitted checksums are always correct; verification accepts both encodings of zero.
 */
export * from './address.js';
export * from './address6.js';
export * from './checksum.js';
export * from './errors.js';
export * from './ipv4.js';
export * from './icmpv4.js';
export * from './reassembly.js';
