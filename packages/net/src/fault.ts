/**
 * A fault-injecting `Link` wrapper for tests and for the apps' `--drop/--delay/...` flags.
 * It can drop, duplicate, reorder, corrupt, delay (with jitter), rate-limit and size-limit
 * packets, independently in each direction, from a seeded PRNG so every run can be replayed.
 */
import type { Link, LinkReceiver } from './link.js';

/** What to do to the packets of one direction. Probabilities are in [0, 1]. */
export interface FaultProfile {
  /** Probability in [0, 1] that a packet is dropped (default 0). */
  readonly drop?: number;
  /** Probability in [0, 1] that a packet is delivered twice (default 0). */
  readonly duplicate?: number;
  /** Probability that a packet is held back and overtaken by the ones after it. */
  readonly reorder?: number;
  /** Probability that one random bit of the packet is flipped. */
  readonly corrupt?: number;
  /** Fixed one-way delay added to every packet, in milliseconds (default 0). */
  readonly delayMs?: number;
  /** Extra delay drawn uniformly from [0, jitterMs) milliseconds per packet, on top of `delayMs`; packets can overtake each other (default 0). */
  readonly jitterMs?: number;
  /** Serialisation rate; packets queue behind each other (0 or absent: unlimited). */
  readonly rateBytesPerSecond?: number;
  /** Packets longer than this are dropped (as a link with a smaller MTU would). */
  readonly maxPacketSize?: number;
}

/** Options of `withFaults`: one profile for both directions, or one for each. */
export interface FaultOptions extends FaultProfile {
  /** Seed of the PRNG that draws every fault decision, so a run can be replayed (default 1). */
  readonly seed?: number;
  /** Overrides for the link → stack direction, field by field. */
  readonly inbound?: FaultProfile;
  /** Overrides for the stack → link direction, field by field. */
  readonly outbound?: FaultProfile;
}

/** Counters of one direction. */
export interface FaultCounters {
  /** Packets offered to this direction. */
  packets: number;
  /** Packets dropped by the `drop` probability. */
  dropped: number;
  /** Packets dropped for being longer than `maxPacketSize`. */
  tooBig: number;
  /** Packets delivered twice. */
  duplicated: number;
  /** Packets held back so a later one overtook them. */
  reordered: number;
  /** Packets with one bit flipped. */
  corrupted: number;
  /** Packets handed on (duplicates counted each time). */
  delivered: number;
}

/** A link with faults; `counters` tells what was done in each direction. */
export interface FaultyLink extends Link {
  /** What was done to the packets, per direction (live objects, updated as packets pass). */
  readonly counters: {
    /** Link → stack direction. */
    readonly inbound: FaultCounters;
    /** Stack → link direction. */
    readonly outbound: FaultCounters;
  };
}

/** mulberry32: small, fast, good enough to draw fault decisions; seeded for replay. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkProfile(p: FaultProfile, where: string): void {
  for (const key of ['drop', 'duplicate', 'reorder', 'corrupt'] as const) {
    const v = p[key];
    if (v !== undefined && !(v >= 0 && v <= 1)) {
      throw Object.assign(new RangeError(`${where}${key} must be a probability in [0, 1], got ${v}`), { code: 'ERR_INVALID_ARG_VALUE' });
    }
  }
  for (const key of ['delayMs', 'jitterMs', 'rateBytesPerSecond', 'maxPacketSize'] as const) {
    const v = p[key];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      throw Object.assign(new RangeError(`${where}${key} must be a non-negative number, got ${v}`), { code: 'ERR_INVALID_ARG_VALUE' });
    }
  }
}

const newCounters = (): FaultCounters => ({ packets: 0, dropped: 0, tooBig: 0, duplicated: 0, reordered: 0, corrupted: 0, delivered: 0 });

/** One direction's pipeline: decide, then deliver now or on a timer. */
class Direction {
  readonly counters = newCounters();
  private held: Uint8Array | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private busyUntil = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly profile: FaultProfile,
    private readonly random: () => number,
    private readonly deliver: (packets: Uint8Array[]) => void,
  ) {}

  /** Takes a batch; packets may be reused by the caller after return, so kept ones are copied. */
  push(packets: readonly Uint8Array[]): void {
    if (this.closed) return;
    const now: Uint8Array[] = [];
    for (const original of packets) {
      this.counters.packets++;
      const p = this.profile;
      if (p.maxPacketSize !== undefined && original.length > p.maxPacketSize) {
        this.counters.tooBig++;
        continue;
      }
      if (this.random() < (p.drop ?? 0)) {
        this.counters.dropped++;
        continue;
      }
      let packet = original.slice();
      if (this.random() < (p.corrupt ?? 0) && packet.length > 0) {
        const bit = Math.floor(this.random() * packet.length * 8);
        packet[bit >> 3] = (packet[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        this.counters.corrupted++;
      }
      const copies = this.random() < (p.duplicate ?? 0) ? 2 : 1;
      if (copies === 2) this.counters.duplicated++;
      for (let c = 0; c < copies; c++) {
        if (c === 1) packet = packet.slice();
        if (this.held === undefined && this.random() < (p.reorder ?? 0)) {
          // Held until the next packet has gone by (or briefly, if none comes).
          this.held = packet;
          this.counters.reordered++;
          this.heldTimer = setTimeout(() => this.releaseHeld(), Math.max(1, (p.delayMs ?? 0) * 2));
          continue;
        }
        this.schedule(packet, now);
        if (this.held !== undefined) this.releaseHeld(now);
      }
    }
    if (now.length > 0) this.emit(now);
  }

  private releaseHeld(batch?: Uint8Array[]): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    if (batch) this.schedule(held, batch);
    else {
      const later: Uint8Array[] = [];
      this.schedule(held, later);
      if (later.length > 0) this.emit(later);
    }
  }

  private schedule(packet: Uint8Array, now: Uint8Array[]): void {
    const p = this.profile;
    let delay = (p.delayMs ?? 0) + (p.jitterMs ? this.random() * p.jitterMs : 0);
    if (p.rateBytesPerSecond) {
      const t = performance.now();
      const start = Math.max(t, this.busyUntil);
      this.busyUntil = start + (packet.length * 1000) / p.rateBytesPerSecond;
      delay += this.busyUntil - t;
    }
    if (delay < 0.5) {
      now.push(packet);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) this.emit([packet]);
    }, delay);
    this.timers.add(timer);
  }

  private emit(packets: Uint8Array[]): void {
    this.counters.delivered += packets.length;
    this.deliver(packets);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.held = undefined;
  }
}

/**
 * Wraps `link` with faults. Top-level profile fields apply to both directions; `inbound`
 * (link → stack) and `outbound` (stack → link) override them field by field.
 *
 * The wrapper never advertises GSO send (`tso`/`sendTso`), even when `link` has it: faults act
 * on the packets the peer sees, so the stack hands it ordinary ones. Nor does it pass on the
 * inner link's "checksum trusted" flags ({@link LinkReceiver}): a packet it may have corrupted
 * must be verified, so the stack verifies every packet that crossed it. Over a TUN device,
 * open it with checksum completion on (the default) below this wrapper.
 */
export function withFaults(link: Link, options: FaultOptions): FaultyLink {
  const { seed = 1, inbound = {}, outbound = {}, ...shared } = options;
  const inProfile = { ...shared, ...inbound };
  const outProfile = { ...shared, ...outbound };
  checkProfile(inProfile, 'inbound.');
  checkProfile(outProfile, 'outbound.');
  const random = seededRandom(seed);
  let receiver: LinkReceiver | undefined;
  const inDir = new Direction(inProfile, random, (packets) => receiver?.(packets));
  const outDir = new Direction(outProfile, random, (packets) => {
    for (const p of packets) link.send(p);
  });
  return {
    counters: { inbound: inDir.counters, outbound: outDir.counters },
    get mtu() {
      return link.mtu;
    },
    start(r: LinkReceiver): void {
      receiver = r;
      // The inner link's second argument (checksum-trusted flags) is dropped on purpose.
      link.start((packets) => inDir.push(packets));
    },
    send(packet: Uint8Array): void {
      outDir.push([packet]);
    },
    close(): Promise<void> {
      inDir.close();
      outDir.close();
      return link.close();
    },
  };
}
