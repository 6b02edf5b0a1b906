/**
 * The stack: smoltcp's `Interface` for Node. It owns one link and one IPv4 address, parses
 * and demultiplexes what the link delivers, feeds the sans-IO TCP engine, drains it, and
 * keeps ONE Node timer for the earliest deadline of every connection.
 *
 * Inbound, per batch of packets from the link: IPv4 parse (drops counted by reason) →
 * destination check → fragment reassembly → ICMP echo (answered) or TCP parse → demultiplex
 * by 4-tuple → `handleSegment`; no connection → the listener of the port; no listener → RST
 * (RFC 9293 §3.10.7.1). Each connection touched by the batch is drained ONCE after the whole
 * batch: transmits, then events (dispatched to its socket, which may issue commands, then it
 * is drained again), then its deadline moves in a min-heap. Draining once per batch is what
 * coalesces ACKs. Commands from sockets outside a batch schedule one coalesced drain in a
 * microtask, so a run of writes costs one drain.
 *
 * Outbound, over a link with GSO send (`Link.tso` and `sendTso`, the TUN device with offload):
 * consecutive data segments of one connection that differ only in sequence number (same ACK,
 * window, options, ECN; all full-sized but the last; PSH/FIN only on the last) are gathered into
 * one IPv4/TCP super-packet of up to `tso.maxPacket` octets with a partial checksum, and the
 * link cuts it into MSS-sized segments (the kernel's GSO): one write for up to 45 segments.
 *
 * Only the stack reads the clock; the engine is given `now`.
 */
import { randomBytes } from 'node:crypto';
import { debuglog } from 'node:util';
import {
  IpProtocol,
  Icmpv4UnreachableCode,
  Ipv4ParseTarget,
  Ipv4Reassembler,
  echoReplyFor,
  emitIcmpv4,
  emitIpv4,
  ipv4FromString,
  ipv4ToString,
  isIpv4String,
  parseIcmpv4,
  parseIpv4Into,
  parseQuotedDatagram,
  pseudoHeaderSum,
  type Icmpv4Repr,
  type Ipv4ReassemblerOptions,
  type Ipv4ReassemblerStats,
  type Ipv4Repr,
} from '@tcp-tun/ip';
import {
  TcpConnection,
  TcpFlags,
  TcpListener,
  TcpParseTarget,
  emitTcp,
  parseTcpInto,
  resetFor,
  resolveTcpConfig,
  type Endpoint,
  type Instant,
  type TcpConfig,
  type TcpEvent,
  type TcpIcmpError,
  type SackBlock,
  type TcpControl,
  type TcpRepr,
  type TcpState,
  type Transmit,
} from '@tcp-tun/tcp';
import { ConnectionTable } from './connection-table.js';
import { DeadlineHeap } from './deadline-heap.js';
import { EphemeralPorts } from './ephemeral-ports.js';
import { SystemError, argumentError } from './errors.js';
import type { ConnectionEntry, ListenerEntry } from './internal.js';
import { ConnectionHandle, listenerHandle, type HandleDriver, type HandleOwner, type ListenerOwner, type LookupFunction, type StackPort } from './handle.js';
import { KeyedHash } from './keyed-hash.js';
import { IsnGenerator } from './isn.js';
import type { Link } from './link.js';
import { debugPacketLine } from './debug-line.js';
import { DEFAULT_MAX_TIME_WAIT, TimeWaitTable, type TimeWaitStats } from './time-wait-table.js';
import { traceLink, type TraceSink, type TracingLink } from './trace.js';
import { createNetApi, type NetApi } from './net-api.js';
import { diag } from './diagnostics.js';
import { tcpInfoOf, type TcpInfo } from './tcp-info.js';

const debug = debuglog('tcp-tun');

/** Options of {@link Stack}. */
export interface StackOptions {
  /** The packet port: a TUN device, one side of `createLinkPair()`, or a wrapper of either. */
  readonly link: Link;
  /**
   * Record per-connection time series (segments, ACKs, SACK blocks, retransmissions, cwnd,
   * ssthresh, srtt, in flight, windows) as {@link TraceRecord}s: the link is wrapped with
   * {@link traceLink} on the stack's own clock and the stack polled every `intervalMs`
   * (default 10). Draw the result with `tcp-tun-plot`.
   */
  readonly trace?: {
    /** Receives every record, in time order. */
    readonly sink: TraceSink;
    /** Polling period of the per-connection samples, in milliseconds (default 10). */
    readonly intervalMs?: number;
  };
  /** Our IPv4 address, dotted quad ("10.0.0.2"). */
  readonly address: string;
  /**
   * Engine configuration for every connection. `mss` defaults to the link MTU − 40 (and is
   * capped by it). The per-connection memory caps live here: `recvBufferSize`,
   * `sendBufferSize` and `maxOutOfOrderBytes`.
   */
  readonly tcp?: Partial<TcpConfig>;
  /**
   * Most connections held in TIME-WAIT at once (Linux's `tcp_max_tw_buckets`, default
   * 262,144; 0 = none). TIME-WAIT is a compact record of its own (~120 octets), kept apart from
   * live connections and never counted against `maxConnections`; beyond the cap a connection
   * closes without TIME-WAIT, counted in `stats().timeWait.overflows`.
   */
  readonly maxTimeWait?: number;
  /**
   * Most live connections in the table at once (embryonic ones included, TIME-WAIT not: see
   * `maxTimeWait`; default 65536). A SYN beyond it is dropped and counted as `max-connections` (the peer
   * retries, as with a full backlog); an active open beyond it fails with ENOBUFS.
   */
  readonly maxConnections?: number;
  /**
   * Limits of IPv4 fragment reassembly (defaults: `DEFAULT_REASSEMBLER_OPTIONS` of
   * `@tcp-tun/ip`: 64 datagrams, 65515 octets each, 1 MiB in all, 64 fragments each, 30 s).
   * Incomplete datagrams expire on the stack's timer.
   */
  readonly reassembly?: Partial<Ipv4ReassemblerOptions>;
  /** Ephemeral port range for active opens and `listen(0)` (default 49152–65535, RFC 6335). */
  readonly ephemeralPortRange?: readonly [number, number];
  /**
   * Default name resolver of the stack's sockets, with `dns.lookup`'s signature (a socket's
   * `lookup` connect option overrides it). Without one, IPv4 literals and `localhost`
   * (127.0.0.1) resolve and any other name fails with ENOTFOUND.
   */
  readonly lookup?: LookupFunction;
  /** Monotonic clock in milliseconds (default `performance.now`); for tests. */
  readonly clock?: () => Instant;
  /**
   * Secret octets for port selection, ISNs and SYN cookies (default: 32 random ones); for
   * reproducible tests. At least 24: octets 0–15 key the ports, 16–23 the ISNs, 24–31 (when
   * given, else derived from the ISN key) the SYN cookies.
   */
  readonly secret?: Uint8Array;
}

/** Counters of a stack, from {@link Stack.stats}. */
export interface StackStats {
  /** IPv4 packets received from the link (and from ourselves, see `loopbackPackets`). */
  packetsIn: number;
  /** Octets of those packets, IPv4 headers included. */
  bytesIn: number;
  /**
   * Packets handed to the link and their octets. A TCP super-packet (GSO send, see
   * `superPacketsOut`) counts once, with its own length, however many segments it carries.
   */
  packetsOut: number;
  /** Octets of the packets in `packetsOut`, IPv4 headers included. */
  bytesOut: number;
  /**
   * GSO send (a link with `tso`): TCP super-packets handed to `Link.sendTso`, each carrying
   * consecutive data segments of one connection, and the segments they carried in all.
   */
  superPacketsOut: number;
  /** Segments carried by those super-packets in all (the link cut them apart). */
  superPacketSegmentsOut: number;
  /** Dropped inbound packets by reason, e.g. `ipv4-bad-checksum`, `tcp-truncated`, `not-for-us`. */
  drops: Record<string, number>;
  /** Inbound IPv4 headers, TCP segments and ICMP messages whose checksum failed. */
  checksumFailures: number;
  /** RSTs sent for segments that matched no connection or listener. */
  resetsSent: number;
  /** ICMP echo replies (RFC 792) sent in answer to pings of our address. */
  icmpEchoReplies: number;
  /**
   * ICMP errors (destination unreachable, time exceeded) matched to a connection by the quoted
   * 4-tuple and accepted by it (quoted sequence number in its window). The others are counted
   * in `drops` as `icmp-no-connection`, `icmp-rejected`, `icmp-bad-quote`, ...
   */
  icmpErrors: number;
  /** SYN cookies (RFC 4987 §3.6) sent by full listeners, and cookie ACKs accepted / rejected. */
  synCookiesSent: number;
  /** Cookie ACKs that validated and became connections. */
  synCookiesAccepted: number;
  /** Cookie ACKs that failed validation (RFC 4987 §3.6). */
  synCookiesRejected: number;
  /**
   * Bare ACKs for a listening port that no cookie could explain (no cookie sent in the last two
   * 64 s periods), answered with RST: late ACKs of connections already gone, or probes.
   */
  strayAcks: number;
  /**
   * Packets (and their octets) we sent to our own address: delivered internally, never handed
   * to the link, and counted here instead of in `packetsOut` (they do count in `packetsIn`).
   */
  loopbackPackets: number;
  /** Octets of the packets in `loopbackPackets`. */
  loopbackBytes: number;
  /** Connections opened actively / accepted from listeners since the stack started. */
  connectionsOpened: number;
  /** Connections that completed a handshake with one of our listeners since the stack started. */
  connectionsAccepted: number;
  /** Connections in the table now, by state. */
  connections: Partial<Record<TcpState, number>>;
  /** Listening ports now. */
  listeners: number;
  /** The `maxConnections` in force. */
  maxConnections: number;
  /** IPv4 fragment reassembly: counters and what it holds now (bounded by `reassembly`). */
  reassembly: Ipv4ReassemblerStats;
  /**
   * TIME-WAIT records (apart from `connections`, which counts live connections only): held now,
   * the cap, and counters (added, expired, reused by a new SYN, ended by RST, ACKs sent, and
   * `overflows`: connections that closed without TIME-WAIT because the table was full).
   */
  timeWait: TimeWaitStats;
}

/**
 * One row of {@link Stack.connections}: the connection's {@link TcpInfo} (every counter the
 * engine keeps) with its addresses, queues and ownership.
 */
export interface ConnectionInfo extends TcpInfo {
  /** Our address, dotted quad. */
  localAddress: string;
  /** Our port. */
  localPort: number;
  /** The peer's address, dotted quad. */
  remoteAddress: string;
  /** The peer's port. */
  remotePort: number;
  /** In-order octets received and not yet read by the application. */
  readable: number;
  /** Octets accepted for sending and not yet acknowledged. */
  sendQueued: number;
  /** Smoothed RTT in ms (undefined before the first sample; `srttMs` is 0 then). */
  rttMs: number | undefined;
  /** The last soft ICMP error the connection accepted (RFC 1122 §4.2.3.9), if any. */
  softError: string | undefined;
  /** Whether a socket still owns it (false while it closes after the socket was destroyed). */
  owned: boolean;
}

type MutableIpv4Repr = { -readonly [K in keyof Ipv4Repr]: Ipv4Repr[K] };

const EMPTY = new Uint8Array(0);
const noop = (): void => {};
/** States in which an orphan still waits for the peer to acknowledge our data or FIN. */
const LINGER_STATES: ReadonlySet<TcpState> = new Set<TcpState>(['FIN-WAIT-1', 'CLOSING', 'LAST-ACK']);
/** `stack.close()` lingers for orphans at most this long without progress, in ms. */
export const CLOSE_LINGER_STALL_MS = 300;
/** ... and at most this long in all, in ms. */
export const CLOSE_LINGER_MAX_MS = 10_000;
const CLOSE_LINGER_POLL_MS = 10;
/** Period of the handle that keeps the process alive (it never does anything). */
const KEEP_ALIVE_INTERVAL_MS = 0x7fffffff;
/** Size of the reusable output buffer: the largest IPv4 datagram. */
const OUTPUT_BUFFER_SIZE = 65535;
/** Default {@link StackOptions.maxConnections}: a whole port range's worth. */
export const DEFAULT_MAX_CONNECTIONS = 65536;

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
  readonly #ports: EphemeralPorts;
  readonly #isn: IsnGenerator;
  /** Keyed hash behind SYN cookies (RFC 4987 §3.6: the secret makes them unforgeable). */
  readonly #cookieHash: KeyedHash;
  /** Random octets drawn in bulk for per-connection timestamp offsets (RFC 7323 §5.4). */
  /** SYN-cookie counters of listeners that have closed (live ones are summed in stats()). */
  readonly #closedListenerCookies = { sent: 0, accepted: 0, rejected: 0, stray: 0 };
  readonly #table = new ConnectionTable<ConnectionEntry>();
  /** The entry the last received segment went to: a bulk transfer skips the table lookups. */
  #lastEntry: ConnectionEntry | undefined;
  /** Where `#receive` parses each packet's IPv4 header and TCP segment (reused, see there). */
  readonly #ipIn = new Ipv4ParseTarget();
  readonly #tcpIn = new TcpParseTarget();
  readonly #listeners = new Map<number, ListenerEntry>();
  readonly #heap = new DeadlineHeap<ConnectionEntry>();
  readonly #reassembler: Ipv4Reassembler;
  readonly #out = new Uint8Array(OUTPUT_BUFFER_SIZE);
  /**
   * GSO send ("TSO"), when the link has `tso` and `sendTso`: consecutive data segments of one
   * connection are gathered here into ONE IPv4/TCP super-packet (a "train") and handed to the
   * link in one call, which the TUN device turns into one write instead of one per segment.
   * `#tsoMax` is the link's `tso.maxPacket`, 0 without GSO send (then nothing below is used).
   */
  readonly #tsoMax: number;
  readonly #train: Uint8Array;
  /** Segments in the train; 0 when there is none. */
  #trainSegments = 0;
  #trainRemote = 0;
  /** The first segment's header: every later one must match it but for `seq` and the flags. */
  #trainRepr: TcpRepr | undefined;
  #trainEcn = 0;
  /** Octets used in `#train`: IPv4 + TCP headers + payload so far. */
  #trainLength = 0;
  /** Payload octets of the first segment: the `segmentSize` the link cuts the train into. */
  #trainSegmentSize = 0;
  #trainNextSeq = 0;
  /** Control of the last segment (its PSH/FIN go on the super-packet). */
  #trainControl: TcpControl = 'none';
  /** Whether a later segment may still join: the last one was full-sized, without PSH/FIN. */
  #trainOpen = false;
  readonly #ipRepr: MutableIpv4Repr;
  #ident = 0;
  /** The reassembler may hold datagrams: the timer must also cover their expiry. */
  #reassemblyArmed = false;
  #touched: ConnectionEntry[] = [];
  #inFlush = false;
  #flushQueued = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDeadline = Infinity;
  #refs = 0;
  /** close() was called (nothing new may start); `#closed` once the linger is over. */
  #closing = false;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Packets addressed to ourselves, delivered as one batch on the next turn (loopback). */
  #loopback: Uint8Array[] = [];
  #loopbackQueued = false;
  readonly #driver: HandleDriver = {
    schedule: (entry) => this.#schedule(entry),
    release: (entry, graceful) => this.#release(entry, graceful),
  };
  #closed = false;
  #closePromise: Promise<void> | undefined;
  #deferredErrors: unknown[] = [];

  readonly #stats = {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    superPacketsOut: 0,
    superPacketSegmentsOut: 0,
    checksumFailures: 0,
    resetsSent: 0,
    icmpEchoReplies: 0,
    icmpErrors: 0,
    connectionsOpened: 0,
    connectionsAccepted: 0,
    loopbackPackets: 0,
    loopbackBytes: 0,
  };
  readonly #drops: Record<string, number> = {};
  /** TIME-WAIT records, apart from live connections (Linux's inet_timewait_sock table). */
  readonly #timeWait: TimeWaitTable;

  constructor(options: StackOptions) {
    if (options === null || typeof options !== 'object') throw argumentError('ERR_INVALID_ARG_TYPE', 'The "options" argument must be an object', 'type');
    const link = options.link;
    if (link === null || typeof link !== 'object' || typeof link.send !== 'function' || typeof link.start !== 'function') {
      throw argumentError('ERR_INVALID_ARG_TYPE', 'The "options.link" argument must be a Link', 'type');
    }
    if (!isIpv4String(options.address)) {
      throw argumentError('ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(options.address)}`, 'type');
    }
    if (!Number.isInteger(link.mtu) || link.mtu < 68 + 40 || link.mtu > 65535) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `The link's mtu must be an integer 108..65535, got ${String(link.mtu)}`, 'range');
    }
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
    const tsoMax = link.tso?.maxPacket;
    this.#tsoMax = typeof link.sendTso === 'function' && Number.isInteger(tsoMax) ? Math.min(tsoMax as number, OUTPUT_BUFFER_SIZE) : 0;
    // The train needs room for at least two full segments to be worth having.
    if (this.#tsoMax < 2 * link.mtu) this.#tsoMax = 0;
    this.#train = new Uint8Array(this.#tsoMax);
    const linkMss = link.mtu - 40;
    const requested = options.tcp ?? {};
    this.tcpConfig = resolveTcpConfig({ ...requested, mss: Math.min(requested.mss ?? linkMss, linkMss) });
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `The "options.maxConnections" argument must be a positive integer, got ${String(maxConnections)}`, 'range');
    }
    this.maxConnections = maxConnections;
    const maxTimeWait = options.maxTimeWait ?? DEFAULT_MAX_TIME_WAIT;
    if (!Number.isInteger(maxTimeWait) || maxTimeWait < 0) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `The "options.maxTimeWait" argument must be a non-negative integer, got ${String(maxTimeWait)}`, 'range');
    }
    this.#timeWait = new TimeWaitTable(maxTimeWait);
    // Bad limits throw ERR_INVALID_ARG_VALUE (a RangeError) here, before the link starts.
    this.#reassembler = new Ipv4Reassembler(options.reassembly);
    this.#clock = clock;
    const secret = options.secret ?? randomBytes(32);
    if (!(secret instanceof Uint8Array) || secret.length < 24) {
      throw argumentError('ERR_INVALID_ARG_VALUE', 'The "options.secret" argument must hold 24 octets', 'range');
    }
    this.#ports = new EphemeralPorts(secret.subarray(0, 16), options.ephemeralPortRange);
    this.#isn = new IsnGenerator(secret.subarray(16, 24));
    this.#cookieHash = new KeyedHash(secret.length >= 32 ? secret.subarray(24, 32) : deriveKey(secret.subarray(16, 24)));
    this.#ipRepr = {
      src: this.addressNumber,
      dst: 0,
      protocol: IpProtocol.Tcp,
      ttl: 64,
      payloadLength: 0,
      ident: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      dscp: 0,
      ecn: 0,
    };
    this.lookup = options.lookup;
    const stack = this;
    const port: StackPort = {
      get closed() {
        return stack.#closing;
      },
      address: this.address,
      addressNumber: this.addressNumber,
      tcpConfig: this.tcpConfig,
      lookup: options.lookup,
      open: (owner, remoteAddr, remotePort, localPort, config) => this.#open(owner, remoteAddr, remotePort, localPort, config),
      listen: (owner, p, backlog, host) => listenerHandle(this.#listen(owner, p, backlog, host), (l) => this.#unlisten(l)),
      hold: (delta) => this.#hold(delta),
    };
    this.net = createNetApi(port);
    this.#link.start((packets) => this.#onPackets(packets));
    tracing?.attach(this);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** An orphan whose data or FIN still waits for the peer's acknowledgment. */
  #lingers(e: ConnectionEntry): boolean {
    return e.owner === undefined && e.orphan && !e.removed && e.listener === undefined && LINGER_STATES.has(e.conn.state);
  }

  /** Waits while lingering orphans make progress (bounded); holds the process meanwhile. */
  async #linger(): Promise<void> {
    const pending = (): ConnectionEntry[] => [...this.#table.values()].filter((e) => this.#lingers(e));
    let list = pending();
    if (list.length === 0) return;
    this.#hold(1);
    try {
      let last = '';
      let still = 0;
      for (let polls = 0; list.length > 0 && polls * CLOSE_LINGER_POLL_MS < CLOSE_LINGER_MAX_MS; polls++) {
        await new Promise((resolve) => setTimeout(resolve, CLOSE_LINGER_POLL_MS));
        list = pending();
        const key = list.map((e) => `${e.conn.state}:${e.conn.sendQueued}`).join(',');
        if (key !== last) {
          last = key;
          still = 0;
        } else if (++still * CLOSE_LINGER_POLL_MS >= CLOSE_LINGER_STALL_MS) {
          break;
        }
      }
    } finally {
      this.#hold(-1);
    }
  }

  /** A snapshot of the counters. */
  stats(): StackStats {
    const connections: Partial<Record<TcpState, number>> = {};
    for (const e of this.#table.values()) {
      const s = e.conn.state;
      connections[s] = (connections[s] ?? 0) + 1;
    }
    // TIME-WAIT records are not connections of the table, but a reader of states counts them (as `ss`).
    const held = this.#timeWait.size;
    if (held > 0) connections['TIME-WAIT'] = (connections['TIME-WAIT'] ?? 0) + held;
    let { sent, accepted, rejected, stray } = this.#closedListenerCookies;
    for (const l of this.#listeners.values()) {
      const ls = l.listener.stats;
      sent += ls.synCookiesSent;
      accepted += ls.synCookiesAccepted;
      rejected += ls.synCookiesRejected;
      stray += ls.strayAcks;
    }
    return {
      ...this.#stats,
      synCookiesSent: sent,
      synCookiesAccepted: accepted,
      synCookiesRejected: rejected,
      strayAcks: stray,
      drops: { ...this.#drops },
      connections,
      listeners: this.#listeners.size,
      maxConnections: this.maxConnections,
      reassembly: this.#reassembler.stats,
      timeWait: this.#timeWait.stats,
    };
  }

  /** Every connection in the table: its {@link TcpInfo} (as `ss -ti`), addresses, queues and owner. */
  connections(): ConnectionInfo[] {
    const rows: ConnectionInfo[] = [];
    for (const e of this.#table.values()) {
      const c = e.conn;
      const s = tcpInfoOf(c);
      // Object.assign onto the fresh snapshot: cheaper than a spread of ~60 fields.
      rows.push(
        Object.assign(s, {
          state: c.state,
          localAddress: this.address,
          localPort: e.localPort,
          remoteAddress: ipv4ToString(e.remoteAddr),
          remotePort: e.remotePort,
          readable: c.readableLength,
          sendQueued: c.sendQueued,
          rttMs: s.rttSamples > 0 ? s.srttMs : undefined,
          softError: c.softError,
          owned: e.owner !== undefined,
        }),
      );
    }
    return rows;
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
    const listeners = [...this.#listeners.values()];
    for (const l of listeners) this.#unlisten(l);
    for (const e of [...this.#table.values()]) {
      if (this.#lingers(e)) continue;
      e.conn.abort();
      this.#schedule(e);
    }
    // Called from an event handler during a drain, the drain in progress sends the RSTs.
    if (!this.#inFlush) this.#drainTouched(this.#now());
    this.#closePromise = (async () => {
      await this.#linger();
      this.#closed = true;
      for (const e of [...this.#table.values()]) {
        e.conn.abort();
        this.#schedule(e);
      }
      if (!this.#inFlush) this.#drainTouched(this.#now());
      await Promise.resolve();
      // Aborted connections are CLOSED and gone; anything left is dropped.
      for (const e of [...this.#table.values()]) this.#remove(e);
      for (const l of listeners) l.owner.onListenerClosed();
      this.#heap.clear();
      this.#timeWait.clear();
      this.#clearTimer();
      if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
      this.#loopback = [];
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
      port = this.#ports.choose(this.addressNumber, remoteAddr, remotePort, (p) => !this.#table.has(remoteAddr, remotePort, p) && !this.#timeWait.has(remoteAddr, remotePort, p) && !this.#listeners.has(p));
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
      iss: this.#isn.isn(now, local, remote),
      tsOffset: this.#isn.tsOffset(local, remote),
      config: config === undefined ? this.tcpConfig : { ...this.tcpConfig, ...config },
    });
    const entry = this.#addEntry(conn, undefined);
    entry.owner = owner;
    this.#stats.connectionsOpened++;
    if (debug.enabled) debug('connect %s:%d -> %s:%d', this.address, port, remoteAddress, remotePort);
    this.#schedule(entry);
    return new ConnectionHandle(entry, this.#driver);
  }

  /**
   * Queues `entry` for a drain: now, if the stack is inside a batch; else in one microtask
   * shared by every command issued in this turn.
   * @internal
   */
  #schedule(entry: ConnectionEntry): void {
    if (entry.removed || entry.touched) return;
    entry.touched = true;
    this.#touched.push(entry);
    if (!this.#inFlush && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
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
    if (!graceful && !this.#closed) this.#transmit(entry, this.#now());
    if (!graceful) entry.conn.abort();
    else entry.conn.orphan(this.#now());
    this.#schedule(entry);
  }

  /**
   * Starts listening on `port` (0: an ephemeral port) for `owner`.
   * @internal
   * @throws SystemError EADDRINUSE when the port has a listener.
   */
  #listen(owner: ListenerOwner, port: number, backlog: number, host: string): ListenerEntry {
    this.#assertOpen();
    let p = port;
    if (p === 0) {
      const chosen = this.#ports.choose(this.addressNumber, 0, 0, (q) => !this.#listeners.has(q));
      if (chosen === undefined) throw new SystemError('EADDRINUSE', 'listen', host, 0);
      p = chosen;
    } else if (this.#listeners.has(p)) {
      throw new SystemError('EADDRINUSE', 'listen', host, p);
    }
    const listener = new TcpListener({
      local: { addr: this.addressNumber, port: p },
      backlog,
      config: this.tcpConfig,
      isn: (now, local, remote) => this.#isn.isn(now, local, remote),
      tsOffset: (_now, local, remote) => this.#isn.tsOffset(local, remote),
      // RFC 4987 §3.6: a full listener answers with SYN cookies and keeps no state, so a SYN
      // flood cannot lock real clients out; the stack's secret keys the cookie hash.
      synCookies: true,
      cookieHash: (a, b, c, d) => this.#cookieHash.hash(a, b, c, d, 4),
    });
    const entry: ListenerEntry = { port: p, listener, owner, embryos: new Map(), closed: false };
    this.#listeners.set(p, entry);
    if (debug.enabled) debug('listen %s:%d backlog %d', this.address, p, backlog);
    return entry;
  }

  /**
   * Stops a listener: no new connections; embryonic ones and those not yet accepted are
   * aborted (RST), as closing a listening socket does.
   * @internal
   */
  #unlisten(l: ListenerEntry): void {
    if (l.closed) return;
    l.closed = true;
    if (this.#listeners.get(l.port) === l) {
      this.#listeners.delete(l.port);
      const ls = l.listener.stats;
      this.#closedListenerCookies.sent += ls.synCookiesSent;
      this.#closedListenerCookies.accepted += ls.synCookiesAccepted;
      this.#closedListenerCookies.rejected += ls.synCookiesRejected;
      this.#closedListenerCookies.stray += ls.strayAcks;
    }
    for (const e of [...l.embryos.values()]) {
      e.listener = undefined;
      e.orphan = true;
      e.conn.abort();
      this.#schedule(e);
    }
    l.embryos.clear();
  }

  /**
   * A socket or server that keeps the process alive started (+1) or stopped (−1) doing so;
   * the stack's timer is ref'd while any does.
   * @internal
   */
  #hold(delta: 1 | -1): void {
    const before = this.#refs;
    this.#refs += delta;
    // One ref'd Node handle stands for every ref'd server, ref'd socket, pending connect and
    // pending write, whatever the link (the TUN device's fd and the stack's timer are unref'd,
    // and the in-memory link has no handle at all): the process lives exactly while Node's
    // would (lib/net.js keeps a ref'd TCP handle or an active request).
    if (before === 0 && this.#refs > 0 && !this.#closed) {
      this.#keepAlive ??= setInterval(noop, KEEP_ALIVE_INTERVAL_MS);
    } else if (before > 0 && this.#refs === 0 && this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }

  /**
   * Runs what the stack's Node timer runs when it fires (due connection timers, fragment
   * expiry), now. For tests that drive a virtual `clock`: after advancing it, this fires
   * every deadline that passed, synchronously and in a reproducible order.
   * @internal
   */
  _runTimers(): void {
    if (this.#closed) return;
    this.#clearTimer();
    this.#onTimer();
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
    return this.#timer !== undefined;
  }

  /**
   * Every listener record (for invariant checks in tests; do not mutate).
   * @internal
   */
  _listenerEntries(): IterableIterator<ListenerEntry> {
    return this.#listeners.values();
  }

  /**
   * How many inbound packets were dropped for `reason` (cheaper than `stats()`).
   * @internal
   */
  _dropCount(reason: string): number {
    return this.#drops[reason] ?? 0;
  }

  // ---- inbound ---------------------------------------------------------------------------

  #onPackets(packets: readonly Uint8Array[]): void {
    if (this.#closed) return;
    const now = this.#now();
    this.#inFlush = true;
    try {
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
    } finally {
      this.#inFlush = false;
    }
    this.#deliverEvents(now);
    this.#sendReplies(now);
  }

  /**
   * Sends at once the segments of connections that the batch left with data to send (an
   * answer the application wrote from its event handlers, or data an ACK let go); they carry
   * our ACK. The rest (pure ACKs, window updates, a FIN that Node's streams decide on in a
   * later tick) waits for the flush later in the turn, as #deliverEvents explains. Waiting
   * would gain nothing for these: the data is there, and a request/response exchange would pay
   * the rest of the turn (reading the device to EAGAIN, ticks, microtasks) on every round trip.
   */
  #sendReplies(now: Instant): void {
    const touched = this.#touched;
    if (touched.length === 0) return;
    this.#inFlush = true;
    try {
      for (let i = 0; i < touched.length; i++) {
        const e = touched[i] as ConnectionEntry;
        if (e.removed || e.conn.unsentLength === 0) continue;
        this.#transmit(e, now);
      }
    } catch (err) {
      this.#deferredErrors.push(err);
    } finally {
      this.#inFlush = false;
    }
  }

  /**
   * After a received batch: hand every touched connection's events to its owner now, and leave
   * the segments for the microtask flush (except data, see #sendReplies). What the application does in response (an echo's
   * reply, or the `end()` that follows 'end', which Node's streams run from `process.nextTick`,
   * ahead of microtasks) then leaves in the same segments as our ACK instead of segments of its
   * own: a sequential connect-echo-close costs 3 writes to the link instead of 5. Writes are the
   * costly part of a TUN link (the kernel's receive path runs inside each one).
   */
  #deliverEvents(now: Instant): void {
    if (this.#touched.length === 0) {
      // Nothing to send; a fragment held for reassembly may still need the timer.
      if (this.#reassemblyArmed) this.#rearm(now);
      return;
    }
    this.#inFlush = true;
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
      this.#inFlush = false;
    }
    // The entries stay on #touched: the flush sends their segments and re-arms their timers.
    // It runs as a microtask queued from process.nextTick, so after the ticks the events set
    // off (a stream's 'end' runs in a tick, and what pipe() or allowHalfOpen do on it in the
    // next) whether this batch arrived from a macrotask (a real link) or from within a
    // microtask (a promise-driven test or an in-memory link), where ticks run only after the
    // microtask queue has drained.
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      process.nextTick(this.#queueFlush);
    }
  }

  readonly #queueFlush = (): void => {
    queueMicrotask(this.#flush);
  };

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
      this.#dispatch(entry, ev);
    }
    if (closed) {
      // Flush what the last commands produced, then forget the connection.
      this.#transmit(entry, now);
      this.#remove(entry);
    }
    return any;
  }


  #receive(now: Instant, packet: Uint8Array): void {
    this.#stats.packetsIn++;
    this.#stats.bytesIn += packet.length;
    // Parsed into the stack's reusable targets (no allocation per packet): what is parsed here
    // is only read until this method returns, and nothing re-enters it meanwhile (links deliver
    // from the event loop, never from inside `send`).
    const ip = this.#ipIn;
    const dropped = parseIpv4Into(packet, ip);
    if (dropped !== undefined) {
      if (dropped === 'bad-checksum') this.#stats.checksumFailures++;
      this.#drop(`ipv4-${dropped}`);
      return;
    }
    let repr: Ipv4Repr = ip.repr;
    if (repr.dst !== this.addressNumber) {
      this.#drop('not-for-us');
      return;
    }
    let bytes = packet;
    let start = ip.headerLength;
    let end = start + repr.payloadLength;
    if (repr.moreFragments || repr.fragmentOffset !== 0) {
      // Bounded memory (StackOptions.reassembly); stale datagrams expire on the stack's timer
      // and on the next add. The reassembler keeps the Repr: it gets a copy of its own.
      const timedOut = this.#reassembler.stats.datagramsTimedOut;
      const whole = this.#reassembler.add(now, { ...repr }, view(packet, start, end));
      this.#countExpired(timedOut);
      if (whole.kind === 'pending') {
        this.#reassemblyArmed = true;
        return;
      }
      if (whole.kind === 'drop') {
        this.#drop(`fragment-${whole.reason}`);
        return;
      }
      repr = whole.repr;
      bytes = whole.payload;
      start = 0;
      end = bytes.length;
    }
    switch (repr.protocol) {
      case IpProtocol.Tcp:
        this.#receiveTcp(now, repr, bytes, start, end);
        break;
      case IpProtocol.Icmp:
        this.#receiveIcmp(now, repr, view(bytes, start, end));
        break;
      default:
        this.#drop('unsupported-protocol');
    }
  }

  #receiveIcmp(now: Instant, ip: Ipv4Repr, payload: Uint8Array): void {
    const icmp = parseIcmpv4(payload);
    if (!icmp.ok) {
      if (icmp.reason === 'bad-checksum') this.#stats.checksumFailures++;
      this.#drop(`icmp-${icmp.reason}`);
      return;
    }
    if (icmp.repr.type === 'dest-unreachable' || icmp.repr.type === 'time-exceeded') {
      // RFC 1122 §3.2.2: an ICMP error is never answered with an ICMP error (nor anything else).
      this.#receiveIcmpError(now, icmp.repr);
      return;
    }
    if (icmp.repr.type !== 'echo-request') {
      this.#drop(`icmp-${icmp.repr.type}`);
      return;
    }
    // RFC 1122 §3.2.2.6: an echo request to a broadcast or multicast address MAY be dropped
    // (we only accept our unicast address) and no reply goes to an invalid source: 0.0.0.0,
    // broadcast or multicast (the IPv4 parser already rejects the last two).
    if (ip.src === 0 || ip.src === 0xffffffff || ip.src >>> 28 === 0xe) {
      this.#drop('icmp-bad-source');
      return;
    }
    const reply = echoReplyFor(icmp.repr);
    if (20 + payload.length > this.mtu) {
      // A reassembled request larger than our MTU: we do not fragment what we send.
      this.#drop('icmp-reply-too-big');
      return;
    }
    const out = this.#out;
    const length = emitIcmpv4(reply, out.subarray(20));
    const r = this.#ipRepr;
    r.dst = ip.src;
    r.protocol = IpProtocol.Icmp;
    r.ecn = 0;
    r.payloadLength = length;
    r.ident = this.#nextIdent();
    emitIpv4(r, out);
    this.#stats.icmpEchoReplies++;
    this.#sendPacket(out.subarray(0, 20 + length));
  }

  /**
   * An ICMP error (RFC 792) about a datagram we sent: find the connection by the quoted 4-tuple
   * (its source is us) and let the engine judge the quoted sequence number (RFC 5927 §4.1: only
   * SND.UNA ≤ seq < SND.NXT is believed, so a blind attacker must guess it). Hard or soft, and
   * what frag-needed does (RFC 1191), is the engine's decision (RFC 1122 §4.2.3.9).
   */
  #receiveIcmpError(now: Instant, icmp: Icmpv4Repr & { type: 'dest-unreachable' | 'time-exceeded' }): void {
    const quoted = parseQuotedDatagram(icmp.quoted);
    if (quoted === undefined) {
      this.#drop('icmp-bad-quote');
      return;
    }
    if (quoted.protocol !== IpProtocol.Tcp || quoted.src !== this.addressNumber) {
      this.#drop('icmp-not-ours');
      return;
    }
    const error = icmpErrorKind(icmp);
    if (error === undefined) {
      this.#drop(`icmp-${icmp.type}-code-${icmp.code}`);
      return;
    }
    const t = quoted.transport;
    const srcPort = ((t[0] as number) << 8) | (t[1] as number);
    const dstPort = ((t[2] as number) << 8) | (t[3] as number);
    const seq = (((t[4] as number) << 24) | ((t[5] as number) << 16) | ((t[6] as number) << 8) | (t[7] as number)) >>> 0;
    const entry = this.#table.get(quoted.dst, dstPort, srcPort);
    if (entry === undefined) {
      this.#drop('icmp-no-connection');
      return;
    }
    if (!entry.conn.handleIcmpError(now, error, seq)) {
      this.#drop('icmp-rejected');
      return;
    }
    this.#stats.icmpErrors++;
    if (debug.enabled) debug('%s:%d icmp %s', ipv4ToString(entry.remoteAddr), entry.remotePort, error.kind);
    this.#schedule(entry);
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
      if (dropped === 'bad-checksum') this.#stats.checksumFailures++;
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
        this.#drain(entry, now);
        this.#remove(entry);
      } else {
        entry.conn.handleSegment(now, repr, data, ip.ecn);
        this.#schedule(entry);
        return;
      }
    }
    if (this.#timeWait.size > 0) {
      // A 4-tuple in TIME-WAIT answers through its record; a SYN it lets reopen goes on to the
      // listener below (RFC 6191).
      const answer = this.#timeWait.handleSegment(now, ip.src, repr, data.length, this.#listeners.has(repr.dstPort));
      if (answer !== undefined && answer.kind !== 'reuse') {
        if (answer.kind === 'reply') this.#sendTcp(ip.src, answer.transmit);
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
          this.#schedule(e);
          break;
        }
        case 'reply':
          this.#sendTcp(ip.src, result.transmit);
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
      this.#stats.resetsSent++;
      this.#sendTcp(ip.src, { repr: rst, payload: new Uint8Array(0) });
    }
  }

  // ---- draining --------------------------------------------------------------------------

  readonly #flush = (): void => {
    this.#flushQueued = false;
    if (this.#touched.length === 0) return;
    this.#drainTouched(this.#now());
  };

  #drainTouched(now: Instant): void {
    this.#inFlush = true;
    try {
      // New entries may be appended while draining (a socket's event handler writes to
      // another socket): the index loop picks them up in this same pass.
      for (let i = 0; i < this.#touched.length; i++) {
        const e = this.#touched[i] as ConnectionEntry;
        e.touched = false;
        try {
          this.#drain(e, now);
        } catch (err) {
          // Only a bug can get here (event handlers are guarded in #dispatch): keep the other
          // connections going and report it.
          this.#deferredErrors.push(err);
        }
      }
      this.#touched = [];
    } finally {
      this.#inFlush = false;
    }
    this.#rearm(now);
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
    if (entry.conn.state === 'TIME-WAIT') this.#enterTimeWait(entry, now);
    else this.#heap.set(entry, entry.conn.pollTimeout());
  }

  /**
   * A connection reached TIME-WAIT and has sent what it owed: its compact record takes over the
   * 4-tuple (answering retransmitted FINs, RSTs and new SYNs, RFC 9293 §3.10.7.4, RFC 6191) and
   * the connection leaves the table, as Linux hands a socket to an inet_timewait_sock. A full
   * TIME-WAIT table means no TIME-WAIT for this one (counted), never a refused client.
   */
  #enterTimeWait(entry: ConnectionEntry, now: Instant): void {
    const record = entry.conn.toTimeWait();
    if (record === undefined) {
      this.#heap.set(entry, entry.conn.pollTimeout());
      return;
    }
    // toTimeWait() emitted 'closed': the socket hears it, then the connection is forgotten.
    entry.timeWait = true;
    this.#dispatchEvents(entry, now);
    this.#remove(entry);
    this.#timeWait.add(entry.remoteAddr, record);
  }


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
        this.#deferredErrors.push(err);
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
      this.#stats.connectionsAccepted++;
      try {
        l.owner.onConnection(new ConnectionHandle(e, this.#driver));
      } catch (err) {
        this.#deferredErrors.push(err);
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

  // ---- timer -----------------------------------------------------------------------------

  #rearm(now: Instant): void {
    let deadline = this.#heap.peek()?.deadline ?? Infinity;
    const timeWaitExpiry = this.#timeWait.nextDeadline();
    if (timeWaitExpiry !== undefined && timeWaitExpiry < deadline) deadline = timeWaitExpiry;
    if (this.#reassemblyArmed) {
      const expiry = this.#reassembler.nextDeadline;
      if (expiry === undefined) this.#reassemblyArmed = false;
      else if (expiry < deadline) deadline = expiry;
    }
    if (deadline === Infinity || this.#closed) {
      this.#clearTimer();
      return;
    }
    // A timer that fires no later than needed is kept: firing early is a cheap no-op.
    if (this.#timer !== undefined && this.#timerDeadline <= deadline) return;
    this.#clearTimer();
    this.#timerDeadline = deadline;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.ceil(deadline - now)));
    // The timer never holds the process (TIME-WAIT, orphans, retransmissions of a connection
    // nobody holds): #hold's handle does that for what Node would keep alive.
    this.#timer.unref();
  }

  /** Counts the datagrams the reassembler let expire since its counter read `before`. */
  #countExpired(before: number): void {
    const n = this.#reassembler.stats.datagramsTimedOut - before;
    if (n > 0) this.#drops['fragment-timeout'] = (this.#drops['fragment-timeout'] ?? 0) + n;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDeadline = Infinity;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerDeadline = Infinity;
    if (this.#closed) return;
    const now = this.#now();
    this.#timeWait.expire(now);
    if (this.#reassemblyArmed) {
      const timedOut = this.#reassembler.stats.datagramsTimedOut;
      this.#reassembler.expire(now);
      this.#countExpired(timedOut);
    }
    this.#inFlush = true;
    try {
      for (let e = this.#heap.popDue(now); e !== undefined; e = this.#heap.popDue(now)) {
        const rtos = e.conn.counters.rtoCount;
        e.conn.handleTimeout(now);
        if (e.conn.counters.rtoCount !== rtos) diag.rto(this, this.address, e);
        this.#schedule(e);
      }
    } finally {
      this.#inFlush = false;
    }
    this.#drainTouched(now);
  };

  // ---- outbound --------------------------------------------------------------------------

  /** Sends every segment the connection has ready now, then any GSO train they formed. */
  #transmit(entry: ConnectionEntry, now: Instant): void {
    const conn = entry.conn;
    if (diag.retransmitWanted) {
      // Observed: each segment whose poll raised the retransmission count is published.
      const counters = conn.counters;
      for (;;) {
        const before = counters.retransmits;
        const t = conn.pollTransmit(now);
        if (t === undefined) break;
        if (counters.retransmits !== before) diag.retransmit(this, this.address, entry, t.repr.seq, t.payload.length);
        this.#sendTcp(entry.remoteAddr, t);
      }
    } else {
      for (let t = conn.pollTransmit(now); t !== undefined; t = conn.pollTransmit(now)) this.#sendTcp(entry.remoteAddr, t);
    }
    this.#endTrain();
  }

  #sendTcp(remoteAddr: number, t: Transmit): void {
    if (this.#tsoMax > 0 && t.payload.length > 0 && remoteAddr !== this.addressNumber) {
      if (this.#trainSegments > 0 && this.#joinsTrain(remoteAddr, t)) {
        this.#addToTrain(t);
        return;
      }
      this.#endTrain();
      if (trainable(t)) {
        this.#startTrain(remoteAddr, t);
        return;
      }
    } else if (this.#trainSegments > 0) {
      this.#endTrain();
    }
    const out = this.#out;
    const tcpLength = emitTcp(t.repr, t.payload, this.addressNumber, remoteAddr, out.subarray(20));
    const r = this.#ipRepr;
    r.dst = remoteAddr;
    r.protocol = IpProtocol.Tcp;
    // RFC 3168 §5: the engine marks new data of an ECN-capable connection ECT(0) (binary 10).
    r.ecn = t.ecn === 'ect0' ? 2 : 0;
    r.payloadLength = tcpLength;
    r.ident = this.#nextIdent();
    emitIpv4(r, out);
    this.#sendPacket(out.subarray(0, 20 + tcpLength));
  }

  #sendPacket(packet: Uint8Array): void {
    // Whatever is sent after a train must follow it on the wire.
    if (this.#trainSegments > 0) this.#endTrain();
    const dst = (((packet[16] as number) << 24) | ((packet[17] as number) << 16) | ((packet[18] as number) << 8) | (packet[19] as number)) >>> 0;
    if (dst === this.addressNumber) {
      this.#sendLoopback(packet);
      return;
    }
    this.#stats.packetsOut++;
    this.#stats.bytesOut += packet.length;
    if (debug.enabled) debug('%s', debugPacketLine(this.#now(), 'out', packet));
    this.#link.send(packet);
  }

  /**
   * Loopback: a packet to our own address never reaches the link (as on any host: lwIP,
   * smoltcp, gVisor and Linux's `lo` do the same). It is copied and delivered to ourselves as
   * one batch on the next turn of the event loop, like a link's read burst. Counted in
   * `stats().loopbackPackets`/`loopbackBytes`, not in `packetsOut`/`packetsIn`, and not seen by
   * a `capture()` of the link (it never crosses the link).
   */
  #sendLoopback(packet: Uint8Array): void {
    this.#stats.loopbackPackets++;
    this.#stats.loopbackBytes += packet.length;
    this.#loopback.push(packet.slice());
    if (this.#loopbackQueued) return;
    this.#loopbackQueued = true;
    setImmediate(() => {
      this.#loopbackQueued = false;
      const batch = this.#loopback;
      this.#loopback = [];
      if (batch.length === 0 || this.#closed) return;
      this.#onPackets(batch);
    });
  }

  /**
   * Whether `t` (a data segment to `remoteAddr`) can ride in the current train: it continues it
   * in sequence, the last segment was a full one (same size as the first) without PSH/FIN, and
   * everything the segmentation copies from the first header to every segment is the same:
   * ports, ACK, window, ECE, timestamps, SACK blocks, the IPv4 ECN codepoint. No CWR (the
   * kernel keeps it only on the first segment, and it belongs to one segment, RFC 3168 §6.1.2).
   */
  #joinsTrain(remoteAddr: number, t: Transmit): boolean {
    const first = this.#trainRepr as TcpRepr;
    const r = t.repr;
    return (
      this.#trainOpen &&
      remoteAddr === this.#trainRemote &&
      r.seq === this.#trainNextSeq &&
      t.payload.length <= this.#trainSegmentSize &&
      this.#trainLength + t.payload.length <= this.#tsoMax &&
      (r.control === 'none' || r.control === 'psh' || r.control === 'fin') &&
      r.cwr !== true &&
      r.srcPort === first.srcPort &&
      r.dstPort === first.dstPort &&
      r.ack === first.ack &&
      r.window === first.window &&
      (r.ece === true) === (first.ece === true) &&
      (t.ecn === 'ect0' ? 2 : 0) === this.#trainEcn &&
      r.urgent === undefined &&
      sameTimestamp(r, first) &&
      sameSackBlocks(r, first)
    );
  }

  #startTrain(remoteAddr: number, t: Transmit): void {
    const train = this.#train;
    // The first segment's header with no payload: the payload goes in after it, and the
    // checksum emitTcp puts there (over the header only) is replaced at the end.
    const headerLength = 20 + emitTcp(t.repr, EMPTY, this.addressNumber, remoteAddr, train.subarray(20));
    train.set(t.payload, headerLength);
    this.#trainSegments = 1;
    this.#trainRemote = remoteAddr;
    this.#trainRepr = t.repr;
    this.#trainEcn = t.ecn === 'ect0' ? 2 : 0;
    this.#trainLength = headerLength + t.payload.length;
    this.#trainSegmentSize = t.payload.length;
    this.#trainNextSeq = (t.repr.seq + t.payload.length) >>> 0;
    this.#trainControl = t.repr.control;
    this.#trainOpen = t.repr.control === 'none';
    // Every data segment comes from #transmit, which ends the train after its loop.
    if (!this.#trainOpen) this.#endTrain();
  }

  #addToTrain(t: Transmit): void {
    const length = t.payload.length;
    this.#train.set(t.payload, this.#trainLength);
    this.#trainLength += length;
    this.#trainSegments++;
    this.#trainNextSeq = (this.#trainNextSeq + length) >>> 0;
    this.#trainControl = t.repr.control;
    this.#trainOpen = t.repr.control === 'none' && length === this.#trainSegmentSize;
    // Nothing more can join (PSH/FIN/short segment, or no room for another full one): send it now.
    if (!this.#trainOpen || this.#trainLength + this.#trainSegmentSize > this.#tsoMax) this.#endTrain();
  }

  /**
   * Sends the train, if any: one packet through `Link.sendTso` with the partial checksum (the
   * pseudo-header sum, as Linux's `__tcp_v4_send_check`), a super-packet when it holds more
   * than one segment. To be called when a connection's transmit loop ends; `#sendTcp` and
   * `#sendPacket` call it themselves before anything that does not join the train.
   */
  #endTrain(): void {
    const segments = this.#trainSegments;
    if (segments === 0) return;
    this.#trainSegments = 0;
    this.#trainOpen = false;
    this.#trainRepr = undefined;
    const train = this.#train;
    const length = this.#trainLength;
    const tcpLength = length - 20;
    // PSH and FIN of the last segment (the segmenter puts them on the last segment only).
    const control = this.#trainControl;
    const flags = 20 + 13;
    train[flags] = ((train[flags] as number) & ~(TcpFlags.FIN | TcpFlags.PSH)) | (control === 'fin' ? TcpFlags.FIN | TcpFlags.PSH : control === 'psh' ? TcpFlags.PSH : 0);
    const r = this.#ipRepr;
    r.dst = this.#trainRemote;
    r.protocol = IpProtocol.Tcp;
    r.ecn = this.#trainEcn;
    r.payloadLength = tcpLength;
    r.ident = this.#nextIdent();
    // The segmenter numbers the further segments' IPv4 identification upwards from this one.
    this.#ident = (r.ident + segments) & 0xffff;
    emitIpv4(r, train);
    const partial = pseudoHeaderSum(this.addressNumber, this.#trainRemote, IpProtocol.Tcp, tcpLength);
    // A lone segment goes through sendTso too, its checksum left for the link (the kernel) to
    // finish. Measured on 50,000 1 KiB round trips over TUN with offload: the JavaScript checksum
    // time of the sends is gone (onesComplementSum 47 → 15 ms self time, the rest is inbound),
    // the writes cost the same within the noise, and the kernel does not verify a checksum it is
    // told to trust (CHECKSUM_PARTIAL on local delivery).
    train[20 + 16] = partial >>> 8;
    train[20 + 17] = partial & 0xff;
    this.#stats.packetsOut++;
    this.#stats.bytesOut += length;
    if (segments > 1) {
      this.#stats.superPacketsOut++;
      this.#stats.superPacketSegmentsOut += segments;
    }
    // #tsoMax > 0 only when the link has sendTso.
    if (debug.enabled) debug('%s', debugPacketLine(this.#now(), 'out', train.subarray(0, length)));
    this.#link.sendTso!(train.subarray(0, length), this.#trainSegmentSize);
  }

  #nextIdent(): number {
    const id = this.#ident;
    this.#ident = (id + 1) & 0xffff;
    return id;
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

/**
 * The engine's view of an ICMP error (RFC 792, RFC 1122 §3.2.2.1): which ones end an opening
 * connection and which only lower the MSS. Codes Linux treats alike are grouped as it does
 * (protocol unreachable as port unreachable; administratively prohibited, host unknown and
 * time exceeded as host unreachable). Frag-needed without a next-hop MTU (a pre-RFC 1191
 * router) is not acted on: we have no plateau table.
 */
function icmpErrorKind(icmp: Icmpv4Repr & { type: 'dest-unreachable' | 'time-exceeded' }): TcpIcmpError | undefined {
  if (icmp.type === 'time-exceeded') return { kind: 'host-unreachable' };
  switch (icmp.code) {
    case Icmpv4UnreachableCode.NetUnreachable:
    case 6: // destination network unknown
    case 9: // network administratively prohibited
    case 11: // network unreachable for TOS
      return { kind: 'net-unreachable' };
    case Icmpv4UnreachableCode.HostUnreachable:
    case Icmpv4UnreachableCode.SourceRouteFailed:
    case 7: // destination host unknown
    case 10: // host administratively prohibited
    case 12: // host unreachable for TOS
    case Icmpv4UnreachableCode.AdminProhibited:
      return { kind: 'host-unreachable' };
    case Icmpv4UnreachableCode.ProtocolUnreachable:
    case Icmpv4UnreachableCode.PortUnreachable:
      return { kind: 'port-unreachable' };
    case Icmpv4UnreachableCode.FragmentationNeeded:
      return icmp.nextHopMtu >= 68 ? { kind: 'frag-needed', mtu: icmp.nextHopMtu } : undefined;
    default:
      return undefined;
  }
}

/** Eight key octets derived from `key` by the keyed hash itself (keys of unrelated uses differ). */
function deriveKey(key: Uint8Array): Uint8Array {
  const h = new KeyedHash(key);
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, h.hash(0x636f6f6b, 0x69653031, 0, 0, 2), true);
  view.setUint32(4, h.hash(0x636f6f6b, 0x69653032, 0, 0, 2), true);
  return out;
}

/** A data segment that may start a train: no SYN/RST, no CWR, no urgent data. */
function trainable(t: Transmit): boolean {
  const c = t.repr.control;
  return (c === 'none' || c === 'psh' || c === 'fin') && t.repr.cwr !== true && t.repr.urgent === undefined;
}

function sameTimestamp(a: TcpRepr, b: TcpRepr): boolean {
  const x = a.timestamp;
  const y = b.timestamp;
  return x === y || (x !== undefined && y !== undefined && x.tsVal === y.tsVal && x.tsEcr === y.tsEcr);
}

function sameSackBlocks(a: TcpRepr, b: TcpRepr): boolean {
  const x = a.sackBlocks;
  const y = b.sackBlocks;
  if (x === undefined || x.length === 0) return y === undefined || y.length === 0;
  if (y === undefined || y.length !== x.length) return false;
  for (let i = 0; i < x.length; i++) {
    const p = x[i] as SackBlock;
    const q = y[i] as SackBlock;
    if (p.left !== q.left || p.right !== q.right) return false;
  }
  return true;
}


/**
 * `bytes[start, end)` as a plain Uint8Array view (no copy). Received packets are Node Buffers
 * (TUN reads): `subarray` on one goes through Buffer's species constructor and costs more.
 */
function view(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}
