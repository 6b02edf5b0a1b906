/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum
 * of the data taken as big-endian 16-bit words. IPv4, ICMPv4, UDP and TCP all use it.
 *
 * Speed notes: the sum is accumulated unfolded in a plain number (exact up to 2^53, far beyond
 * any IP datagram) four bytes per iteration and folded once at the end (RFC 1071 §2 (C),
 * "deferred carries"). It reads the `Uint8Array` directly, so it works at any `byteOffset`,
 * any alignment and odd lengths, and allocates nothing.
 */

/** Folds carries into 16 bits (RFC 1071 §2 (C)): the result is 0..0xffff. */
function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
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
  const end4 = end - ((end - start) & 3);
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
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return fold((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + (length & 0xffff));
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
