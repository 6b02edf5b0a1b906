/**
 * IPv6 addresses as text, for the `address6`/`peer6` options and the messages that name them.
 * This package carries opaque packets and imports nothing of ours, so it has its own small
 * parser rather than `@tcp-tun/ip`'s.
 */

/** Bytes in an IPv6 address. */
export const IPV6_BYTES = 16;

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The 16-bit groups of one side of `::`, or undefined when one is malformed. */
function groups(side: string, last: boolean): number[] | undefined {
  if (side === '') return [];
  const parts = side.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    // RFC 4291 §2.2 form 3: the low 32 bits may be written as a dotted quad, last only.
    if (last && i === parts.length - 1 && part.includes('.')) {
      if (!DOTTED_QUAD.test(part)) return undefined;
      const b = part.split('.').map(Number);
      out.push(((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0));
      continue;
    }
    if (!HEX_GROUP.test(part)) return undefined;
    out.push(parseInt(part, 16));
  }
  return out;
}

/**
 * Parses IPv6 text in any of the forms of RFC 4291 §2.2 (full, `::`-compressed, trailing dotted
 * quad) into 16 bytes, or returns undefined. A zone (`%eth0`) or a prefix (`/64`) is refused:
 * neither belongs in an address option.
 */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length < 2 || text.length > 45) return undefined;
  const gap = text.indexOf('::');
  let words: number[];
  if (gap === -1) {
    const all = groups(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    words = all;
  } else {
    if (text.indexOf('::', gap + 1) !== -1) return undefined;
    const head = groups(text.slice(0, gap), false);
    const tail = groups(text.slice(gap + 2), true);
    // `::` stands for one or more zero groups (RFC 4291 §2.2 form 2).
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const bytes = new Uint8Array(IPV6_BYTES);
  words.forEach((w, i) => {
    bytes[2 * i] = w >>> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

/**
 * Formats 16 bytes as RFC 5952 text: lower case, no leading zeros, the longest run of two or
 * more zero groups (the first of equals) as `::`, and `::ffff:a.b.c.d` for IPv4-mapped
 * addresses (§5).
 */
export function formatIpv6(bytes: Uint8Array): string {
  if (bytes.length !== IPV6_BYTES) throw new RangeError(`an IPv6 address has 16 bytes, not ${bytes.length}`);
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLength = 1; // §4.2.2: a single zero group is not compressed.
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart === -1) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

/** The address as 32 hex digits, as /proc/net/if_inet6 and /proc/net/ipv6_route print it. */
export function ipv6Hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Why `bytes` cannot be an address of a point-to-point interface end, or undefined when it can:
 * the unspecified address, loopback, multicast and IPv4-mapped addresses (RFC 4291 §2.5.2,
 * §2.5.3, §2.7, §2.5.5.2) are refused.
 */
export function unusableIpv6(bytes: Uint8Array): string | undefined {
  const zeroUpTo = (n: number): boolean => bytes.subarray(0, n).every((b) => b === 0);
  if (zeroUpTo(16)) return 'is the unspecified address';
  if (zeroUpTo(15) && bytes[15] === 1) return 'is the loopback address';
  if (bytes[0] === 0xff) return 'is a multicast address';
  if (zeroUpTo(10) && bytes[10] === 0xff && bytes[11] === 0xff) return 'is an IPv4-mapped address';
  return undefined;
}
