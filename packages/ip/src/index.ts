/**
 * @tcp-tun/ip — the IP layer of tcp-tun (IPv4 and IPv6), as pure wire codecs.
 *
 * What it does: parses and emits IPv4 headers (RFC 791) and ICMPv4 messages (RFC 792),
 * IPv6 fixed headers (RFC 8200 §3) and ICMPv6 messages (RFC 4443); walks IPv6 extension
 * headers (RFC 8200 §4) under fixed bounds; computes and verifies the Internet checksum
 * (RFC 1071) including the TCP/UDP pseudo-headers of both families; converts addresses
 * between text and their inside forms (uint32 numbers for IPv4, 16-octet arrays for IPv6);
 * and reassembles fragmented datagrams of both families under fixed memory bounds (RFC 791,
 * RFC 815, RFC 8200 §4.5, RFC 5722, RFC 6946, RFC 7112).
 *
 * The IPv6 receive path, in order: `parseIpv6Into` (fixed header) → `walkIpv6Headers`
 * (extension headers: upper layer, fragment, or drop with an optional Parameter Problem) →
 * for a fragment `Ipv6Reassembler.add`, then walk the reassembled packet again → the upper
 * layer (`parseIcmpv6` for Next Header 58). Errors answer with `emitIcmpv6` after
 * `mayAnswerWithIcmpv6Error` and an `Icmpv6RateLimiter` agreed.
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
export * from './ipv6.js';
export * from './ipv6-ext.js';
export * from './icmpv6.js';
export * from './reassembly6.js';
