/**
 * The stack: smoltcp's `Interface` for Node. It owns one link and one IPv4 address, and is the
 * wiring of its parts plus the receive pipeline:
 *
 * - receive (this file), per batch of packets from the link: IP version → IPv4 parse (drops
 *   counted by reason) → destination check → fragment reassembly → ICMP (icmpv4-in.ts) or TCP
 *   parse → demultiplex by 4-tuple → `handleSegment`; no connection → a TIME-WAIT record or the
 *   listener of the port; no listener → RST (RFC 9293 §3.10.7.1);
 * - drain.ts: which segments leave when (one queue of touched connections, its policy table);
 * - gso-train.ts: consecutive data segments of one connection as one GSO super-packet;
 * - ipv4-egress.ts: the IPv4 header filled in one place, link writes, loopback;
 * - stack-timer.ts: the ONE Node timer (earliest deadline of everything) and process holds;
 * - secrets.ts: port, ISN and SYN-cookie keys; stack-net.ts: the `net` API's door;
 * - stack-stats.ts / stack-options.ts: counters, `stats()`/`connections()` rows, options.
 *
 * Connection life cycle (open, listen, accept, release, TIME-WAIT handover, removal) and
 * `close()` stay here. Only the stack reads the clock; the engine is given `now`.
 */
import { debuglog } from 'node:util';
import { Ipv4Reassembler, ipv4FromString, ipv4ToString, type Ipv4Repr } from '@tcp-tun/ip';
import {
  TcpConnection,
  TcpParseTarget,
  parseTcpInto,
  resetFor,
  resolveTcpConfig,
  type Endpoint,
  type Instant,
  type TcpConfig,
  type TcpEvent,
  type TcpRepr,
  type TimeWaitRecord,
} from '@tcp-tun/tcp';
import { ConnectionTable } from './connection-table.js';
import { DeadlineHeap } from './deadline-heap.js';
import { diag } from './diagnostics.js';
import { Drain } from './drain.js';
import { SystemError, argumentError } from './errors.js';
import { linger, lingers } from './linger.js';
import { ListenerTable } from './listeners.js';
import { GsoTrain, trainMaxPacket } from './gso-train.js';
import { ConnectionHandle, type HandleDriver, type HandleOwner, type LookupFunction } from './handle.js';
import type { Icmpv4Context } from './icmpv4-in.js';
import { Ipv4Ingress, view } from './ipv4-in.js';
import type { ConnectionEntry, ListenerEntry } from './internal.js';
import { Ipv4Egress, OUTPUT_BUFFER_SIZE } from './ipv4-egress.js';
import type { Link } from './link.js';
import { debugPacketLine } from './debug-line.js';
import type { NetApi } from './net-api.js';
import { deriveSecrets, type StackSecrets } from './secrets.js';
import { createStackNet } from './stack-net.js';
import { DEFAULT_MAX_CONNECTIONS, checkStackOptions, limitOption, type StackOptions } from './stack-options.js';
import { connectionRows, newStackCounters, stackStats, type ConnectionInfo, type StackStats } from './stack-stats.js';
import { StackTimer } from './stack-timer.js';
import { DEFAULT_MAX_TIME_WAIT, TimeWaitTable } from './time-wait-table.js';
import { traceLink, type TracingLink } from './trace.js';

export { DEFAULT_MAX_CONNECTIONS, type StackOptions } from './stack-options.js';
export type { ConnectionInfo, StackStats } from './stack-stats.js';

const debug = debuglog('tcp-tun');

export { CLOSE_LINGER_MAX_MS, CLOSE_LINGER_STALL_MS } from './linger.js';

/** A user-space TCP/IPv4 stack over one {@link Link}; `stack.net` is its `node:net`-shaped API. */
export class Stack {
  /** `createServer`, `createConnection`/`connect`, `Socket`, `Server`, `isIP…` over this stack. */
  readonly net: NetApi;
  /** Our address as given. */
  readonly address: string;
  /** Our address as a uint32. */
  readonly addressNumber: number;
  /** The link's MTU. */
  readonly mtu: number;
  /** The engine configuration every connection gets. */
  readonly tcpConfig: TcpConfig;
  /** Most connections the table holds (see {@link StackOptions.maxConnections}). */
  readonly maxConnections: number;
  /** The default resolver of this stack's sockets (see {@link StackOptions.lookup}). */
  readonly lookup: LookupFunction | undefined;

  readonly #link: Link;
  readonly #clock: () => Instant;
  readonly #secrets: StackSecrets;
  readonly #table = new ConnectionTable<ConnectionEntry>();
  /** The entry the last received segment went to: a bulk transfer skips the table lookups. */
  #lastEntry: ConnectionEntry | undefined;
  /** Where `#receiveTcp` parses each segment (reused: read only until it returns). */
  readonly #tcpIn = new TcpParseTarget();
  readonly #listeners: ListenerTable;
  readonly #heap = new DeadlineHeap<ConnectionEntry>();
  readonly #reassembler: Ipv4Reassembler;
  /** TIME-WAIT records, apart from live connections (Linux's inet_timewait_sock table). */
  readonly #timeWait: TimeWaitTable;
  readonly #counters = newStackCounters();
  readonly #drops: Record<string, number> = {};
  readonly #egress: Ipv4Egress;
  readonly #timer: StackTimer;
  readonly #drain: Drain;
  readonly #ipv4: Ipv4Ingress;
  readonly #driver: HandleDriver = {
    schedule: (entry) => this.#drain.schedule(entry),
    release: (entry, graceful) => this.#release(entry, graceful),
  };
  /** close() was called (nothing new may start); `#closed` once the linger is over. */
  #closing = false;
  #closed = false;
  #closePromise: Promise<void> | undefined;

  constructor(options: StackOptions) {
    checkStackOptions(options);
    const link = options.link;
    const clock = options.clock ?? (() => performance.now());
    let tracing: TracingLink | undefined;
    if (options.trace !== undefined) {
      const { sink, intervalMs } = options.trace;
      tracing = traceLink(link, sink, { clock, ...(intervalMs === undefined ? {} : { intervalMs }) });
    }
    this.#link = tracing ?? link;
    this.address = options.address;
    this.addressNumber = ipv4FromString(options.address);
    this.mtu = link.mtu;
    const linkMss = link.mtu - 40;
    const requested = options.tcp ?? {};
    this.tcpConfig = resolveTcpConfig({ ...requested, mss: Math.min(requested.mss ?? linkMss, linkMss) });
    this.maxConnections = limitOption(options.maxConnections, DEFAULT_MAX_CONNECTIONS, 1, 'maxConnections', 'a positive integer');
    const maxTimeWait = limitOption(options.maxTimeWait, DEFAULT_MAX_TIME_WAIT, 0, 'maxTimeWait', 'a non-negative integer');
    this.#timeWait = new TimeWaitTable(maxTimeWait);
    // Bad limits throw ERR_INVALID_ARG_VALUE (a RangeError) here, before the link starts.
    this.#reassembler = new Ipv4Reassembler(options.reassembly);
    this.#clock = clock;
    this.#secrets = deriveSecrets(options.secret, options.ephemeralPortRange);
    this.#listeners = new ListenerTable(this.addressNumber, this.address, this.tcpConfig, this.#secrets, (entry) => this.#drain.schedule(entry));
    this.lookup = options.lookup;

    // The parts: egress (and loopback back into #onPackets), the GSO train on it, the timer,
    // the drain over all three, ICMP.
    this.#egress = new Ipv4Egress(this.addressNumber, this.#link, this.#counters, clock, (packets) => this.#onPackets(packets));
    const train = new GsoTrain(trainMaxPacket(link, OUTPUT_BUFFER_SIZE), this.addressNumber, this.#egress);
    this.#timer = new StackTimer({ heap: this.#heap, timeWait: this.#timeWait, reassembler: this.#reassembler }, () => this.#onTimer(), () => this.#closed);
    this.#drain = new Drain({
      stack: this,
      address: this.address,
      egress: this.#egress,
      train,
      heap: this.#heap,
      timer: this.#timer,
      clock,
      dispatch: (entry, ev) => this.#dispatch(entry, ev),
      remove: (entry) => this.#remove(entry),
      enterTimeWait: (entry, record) => this.#enterTimeWait(entry, record),
    });
    const icmp: Icmpv4Context = {
      address: this.addressNumber,
      mtu: this.mtu,
      counters: this.#counters,
      drop: (reason) => this.#drop(reason),
      connection: (remoteAddr, remotePort, localPort) => this.#table.get(remoteAddr, remotePort, localPort),
      schedule: (entry) => this.#drain.schedule(entry),
      sendIcmp: (remote, repr) => this.#egress.sendIcmp(remote, repr),
    };
    this.#ipv4 = new Ipv4Ingress({
      address: this.addressNumber,
      counters: this.#counters,
      reassembler: this.#reassembler,
      timer: this.#timer,
      icmp,
      drop: (reason) => this.#drop(reason),
      countExpired: (before) => this.#countExpired(before),
      receiveTcp: (now, ip, bytes, start, end) => this.#receiveTcp(now, ip, bytes, start, end),
    });
    this.net = createStackNet({
      closed: () => this.#closing,
      address: this.address,
      addressNumber: this.addressNumber,
      tcpConfig: this.tcpConfig,
      lookup: options.lookup,
      open: (owner, remoteAddr, remotePort, localPort, config) => this.#open(owner, remoteAddr, remotePort, localPort, config),
      listen: (owner, p, backlog, host) => {
        this.#assertOpen();
        return this.#listeners.listen(owner, p, backlog, host);
      },
      unlisten: (l) => this.#listeners.unlisten(l),
      hold: (delta) => this.#timer.hold(delta),
    });
    this.#link.start((packets) => this.#onPackets(packets));
    tracing?.attach(this);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** A snapshot of the counters. */
  stats(): StackStats {
    return stackStats({
      counters: this.#counters,
      drops: this.#drops,
      table: this.#table,
      listeners: this.#listeners.entries,
      closedListenerCookies: this.#listeners.closedCookies,
      maxConnections: this.maxConnections,
      reassembly: this.#reassembler.stats,
      timeWait: this.#timeWait,
    });
  }

  /** Every connection in the table: its {@link TcpInfo} (as `ss -ti`), addresses, queues and owner. */
  connections(): ConnectionInfo[] {
    return connectionRows(this.#table, this.address);
  }

  /**
   * Closes the stack: stops every listener and resets every connection a socket still holds
   * (the sockets are destroyed, servers emit 'close'). Orphans still delivering what their
   * socket wrote before `destroy()`/`end()` (our data or FIN not yet acknowledged) get a short
   * linger, as long as they make progress (at most 300 ms without any and
   * 10 s in all); then every connection left, orphans included, is reset,
   * the timer cleared and the link closed. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#closing = true;
    const listeners = [...this.#listeners.entries.values()];
    for (const l of listeners) this.#listeners.unlisten(l);
    for (const e of [...this.#table.values()]) {
      if (lingers(e)) continue;
      e.conn.abort();
      this.#drain.schedule(e);
    }
    // Called from an event handler during a drain, the drain in progress sends the RSTs.
    this.#drain.drainNow(this.#now());
    this.#closePromise = (async () => {
      await linger(() => this.#table.values(), (delta) => this.#timer.hold(delta));
      this.#closed = true;
      for (const e of [...this.#table.values()]) {
        e.conn.abort();
        this.#drain.schedule(e);
      }
      this.#drain.drainNow(this.#now());
      await Promise.resolve();
      // Aborted connections are CLOSED and gone; anything left is dropped.
      for (const e of [...this.#table.values()]) this.#remove(e);
      for (const l of listeners) l.owner.onListenerClosed();
      this.#heap.clear();
      this.#timeWait.clear();
      this.#timer.dispose();
      this.#egress.dropLoopback();
      await this.#link.close();
    })();
    return this.#closePromise;
  }

  // ---- internal API of the socket layer (socket.ts, server.ts) -------------------------

  /**
   * Opens a connection to `remoteAddr:remotePort` (SYN queued, drain scheduled).
   * @throws SystemError EADDRINUSE (explicit local port taken) or EADDRNOTAVAIL (no free port).
   */
  #open(owner: HandleOwner, remoteAddr: number, remotePort: number, localPort: number | undefined, config?: Partial<TcpConfig>): ConnectionHandle {
    this.#assertOpen();
    const remoteAddress = ipv4ToString(remoteAddr);
    let port = localPort;
    if (port === undefined || port === 0) {
      port = this.#secrets.ports.choose(this.addressNumber, remoteAddr, remotePort, (p) => !this.#table.has(remoteAddr, remotePort, p) && !this.#timeWait.has(remoteAddr, remotePort, p) && !this.#listeners.has(p));
      if (port === undefined) throw new SystemError('EADDRNOTAVAIL', 'connect', remoteAddress, remotePort);
    } else if (this.#table.has(remoteAddr, remotePort, port)) {
      throw new SystemError('EADDRINUSE', 'connect', remoteAddress, remotePort);
    }
    if (this.#table.size >= this.maxConnections) {
      this.#drop('max-connections');
      throw new SystemError('ENOBUFS', 'connect', remoteAddress, remotePort);
    }
    const now = this.#now();
    const local: Endpoint = { addr: this.addressNumber, port };
    const remote: Endpoint = { addr: remoteAddr, port: remotePort };
    const conn = TcpConnection.connect(now, {
      local,
      remote,
      iss: this.#secrets.isn.isn(now, local, remote),
      tsOffset: this.#secrets.isn.tsOffset(local, remote),
      config: config === undefined ? this.tcpConfig : { ...this.tcpConfig, ...config },
    });
    const entry = this.#addEntry(conn, undefined);
    entry.owner = owner;
    this.#counters.connectionsOpened++;
    if (debug.enabled) debug('connect %s:%d -> %s:%d', this.address, port, remoteAddress, remotePort);
    this.#drain.schedule(entry);
    return new ConnectionHandle(entry, this.#driver);
  }

  /**
   * The socket let go of `entry` (it was destroyed). A graceful release leaves the connection
   * to finish its close (our FIN is queued); otherwise it is aborted (RST).
   * @internal
   */
  #release(entry: ConnectionEntry, graceful: boolean): void {
    entry.owner = undefined;
    if (entry.removed) return;
    entry.orphan = true;
    // What the connection already had to send (the ACK of the handshake the socket was just
    // told about) leaves before the RST, as from a kernel that sent it before the program ran.
    if (!graceful && !this.#closed) this.#drain.transmitNow(entry, this.#now());
    if (!graceful) entry.conn.abort();
    else entry.conn.orphan(this.#now());
    this.#drain.schedule(entry);
  }

  /**
   * Runs what the stack's Node timer runs when it fires (due connection timers, fragment
   * expiry), now. For tests that drive a virtual `clock`: after advancing it, this fires
   * every deadline that passed, synchronously and in a reproducible order.
   * @internal
   */
  _runTimers(): void {
    this.#timer.fireNow();
  }

  /**
   * Every connection record in the table (for invariant checks in tests; do not mutate).
   * @internal
   */
  _connectionEntries(): IterableIterator<ConnectionEntry> {
    return this.#table.values();
  }

  /**
   * Whether the stack's one Node timer is armed (for tests that check nothing is left behind).
   * @internal
   */
  _timerArmed(): boolean {
    return this.#timer.armed;
  }

  /**
   * Every listener record (for invariant checks in tests; do not mutate).
   * @internal
   */
  _listenerEntries(): IterableIterator<ListenerEntry> {
    return this.#listeners.entries.values();
  }

  /**
   * How many inbound packets were dropped for `reason` (cheaper than `stats()`).
   * @internal
   */
  _dropCount(reason: string): number {
    return this.#drops[reason] ?? 0;
  }

  // ---- inbound: the receive pipeline ----------------------------------------------------

  #onPackets(packets: readonly Uint8Array[]): void {
    if (this.#closed) return;
    const now = this.#now();
    this.#drain.openBatch();
    for (const packet of packets) {
      if (debug.enabled) debug('%s', debugPacketLine(now, 'in', packet));
      try {
        this.#receive(now, packet);
      } catch (err) {
        // Untrusted bytes must never take the stack down: a throw here is a bug in a codec or
        // the engine; count it, trace it, and go on with the batch.
        this.#drop('internal-error');
        if (debug.enabled) debug('internal error on a received packet: %s', (err as Error)?.stack ?? String(err));
      }
    }
    this.#drain.afterBatch(now);
  }

  /**
   * One packet: the one place where the pipeline is to branch on the IP version (issue 13 adds
   * `packet[0] >>> 4 === 6` → an IPv6 leg beside `ipv4-in.ts`, not inside it). Today every
   * packet takes the IPv4 leg, whose parser counts any other version as `ipv4-bad-version`.
   */
  #receive(now: Instant, packet: Uint8Array): void {
    this.#counters.packetsIn++;
    this.#counters.bytesIn += packet.length;
    this.#ipv4.receive(now, packet);
  }

  /** The connection for a received segment's 4-tuple (our address implied), or undefined. */
  #lookup(remoteAddr: number, remotePort: number, localPort: number): ConnectionEntry | undefined {
    const last = this.#lastEntry;
    // Segments come in runs of one connection; a removed entry is never reused (its 4-tuple
    // may since belong to a new entry), so it falls through to the table.
    if (
      last !== undefined &&
      !last.removed &&
      last.remotePort === remotePort &&
      last.remoteAddr === remoteAddr &&
      last.localPort === localPort
    ) {
      return last;
    }
    const entry = this.#table.get(remoteAddr, remotePort, localPort);
    this.#lastEntry = entry;
    return entry;
  }

  /** The TCP segment `bytes[start, end)` that `ip` carried. */
  #receiveTcp(now: Instant, ip: Ipv4Repr, bytes: Uint8Array, start: number, end: number): void {
    const parsed = this.#tcpIn;
    const dropped = parseTcpInto(bytes, ip.src, ip.dst, parsed, start, end);
    if (dropped !== undefined) {
      if (dropped === 'bad-checksum') this.#counters.checksumFailures++;
      this.#drop(`tcp-${dropped}`);
      return;
    }
    let repr: TcpRepr = parsed.repr;
    const data = view(bytes, parsed.payloadStart, end);
    const entry = this.#lookup(ip.src, repr.srcPort, repr.dstPort);
    if (entry !== undefined) {
      if (repr.control === 'syn' && entry.conn.state === 'TIME-WAIT' && this.#listeners.has(repr.dstPort) && entry.conn.reusableBy(repr)) {
        // RFC 6191 / RFC 1122 §4.2.2.13: a new SYN may reopen a 4-tuple in TIME-WAIT. The old
        // incarnation goes quietly (abort sends nothing in TIME-WAIT) and the listener takes it.
        // The drain runs event handlers: the SYN's Repr leaves the reusable target first.
        const ts = repr.timestamp;
        repr = { ...repr, timestamp: ts === undefined ? undefined : { ...ts } };
        entry.conn.abort();
        this.#drain.drainOne(entry, now);
        this.#remove(entry);
      } else {
        entry.conn.handleSegment(now, repr, data, ip.ecn);
        this.#drain.schedule(entry);
        return;
      }
    }
    if (this.#timeWait.size > 0) {
      // A 4-tuple in TIME-WAIT answers through its record; a SYN it lets reopen goes on to the
      // listener below (RFC 6191).
      const answer = this.#timeWait.handleSegment(now, ip.src, repr, data.length, this.#listeners.has(repr.dstPort));
      if (answer !== undefined && answer.kind !== 'reuse') {
        if (answer.kind === 'reply') this.#egress.sendTcp(ip.src, answer.transmit);
        return;
      }
    }
    // Only segments that match no connection look for a listener.
    const l = this.#listeners.get(repr.dstPort);
    if (l !== undefined) {
      if (this.#table.size >= this.maxConnections && repr.control !== 'rst') {
        // The table is full: drop whatever could open a connection (a SYN, or the ACK that
        // completes a SYN-cookie handshake); the peer retries, as with a full backlog.
        this.#drop('max-connections');
        return;
      }
      const local: Endpoint = { addr: this.addressNumber, port: repr.dstPort };
      const remote: Endpoint = { addr: ip.src, port: repr.srcPort };
      const result = l.listener.handleSegment(now, local, remote, repr, data);
      switch (result.kind) {
        case 'connection': {
          const e = this.#addEntry(result.connection, l);
          l.embryos.set(result.connection, e);
          this.#drain.schedule(e);
          break;
        }
        case 'reply':
          this.#egress.sendTcp(ip.src, result.transmit);
          break;
        case 'drop':
          this.#drop(`listen-${result.reason}`);
          break;
      }
      return;
    }
    // RFC 9293 §3.10.7.1: a segment for a CLOSED port gets a RST unless it is one.
    this.#drop('no-socket');
    const rst = resetFor(repr, data.length);
    if (rst !== undefined) {
      this.#counters.resetsSent++;
      this.#egress.sendTcp(ip.src, { repr: rst, payload: new Uint8Array(0) });
    }
  }

  // ---- connection life cycle ------------------------------------------------------------

  #dispatch(entry: ConnectionEntry, ev: TcpEvent): void {
    if (debug.enabled) debug('%s:%d %s %s', ipv4ToString(entry.remoteAddr), entry.remotePort, entry.conn.state, ev.type);
    const l = entry.listener;
    if (l !== undefined) {
      // Embryonic: the listener learns of it; other events wait for the socket, which reads
      // the connection's state when it attaches.
      if (ev.type === 'connected') {
        l.listener.established(entry.conn);
        this.#acceptAll(l);
      } else if (ev.type === 'closed') {
        l.embryos.delete(entry.conn);
        l.listener.release(entry.conn);
        entry.listener = undefined;
      }
      return;
    }
    const owner = entry.owner;
    if (owner !== undefined) {
      try {
        owner.onTcpEvent(ev);
      } catch (err) {
        this.#drain.defer(err);
      }
      return;
    }
    // Orphaned (its socket is gone) and new data arrives: nobody will read it, so reset the
    // connection, as Linux does for data that reaches a closed socket.
    if (entry.orphan && ev.type === 'readable' && entry.conn.readableLength > 0) entry.conn.abort();
  }

  #acceptAll(l: ListenerEntry): void {
    for (let conn = l.listener.accept(); conn !== undefined; conn = l.listener.accept()) {
      const e = l.embryos.get(conn);
      if (e === undefined) continue;
      l.embryos.delete(conn);
      e.listener = undefined;
      this.#counters.connectionsAccepted++;
      try {
        l.owner.onConnection(new ConnectionHandle(e, this.#driver));
      } catch (err) {
        this.#drain.defer(err);
      }
      // Nobody took it (and the server did not close it either): reset, as a listener would.
      if (e.owner === undefined && !e.removed && !e.orphan) this.#release(e, false);
    }
  }

  #addEntry(conn: TcpConnection, listener: ListenerEntry | undefined): ConnectionEntry {
    const entry: ConnectionEntry = {
      conn,
      remoteAddr: conn.remote.addr,
      remotePort: conn.remote.port,
      localPort: conn.local.port,
      owner: undefined,
      listener,
      orphan: false,
      touched: false,
      removed: false,
      timeWait: false,
      deadline: 0,
      heapIndex: -1,
    };
    this.#table.set(entry.remoteAddr, entry.remotePort, entry.localPort, entry);
    // One closure per connection; it builds a message only when someone subscribed.
    conn.onStateChange = (from, to) => diag.state(this, this.address, entry, from, to);
    diag.open(this, this.address, entry);
    return entry;
  }

  #remove(entry: ConnectionEntry): void {
    if (entry.removed) return;
    entry.removed = true;
    this.#table.delete(entry.remoteAddr, entry.remotePort, entry.localPort);
    this.#heap.remove(entry);
    const l = entry.listener;
    if (l !== undefined) {
      l.embryos.delete(entry.conn);
      l.listener.release(entry.conn);
      entry.listener = undefined;
    }
    diag.close(this, this.address, entry);
    if (debug.enabled) debug('%s:%d removed', ipv4ToString(entry.remoteAddr), entry.remotePort);
  }

  /**
   * A TIME-WAIT record takes over the 4-tuple (answering retransmitted FINs, RSTs and new SYNs,
   * RFC 9293 §3.10.7.4, RFC 6191) and the connection leaves the table (the drain decided when).
   */
  #enterTimeWait(entry: ConnectionEntry, record: TimeWaitRecord): void {
    this.#remove(entry);
    this.#timeWait.add(entry.remoteAddr, record);
  }

  // ---- the timer fired -------------------------------------------------------------------

  #onTimer(): void {
    const now = this.#now();
    this.#timeWait.expire(now);
    if (this.#timer.reassemblyArmed) {
      const timedOut = this.#reassembler.stats.datagramsTimedOut;
      this.#reassembler.expire(now);
      this.#countExpired(timedOut);
    }
    this.#drain.afterTimers(now);
  }

  /** Counts the datagrams the reassembler let expire since its counter read `before`. */
  #countExpired(before: number): void {
    const n = this.#reassembler.stats.datagramsTimedOut - before;
    if (n > 0) this.#drops['fragment-timeout'] = (this.#drops['fragment-timeout'] ?? 0) + n;
  }

  // ---- helpers ---------------------------------------------------------------------------

  #now(): Instant {
    return this.#clock();
  }

  #drop(reason: string): void {
    this.#drops[reason] = (this.#drops[reason] ?? 0) + 1;
    diag.drop(this, reason);
    if (debug.enabled) debug('drop %s', reason);
  }

  #assertOpen(): void {
    if (this.#closing) throw argumentError('ERR_STACK_CLOSED', 'The stack is closed');
  }
}
