/**
 * A process-wide free list of byte blocks for the engine's per-connection storage (send
 * buffers, receive rings, scoreboards), which is allocated when a connection starts sending and released when
 * everything is acknowledged, so that idle connections hold none.
 *
 * Why a pool: a request/response connection empties its buffers on every round trip, and a
 * fresh `Uint8Array` is a zero-filled allocation outside the JS heap (measured: ~3 µs for 16 KiB,
 * most of the engine's time per 64-byte round trip). Blocks handed back here are reused by the
 * next connection that needs that size; their stale contents are never read, because every
 * user reads only what it wrote.
 *
 * Bounded per size: each size keeps at most {@link POOL_BYTES_PER_SIZE} octets of blocks (and
 * at least two blocks, for the large ones), so that thousands of small blocks released at once
 * (10,000 connections closing) cannot crowd out the few large receive rings a busy connection
 * cycles through; beyond that a released block is left to the garbage collector. Only
 * power-of-two sizes are pooled (what the users allocate), so there are few sizes.
 */

/** Most octets the pool keeps of blocks of any one size (two blocks for sizes above it). */
export const POOL_BYTES_PER_SIZE = 1024 * 1024;

const free = new Map<number, Uint8Array[]>();
let pooledBytes = 0;

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** A block of exactly `size` octets with unspecified contents. */
export function takeBlock(size: number): Uint8Array {
  const list = free.get(size);
  const block = list?.pop();
  if (block !== undefined) {
    pooledBytes -= size;
    return block;
  }
  return new Uint8Array(size);
}

/** Hands `block` back for reuse. The caller must not touch it afterwards. */
export function giveBlock(block: Uint8Array): void {
  const size = block.length;
  // Only whole blocks of a pooled size: a view into a larger buffer would hand out memory
  // another user still owns.
  if (!isPowerOfTwo(size) || block.byteOffset !== 0 || block.buffer.byteLength !== size) return;
  let list = free.get(size);
  if (list === undefined) {
    list = [];
    free.set(size, list);
  }
  if (list.length >= Math.max(2, POOL_BYTES_PER_SIZE / size)) return;
  list.push(block);
  pooledBytes += size;
}

/** Octets held by the pool right now (for tests and statistics). */
export function pooledBlockBytes(): number {
  return pooledBytes;
}
