/**
 * The connection table keyed by the 4-tuple. The stack has one local address, so the key is
 * (remote address, remote port, local port): 64 bits, more than a JavaScript number holds
 * exactly, so it is split into two numeric levels (remote address·65536 + remote port, then
 * local port) instead of a string that would be built for every received segment.
 */

/** A map from (remoteAddr, remotePort, localPort) to `T`. */
export class ConnectionTable<T> {
  readonly #byRemote = new Map<number, Map<number, T>>();
  #size = 0;

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  get(remoteAddr: number, remotePort: number, localPort: number): T | undefined {
    return this.#byRemote.get(remoteAddr * 65536 + remotePort)?.get(localPort);
  }

  has(remoteAddr: number, remotePort: number, localPort: number): boolean {
    return this.get(remoteAddr, remotePort, localPort) !== undefined;
  }

  /** Adds or replaces an entry. */
  set(remoteAddr: number, remotePort: number, localPort: number, value: T): void {
    const key = remoteAddr * 65536 + remotePort;
    let inner = this.#byRemote.get(key);
    if (inner === undefined) {
      inner = new Map();
      this.#byRemote.set(key, inner);
    }
    if (!inner.has(localPort)) this.#size++;
    inner.set(localPort, value);
  }

  /** Removes an entry; returns whether it was present. */
  delete(remoteAddr: number, remotePort: number, localPort: number): boolean {
    const key = remoteAddr * 65536 + remotePort;
    const inner = this.#byRemote.get(key);
    if (inner === undefined || !inner.delete(localPort)) return false;
    if (inner.size === 0) this.#byRemote.delete(key);
    this.#size--;
    return true;
  }

  /** Every entry, in no particular order. */
  *values(): IterableIterator<T> {
    for (const inner of this.#byRemote.values()) yield* inner.values();
  }
}
