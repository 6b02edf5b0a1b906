/**
 * Loopback: a packet to one of our own addresses (127/8 and ours over IPv4, `::1` and ours over
 * IPv6) never reaches the link, as on any host (lwIP, smoltcp, gVisor and Linux's `lo` do the
 * same). It is copied and delivered to ourselves as one batch on the next turn of the event
 * loop, like a link's read burst. Counted in `stats().loopbackPackets`/`loopbackBytes`, not in
 * `packetsOut`/`packetsIn`, and not seen by a `capture()` of the link (it never crosses it).
 * Each family's egress holds one, with the ingress its packets re-enter by.
 */
import type { StackCounters } from './stack-stats.js';

/** @internal The loopback queue of one family's egress. */
export class Loopback {
  readonly #counters: StackCounters;
  readonly #ingress: (packets: readonly Uint8Array[]) => void;
  /** Packets addressed to ourselves, delivered as one batch on the next turn. */
  #queue: Uint8Array[] = [];
  #queued = false;

  constructor(counters: StackCounters, ingress: (packets: readonly Uint8Array[]) => void) {
    this.#counters = counters;
    this.#ingress = ingress;
  }

  /** Queues a copy of `packet` (the caller's buffer is reused) for delivery on the next turn. */
  send(packet: Uint8Array): void {
    this.#counters.loopbackPackets++;
    this.#counters.loopbackBytes += packet.length;
    this.#queue.push(packet.slice());
    if (this.#queued) return;
    this.#queued = true;
    setImmediate(() => {
      this.#queued = false;
      const batch = this.#queue;
      this.#queue = [];
      if (batch.length === 0) return;
      this.#ingress(batch);
    });
  }

  /** Forgets packets not yet delivered (the stack is closing). */
  drop(): void {
    this.#queue = [];
  }
}
