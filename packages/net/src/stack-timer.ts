/**
 * The stack's ONE Node timer, armed for the earliest deadline of everything that waits: the
 * connections (an indexed heap), the TIME-WAIT records, and fragments held for reassembly. It
 * never holds the process alive; what Node would keep alive (a ref'd socket or server, a pending
 * connect or write) is held by one ref'd handle of its own, counted here.
 */
import type { Instant } from '@tcp-tun/tcp';
import type { DeadlineHeap } from './deadline-heap.js';
import type { ConnectionEntry } from './internal.js';
import type { TimeWaitTable } from './time-wait-table.js';

const noop = (): void => {};
/** Period of the handle that keeps the process alive (it never does anything). */
const KEEP_ALIVE_INTERVAL_MS = 0x7fffffff;

/** The deadlines the timer covers. */
export interface TimerSources {
  readonly heap: DeadlineHeap<ConnectionEntry>;
  readonly timeWait: TimeWaitTable;
  /** The reassemblers (IPv4 and IPv6): the earliest expiry of what they hold. */
  readonly reassembler: { readonly nextDeadline: number | undefined };
}

/** The stack's timer and its process-lifetime hold. */
export class StackTimer {
  /** The reassembler may hold datagrams: the timer must also cover their expiry. */
  reassemblyArmed = false;
  readonly #sources: TimerSources;
  readonly #fire: () => void;
  readonly #closed: () => boolean;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deadline = Infinity;
  #refs = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;

  /** StackOptions.timers 'manual': no Node timer; the owner calls fireNow(). */
  readonly #manual: boolean;

  /**
   * @param fire runs when the timer fires (not after the stack closed)
   * @param closed whether the stack has closed (then nothing is armed or held)
   * @param manual arm no Node timer (StackOptions.timers 'manual')
   */
  constructor(sources: TimerSources, fire: () => void, closed: () => boolean, manual = false) {
    this.#sources = sources;
    this.#fire = fire;
    this.#closed = closed;
    this.#manual = manual;
  }

  /** Whether the Node timer is armed. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Arms the timer for the earliest deadline now (or clears it when there is none). */
  rearm(now: Instant): void {
    const { heap, timeWait, reassembler } = this.#sources;
    let deadline = heap.peek()?.deadline ?? Infinity;
    const timeWaitExpiry = timeWait.nextDeadline();
    if (timeWaitExpiry !== undefined && timeWaitExpiry < deadline) deadline = timeWaitExpiry;
    if (this.reassemblyArmed) {
      const expiry = reassembler.nextDeadline;
      if (expiry === undefined) this.reassemblyArmed = false;
      else if (expiry < deadline) deadline = expiry;
    }
    if (deadline === Infinity || this.#closed() || this.#manual) {
      this.clear();
      return;
    }
    // A timer that fires no later than needed is kept: firing early is a cheap no-op.
    if (this.#timer !== undefined && this.#deadline <= deadline) return;
    this.clear();
    this.#deadline = deadline;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.ceil(deadline - now)));
    // The timer never holds the process (TIME-WAIT, orphans, retransmissions of a connection
    // nobody holds): hold()'s handle does that for what Node would keep alive.
    this.#timer.unref();
  }

  /** Re-arms only when fragments wait (a batch that touched no connection). */
  rearmIfReassembling(now: Instant): void {
    if (this.reassemblyArmed) this.rearm(now);
  }

  /** Clears the Node timer. */
  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#deadline = Infinity;
  }

  /** Runs what the timer runs when it fires, now (tests with a virtual clock). */
  fireNow(): void {
    if (this.#closed()) return;
    this.clear();
    this.#onTimer();
  }

  /**
   * A socket or server that keeps the process alive started (+1) or stopped (−1) doing so.
   * One ref'd Node handle stands for every ref'd server, ref'd socket, pending connect and
   * pending write, whatever the link (the TUN device's fd and the stack's timer are unref'd,
   * and the in-memory link has no handle at all): the process lives exactly while Node's
   * would (lib/net.js keeps a ref'd TCP handle or an active request).
   */
  hold(delta: 1 | -1): void {
    const before = this.#refs;
    this.#refs += delta;
    if (before === 0 && this.#refs > 0 && !this.#closed()) {
      this.#keepAlive ??= setInterval(noop, KEEP_ALIVE_INTERVAL_MS);
    } else if (before > 0 && this.#refs === 0 && this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }

  /** Clears the timer and lets go of the process (the stack closed). */
  dispose(): void {
    this.clear();
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#deadline = Infinity;
    if (this.#closed()) return;
    this.#fire();
  };
}
