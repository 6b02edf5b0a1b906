/**
 * The drain: which segments leave when. ONE queue of touched connections and the entry points
 * that empty it; every other file only queues a connection (`schedule`) or calls an entry point.
 * Draining a connection = take every transmit (through the GSO train, ended when the loop ends),
 * then every event (handed to its socket, whose handlers may issue commands: repeat while there
 * were events), then move its deadline in the timer heap or hand it to a TIME-WAIT record.
 *
 * | phase (entry point) | what leaves | why | measurement behind it |
 * |---|---|---|---|
 * | a received batch is fed in (`openBatch`) | only answers that belong to no connection (RST to a closed port, a listener's SYN-ACK, a TIME-WAIT record's ACK, an ICMP echo reply); touched connections are queued | nothing to coalesce them with; a connection is drained once per batch, which coalesces its ACKs | — |
 * | end of the batch, events (`afterBatch`) | nothing: every queued connection's events go to its socket first | the application reacts (writes its answer, ends) before anything is sent, so its answer rides with our ACK | connect, one echo and close cost 3 writes, not 5 (commit a422640) |
 * | end of the batch, data (`afterBatch`) | every segment of each queued connection with unsent data | a request/response exchange should not pay for the rest of the turn (reading the device to EAGAIN, ticks, microtasks); the data carries our ACK | round trips with the kernel ~23k → ~32k/s (commit 0a01edf) |
 * | later in the turn (`flush`: a microtask queued from `process.nextTick`) | every queued connection: pure ACKs, window updates, FINs; deadlines re-armed | after Node's stream ticks (`'end'` → `end()` runs in a tick), so the FIN shares the ACK's segment, whether the batch came from a macrotask or a microtask | the same 3 writes, not 5 |
 * | a socket command outside a batch (`schedule`, then `flush` in one microtask) | every connection queued in this turn | a run of writes costs one drain, whose segments fill GSO trains | GSO send: source ~255 → ~900 MB/s, 185,870 → ~5,000 writes for 256 MiB (commit a422640) |
 * | the stack's timer fires (`afterTimers`) | due connections run `handleTimeout` and are drained at once | a retransmission or a probe must not wait | — |
 * | a socket aborts its connection (`transmitNow`) | what the connection already had to send, then (next drain) its RST | as from a kernel that sent it before the program ran | — |
 * | `stack.close()` (`drainNow`) | the RSTs of every aborted connection, at once (or by the drain in progress) | closing must not wait for another turn | — |
 *
 * The GSO train ends in exactly one place of this file: at the end of a connection's transmit
 * loop (`#transmit`); inside the loop the train itself sends what cannot join (gso-train.ts).
 * Packets that are not a connection's transmits (RSTs for closed ports, listener and TIME-WAIT
 * answers, ICMP echo replies) never meet an open train: they are sent from the receive pipeline,
 * never inside a transmit loop.
 *
 * After the data of a batch (`afterBatch`) and after every pass over the queue, the link's
 * optional `flush()` hint is called once (`flushLink`): a link that queues writes (the TUN
 * device's writer thread, `--tun-writer`) hands the batch over in one wake-up, not one per packet.
 */
import type { Instant, TcpEvent, TimeWaitRecord } from '@tcp-tun/tcp';
import type { DeadlineHeap } from './deadline-heap.js';
import { diag } from './diagnostics.js';
import type { GsoTrain } from './gso-train.js';
import type { ConnectionEntry } from './internal.js';
import type { TcpEgress } from './ipv4-egress.js';
import type { StackTimer } from './stack-timer.js';

/** What the drain needs from the stack. */
export interface DrainContext {
  /** The stack, as the source of diagnostics_channel messages. */
  readonly stack: object;
  /** Our IPv4 address, for diagnostics_channel messages (they take each connection's own). */
  readonly address: string | undefined;
  readonly egress: TcpEgress;
  /**
   * The GSO train of each family the stack has (gso-train.ts). A connection's segments go to
   * its family's train, so the call that offers them always meets one class (see #transmit).
   */
  readonly train4: GsoTrain | undefined;
  readonly train6: GsoTrain | undefined;
  readonly heap: DeadlineHeap<ConnectionEntry>;
  readonly timer: StackTimer;
  /** The stack's clock. */
  readonly clock: () => Instant;
  /** The end of a batch of link writes: `Link.flush` where the link has it (a hint, see link.ts). */
  flushLink(): void;
  /** Hands one engine event to the connection's listener, socket, or nobody (stack.ts). */
  dispatch(entry: ConnectionEntry, event: TcpEvent): void;
  /** Forgets a connection that closed (stack.ts). */
  remove(entry: ConnectionEntry): void;
  /** A TIME-WAIT record takes over the 4-tuple of `entry`, which leaves the table (stack.ts). */
  enterTimeWait(entry: ConnectionEntry, record: TimeWaitRecord): void;
}

/** The stack's drain (see the table above). */
export class Drain {
  readonly #ctx: DrainContext;
  /** Connections queued for a drain, in order; `entry.touched` says whether one is here. */
  #touched: ConnectionEntry[] = [];
  /** Inside a batch or a drain: a scheduled connection is reached by the pass in progress. */
  #inPass = false;
  #flushQueued = false;
  /** Exceptions of application handlers, re-thrown once the drain is done. */
  #deferredErrors: unknown[] = [];

  constructor(ctx: DrainContext) {
    this.#ctx = ctx;
  }

  /**
   * Queues `entry` for a drain: reached by the pass in progress, if any; else by one microtask
   * shared by every command issued in this turn (entry point: after a socket command).
   */
  schedule(entry: ConnectionEntry): void {
    if (entry.removed || entry.touched) return;
    entry.touched = true;
    this.#touched.push(entry);
    if (!this.#inPass && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  /** An exception of application code during a drain: re-thrown when the drain is done. */
  defer(err: unknown): void {
    this.#deferredErrors.push(err);
  }

  /** Entry point, received batch: the packets are fed in now; connections are only queued. */
  openBatch(): void {
    this.#inPass = true;
  }

  /**
   * Entry point, end of a received batch: events to sockets, then data at once; the rest
   * (pure ACKs, window updates, FINs) in the flush later in the turn.
   */
  afterBatch(now: Instant): void {
    this.#inPass = false;
    this.#deliverEvents(now);
    this.#sendData(now);
    // What the batch sent (answers from the receive pipeline, data) leaves now, while the
    // device reads on.
    this.#ctx.flushLink();
  }

  /** Entry point, the stack's timer fired: due connections time out and are drained at once. */
  afterTimers(now: Instant): void {
    const { heap, stack, address } = this.#ctx;
    this.#inPass = true;
    try {
      for (let e = heap.popDue(now); e !== undefined; e = heap.popDue(now)) {
        const rtos = e.conn.counters.rtoCount;
        e.conn.handleTimeout(now);
        if (e.conn.counters.rtoCount !== rtos) diag.rto(stack, address, e);
        this.schedule(e);
      }
    } finally {
      this.#inPass = false;
    }
    this.#drainTouched(now);
  }

  /** Entry point, stack close: drains what is queued now, unless a pass in progress will. */
  drainNow(now: Instant): void {
    if (!this.#inPass) this.#drainTouched(now);
  }

  /** Sends what `entry` has ready now (a socket let go of it: before its RST). */
  transmitNow(entry: ConnectionEntry, now: Instant): void {
    this.#transmit(entry, now);
  }

  /** Drains one connection now (its old incarnation, before a SYN reopens its TIME-WAIT 4-tuple). */
  drainOne(entry: ConnectionEntry, now: Instant): void {
    this.#drain(entry, now);
  }

  /**
   * After a received batch: hand every touched connection's events to its owner now, and leave
   * the segments for the flush (except data, see #sendData). What the application does in
   * response (an echo's reply, or the `end()` that follows 'end', which Node's streams run from
   * `process.nextTick`, ahead of microtasks) then leaves in the same segments as our ACK
   * instead of segments of its own. Writes are the costly part of a TUN link (the kernel's
   * receive path runs inside each one).
   */
  #deliverEvents(now: Instant): void {
    if (this.#touched.length === 0) {
      // Nothing to send; a fragment held for reassembly may still need the timer.
      this.#ctx.timer.rearmIfReassembling(now);
      return;
    }
    this.#inPass = true;
    try {
      // Handlers may touch more connections: the index loop reaches them too.
      for (let i = 0; i < this.#touched.length; i++) {
        try {
          this.#dispatchEvents(this.#touched[i] as ConnectionEntry, now);
        } catch (err) {
          this.#deferredErrors.push(err);
        }
      }
    } finally {
      this.#inPass = false;
    }
    // The entries stay queued: the flush sends their segments and re-arms their timers. It runs
    // as a microtask queued from process.nextTick, so after the ticks the events set off (a
    // stream's 'end' runs in a tick, and what pipe() or allowHalfOpen do on it in the next)
    // whether this batch arrived from a macrotask (a real link) or from within a microtask (a
    // promise-driven test or an in-memory link), where ticks run only after the microtask
    // queue has drained.
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      process.nextTick(this.#queueFlush);
    }
  }

  /**
   * Sends at once the segments of connections that the batch left with data to send (an
   * answer the application wrote from its event handlers, or data an ACK let go); they carry
   * our ACK. Waiting would gain nothing for these: the data is there.
   */
  #sendData(now: Instant): void {
    const touched = this.#touched;
    if (touched.length === 0) return;
    this.#inPass = true;
    try {
      for (let i = 0; i < touched.length; i++) {
        const e = touched[i] as ConnectionEntry;
        if (e.removed || e.conn.unsentLength === 0) continue;
        this.#transmit(e, now);
      }
    } catch (err) {
      this.#deferredErrors.push(err);
    } finally {
      this.#inPass = false;
    }
  }

  readonly #queueFlush = (): void => {
    queueMicrotask(this.#flush);
  };

  readonly #flush = (): void => {
    this.#flushQueued = false;
    if (this.#touched.length === 0) return;
    this.#drainTouched(this.#ctx.clock());
  };

  #drainTouched(now: Instant): void {
    this.#inPass = true;
    try {
      // New entries may be appended while draining (a socket's event handler writes to
      // another socket): the index loop picks them up in this same pass.
      for (let i = 0; i < this.#touched.length; i++) {
        const e = this.#touched[i] as ConnectionEntry;
        e.touched = false;
        try {
          this.#drain(e, now);
        } catch (err) {
          // Only a bug can get here (event handlers are guarded in dispatch): keep the other
          // connections going and report it.
          this.#deferredErrors.push(err);
        }
      }
      this.#touched = [];
    } finally {
      this.#inPass = false;
    }
    this.#ctx.flushLink();
    this.#ctx.timer.rearm(now);
    if (this.#deferredErrors.length > 0) {
      const errors = this.#deferredErrors;
      this.#deferredErrors = [];
      // An exception thrown by application code in an event handler must not leave the
      // stack half-drained; it is re-thrown as an uncaught exception, as Node's would be.
      for (const err of errors) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  #drain(entry: ConnectionEntry, now: Instant): void {
    if (entry.removed) return;
    do this.#transmit(entry, now);
    while (this.#dispatchEvents(entry, now) && !entry.removed);
    if (entry.removed) return;
    const conn = entry.conn;
    if (conn.state === 'TIME-WAIT') {
      // The connection reached TIME-WAIT and has sent what it owed: its compact record takes
      // over the 4-tuple (RFC 9293 §3.10.7.4, RFC 6191), as Linux hands a socket to an
      // inet_timewait_sock. No record (the table is full) means no TIME-WAIT for this one.
      const record = conn.toTimeWait();
      if (record !== undefined) {
        // toTimeWait() emitted 'closed': the socket hears it, then the connection is forgotten.
        entry.timeWait = true;
        this.#dispatchEvents(entry, now);
        this.#ctx.enterTimeWait(entry, record);
        return;
      }
    }
    this.#ctx.heap.set(entry, conn.pollTimeout());
  }

  /**
   * Hands the connection's events to its owner; returns whether there were any (handlers may
   * have issued commands that need another drain). A connection that closed is sent its last
   * segments and forgotten.
   */
  #dispatchEvents(entry: ConnectionEntry, now: Instant): boolean {
    if (entry.removed) return false;
    const conn = entry.conn;
    let any = false;
    let closed = false;
    for (let ev = conn.pollEvent(); ev !== undefined; ev = conn.pollEvent()) {
      any = true;
      if (ev.type === 'closed') closed = true;
      this.#ctx.dispatch(entry, ev);
    }
    if (closed) {
      // Flush what the last commands produced, then forget the connection.
      this.#transmit(entry, now);
      this.#ctx.remove(entry);
    }
    return any;
  }

  /**
   * Sends every segment the connection has ready now, through the GSO train, and ends the
   * train: the one place a train ends outside the train itself.
   */
  #transmit(entry: ConnectionEntry, now: Instant): void {
    const ctx = this.#ctx;
    const egress = ctx.egress;
    // The connection's own family's train. No train ever holds another connection's segments
    // here (it is ended below), so a train never mixes families, and every stack, dual-stack or
    // not, offers to a GsoTrain directly, as an IPv4-only stack always did (an IPv6-only one
    // went through a dispatcher over both families, one more call per segment in this loop).
    // A connection exists only in a family the stack has an address, an egress and a train of.
    const train = (entry.family === 4 ? ctx.train4 : ctx.train6) as GsoTrain;
    const conn = entry.conn;
    const remote = entry.remoteAddr;
    if (diag.retransmitWanted) {
      // Observed: each segment whose poll raised the retransmission count is published.
      const counters = conn.counters;
      for (;;) {
        const before = counters.retransmits;
        const t = conn.pollTransmit(now);
        if (t === undefined) break;
        if (counters.retransmits !== before) diag.retransmit(this.#ctx.stack, this.#ctx.address, entry, t.repr.seq, t.payload.length);
        if (!train.offer(remote, t)) egress.sendTcp(remote, t);
      }
    } else {
      for (let t = conn.pollTransmit(now); t !== undefined; t = conn.pollTransmit(now)) {
        if (!train.offer(remote, t)) egress.sendTcp(remote, t);
      }
    }
    train.end();
  }
}
