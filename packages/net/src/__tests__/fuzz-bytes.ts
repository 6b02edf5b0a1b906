/**
 * The fuzz beds' seeded randomness and octet tools: `Rng` (every random choice of a run comes
 * from one, so a run replays from its seed), sequence numbers near or far from a given one, and
 * the in-place edits (flip a byte, write a uint32, fix the checksums) that turn a built packet
 * into a mutated one that still gets past the checksum checks.
 */
import { IpProtocol, internetChecksum, onesComplementSum, pseudoHeaderSum } from '@tcp-tun/ip';

/** mulberry32 as a uint32 source: fast, seedable, good enough to drive mutations. */
export class Rng {
  #a: number;
  /** Starts the sequence at `seed` (taken as a uint32). */
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  /** The next uint32 of the sequence; every other draw is built on it. */
  u32(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0..n-1. */
  int(n: number): number {
    return this.u32() % n;
  }
  /** True with probability `p` (0..1). */
  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }
  /** One of `items`, uniformly (up to the modulo bias). */
  pick<T>(items: readonly T[]): T {
    return items[this.u32() % items.length] as T;
  }
}

/** A sequence number near `x` (±few, ± a window, ±2^31) or anywhere. */
export function nearOrFar(rng: Rng, x: number): number {
  switch (rng.int(6)) {
    case 0:
      return (x + rng.int(16) - 8) >>> 0;
    case 1:
      return (x + rng.int(2 * 65536) - 65536) >>> 0;
    case 2:
      return (x + 0x80000000 + rng.int(16) - 8) >>> 0;
    case 3:
      return (x - 1) >>> 0;
    case 4:
      return (x + rng.int(1 << 20)) >>> 0;
    default:
      return rng.u32();
  }
}

/** XORs `b[i]` with `mask`. */
export function flipByte(b: Uint8Array, i: number, mask: number): void {
  b[i] = (b[i] as number) ^ mask;
}

/** Writes `v` big-endian at `b[i..i+4)`. */
export function putU32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

/**
 * Fixes the IPv4 header checksum of `p` (over its IHL, when it fits) and, with `transport`,
 * the TCP or ICMP checksum over what Total Length covers, so mutated packets get past the
 * checksum checks and reach the parsers and the engine.
 */
export function fixChecksums(p: Uint8Array, length: number, transport: boolean): void {
  if (length < 20) return;
  const ihl = Math.min(((p[0] as number) & 0x0f) * 4, length);
  if (ihl >= 20) {
    p[10] = 0;
    p[11] = 0;
    const sum = internetChecksum(p, 0, 0, ihl);
    p[10] = sum >>> 8;
    p[11] = sum & 0xff;
  }
  if (!transport || ihl < 20) return;
  const total = Math.min(length, ((p[2] as number) << 8) | (p[3] as number));
  const proto = p[9] as number;
  if (proto === IpProtocol.Tcp && total - ihl >= 18) {
    const src = ((p[12]! << 24) | (p[13]! << 16) | (p[14]! << 8) | p[15]!) >>> 0;
    const dst = ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0;
    p[ihl + 16] = 0;
    p[ihl + 17] = 0;
    const sum = ~onesComplementSum(p, pseudoHeaderSum(src, dst, IpProtocol.Tcp, total - ihl), ihl, total) & 0xffff;
    p[ihl + 16] = sum >>> 8;
    p[ihl + 17] = sum & 0xff;
  } else if (proto === IpProtocol.Icmp && total - ihl >= 4) {
    p[ihl + 2] = 0;
    p[ihl + 3] = 0;
    const sum = internetChecksum(p, 0, ihl, total);
    p[ihl + 2] = sum >>> 8;
    p[ihl + 3] = sum & 0xff;
  }
}
