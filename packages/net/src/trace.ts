/**
 * Per-connection time series without touching the engine: `traceLink()` wraps a `Link` (as
 * `capture()` does) and reads the IPv4 and TCP header of every packet the stack sends and
 * receives; with a stack attached it also polls `stack.connections()` for what headers do not
 * carry (cwnd, ssthresh, srtt, bytes in flight). Records go to a sink one at a time;
 * {@link TraceWriter} writes them as JSON lines (one record a line), the format `tcp-tun-plot`
 * reads. The format is {@link TraceRecord}.
 *
 * Sequence numbers in records are RELATIVE and unwrapped: `seq` counts from the initial
 * sequence number of the side that sent the segment (its SYN is 0, its first data octet 1),
 * `ack` and SACK edges from the ISN of the side receiving it, so `ack` of an inbound segment
 * and `seq` of an outbound one are on the same axis. A connection first seen without its SYN
 * takes the first sequence number seen as its base. Numbers keep growing past 2^32 (no wrap).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { ipv6ToString } from '@tcp-tun/ip';
import type { Link, LinkReceiver } from './link.js';
import { tcpBounds } from './packet-shape.js';

/** Which way a segment went, seen from the traced stack. */
export type TraceDirection = 'out' | 'in';

/** The first record of a trace. */
export interface TraceStartRecord {
  /** Record kind: `trace`. */
  readonly type: 'trace';
  /** Format version: 1. */
  readonly version: 1;
  /** Time in milliseconds of the clock the trace was given (the stack's, when wired by it). */
  readonly t: number;
  /** How often connections are polled, ms. */
  readonly intervalMs: number;
}

/** A connection seen for the first time (first segment either way with a new 4-tuple). */
export interface TraceConnRecord {
  /** Record kind: `conn`. */
  readonly type: 'conn';
  /** Time in milliseconds on the trace's clock. */
  readonly t: number;
  /** Number of the connection in this trace, from 1 in the order first seen. */
  readonly conn: number;
  /** Our end, "address:port". */
  readonly local: string;
  /** The peer's end, "address:port". */
  readonly remote: string;
}

/** One TCP segment sent (`out`) or received (`in`). */
export interface TraceSegmentRecord {
  /** Record kind: `seg`. */
  readonly type: 'seg';
  /** Time in milliseconds on the trace's clock. */
  readonly t: number;
  /** The connection's number (see {@link TraceConnRecord}). */
  readonly conn: number;
  /** `out`: sent by the traced stack; `in`: received by it. */
  readonly dir: TraceDirection;
  /** Relative sequence number of the first octet (see the module comment). */
  readonly seq: number;
  /** Payload octets (SYN and FIN not counted). */
  readonly len: number;
  /** Flags as tcpdump spells them: S, F, R, P, E, W, "." for ACK (e.g. "S.", "P.", "F."). */
  readonly flags: string;
  /** Relative acknowledgment number, when ACK is set. */
  readonly ack?: number;
  /** Advertised window in octets, scaled by the negotiated window scale (never on a SYN). */
  readonly win: number;
  /** SACK blocks (RFC 2018) as [left, right) relative to the receiver's ISN. */
  readonly sack?: readonly (readonly [number, number])[];
  /**
   * True when the segment carries data (or SYN/FIN) starting below the highest sequence number
   * already sent in its direction: a retransmission (or a zero-window probe that repeats data).
   */
  readonly retx?: true;
}

/** Engine state of one connection, polled from the stack (only when something changed). */
export interface TraceInfoRecord {
  /** Record kind: `info`. */
  readonly type: 'info';
  /** Time in milliseconds on the trace's clock. */
  readonly t: number;
  /** The connection's number (see {@link TraceConnRecord}). */
  readonly conn: number;
  /** RFC 9293 state name. */
  readonly state: string;
  /** Congestion window, octets. */
  readonly cwnd: number;
  /**
   * Slow-start threshold, octets, when the stack exposes it (absent otherwise; an "infinite"
   * initial threshold is written as null).
   */
  readonly ssthresh?: number | null;
  /** Smoothed RTT, ms (absent before the first sample). */
  readonly srttMs?: number;
  /** RTT variation, ms, when the stack exposes it. */
  readonly rttvarMs?: number;
  /** Retransmission timeout, ms. */
  readonly rtoMs: number;
  /** Octets sent and not acknowledged. */
  readonly inFlight: number;
  /** Octets accepted from the application and not yet acknowledged. */
  readonly sendQueued: number;
  /** Received octets the application has not read. */
  readonly readable: number;
  /** The receive window we advertised last (from our last segment), octets. */
  readonly rwnd?: number;
  /** The window the peer advertised last, octets. */
  readonly peerWnd?: number;
  /** Retransmitted segments so far, as the engine counts them. */
  readonly retransmits: number;
  /** Retransmission timer expiries so far. */
  readonly rtoCount: number;
}

/** The last record of a trace closed by `close()`. */
export interface TraceEndRecord {
  /** Record kind: `end`. */
  readonly type: 'end';
  /** Time in milliseconds on the trace's clock. */
  readonly t: number;
  /** Packets that were not IPv4/TCP or too short to read (not traced). */
  readonly skipped: number;
}

/** One line of a trace file. */
export type TraceRecord = TraceStartRecord | TraceConnRecord | TraceSegmentRecord | TraceInfoRecord | TraceEndRecord;

/** Receives records in order. */
export type TraceSink = (record: TraceRecord) => void;

/**
 * The part of a connection row the tracer reads: `Stack.connections()` rows fit it. Fields
 * marked optional are read when the stack provides them.
 */
export interface TraceConnectionRow {
  /** RFC 9293 state name. */
  readonly state: string;
  /** Our port. */
  readonly localPort: number;
  /** The peer's address: dotted quad, or RFC 5952 text for IPv6. */
  readonly remoteAddress: string;
  /** The peer's port. */
  readonly remotePort: number;
  /** Received octets not yet read. */
  readonly readable: number;
  /** Octets accepted for sending and not yet acknowledged. */
  readonly sendQueued: number;
  /** Smoothed RTT, ms (undefined before the first sample). */
  readonly rttMs: number | undefined;
  /** Retransmission timeout, ms. */
  readonly rtoMs: number;
  /** Congestion window, octets. */
  readonly cwnd: number;
  /** Retransmitted segments so far. */
  readonly retransmits: number;
  /** Retransmission timer expiries so far. */
  readonly rtoCount: number;
  /** Octets sent and not acknowledged. */
  readonly bytesInFlight: number;
  /** Slow-start threshold, octets (read when present). */
  readonly ssthresh?: number | undefined;
  /** RTT variation, ms (read when present). */
  readonly rttvarMs?: number | undefined;
}

/** What the tracer needs of a stack: `Stack` fits it. */
export interface TraceStack {
  /** Every connection now, one row each. */
  connections(): readonly TraceConnectionRow[];
}

/** Options of {@link traceLink}. */
export interface TraceOptions {
  /** The stack to poll (or call `attach()` later: the stack is usually built on the link). */
  readonly stack?: TraceStack;
  /** Poll interval in ms (default 10). Polls also happen on packet activity once it has passed. */
  readonly intervalMs?: number;
  /** Clock in ms for record times: give the stack's own (default `performance.now`). */
  readonly clock?: () => number;
  /**
   * Most 4-tuples remembered at once (default 65536, a connection table's worth); past it the one
   * first seen longest ago is forgotten (a later segment of it starts a new `conn` without
   * base), so a SYN flood cannot grow the tracer without bound.
   */
  readonly maxConnections?: number;
  /** Called once by `close()` after the last record, when the inner link has closed (close the sink's file here). */
  readonly onClose?: () => void;
}

/** What a {@link TracingLink} has traced so far. */
export interface TraceCounters {
  /** TCP segments sent by the stack. */
  segmentsOut: number;
  /** TCP segments received by the stack. */
  segmentsIn: number;
  /** Of `segmentsOut`, the retransmissions (see {@link TraceSegmentRecord.retx}). */
  retransmitsOut: number;
  /** Of `segmentsIn`, the peer's retransmissions. */
  retransmitsIn: number;
  /** Packets passed through untraced: not IPv4/TCP, a later fragment, or too short. */
  skipped: number;
}

/** A link that traces every TCP segment it carries. */
export interface TracingLink extends Link {
  /** Starts polling `stack` (replacing any stack given before). */
  attach(stack: TraceStack): void;
  /** Polls the stack now (records what changed). */
  poll(): void;
  /** Segments traced so far, and of them retransmissions, per direction. */
  readonly counters: TraceCounters;
}

const FLAG_FIN = 0x01;
const FLAG_SYN = 0x02;
const FLAG_RST = 0x04;
const FLAG_PSH = 0x08;
const FLAG_ACK = 0x10;
const FLAG_ECE = 0x40;
const FLAG_CWR = 0x80;

/** One direction of a connection: its ISN base, the last raw and unwrapped numbers, the scale. */
interface Side {
  base: number | undefined;
  lastRaw: number;
  lastRel: number;
  /** Highest relative sequence number sent (end of the furthest segment). */
  max: number;
  /** Window scale this side announced in its SYN (RFC 7323 §2.2), or undefined. */
  shift: number | undefined;
  synSeen: boolean;
  lastWin: number | undefined;
}

interface Conn {
  readonly id: number;
  /** Sender sides: `out` = us, `in` = the peer. */
  readonly out: Side;
  readonly in: Side;
  lastInfo: string;
}

const newSide = (): Side => ({ base: undefined, lastRaw: 0, lastRel: 0, max: 0, shift: undefined, synSeen: false, lastWin: undefined });

/** Unwraps a raw uint32 sequence number of `side` to a relative number (RFC 9293 §3.4 arithmetic). */
function relative(side: Side, raw: number): number {
  if (side.base === undefined) {
    side.base = raw;
    side.lastRaw = raw;
    side.lastRel = 0;
    return 0;
  }
  // The signed 32-bit distance from the last number seen: right across a wrap, either way.
  const rel = side.lastRel + ((raw - side.lastRaw) | 0);
  if (rel > side.lastRel) {
    side.lastRaw = raw;
    side.lastRel = rel;
  }
  return rel;
}

const dotted = (v: DataView, at: number): string => `${v.getUint8(at)}.${v.getUint8(at + 1)}.${v.getUint8(at + 2)}.${v.getUint8(at + 3)}`;

function flagString(f: number): string {
  let s = '';
  if (f & FLAG_SYN) s += 'S';
  if (f & FLAG_FIN) s += 'F';
  if (f & FLAG_RST) s += 'R';
  if (f & FLAG_PSH) s += 'P';
  if (f & FLAG_ECE) s += 'E';
  if (f & FLAG_CWR) s += 'W';
  if (f & FLAG_ACK) s += '.';
  return s === '' ? 'none' : s;
}

/**
 * Wraps `link` so every TCP segment sent and received becomes a {@link TraceSegmentRecord}
 * (and each new 4-tuple a {@link TraceConnRecord}), and, with a stack (option or `attach()`),
 * engine state becomes {@link TraceInfoRecord}s every `intervalMs`. Packets pass through
 * unchanged; what cannot be read as IPv4/TCP is passed on and counted as skipped. GSO
 * super-packets (`sendTso`) pass through and are traced as one segment, as handed over.
 * `close()` polls once more, writes an `end` record, closes the inner link, then calls `onClose`.
 */
export function traceLink(link: Link, sink: TraceSink, options: TraceOptions = {}): TracingLink {
  const intervalMs = options.intervalMs ?? 10;
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) {
    throw Object.assign(new RangeError(`intervalMs must be a positive number, got ${intervalMs}`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  const clock = options.clock ?? (() => performance.now());
  const maxConnections = options.maxConnections ?? 65536;
  if (!(Number.isInteger(maxConnections) && maxConnections > 0)) {
    throw Object.assign(new RangeError(`maxConnections must be a positive integer, got ${maxConnections}`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  const conns = new Map<string, Conn>();
  const byRow = new Map<string, Conn>();
  let connCount = 0;
  const counters: TraceCounters = { segmentsOut: 0, segmentsIn: 0, retransmitsOut: 0, retransmitsIn: 0, skipped: 0 };
  let stack = options.stack;
  let timer: ReturnType<typeof setInterval> | undefined;
  let lastPoll = -Infinity;
  let closed = false;
  sink({ type: 'trace', version: 1, t: clock(), intervalMs });

  const observe = (packet: Uint8Array, dir: TraceDirection): void => {
    if (closed) return;
    const t = clock();
    if (!record(packet, dir, t)) counters.skipped++;
    // Packet activity drives polling too, so a virtual clock (tests) gets samples as well.
    if (stack !== undefined && t - lastPoll >= intervalMs) poll();
  };

  const record = (packet: Uint8Array, dir: TraceDirection, t: number): boolean => {
    const version = packet.length > 0 ? packet[0]! >> 4 : 0;
    let srcText: string;
    let dstText: string;
    const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
    // IPv4 or IPv6 with TCP (a GSO super-packet over 64 KiB too, packet-shape.ts); other
    // extension headers and later fragments are skipped.
    const bounds = tcpBounds(packet);
    if (bounds === undefined) return false;
    const tcp = bounds.offset;
    const total = bounds.total;
    if (version === 6) {
      srcText = `[${ipv6ToString(packet.subarray(8, 24))}]`;
      dstText = `[${ipv6ToString(packet.subarray(24, 40))}]`;
    } else {
      srcText = dotted(v, 12);
      dstText = dotted(v, 16);
    }
    const dataOffset = (v.getUint8(tcp + 12) >> 4) * 4;
    if (dataOffset < 20 || tcp + dataOffset > total) return false;
    const srcPort = v.getUint16(tcp);
    const dstPort = v.getUint16(tcp + 2);
    const local = dir === 'out' ? `${srcText}:${srcPort}` : `${dstText}:${dstPort}`;
    const remote = dir === 'out' ? `${dstText}:${dstPort}` : `${srcText}:${srcPort}`;
    const key = `${local}-${remote}`;
    const flags = v.getUint8(tcp + 13);
    const rawSeq = v.getUint32(tcp + 4);
    let conn = conns.get(key);
    // A SYN without ACK with a new ISN on a 4-tuple seen before is a new incarnation (reuse
    // after TIME-WAIT); the same ISN again is a retransmitted SYN.
    const opener = dir === 'out' ? conn?.out : conn?.in;
    if (conn === undefined || ((flags & (FLAG_SYN | FLAG_ACK)) === FLAG_SYN && opener?.synSeen === true && opener.base !== rawSeq)) {
      if (conn === undefined && conns.size >= maxConnections) {
        const [oldKey, old] = conns.entries().next().value as [string, Conn];
        conns.delete(oldKey);
        for (const [k, c] of byRow) if (c === old) byRow.delete(k);
      }
      conn = { id: ++connCount, out: newSide(), in: newSide(), lastInfo: '' };
      conns.set(key, conn);
      // Rows of stack.connections() name our port and the peer (our address is the stack's).
      byRow.set(`${local.slice(local.lastIndexOf(':') + 1)}-${remote}`, conn);
      sink({ type: 'conn', t, conn: conn.id, local, remote });
    }
    const sender = dir === 'out' ? conn.out : conn.in;
    const receiver = dir === 'out' ? conn.in : conn.out;
    // Options: window scale and SACK (RFC 7323 §2, RFC 2018 §3); a malformed list stops parsing.
    let sack: [number, number][] | undefined;
    let shift: number | undefined;
    for (let at = tcp + 20; at < tcp + dataOffset; ) {
      const kind = v.getUint8(at);
      if (kind === 0) break;
      if (kind === 1) {
        at++;
        continue;
      }
      if (at + 1 >= tcp + dataOffset) break;
      const len = v.getUint8(at + 1);
      if (len < 2 || at + len > tcp + dataOffset) break;
      if (kind === 3 && len === 3) shift = Math.min(v.getUint8(at + 2), 14);
      if (kind === 5 && (len - 2) % 8 === 0 && (flags & FLAG_ACK) !== 0 && receiver.base !== undefined) {
        sack ??= [];
        for (let b = at + 2; b + 8 <= at + len; b += 8) sack.push([relative(receiver, v.getUint32(b)), relative(receiver, v.getUint32(b + 4))]);
      }
      at += len;
    }
    if (flags & FLAG_SYN) {
      // The SYN fixes the base (ISN = relative 0), even when the side was seen before it.
      if (sender.base === undefined || !sender.synSeen) {
        sender.base = rawSeq;
        sender.lastRaw = rawSeq;
        sender.lastRel = 0;
      }
      sender.synSeen = true;
      sender.shift = shift;
    }
    const seq = relative(sender, rawSeq);
    const len = total - tcp - dataOffset;
    const span = len + (flags & FLAG_SYN ? 1 : 0) + (flags & FLAG_FIN ? 1 : 0);
    const retx = span > 0 && seq < sender.max;
    if (seq + span > sender.max) sender.max = seq + span;
    const hasAck = (flags & FLAG_ACK) !== 0;
    if (hasAck && receiver.base === undefined) relative(receiver, v.getUint32(tcp + 8) - 1);
    const ack = hasAck ? relative(receiver, v.getUint32(tcp + 8)) : undefined;
    // RFC 7323 §2.2: the window of a SYN is never scaled; later ones are, when both sides offered a scale.
    const scaled = (flags & FLAG_SYN) === 0 && sender.shift !== undefined && receiver.shift !== undefined;
    const win = v.getUint16(tcp + 14) * (scaled ? 2 ** sender.shift! : 1);
    sender.lastWin = win;
    if (dir === 'out') {
      counters.segmentsOut++;
      if (retx) counters.retransmitsOut++;
    } else {
      counters.segmentsIn++;
      if (retx) counters.retransmitsIn++;
    }
    const rec: TraceSegmentRecord = {
      type: 'seg',
      t,
      conn: conn.id,
      dir,
      seq,
      len,
      flags: flagString(flags),
      ...(ack === undefined ? {} : { ack }),
      win,
      ...(sack === undefined ? {} : { sack }),
      ...(retx ? { retx: true as const } : {}),
    };
    sink(rec);
    return true;
  };

  const poll = (): void => {
    if (stack === undefined || closed) return;
    const t = clock();
    lastPoll = t;
    let rows: readonly TraceConnectionRow[];
    try {
      rows = stack.connections();
    } catch {
      return; // a closed stack: nothing more to sample
    }
    for (const row of rows) {
      const remoteText = row.remoteAddress.includes(':') ? `[${row.remoteAddress}]` : row.remoteAddress;
      const conn = byRow.get(`${row.localPort}-${remoteText}:${row.remotePort}`);
      if (conn === undefined) continue;
      const ss = row.ssthresh;
      const info = {
        state: row.state,
        cwnd: row.cwnd,
        ...(ss === undefined ? {} : { ssthresh: Number.isFinite(ss) && ss < 2 ** 31 ? ss : null }),
        ...(row.rttMs === undefined ? {} : { srttMs: round3(row.rttMs) }),
        ...(row.rttvarMs === undefined ? {} : { rttvarMs: round3(row.rttvarMs) }),
        rtoMs: round3(row.rtoMs),
        inFlight: row.bytesInFlight,
        sendQueued: row.sendQueued,
        readable: row.readable,
        ...(conn.out.lastWin === undefined ? {} : { rwnd: conn.out.lastWin }),
        ...(conn.in.lastWin === undefined ? {} : { peerWnd: conn.in.lastWin }),
        retransmits: row.retransmits,
        rtoCount: row.rtoCount,
      };
      const text = JSON.stringify(info);
      if (text === conn.lastInfo) continue;
      conn.lastInfo = text;
      sink({ type: 'info', t, conn: conn.id, ...info });
    }
  };

  const startTimer = (): void => {
    if (timer !== undefined || closed) return;
    timer = setInterval(poll, intervalMs);
    // Tracing must never keep a process alive.
    timer.unref();
  };
  if (stack !== undefined) startTimer();

  const sendTso = link.tso !== undefined && typeof link.sendTso === 'function' ? link.sendTso.bind(link) : undefined;
  return {
    ...(sendTso === undefined
      ? {}
      : {
          tso: link.tso,
          sendTso(packet: Uint8Array, segmentSize: number): void {
            observe(packet, 'out');
            sendTso(packet, segmentSize);
          },
        }),
    counters,
    get mtu() {
      return link.mtu;
    },
    attach(s: TraceStack): void {
      stack = s;
      startTimer();
    },
    poll,
    start(receiver: LinkReceiver): void {
      // Packets pass unchanged, so the link's "checksum trusted" flags pass on with them.
      link.start((packets, checksumTrusted) => {
        for (const p of packets) observe(p, 'in');
        receiver(packets, checksumTrusted);
      });
    },
    send(packet: Uint8Array): void {
      observe(packet, 'out');
      link.send(packet);
    },
    ...(typeof link.flush === 'function' ? { flush: link.flush.bind(link) } : {}),
    async close(): Promise<void> {
      if (!closed) {
        poll();
        closed = true;
        if (timer !== undefined) clearInterval(timer);
        sink({ type: 'end', t: clock(), skipped: counters.skipped });
        try {
          await link.close();
        } finally {
          options.onClose?.();
        }
        return;
      }
      await link.close();
    },
  };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;


/** Options of {@link TraceWriter}. */
export interface TraceWriterOptions {
  /** Flush at least this often, ms (default 1000); 0 turns the timer off (flush on close only). */
  readonly flushIntervalMs?: number;
}

/**
 * Writes records as JSON lines to a file: a path (created or truncated) or a file descriptor
 * already open for writing (the CLI opens files safely itself). Buffered; flushed every
 * `flushIntervalMs`, when 1 MiB is pending, and by `flush()`/`close()` (synchronous, so they
 * are safe in an 'exit' handler). `write` is a {@link TraceSink}.
 */
export class TraceWriter {
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private pending: string[] = [];
  private pendingLength = 0;
  private closed = false;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  /** Records written so far. */
  records = 0;

  constructor(file: string | number, options: TraceWriterOptions = {}) {
    const every = options.flushIntervalMs ?? 1000;
    if (!(Number.isFinite(every) && every >= 0)) {
      throw Object.assign(new RangeError(`flushIntervalMs must be a non-negative number, got ${every}`), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    this.ownsFd = typeof file === 'string';
    this.fd = typeof file === 'string' ? openSync(file, 'w', 0o600) : file;
    if (every > 0) {
      this.timer = setInterval(() => this.flush(), every);
      this.timer.unref();
    }
  }

  /** Appends one record (a {@link TraceSink}). Ignored after `close()`. */
  readonly write: TraceSink = (record) => {
    if (this.closed) return;
    const line = `${JSON.stringify(record)}\n`;
    this.pending.push(line);
    this.pendingLength += line.length;
    this.records++;
    if (this.pendingLength >= 1 << 20) this.flush();
  };

  /** Writes everything pending to the file. */
  flush(): void {
    if (this.closed || this.pending.length === 0) return;
    const bytes = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingLength = 0;
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
  }

  /** Flushes and closes the file (a descriptor passed in is closed too). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    closeSync(this.fd);
  }
}

/** Parses a JSON-lines trace (as {@link TraceWriter} writes it); blank and malformed lines are skipped. */
export function parseTrace(text: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as { type?: unknown };
      if (typeof r === 'object' && r !== null && typeof r.type === 'string') out.push(r as TraceRecord);
    } catch {
      // A torn last line (the process was killed mid-write) is not an error.
    }
  }
  return out;
}
