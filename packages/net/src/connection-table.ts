/**
 * The connection table keyed by the 4-tuple. The stack has one local address per family, so the
 * key is (remote address, remote port, local port).
 *
 * - The remote address first (IPv4: the address as an int32; IPv6: an {@link Ipv6AddressMap}, one
 *   level per 32-bit word), then both ports as one int32: every key is a Smi (no heap number per
 *   key, no string built for a received segment, no allocation on a lookup), every bit compared.
 *   A remote address with one connection holds the entry itself; a second one makes a Map by
 *   ports (so an idle connection costs one Map entry, not a Map of its own). An IPv6 remote
 *   never meets an IPv4 one, whatever their ports.
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

/**
 * The three 32-bit words of an IPv6 address after its first, as int32 keys (Smis: no heap
 * number per key), for {@link Ipv6AddressMap}.
 */
function word(a: Uint8Array, i: number): number {
  return (a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!;
}

/**
 * A map from an IPv6 address (16 octets) to `V` without strings: one level per 32-bit word, each
 * key an int32 (a Smi), so a lookup allocates nothing and a key costs no heap number. Levels
 * left empty are dropped.
 */
export class Ipv6AddressMap<V> {
  readonly #root = new Map<number, Map<number, Map<number, Map<number, V>>>>();

  /** The value of `addr`, or undefined. `addr` must hold 16 octets. */
  get(addr: Uint8Array): V | undefined {
    return this.#root.get(word(addr, 0))?.get(word(addr, 4))?.get(word(addr, 8))?.get(word(addr, 12));
  }

  /** Adds or replaces the value of `addr`. */
  set(addr: Uint8Array, value: V): void {
    if (addr.length !== 16) throw new RangeError('Ipv6AddressMap: an IPv6 address has 16 octets');
    let l1 = this.#root.get(word(addr, 0));
    if (l1 === undefined) this.#root.set(word(addr, 0), (l1 = new Map()));
    let l2 = l1.get(word(addr, 4));
    if (l2 === undefined) l1.set(word(addr, 4), (l2 = new Map()));
    let l3 = l2.get(word(addr, 8));
    if (l3 === undefined) l2.set(word(addr, 8), (l3 = new Map()));
    l3.set(word(addr, 12), value);
  }

  /** Removes the value of `addr`, and levels left empty. */
  delete(addr: Uint8Array): void {
    const k0 = word(addr, 0);
    const k1 = word(addr, 4);
    const k2 = word(addr, 8);
    const l1 = this.#root.get(k0);
    const l2 = l1?.get(k1);
    const l3 = l2?.get(k2);
    if (l1 === undefined || l2 === undefined || l3 === undefined || !l3.delete(word(addr, 12))) return;
    if (l3.size > 0) return;
    l2.delete(k2);
    if (l2.size > 0) return;
    l1.delete(k1);
    if (l1.size === 0) this.#root.delete(k0);
  }

  /** Every value, in no particular order. */
  *values(): IterableIterator<V> {
    for (const l1 of this.#root.values()) for (const l2 of l1.values()) for (const l3 of l2.values()) yield* l3.values();
  }
}

/** What the connection table needs of a value: its remote address and ports. A value is never a `Map`. */
export interface TableEntry {
  readonly remoteAddr: IpAddress;
  readonly remotePort: number;
  readonly localPort: number;
}

/**
 * The entries of one remote address: the entry itself while it is the only one (the common case
 * for a server's peers), else a Map by {@link portsKey}. One entry costs no Map of its own: a
 * Map per connection (with its hash table, ~184 octets) was the largest object of an idle
 * connection outside the engine (bench/PROFILE.md round 6).
 */
type Slot<T> = T | Map<number, T>;

/** (remote port, local port) as one int32: a Smi key, no heap number. */
function portsKey(remotePort: number, localPort: number): number {
  return (remotePort << 16) | localPort;
}

/**
 * A map from (remoteAddr, remotePort, localPort) to `T`; `remoteAddr` an IPv4 number or IPv6 octets.
 * Keyed by the remote address (IPv4: the address as an int32; IPv6: an {@link Ipv6AddressMap}),
 * then by both ports as one int32: every key is a Smi, and a connection costs one Map entry.
 */
export class ConnectionTable<T extends TableEntry> {
  readonly #byRemote = new Map<number, Slot<T>>();
  readonly #byRemote6 = new Ipv6AddressMap<Slot<T>>();
  #size = 0;

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  get(remoteAddr: IpAddress, remotePort: number, localPort: number): T | undefined {
    const slot = typeof remoteAddr === 'number' ? this.#byRemote.get(remoteAddr | 0) : this.#byRemote6.get(remoteAddr);
    if (slot === undefined) return undefined;
    if (slot instanceof Map) return slot.get(portsKey(remotePort, localPort));
    return slot.remotePort === remotePort && slot.localPort === localPort ? slot : undefined;
  }

  has(remoteAddr: IpAddress, remotePort: number, localPort: number): boolean {
    return this.get(remoteAddr, remotePort, localPort) !== undefined;
  }

  /**
   * The `remoteAddr` object of an entry whose remote address has the octets of `addr`, if any:
   * a new connection from a peer that has others shares their copy of its address (16 octets
   * as a `Uint8Array` and its buffer cost ~216 octets of heap; addresses are never modified).
   */
  remoteAddress6(addr: Uint8Array): Uint8Array | undefined {
    const slot = this.#byRemote6.get(addr);
    if (slot === undefined) return undefined;
    const entry = slot instanceof Map ? (slot.values().next().value as T | undefined) : slot;
    return entry?.remoteAddr as Uint8Array | undefined;
  }

  /** Adds or replaces an entry; `value` has the remote address (the same octets) and ports given. */
  set(remoteAddr: IpAddress, remotePort: number, localPort: number, value: T): void {
    if (value.remotePort !== remotePort || value.localPort !== localPort || typeof value.remoteAddr !== typeof remoteAddr) {
      throw new RangeError('ConnectionTable: the entry has another remote address or other ports than its key');
    }
    const slot = typeof remoteAddr === 'number' ? this.#byRemote.get(remoteAddr | 0) : this.#byRemote6.get(remoteAddr);
    let next: Slot<T>;
    if (slot === undefined) {
      next = value;
      this.#size++;
    } else if (slot instanceof Map) {
      const key = portsKey(remotePort, localPort);
      if (!slot.has(key)) this.#size++;
      slot.set(key, value);
      return;
    } else if (slot.remotePort === remotePort && slot.localPort === localPort) {
      next = value;
    } else {
      next = new Map([[portsKey(slot.remotePort, slot.localPort), slot], [portsKey(remotePort, localPort), value]]);
      this.#size++;
    }
    if (typeof remoteAddr === 'number') this.#byRemote.set(remoteAddr | 0, next);
    else this.#byRemote6.set(remoteAddr, next);
  }

  /** Removes an entry; returns whether it was present. */
  delete(remoteAddr: IpAddress, remotePort: number, localPort: number): boolean {
    const slot = typeof remoteAddr === 'number' ? this.#byRemote.get(remoteAddr | 0) : this.#byRemote6.get(remoteAddr);
    if (slot === undefined) return false;
    let next: Slot<T> | undefined;
    if (slot instanceof Map) {
      if (!slot.delete(portsKey(remotePort, localPort))) return false;
      this.#size--;
      // Back to the entry itself when one is left.
      if (slot.size !== 1) return true;
      next = slot.values().next().value as T;
    } else if (slot.remotePort === remotePort && slot.localPort === localPort) {
      this.#size--;
      next = undefined;
    } else {
      return false;
    }
    if (typeof remoteAddr === 'number') {
      if (next === undefined) this.#byRemote.delete(remoteAddr | 0);
      else this.#byRemote.set(remoteAddr | 0, next);
    } else if (next === undefined) {
      this.#byRemote6.delete(remoteAddr);
    } else {
      this.#byRemote6.set(remoteAddr, next);
    }
    return true;
  }

  /** Every entry, in no particular order. */
  *values(): IterableIterator<T> {
    for (const slot of this.#byRemote.values()) {
      if (slot instanceof Map) yield* slot.values();
      else yield slot;
    }
    for (const slot of this.#byRemote6.values()) {
      if (slot instanceof Map) yield* slot.values();
      else yield slot;
    }
  }
}
