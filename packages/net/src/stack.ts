/**
 * The stack: smoltcp's `Interface` for Node. It owns one link and an address of each family it
 * speaks (IPv4, IPv6, or both), and is the wiring of its parts plus the receive pipeline:
 *
 * - receive (this file), per batch of packets from the link: IP version (`#receive`, the one
 *   place) → the IPv4 leg (ipv4-in.ts: parse, destination, reassembly, ICMP in icmpv4-in.ts) or
 *   the IPv6 leg (ipv6-in.ts: parse, destination, extension headers, reassembly, ICMPv6 in
 *   icmpv6-in.ts) → TCP parse (the pseudo-header of the segment's family) → demultiplex by
 *   4-tuple (the family is in the address) → `handleSegment`; no connection → a TIME-WAIT record
 *   or the listener of the port and family; no listener → RST (RFC 9293 §3.10.7.1);
 * - drain.ts: which segments leave when (one queue of touched connections, its policy table);
 * - gso-train.ts: consecutive data segments of one connection as one GSO super-packet;
 * - ipv4-egress.ts / ipv6-egress.ts: each family's header filled in one place, link writes,
 *   loopback; stack-egress.ts routes a segment to its family's;
 * - stack-timer.ts: the ONE Node timer (earliest deadline of everything) and process holds;
 * - secrets.ts: port, ISN and SYN-cookie keys; stack-net.ts: the `net` API's door;
 * - stack-stats.ts / stack-options.ts: counters, `stats()`/`connections()` rows, options;
 * - stack-connections.ts: the connections' life cycle (active open, a segment without a
 *   connection: TIME-WAIT, listener or RST; accept, events to sockets, release, TIME-WAIT
 *   handover, removal).
 *
 * Listening and `close()` stay here. Only the stack reads the clock; the engine is given `now`.
 */
import { debuglog } from 'node:util';
import {
  DEFAULT_REASSEMBLER6_OPTIONS,
  Ipv4Reassembler,
  Ipv6Reassembler,
  ipv4FromString,
  ipv6Equals,
  ipv6FromString,
  ipv6ToString,
  type Ipv6Address,
} from '@tcp-tun/ip';
import {
  TcpParseTarget,
  parseTcpInto,
  resolveTcpConfig,
  type Instant,
  type IpAddress,
  type TcpConfig,
  type TcpRepr,
} from '@tcp-tun/tcp';
import { ConnectionTable } from './connection-table.js';
import { DeadlineHeap } from './deadline-heap.js';
import { diag } from './diagnostics.js';
import { Drain } from './drain.js';
import { SystemError, argumentError } from './errors.js';
import { linger, lingers } from './linger.js';
import { ListenerTable } from './listeners.js';
import { GsoTrain, MAX_TRAIN_PACKET, trainMaxPacket } from './gso-train.js';
import { ConnectionHandle, type HandleDriver, type HandleOwner, type LookupFunction, type StackPort } from './handle.js';
import { view, type Ipv4Ingress } from './ipv4-in.js';
import type { Ipv6Ingress } from './ipv6-in.js';
import type { ConnectionEntry, ListenerEntry } from './internal.js';
import { Ipv4Egress } from './ipv4-egress.js';
import { Ipv6Egress } from './ipv6-egress.js';
import type { Link } from './link.js';
import { debugPacketLine } from './debug-line.js';
import type { NetApi } from './net-api.js';
import { deriveSecrets, type StackSecrets } from './secrets.js';
import { createStackNet } from './stack-net.js';
import { activeOpen, addEntry, dispatch, enterTimeWait, receiveUnmatched, releaseEntry, removeEntry, type OpenContext } from './stack-connections.js';
import { DEFAULT_MAX_CONNECTIONS, checkStackOptions, limitOption, type StackOptions } from './stack-options.js';
import { StackEgress } from './stack-egress.js';
import { createIngressLegs } from './stack-legs.js';
import { connectionRows, endpointToString, newIpv6Counters, newStackCounters, stackStats, type ConnectionInfo, type StackStats } from './stack-stats.js';
import { StackTimer } from './stack-timer.js';
import { DEFAULT_MAX_TIME_WAIT, TimeWaitTable } from './time-wait-table.js';
import { traceLink, type TracingLink } from './trace.js';

export { DEFAULT_MAX_CONNECTIONS, type StackOptions } from './stack-options.js';
export type { ConnectionInfo, StackStats } from './stack-stats.js';

const debug = debuglog('tcp-tun');

export { CLOSE_LINGER_MAX_MS, CLOSE_LINGER_STALL_MS } from './linger.js';

/** A user-space TCP/IP stack (IPv4, IPv6 or both) over one {@link Link}; `stack.net` is its `node:net`-shaped API. */
export class Stack {
  /** `createServer`, `createConnection`/`connect`, `Socket`, `Server`, `isIP…` over this stack. */
  readonly net: NetApi;
  /** Our IPv4 address as given (undefined: the stack speaks IPv6 only). */
  readonly address: string | undefined;
  /** Our IPv4 address as a uint32. */
  readonly addressNumber: number | undefined;
  /** Our IPv6 address, RFC 5952 text (undefined: the stack speaks IPv4 only). */
  readonly address6: string | undefined;
  /** Our IPv6 address as 16 octets (do not mutate). */
  readonly address6Bytes: Ipv6Address | undefined;
  /** The link's MTU. */
  readonly mtu: number;
  /** The engine configuration every connection gets. */
  readonly tcpConfig: TcpConfig;
  /** Most connections the table holds (see {@link StackOptions.maxConnections}). */
  readonly maxConnections: number;
  /** The default resolver of this stack's sockets (see {@link StackOptions.lookup}). */
  readonly lookup: LookupFunction | undefined;

  readonly #link: Link;
  readonly #port: StackPort;
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
  readonly #reassembler6: Ipv6Reassembler;
  /** TIME-WAIT records, apart from live connections (Linux's inet_timewait_sock table). */
  readonly #timeWait: TimeWaitTable;
  readonly #counters = newStackCounters();
  readonly #counters6 = newIpv6Counters();
  readonly #drops: Record<string, number> = {};
  readonly #egress: StackEgress;
  readonly #timer: StackTimer;
  readonly #drain: Drain;
  readonly #ipv4: Ipv4Ingress | undefined;
  readonly #ipv6: Ipv6Ingress | undefined;
  readonly #driver: HandleDriver = {
    schedule: (entry) => this.#drain.schedule(entry),
    release: (entry, graceful) => releaseEntry(this.#ctx, entry, graceful),
  };
  /** The parts the connections' life cycle (stack-connections.ts) reaches (made once, in the constructor). */
  readonly #ctx: OpenContext;
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
    this.addressNumber = options.address === undefined ? undefined : ipv4FromString(options.address);
    this.address6Bytes = options.address6 === undefined ? undefined : ipv6FromString(options.address6);
    this.address6 = this.address6Bytes === undefined ? undefined : ipv6ToString(this.address6Bytes);
    this.mtu = link.mtu;
    const linkMss = link.mtu - 40;
    const requested = options.tcp ?? {};
    // Both families' trains are bounded by the link alone (gso-train.ts).
    const trainMax = trainMaxPacket(link, MAX_TRAIN_PACKET);
    // TcpConfig.sendQuantum stays as asked (default 0): waiting for room for a whole train cost
    // fair 5-30 % of its rate on the bench's machine with trains of 128 KiB (bench/PROFILE.md,
    // "IPv6, round 5"), and BIG TCP trains alone already halve the writes.
    this.tcpConfig = resolveTcpConfig({ ...requested, mss: Math.min(requested.mss ?? linkMss, linkMss) });
    this.maxConnections = limitOption(options.maxConnections, DEFAULT_MAX_CONNECTIONS, 1, 'maxConnections', 'a positive integer');
    const maxTimeWait = limitOption(options.maxTimeWait, DEFAULT_MAX_TIME_WAIT, 0, 'maxTimeWait', 'a non-negative integer');
    this.#timeWait = new TimeWaitTable(maxTimeWait);
    // Bad limits throw ERR_INVALID_ARG_VALUE (a RangeError) here, before the link starts.
    this.#reassembler = new Ipv4Reassembler(options.reassembly);
    this.#reassembler6 = new Ipv6Reassembler({ ...DEFAULT_REASSEMBLER6_OPTIONS, ...options.reassembly });
    this.#clock = clock;
    this.#secrets = deriveSecrets(options.secret, options.ephemeralPortRange);
    this.#listeners = new ListenerTable(
      this.addressNumber,
      this.address6Bytes,
      this.address ?? this.address6 ?? '',
      this.tcpConfig,
      this.#secrets,
      (entry) => this.#drain.schedule(entry),
    );
    this.lookup = options.lookup;

    // The parts: egress (and loopback back into #onPackets), the GSO train on it, the timer,
    // the drain over all three, ICMP.
    const addr4 = this.addressNumber;
    const addr6 = this.address6Bytes;
    const egress4 = addr4 === undefined ? undefined : new Ipv4Egress(addr4, this.#link, this.#counters, clock, (packets) => this.#onPackets(packets, false));
    const egress6 =
      addr6 === undefined ? undefined : new Ipv6Egress(addr6, this.#link, this.#counters, this.#counters6, clock, this.#secrets.flowLabel, (packets) => this.#onPackets(packets, true));
    this.#egress = new StackEgress(egress4, egress6);
    const train4 = egress4 === undefined ? undefined : new GsoTrain(trainMax, egress4);
    const train6 = egress6 === undefined ? undefined : new GsoTrain(trainMax, egress6);
    const r4 = this.#reassembler;
    const r6 = this.#reassembler6;
    const reassemblers = {
      get nextDeadline(): number | undefined {
        const a = r4.nextDeadline;
        const b = r6.nextDeadline;
        return a === undefined ? b : b === undefined ? a : Math.min(a, b);
      },
    };
    this.#timer = new StackTimer({ heap: this.#heap, timeWait: this.#timeWait, reassembler: reassemblers }, () => this.#onTimer(), () => this.#closed, options.timers === 'manual');
    this.#drain = new Drain({
      stack: this,
      address: this.address,
      egress: this.#egress,
      train4,
      train6,
      heap: this.#heap,
      timer: this.#timer,
      clock,
      flushLink: typeof this.#link.flush === 'function' ? () => this.#link.flush!() : () => undefined,
      dispatch: (entry, ev) => dispatch(this.#ctx, entry, ev),
      remove: (entry) => removeEntry(this.#ctx, entry),
      enterTimeWait: (entry, record) => enterTimeWait(this.#ctx, entry, record),
    });
    this.#ctx = {
      addressNumber: addr4,
      address6Bytes: addr6,
      tcpConfig: this.tcpConfig,
      maxConnections: this.maxConnections,
      secrets: this.#secrets,
      table: this.#table,
      timeWait: this.#timeWait,
      listeners: this.#listeners,
      counters: this.#counters,
      egress: this.#egress,
      drain: this.#drain,
      driver: this.#driver,
      drop: (reason) => this.#drop(reason),
      stack: this,
      address: this.address,
      onStateChange: (from, to, local, remote) => diag.stateOf(this, local.addr, local.port, remote.addr, remote.port, from, to),
      heap: this.#heap,
      closed: () => this.#closed,
      now: () => this.#now(),
    };
    const legs = createIngressLegs({
      addr4,
      addr6,
      egress4,
      egress6,
      mtu: this.mtu,
      counters: this.#counters,
      counters6: this.#counters6,
      reassembler: this.#reassembler,
      reassembler6: this.#reassembler6,
      timer: this.#timer,
      drop: (reason) => this.#drop(reason),
      countExpired: (before) => this.#countExpired(before),
      connection: (remoteAddr, remotePort, localPort) => this.#table.get(remoteAddr, remotePort, localPort),
      schedule: (entry) => this.#drain.schedule(entry),
      receiveTcp: (now, src, ecn, bytes, begin, finish, local, trusted, verified) =>
        this.#receiveTcp(now, src, ecn, bytes, begin, finish, local, trusted, verified),
    });
    this.#ipv4 = legs.ipv4;
    this.#ipv6 = legs.ipv6;
    const { net, port } = createStackNet({
      closed: () => this.#closing,
      address: this.address,
      addressNumber: this.addressNumber,
      address6: this.address6,
      address6Bytes: this.address6Bytes,
      tcpConfig: this.tcpConfig,
      lookup: options.lookup,
      open: (owner, remoteAddr, remotePort, localPort, config) => this.#open(owner, remoteAddr, remotePort, localPort, config),
      listen: (owner, p, backlog, host, ipv6Only) => {
        this.#assertOpen();
        return this.#listeners.listen(owner, p, backlog, host, ipv6Only);
      },
      unlisten: (l) => this.#listeners.unlisten(l),
      hold: (delta) => this.#timer.hold(delta),
    });
    this.net = net;
    this.#port = port;
    this.#link.start((packets, checksumTrusted) => this.#onPackets(packets, false, checksumTrusted));
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
      ipv6: this.address6Bytes === undefined ? undefined : this.#counters6,
      reassembly6: this.#reassembler6.stats,
    });
  }

  /** Every connection in the table: its {@link TcpInfo} (as `ss -ti`), addresses, queues and owner. */
  connections(): ConnectionInfo[] {
    return connectionRows(this.#table);
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
      for (const e of [...this.#table.values()]) removeEntry(this.#ctx, e);
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
  #open(owner: HandleOwner, remoteAddr: IpAddress, remotePort: number, localPort: number | undefined, config?: Partial<TcpConfig>): ConnectionHandle {
    this.#assertOpen();
    const conn = activeOpen(this.#ctx, this.#now(), remoteAddr, remotePort, localPort, config);
    const entry = addEntry(this.#ctx, conn, undefined);
    entry.owner = owner;
    this.#counters.connectionsOpened++;
    if (debug.enabled) debug('connect %s -> %s', endpointToString(conn.local.addr, conn.local.port), endpointToString(conn.remote.addr, remotePort));
    this.#drain.schedule(entry);
    return new ConnectionHandle(entry, this.#driver);
  }

  /**
   * Fires every deadline that has passed on the stack's clock (retransmissions, delayed ACKs,
   * keepalive, TIME-WAIT, fragment expiry), now and synchronously: what the stack's Node timer
   * does when it fires. With `timers: 'manual'` (and a virtual `clock`) this is the only way
   * time moves: call it after each advance of the clock.
   */
  runTimers(): void {
    this.#timer.fireNow();
  }

  /**
   * The {@link StackPort} under `net` (open, listen by address family): for tests that drive
   * the stack below the socket layer.
   * @internal
   */
  _port(): StackPort {
    return this.#port;
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

  /**
   * A batch from the link, or from our own egress (`fromLoopback`). `checksumTrusted` is the
   * link's per-packet word that it vouches for the TCP checksum (link.ts `LinkReceiver`); only
   * an entry that is exactly `true` counts, and a loopback batch never has one.
   */
  #onPackets(packets: readonly Uint8Array[], fromLoopback: boolean, checksumTrusted?: readonly boolean[]): void {
    if (this.#closed) return;
    const now = this.#now();
    this.#drain.openBatch();
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i]!;
      if (debug.enabled) debug('%s', debugPacketLine(now, 'in', packet));
      try {
        this.#receive(now, packet, fromLoopback, checksumTrusted !== undefined && checksumTrusted[i] === true);
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
   * One packet: the one place where the pipeline branches on the IP version. Version 6 takes the
   * IPv6 leg (ipv6-in.ts) when the stack has an IPv6 address; everything else the IPv4 leg,
   * whose parser counts any other version as `ipv4-bad-version` (so an IPv4-only stack drops
   * IPv6 exactly as it always did).
   */
  #receive(now: Instant, packet: Uint8Array, fromLoopback: boolean, checksumTrusted: boolean): void {
    this.#counters.packetsIn++;
    this.#counters.bytesIn += packet.length;
    const v6 = this.#ipv6;
    if (v6 !== undefined && packet.length > 0 && (packet[0] as number) >>> 4 === 6) {
      v6.receive(now, packet, fromLoopback, checksumTrusted);
      return;
    }
    const v4 = this.#ipv4;
    if (v4 === undefined) {
      this.#drop('ipv4-no-address');
      return;
    }
    v4.receive(now, packet, checksumTrusted);
  }

  /** The connection for a received segment's 4-tuple (our address implied), or undefined. */
  #lookup(remoteAddr: IpAddress, remotePort: number, localPort: number): ConnectionEntry | undefined {
    const last = this.#lastEntry;
    // Segments come in runs of one connection; a removed entry is never reused (its 4-tuple
    // may since belong to a new entry), so it falls through to the table. An IPv6 address is
    // compared by value (the received one is the parse target's).
    if (
      last !== undefined &&
      !last.removed &&
      last.remotePort === remotePort &&
      last.localPort === localPort &&
      (last.remoteAddr === remoteAddr ||
        (typeof remoteAddr !== 'number' && typeof last.remoteAddr !== 'number' && ipv6Equals(last.remoteAddr, remoteAddr)))
    ) {
      return last;
    }
    const entry = this.#table.get(remoteAddr, remotePort, localPort);
    this.#lastEntry = entry;
    return entry;
  }

  /**
   * The TCP segment `bytes[start, end)` from `src` to `local` (our address the packet was for:
   * the stack's own object, or `::1`) with the IP ECN codepoint `ecn`. An IPv6 `src` is the
   * parse target's, reused after this returns: what is kept gets a copy. `checksumTrusted`: the
   * link vouched for the TCP checksum (and the datagram was not reassembled), so it is not
   * summed again (RFC 9293 §3.1's check was done, or made unnecessary, where the packet was
   * made: a local kernel socket whose packet crossed memory; link.ts `LinkReceiver`).
   * `checksumVerified`: the IP leg summed it already and found it good (not counted as trusted).
   */
  #receiveTcp(
    now: Instant,
    src: IpAddress,
    ecn: number,
    bytes: Uint8Array,
    start: number,
    end: number,
    local: IpAddress,
    checksumTrusted: boolean,
    checksumVerified: boolean,
  ): void {
    const parsed = this.#tcpIn;
    const dropped = parseTcpInto(bytes, src, local, parsed, start, end, checksumTrusted || checksumVerified);
    if (dropped !== undefined) {
      if (dropped === 'bad-checksum') this.#counters.checksumFailures++;
      this.#drop(`tcp-${dropped}`);
      return;
    }
    if (checksumTrusted) this.#counters.checksumsTrusted++;
    let repr: TcpRepr = parsed.repr;
    const data = view(bytes, parsed.payloadStart, end);
    const family = typeof src === 'number' ? 4 : 6;
    const entry = this.#lookup(src, repr.srcPort, repr.dstPort);
    if (entry !== undefined) {
      if (repr.control === 'syn' && entry.conn.state === 'TIME-WAIT' && this.#listeners.has(repr.dstPort, family) && entry.conn.reusableBy(repr)) {
        // RFC 6191 / RFC 1122 §4.2.2.13: a new SYN may reopen a 4-tuple in TIME-WAIT. The old
        // incarnation goes quietly (abort sends nothing in TIME-WAIT) and the listener takes it.
        // The drain runs event handlers: the SYN's Repr leaves the reusable target first.
        const ts = repr.timestamp;
        repr = { ...repr, timestamp: ts === undefined ? undefined : { ...ts } };
        entry.conn.abort();
        this.#drain.drainOne(entry, now);
        removeEntry(this.#ctx, entry);
      } else {
        entry.conn.handleSegment(now, repr, data, ecn);
        this.#drain.schedule(entry);
        return;
      }
    }
    receiveUnmatched(this.#ctx, now, src, local, repr, data);
  }

  // ---- the timer fired -------------------------------------------------------------------

  #onTimer(): void {
    const now = this.#now();
    this.#timeWait.expire(now);
    if (this.#timer.reassemblyArmed) {
      const timedOut = this.#reassembler.stats.datagramsTimedOut;
      this.#reassembler.expire(now);
      this.#countExpired(timedOut);
      const timedOut6 = this.#reassembler6.stats.datagramsTimedOut;
      this.#reassembler6.expire(now);
      const n = this.#reassembler6.stats.datagramsTimedOut - timedOut6;
      if (n > 0) this.#drops['ipv6-fragment-timeout'] = (this.#drops['ipv6-fragment-timeout'] ?? 0) + n;
      // RFC 8200 §4.5: Time Exceeded (code 1) for each whose first fragment had arrived.
      this.#ipv6?.sendTimeExceeded(now);
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
