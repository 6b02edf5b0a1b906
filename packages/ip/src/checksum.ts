/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum
 * of the data taken as big-endian 16-bit words. IPv4, ICMPv4, UDP and TCP all use it.
 *
 * Speed notes: sums are accumulated unfolded in plain numbers (exact up to 2^53) and folded
 * once at the end (RFC 1071 §2 (C), "deferred carries"). A range of 128 octets or more that
 * starts on a 4-octet memory boundary (every received TCP segment: the TUN read pool is
 * aligned and the IP header is 20 octets) is read as native 32-bit words through a cached
 * `Uint32Array` over the same memory: one load per 4 octets instead of four, about 3.5 times
 * faster for a 1480-octet segment. Native words are little-endian on x86 and ARM, which sums byte-swapped 16-bit words;
 * the one's complement sum is byte-order independent (RFC 1071 §2 (B)), so swapping the folded
 * result gives the big-endian sum. Other ranges take a byte loop. Nothing is copied or
 * allocated per call.
 */

import type { Ipv6Address } from './address6.js';

/** Folds carries into 16 bits (RFC 1071 §2 (C)): the result is 0..0xffff. */
function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** Whether typed arrays use little-endian order on this machine (they use the CPU's). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Shorter ranges take the byte loop: there the view lookup costs about what it saves, and
 * arrays of up to 64 octets live inside the JS heap until their `buffer` is asked for.
 */
const WORDS_MIN_LENGTH = 128;

/** Words summed between two folds, so four accumulators stay far below 2^53. */
const WORDS_PER_FOLD = 1 << 20;

// Two cached word views, for the two buffers a stack alternates between (the receive pool
// and its transmit scratch). Creating a view per call would cost about as much as it saves.
// The cache keeps at most two buffers alive.
let bufferA: ArrayBufferLike | undefined;
let wordsA: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let bufferB: ArrayBufferLike | undefined;
let wordsB: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** A `Uint32Array` over all of `buffer` that covers octets up to `end` (cached). */
function wordsOf(buffer: ArrayBufferLike, end: number): Uint32Array<ArrayBufferLike> {
  // byteLength is re-checked because a resizable buffer may have shrunk or grown since.
  if (buffer === bufferA && end <= wordsA.byteLength) return wordsA;
  if (buffer === bufferB && end <= wordsB.byteLength) return wordsB;
  const words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  bufferB = bufferA;
  wordsB = wordsA;
  bufferA = buffer;
  wordsA = words;
  return words;
}

/**
 * The folded sum of the 32-bit words `words[from..to)` as big-endian 16-bit words. Eight words
 * per iteration into four accumulators, so that the additions overlap in the CPU instead of
 * each waiting for the previous one.
 */
function sumWords(words: Uint32Array<ArrayBufferLike>, from: number, to: number): number {
  let total = 0;
  while (from < to) {
    const stop = Math.min(to, from + WORDS_PER_FOLD);
    const stop8 = stop - ((stop - from) & 7);
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = from;
    for (; i < stop8; i += 8) {
      s0 += words[i]! + words[i + 4]!;
      s1 += words[i + 1]! + words[i + 5]!;
      s2 += words[i + 2]! + words[i + 6]!;
      s3 += words[i + 3]! + words[i + 7]!;
    }
    for (; i < stop; i++) s0 += words[i]!;
    total = fold(total + fold(s0 + s1 + s2 + s3));
    from = stop;
  }
  // Little-endian words summed byte-swapped 16-bit words: swap the folded sum back.
  return LITTLE_ENDIAN ? ((total & 0xff) << 8) | (total >>> 8) : total;
}

/**
 * The one's complement sum of `bytes[start..end)` as big-endian 16-bit words, plus `initial`,
 * folded to 16 bits (0..0xffff). An odd trailing byte counts as its high byte padded with
 * zero (RFC 1071 §4.1).
 *
 * Partial sums chain: `onesComplementSum(b, onesComplementSum(a))` equals the sum of `a`
 * followed by `b` as long as `a` has an even length. The result is 0 only when every word
 * (and `initial`) is zero; otherwise 0xffff represents "negative zero".
 *
 * @param initial a previous partial sum (any non-negative integer below 2^48), e.g. from
 *   {@link pseudoHeaderSum}; default 0.
 * @param start first byte index, default 0; `end` one past the last, default `bytes.length`.
 */
export function onesComplementSum(bytes: Uint8Array, initial = 0, start = 0, end = bytes.length): number {
  let sum = initial;
  let i = start;
  if (end - start >= WORDS_MIN_LENGTH && ((bytes.byteOffset + start) & 3) === 0) {
    const at = bytes.byteOffset + start;
    const count = (end - start) >>> 2;
    sum += sumWords(wordsOf(bytes.buffer, at + count * 4), at >>> 2, (at >>> 2) + count);
    i = start + count * 4; // at most 3 octets left, summed below
  }
  const end4 = end - ((end - i) & 3);
  for (; i < end4; i += 4) {
    sum += ((bytes[i]! << 8) | bytes[i + 1]!) + ((bytes[i + 2]! << 8) | bytes[i + 3]!);
  }
  if (i + 1 < end) {
    sum += (bytes[i]! << 8) | bytes[i + 1]!;
    i += 2;
  }
  if (i < end) sum += bytes[i]! << 8;
  return fold(sum);
}

/**
 * The final Internet checksum of `bytes[start..end)` (with `initial` folded in): the 16-bit
 * one's complement of {@link onesComplementSum}, ready to store in a checksum field that was
 * zero while summing. Returns 0..0xffff.
 */
export function internetChecksum(bytes: Uint8Array, initial = 0, start = 0, end = bytes.length): number {
  return ~onesComplementSum(bytes, initial, start, end) & 0xffff;
}

/**
 * The folded sum of the IPv4 pseudo-header used by TCP and UDP checksums (RFC 9293 §3.1,
 * RFC 768): source address, destination address, zero, protocol, and `length` (the TCP or
 * UDP length in octets, header plus data). Pass it as `initial` to the functions above.
 * A length over 65,535 (a GSO super-packet of Linux's BIG TCP, whose IPv4 header says 0)
 * counts whole, both 16-bit halves, as Linux's csum_tcpudp_magic takes its 32-bit length.
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return fold((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + Math.floor(length / 0x10000) + (length & 0xffff));
}

/**
 * The folded sum of the IPv6 pseudo-header used by upper-layer checksums (RFC 8200 §8.1,
 * TCP, UDP and ICMPv6 alike): source address, destination address, the 32-bit upper-layer
 * packet length, 24 zero bits and the next header value (6 for TCP, 58 for ICMPv6, RFC 4443
 * §2.3). `src` and `dst` are 16-octet addresses. Pass the result as `initial` to the functions
 * above, as with {@link pseudoHeaderSum}.
 */
export function pseudoHeaderSum6(src: Ipv6Address, dst: Ipv6Address, nextHeader: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < 16; i += 2) {
    sum += ((src[i]! << 8) | src[i + 1]!) + ((dst[i]! << 8) | dst[i + 1]!);
  }
  // The length is a 32-bit field: both of its 16-bit halves count (RFC 8200 §8.1).
  return fold(sum + Math.floor(length / 0x10000) + (length & 0xffff) + (nextHeader & 0xff));
}

/**
 * True when the checksum of `bytes[start..end)` (which include their checksum field) is
 * valid: the one's complement sum of everything, checksum field included, is 0xffff
 * (RFC 1071 §1 (4)). This accepts both encodings of a computed zero checksum, 0x0000 and
 * 0xffff (Linux writes 0xffff), because both are "zero" in one's complement arithmetic.
 */
export function verifyChecksum(bytes: Uint8Array, initial = 0, start = 0, end = bytes.length): boolean {
  return onesComplementSum(bytes, initial, start, end) === 0xffff;
}
