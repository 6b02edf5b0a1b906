/**
 * The connection table keyed by the 4-tuple. The stack has one local address per family, so the
 * key is (remote address, remote port, local port).
 *
 * - IPv4: 64 bits, more than a JavaScript number holds exactly, so it is split into two numeric
 *   levels (remote address·65536 + remote port, then local port) instead of a string that would
 *   be built for every received segment.
 * - IPv6: 160 bits, kept apart from IPv4 in an {@link Ipv6PortMap} (three numeric levels of 48
 *   bits for the address and remote port), then the local port: no string, no allocation on a
 *   lookup, every bit of the address compared. An IPv6 remote never meets an IPv4 one, whatever
 *   their ports.
 * - IPv4-mapped addresses (`::ffff:a.b.c.d`): the table takes an address as given and never
 *   converts. A peer that arrives over IPv4 is an IPv4 number here (a dual-stack listener's
 *   IPv4 connections included, which the socket layer shows as `::ffff:a.b.c.d`); a mapped
 *   address given as IPv6 octets is an IPv6 key, apart from the number. IPv6 packets do not carry
 *   mapped addresses (RFC 4291 §2.5.5.2 has them only in the API); the stack drops them before
 *   they get here.
 */
import type { IpAddress } from '@tcp-tun/tcp';

/** The first, second and third 48-bit keys of an (IPv6 address, port) pair, for {@link Ipv6PortMap}. */
function key0(a: Uint8Array): number {
  return (a[0]! * 0x10000 + ((a[1]! << 8) | a[2]!)) * 0x1000000 + ((a[3]! << 16) | (a[4]! << 8) | a[5]!);
}
function key1(a: Uint8Array): number {
  return (a[6]! * 0x10000 + ((a[7]! << 8) | a[8]!)) * 0x1000000 + ((a[9]! << 16) | (a[10]! << 8) | a[11]!);
}
function key2(a: Uint8Array, port: number): number {
  return (((a[12]! << 24) | (a[13]! << 16) | (a[14]! << 8) | a[15]!) >>> 0) * 65536 + port;
}

/**
 * A map from (IPv6 address, port) to `V` without strings: octets 0–5, 6–11, then 12–15 with the
 * port, each a 48-bit number key of one level (exact in a double). Lookups allocate nothing.
 */
export class Ipv6PortMap<V> {
  readonly #root = new Map<number, Map<number, Map<number, V>>>();
  #size = 0;

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  /** The value of (`addr`, `port`), or undefined. `addr` must hold 16 octets. */
  get(addr: Uint8Array, port: number): V | undefined {
    return this.#root.get(key0(addr))?.get(key1(addr))?.get(key2(addr, port));
  }

  /** Adds or replaces the value of (`addr`, `port`). */
  set(addr: Uint8Array, port: number, value: V): void {
    if (addr.length !== 16) throw new RangeError('Ipv6PortMap: an IPv6 address has 16 octets');
    const k0 = key0(addr);
    let l1 = this.#root.get(k0);
    if (l1 === undefined) {
      l1 = new Map();
      this.#root.set(k0, l1);
    }
    const k1 = key1(addr);
    let l2 = l1.get(k1);
    if (l2 === undefined) {
      l2 = new Map();
      l1.set(k1, l2);
    }
    const k2 = key2(addr, port);
    if (!l2.has(k2)) this.#size++;
    l2.set(k2, value);
  }

  /** Removes the value of (`addr`, `port`), and levels left empty; returns whether it was present. */
  delete(addr: Uint8Array, port: number): boolean {
    const k0 = key0(addr);
    const l1 = this.#root.get(k0);
    if (l1 === undefined) return false;
    const k1 = key1(addr);
    const l2 = l1.get(k1);
    if (l2 === undefined || !l2.delete(key2(addr, port))) return false;
    if (l2.size === 0) {
      l1.delete(k1);
      if (l1.size === 0) this.#root.delete(k0);
    }
    this.#size--;
    return true;
  }

  /** Every value, in no particular order. */
  *values(): IterableIterator<V> {
    for (const l1 of this.#root.values()) for (const l2 of l1.values()) yield* l2.values();
  }

  /** Forgets everything. */
  clear(): void {
    this.#root.clear();
    this.#size = 0;
  }
}

/** A map from (remoteAddr, remotePort, localPort) to `T`; `remoteAddr` an IPv4 number or IPv6 octets. */
export class ConnectionTable<T> {
  readonly #byRemote = new Map<number, Map<number, T>>();
  readonly #byRemote6 = new Ipv6PortMap<Map<number, T>>();
  #size = 0;

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  get(remoteAddr: IpAddress, remotePort: number, localPort: number): T | undefined {
    if (typeof remoteAddr === 'number') return this.#byRemote.get(remoteAddr * 65536 + remotePort)?.get(localPort);
    return this.#byRemote6.get(remoteAddr, remotePort)?.get(localPort);
  }

  has(remoteAddr: IpAddress, remotePort: number, localPort: number): boolean {
    return this.get(remoteAddr, remotePort, localPort) !== undefined;
  }

  /** Adds or replaces an entry. */
  set(remoteAddr: IpAddress, remotePort: number, localPort: number, value: T): void {
    let inner: Map<number, T> | undefined;
    if (typeof remoteAddr === 'number') {
      const key = remoteAddr * 65536 + remotePort;
      inner = this.#byRemote.get(key);
      if (inner === undefined) {
        inner = new Map();
        this.#byRemote.set(key, inner);
      }
    } else {
      inner = this.#byRemote6.get(remoteAddr, remotePort);
      if (inner === undefined) {
        inner = new Map();
        this.#byRemote6.set(remoteAddr, remotePort, inner);
      }
    }
    if (!inner.has(localPort)) this.#size++;
    inner.set(localPort, value);
  }

  /** Removes an entry; returns whether it was present. */
  delete(remoteAddr: IpAddress, remotePort: number, localPort: number): boolean {
    if (typeof remoteAddr === 'number') {
      const key = remoteAddr * 65536 + remotePort;
      const inner = this.#byRemote.get(key);
      if (inner === undefined || !inner.delete(localPort)) return false;
      if (inner.size === 0) this.#byRemote.delete(key);
    } else {
      const inner = this.#byRemote6.get(remoteAddr, remotePort);
      if (inner === undefined || !inner.delete(localPort)) return false;
      if (inner.size === 0) this.#byRemote6.delete(remoteAddr, remotePort);
    }
    this.#size--;
    return true;
  }

  /** Every entry, in no particular order. */
  *values(): IterableIterator<T> {
    for (const inner of this.#byRemote.values()) yield* inner.values();
    for (const inner of this.#byRemote6.values()) yield* inner.values();
  }
}
