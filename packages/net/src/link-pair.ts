/**
 * Two in-memory links joined back to back, for tests and demos without a TUN device: what one
 * side sends, the other receives. Packets are copied on `send` (as a device would) and
 * delivered asynchronously, all packets of one event-loop turn in one batch, the way a TUN
 * reader hands the stack a burst: so the stack's per-batch ACK coalescing is exercised.
 */
import type { Link, LinkReceiver } from './link.js';

/** Options of {@link createLinkPair}. */
export interface LinkPairOptions {
  /** MTU of both links in octets (default 1500); longer packets are dropped and counted. */
  readonly mtu?: number;
  /** One-way delay in milliseconds (default 0: next turn of the event loop). */
  readonly delayMs?: number;
  /** Most packets queued towards one side before further ones are dropped (default 65536). */
  readonly queueLimit?: number;
}

/** Counters of one side of a link pair. */
export interface LinkPairCounters {
  /** Packets handed to `send`. */
  sent: number;
  /** Packets delivered to this side's receiver. */
  delivered: number;
  /** Packets dropped: too big, queue full, or the link closed. */
  dropped: number;
}

/** One side of a link pair. */
export interface PairedLink extends Link {
  /** Packets sent, delivered and dropped by this side (live, updated as packets pass). */
  readonly counters: LinkPairCounters;
}

interface Pending {
  readonly packet: Uint8Array;
  readonly dueMs: number;
}

class PairSide implements PairedLink {
  readonly mtu: number;
  readonly counters: LinkPairCounters = { sent: 0, delivered: 0, dropped: 0 };
  peer: PairSide | undefined;
  readonly #delayMs: number;
  readonly #queueLimit: number;
  // Packets travelling towards this side.
  #inbox: Pending[] = [];
  #receiver: LinkReceiver | undefined;
  #closed = false;
  #immediate: ReturnType<typeof setImmediate> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(mtu: number, delayMs: number, queueLimit: number) {
    this.mtu = mtu;
    this.#delayMs = delayMs;
    this.#queueLimit = queueLimit;
  }

  start(receiver: LinkReceiver): void {
    if (this.#closed) return;
    this.#receiver = receiver;
    this.#schedule();
  }

  send(packet: Uint8Array): void {
    this.counters.sent++;
    const peer = this.peer;
    if (this.#closed || peer === undefined || packet.length > this.mtu) {
      this.counters.dropped++;
      return;
    }
    if (!peer.#enqueue(packet.slice(), this.#delayMs)) this.counters.dropped++;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#receiver = undefined;
    this.#inbox = [];
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#immediate = undefined;
    this.#timer = undefined;
    return Promise.resolve();
  }

  #enqueue(packet: Uint8Array, delayMs: number): boolean {
    if (this.#closed || this.#inbox.length >= this.#queueLimit) return false;
    this.#inbox.push({ packet, dueMs: delayMs > 0 ? performance.now() + delayMs : 0 });
    this.#schedule();
    return true;
  }

  #schedule(): void {
    if (this.#receiver === undefined || this.#immediate !== undefined || this.#timer !== undefined) return;
    const first = this.#inbox[0];
    if (first === undefined) return;
    const wait = first.dueMs - performance.now();
    if (first.dueMs === 0 || wait <= 0) this.#immediate = setImmediate(() => this.#deliver());
    else this.#timer = setTimeout(() => this.#deliver(), Math.ceil(wait));
  }

  #deliver(): void {
    this.#immediate = undefined;
    this.#timer = undefined;
    const receiver = this.#receiver;
    if (receiver === undefined) return;
    const now = performance.now();
    let n = 0;
    while (n < this.#inbox.length && (this.#inbox[n] as Pending).dueMs <= now) n++;
    const batch = this.#inbox.splice(0, n).map((p) => p.packet);
    if (batch.length > 0) {
      this.counters.delivered += batch.length;
      receiver(batch);
    }
    this.#schedule();
  }
}

/**
 * Creates two links joined to each other. Either side may be closed independently; packets
 * sent towards a closed side are dropped.
 */
export function createLinkPair(options: LinkPairOptions = {}): [PairedLink, PairedLink] {
  const mtu = options.mtu ?? 1500;
  const delayMs = options.delayMs ?? 0;
  const queueLimit = options.queueLimit ?? 65536;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new RangeError(`mtu must be an integer 68..65535, got ${mtu}`);
  if (!(delayMs >= 0)) throw new RangeError(`delayMs must be >= 0, got ${delayMs}`);
  const a = new PairSide(mtu, delayMs, queueLimit);
  const b = new PairSide(mtu, delayMs, queueLimit);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
