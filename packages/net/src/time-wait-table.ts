/**
 * TIME-WAIT kept apart from live connections, as Linux does: when a connection enters
 * TIME-WAIT the stack takes its compact record (`TcpConnection.toTimeWait()`, ~120 octets) into
 * this table and removes the connection, so closing first never fills the connection table nor
 * holds a connection's memory for 2·MSL.
 *
 * - Keyed like the stack's connection table, by (remote address, remote port, local port): the
 *   stack has one local address per family. The common case, one local port per remote address
 *   and port, costs one Map entry; a second local port for the same remote endpoint makes a
 *   small Map. IPv6 remotes are kept apart in an `Ipv6PortMap` (all 128 bits, no strings), so an
 *   IPv6 4-tuple never meets an IPv4 one; addresses are taken as given, an IPv4-mapped one
 *   included (see connection-table.ts).
 * - Bounded by its own cap, `max` (Linux's tcp_max_tw_buckets): beyond it a connection closes
 *   without TIME-WAIT, counted in `stats.overflows` ("TCP: time wait bucket table overflow").
 *   Records never count against the stack's `maxConnections`.
 * - Expiry on the stack's one timer: `nextDeadline()` is the earliest 2·MSL deadline, `expire(now)`
 *   forgets every record whose wait is over. A min-heap of (deadline, key) in parallel arrays; a
 *   record removed early (reuse, RST) or whose wait restarted (a retransmitted FIN) is corrected
 *   lazily when its old deadline comes up, and the heap is compacted when such leftovers pile up.
 * - `handleSegment` answers a segment for a held 4-tuple through its record (what to send, or
 *   that a new SYN may reopen it, RFC 6191); the stack asks it only for segments that match no
 *   live connection.
 */
import type { Instant, IpAddress, TcpRepr, Transmit } from '@tcp-tun/tcp';
import { TimeWaitRecord } from '@tcp-tun/tcp';
import { Ipv6PortMap } from './connection-table.js';

/** What the stack does with a segment for a 4-tuple in TIME-WAIT. */
export type TimeWaitAnswer =
  /** Send `transmit` (an ACK: a retransmitted FIN, an old duplicate, a stray in the window…). */
  | { readonly kind: 'reply'; readonly transmit: Transmit }
  /** Nothing to send (a bare ACK, a rate-limited answer, an ignored RST). */
  | { readonly kind: 'drop' }
  /** RFC 6191: a new SYN reopens the 4-tuple. The record is gone: give the SYN to the listener. */
  | { readonly kind: 'reuse' }
  /** A RST at RCV.NXT ended TIME-WAIT (as Linux): the record is gone, nothing to send. */
  | { readonly kind: 'closed' };

/** Counters of the stack's TIME-WAIT table (RFC 9293 §3.6.1), as `StackStats.timeWait`. */
export interface TimeWaitStats {
  /** Records held now. */
  readonly held: number;
  /** The cap. */
  readonly max: number;
  /** Records taken in. */
  readonly added: number;
  /** Connections that closed without TIME-WAIT because the table was full. */
  readonly overflows: number;
  /** Records whose 2·MSL ran out. */
  readonly expired: number;
  /** Records a new SYN reopened (RFC 6191). */
  readonly reused: number;
  /** Records a RST at RCV.NXT ended. */
  readonly resets: number;
  /** ACKs sent for records. */
  readonly acks: number;
}

/**
 * Default cap: Linux's tcp_max_tw_buckets on machines with a large connection hash (262,144).
 * At 2·MSL = 60 s that holds a close-first rate of ~4,400 connections/s with full TIME-WAIT
 * (above it the excess closes without, counted), four times the stack's default
 * `maxConnections`; at ~200 octets per held record (record, map entry, heap slot) it is ~50 MiB
 * at worst, against ~128 MiB for 65,536 idle live connections.
 */
export const DEFAULT_MAX_TIME_WAIT = 262_144;

const EMPTY = new Uint8Array(0);
const DROP: TimeWaitAnswer = Object.freeze({ kind: 'drop' });
const REUSE: TimeWaitAnswer = Object.freeze({ kind: 'reuse' });
const CLOSED: TimeWaitAnswer = Object.freeze({ kind: 'closed' });

/** A Map value: the record of the one local port, or records by local port. */
type Slot = TimeWaitRecord | Map<number, TimeWaitRecord>;

/** TIME-WAIT records by 4-tuple, bounded, with their deadlines. */
export class TimeWaitTable {
  /** The most records held at once (0: no TIME-WAIT at all). */
  readonly max: number;
  readonly #byRemote = new Map<number, Slot>();
  readonly #byRemote6 = new Ipv6PortMap<Slot>();
  #size = 0;
  // The heap: deadline, remote address and record at each position (the record has the ports).
  readonly #deadlines: number[] = [];
  readonly #remotes: IpAddress[] = [];
  readonly #records: TimeWaitRecord[] = [];
  #added = 0;
  #overflows = 0;
  #expired = 0;
  #reused = 0;
  #resets = 0;
  #acks = 0;

  /** @throws RangeError unless `max` is a non-negative integer. */
  constructor(max: number = DEFAULT_MAX_TIME_WAIT) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`maxTimeWait must be a non-negative integer, got ${String(max)}`);
    this.max = max;
  }

  /** Records held. */
  get size(): number {
    return this.#size;
  }

  get stats(): TimeWaitStats {
    return {
      held: this.#size,
      max: this.max,
      added: this.#added,
      overflows: this.#overflows,
      expired: this.#expired,
      reused: this.#reused,
      resets: this.#resets,
      acks: this.#acks,
    };
  }

  /** The record of a 4-tuple, or undefined. */
  get(remoteAddr: IpAddress, remotePort: number, localPort: number): TimeWaitRecord | undefined {
    const slot = this.#slot(remoteAddr, remotePort);
    if (slot === undefined) return undefined;
    if (slot instanceof TimeWaitRecord) return slot.localPort === localPort ? slot : undefined;
    return slot.get(localPort);
  }

  has(remoteAddr: IpAddress, remotePort: number, localPort: number): boolean {
    return this.get(remoteAddr, remotePort, localPort) !== undefined;
  }

  /**
   * Takes the record of a connection that entered TIME-WAIT (its ports are the record's). Returns
   * false, counting an overflow, when the table is full: the connection closes without
   * TIME-WAIT. A record already held for the 4-tuple is replaced.
   */
  add(remoteAddr: IpAddress, record: TimeWaitRecord): boolean {
    const remotePort = record.remotePort;
    const localPort = record.localPort;
    const replacing = this.get(remoteAddr, remotePort, localPort) !== undefined;
    if (!replacing && this.#size >= this.max) {
      this.#overflows++;
      return false;
    }
    const slot = this.#slot(remoteAddr, remotePort);
    if (slot === undefined || (slot instanceof TimeWaitRecord && slot.localPort === localPort)) {
      this.#setSlot(remoteAddr, remotePort, record);
    } else if (slot instanceof TimeWaitRecord) {
      this.#setSlot(remoteAddr, remotePort, new Map([[slot.localPort, slot], [localPort, record]]));
    } else {
      slot.set(localPort, record);
    }
    if (!replacing) this.#size++;
    this.#added++;
    this.#push(record.expiresAt, remoteAddr, record);
    return true;
  }

  /** Forgets the record of a 4-tuple; returns whether there was one. */
  delete(remoteAddr: IpAddress, remotePort: number, localPort: number): boolean {
    const slot = this.#slot(remoteAddr, remotePort);
    if (slot === undefined) return false;
    if (slot instanceof TimeWaitRecord) {
      if (slot.localPort !== localPort) return false;
      if (typeof remoteAddr === 'number') this.#byRemote.delete(remoteAddr * 65536 + remotePort);
      else this.#byRemote6.delete(remoteAddr, remotePort);
    } else {
      if (!slot.delete(localPort)) return false;
      if (slot.size === 1) this.#setSlot(remoteAddr, remotePort, slot.values().next().value as TimeWaitRecord);
    }
    this.#size--;
    return true;
  }

  /** The slot of a remote address and port (IPv4: one numeric key; IPv6: the address map). */
  #slot(remoteAddr: IpAddress, remotePort: number): Slot | undefined {
    if (typeof remoteAddr === 'number') return this.#byRemote.get(remoteAddr * 65536 + remotePort);
    return this.#byRemote6.get(remoteAddr, remotePort);
  }

  #setSlot(remoteAddr: IpAddress, remotePort: number, slot: Slot): void {
    if (typeof remoteAddr === 'number') this.#byRemote.set(remoteAddr * 65536 + remotePort, slot);
    else this.#byRemote6.set(remoteAddr, remotePort, slot);
  }

  /**
   * RFC 6191: would `syn` reopen the 4-tuple held in TIME-WAIT? False when none is held (the stack
   * then treats the SYN as for any 4-tuple).
   */
  reusableBy(remoteAddr: IpAddress, syn: TcpRepr): boolean {
    return this.get(remoteAddr, syn.srcPort, syn.dstPort)?.reusableBy(syn) ?? false;
  }

  /**
   * A segment from `remoteAddr` that matched no live connection. Undefined when the table holds
   * no TIME-WAIT for its 4-tuple (or the wait just ran out): look further (listener, RST).
   * `listening`: whether a listener could take a new SYN on the local port; without one a SYN
   * that may reuse the 4-tuple is answered with an ACK and the record stays (as Linux).
   */
  handleSegment(now: Instant, remoteAddr: IpAddress, repr: TcpRepr, payloadLength: number, listening: boolean): TimeWaitAnswer | undefined {
    const remotePort = repr.srcPort;
    const localPort = repr.dstPort;
    const record = this.get(remoteAddr, remotePort, localPort);
    if (record === undefined) return undefined;
    if (record.expired(now)) {
      this.delete(remoteAddr, remotePort, localPort);
      this.#expired++;
      return undefined;
    }
    switch (record.handleSegment(now, repr, payloadLength)) {
      case 'drop':
        return DROP;
      case 'ack':
        return this.#reply(record, now);
      case 'reuse':
        if (!listening) return this.#reply(record, now);
        this.delete(remoteAddr, remotePort, localPort);
        this.#reused++;
        return REUSE;
      case 'close':
        this.delete(remoteAddr, remotePort, localPort);
        this.#resets++;
        return CLOSED;
    }
  }

  /** The earliest TIME-WAIT deadline, or undefined when none is held (for the stack's timer). */
  nextDeadline(): Instant | undefined {
    // Settle leftovers at the top so the deadline is a real one.
    while (this.#deadlines.length > 0) {
      const record = this.#records[0]!;
      const remote = this.#remotes[0]!;
      if (this.#held(remote, record)) {
        if (record.expiresAt > this.#deadlines[0]!) {
          // The wait restarted (a retransmitted FIN): move it to its new deadline.
          this.#pop();
          this.#push(record.expiresAt, remote, record);
          continue;
        }
        return this.#deadlines[0];
      }
      this.#pop();
    }
    return undefined;
  }

  /** Forgets every record whose 2·MSL is over at `now`; returns how many. */
  expire(now: Instant): number {
    let n = 0;
    while (this.#deadlines.length > 0 && this.#deadlines[0]! <= now) {
      const record = this.#records[0]!;
      const remote = this.#remotes[0]!;
      this.#pop();
      if (!this.#held(remote, record)) continue;
      if (!record.expired(now)) {
        this.#push(record.expiresAt, remote, record);
        continue;
      }
      this.delete(remote, record.remotePort, record.localPort);
      this.#expired++;
      n++;
    }
    return n;
  }

  /** Forgets everything (the stack closes). */
  clear(): void {
    this.#byRemote.clear();
    this.#byRemote6.clear();
    this.#size = 0;
    this.#deadlines.length = 0;
    this.#remotes.length = 0;
    this.#records.length = 0;
  }

  #reply(record: TimeWaitRecord, now: Instant): TimeWaitAnswer {
    this.#acks++;
    return { kind: 'reply', transmit: { repr: record.ack(now), payload: EMPTY, ecn: 'not-ect' } };
  }

  /** Whether `record` is still the one held for its 4-tuple (else its heap entry is a leftover). */
  #held(remote: IpAddress, record: TimeWaitRecord): boolean {
    return this.get(remote, record.remotePort, record.localPort) === record;
  }

  #push(deadline: number, remote: IpAddress, record: TimeWaitRecord): void {
    // Leftovers (records reopened or reset before their deadline) pile up under churn: compact.
    if (this.#deadlines.length > 2 * this.#size + 1024) this.#compact();
    const d = this.#deadlines;
    const r = this.#remotes;
    const x = this.#records;
    let i = d.length;
    d.push(deadline);
    r.push(remote);
    x.push(record);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (d[parent]! <= deadline) break;
      d[i] = d[parent]!;
      r[i] = r[parent]!;
      x[i] = x[parent]!;
      i = parent;
    }
    d[i] = deadline;
    r[i] = remote;
    x[i] = record;
  }

  #pop(): void {
    const d = this.#deadlines;
    const r = this.#remotes;
    const x = this.#records;
    const last = d.length - 1;
    const deadline = d[last]!;
    const remote = r[last]!;
    const record = x[last]!;
    d.pop();
    r.pop();
    x.pop();
    if (last === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= last) break;
      const right = left + 1;
      const c = right < last && d[right]! < d[left]! ? right : left;
      if (d[c]! >= deadline) break;
      d[i] = d[c]!;
      r[i] = r[c]!;
      x[i] = x[c]!;
      i = c;
    }
    d[i] = deadline;
    r[i] = remote;
    x[i] = record;
  }

  /** Rebuilds the heap from the records still held. */
  #compact(): void {
    const entries: Array<[number, IpAddress, TimeWaitRecord]> = [];
    for (let i = 0; i < this.#deadlines.length; i++) {
      const remote = this.#remotes[i]!;
      const record = this.#records[i]!;
      if (this.#held(remote, record)) entries.push([this.#deadlines[i]!, remote, record]);
    }
    this.#deadlines.length = 0;
    this.#remotes.length = 0;
    this.#records.length = 0;
    for (const [deadline, remote, record] of entries) this.#push(deadline, remote, record);
  }
}
