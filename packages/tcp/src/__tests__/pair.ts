/**
 * A test harness joining two TCP engines by a simulated link (delay, jitter/reordering, loss,
 * duplication, a bandwidth limit with a drop-tail queue), driven by a virtual clock that jumps
 * to the earliest deadline: the next delivery or either engine's `pollTimeout()`. Everything
 * random comes from one seeded PRNG, so a failing run replays exactly from its seed.
 *
 * Side `a` opens actively (`TcpConnection.connect`); side `b` is a `TcpListener` whose accepted
 * connection becomes `pair.b`. A segment that reaches a CLOSED connection is answered with
 * `resetFor`, as a real stack would.
 *
 * `family: 6` runs the same over IPv6 addresses (fd00::1 and fd00::2): the engines run their
 * IPv6 rules (MSS − 20, the 1220 default MSS) and the codec paths use the IPv6 pseudo-header. An
 * IPv4 run draws the same random numbers as before IPv6 existed, so its behaviour is unchanged.
 */
import { TcpConnection } from '../connection.js';
import { TcpListener, type ListenerOptions } from '../listener.js';
import { resetFor } from '../reset.js';
import { resolveTcpConfig } from '../config.js';
import { emitTcp, parseTcp, tcpHeaderLength } from '../segment.js';
import { ipv6FromString } from '@tcp-tun/ip';
import { configForFamily } from '../config.js';
import type { IpAddress, IpFamily } from '../address.js';
import type { Endpoint, TcpConfig, TcpEvent, TcpRepr } from '../types.js';

/** mulberry32: a small, fast, well-mixed 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Properties of one direction of the simulated link. */
export interface LinkOptions {
  /** One-way propagation delay. */
  readonly delayMs: number;
  /** Extra uniformly random delay in [0, jitterMs) for a `reorder` fraction of packets. */
  readonly jitterMs: number;
  /** Fraction of packets that get the jitter (and may overtake others). */
  readonly reorder: number;
  /** Fraction of packets dropped. */
  readonly loss: number;
  /** Fraction of packets delivered twice. */
  readonly duplicate: number;
  /** Serialisation rate in octets per ms (0 = unlimited). */
  readonly bytesPerMs: number;
  /** Drop-tail bound on the serialisation backlog, in ms of queueing (0 = unbounded). */
  readonly maxQueueMs: number;
  /** ECN-capable packets meeting more than this many ms of queue are marked CE (0 = no marking). */
  readonly ceMarkQueueMs: number;
  /**
   * Fraction of packets with one bit flipped on the wire. Such a packet is encoded with `emitTcp`,
   * corrupted and parsed with `parseTcp`, whose checksum must reject it (it is then dropped).
   */
  readonly corrupt: number;
  /** From this virtual time on, every packet is lost (the path dies); 0 = never. */
  readonly blackoutAtMs: number;
}

export const CLEAN_LINK: LinkOptions = {
  delayMs: 10,
  jitterMs: 0,
  reorder: 0,
  loss: 0,
  duplicate: 0,
  bytesPerMs: 0,
  maxQueueMs: 0,
  ceMarkQueueMs: 0,
  corrupt: 0,
  blackoutAtMs: 0,
};

export type Side = 'a' | 'b';

interface InFlight {
  readonly at: number;
  readonly order: number;
  readonly to: Side;
  readonly repr: TcpRepr;
  readonly payload: Uint8Array;
  /** IP ECN field (0 Not-ECT, 2 ECT(0), 3 CE). */
  readonly ecn: number;
}

export interface PairOptions {
  readonly seed: number;
  readonly link?: Partial<LinkOptions>;
  readonly configA?: Partial<TcpConfig>;
  readonly configB?: Partial<TcpConfig>;
  /** Hard virtual deadline; a run still going then fails instead of hanging. */
  readonly deadlineMs?: number;
  /** Encode and parse every segment with the wire codec (slower; checks every Repr is emittable). */
  readonly throughCodec?: boolean;
  readonly backlog?: number;
  /** Extra listener options (e.g. `maxSynReceived: 0` to force SYN cookies). */
  readonly listener?: Partial<ListenerOptions<IpAddress>>;
  /** Initial sequence numbers of a and of b's connection (default: drawn from the seed), e.g. near the 2^32 wrap. */
  readonly issA?: number;
  readonly issB?: number;
  /** Timestamp offsets of a and b (default: drawn from the seed), e.g. so TSvals wrap during the run. */
  readonly tsOffsetA?: number;
  readonly tsOffsetB?: number;
  /** IP version of the two endpoints (default 4: {@link ADDR_A}/{@link ADDR_B}; 6: {@link ADDR6_A}/{@link ADDR6_B}). */
  readonly family?: IpFamily;
}

/** Hooks the test supplies to play the applications on both sides. */
export interface PairApp {
  /** Called for every event, in order. */
  onEvent?(side: Side, conn: PairConnection, ev: TcpEvent): void;
  /** Called after each drain of a side, to write more or close. */
  pump?(side: Side, conn: PairConnection): void;
  /** A virtual time the application wants to run again (e.g. a slow reader's next read). */
  wakeAt?(): number | undefined;
}

export const ADDR_A: Endpoint = { addr: 0x0a000001, port: 40000 };
export const ADDR_B: Endpoint = { addr: 0x0a000002, port: 80 };
/** The IPv6 endpoints of a `family: 6` pair (unique local addresses, RFC 4193). */
export const ADDR6_A: Endpoint<IpAddress> = { addr: ipv6FromString('fd00::1'), port: 40000 };
export const ADDR6_B: Endpoint<IpAddress> = { addr: ipv6FromString('fd00::2'), port: 80 };

/** A connection of a pair: either IP version. */
export type PairConnection = TcpConnection<IpAddress>;

export class Pair {
  readonly rng: () => number;
  readonly link: LinkOptions;
  readonly a: PairConnection;
  b: PairConnection | undefined;
  readonly listener: TcpListener<IpAddress>;
  /** The endpoints of a and b (IPv4 or IPv6 by `family`). */
  readonly addrA: Endpoint<IpAddress>;
  readonly addrB: Endpoint<IpAddress>;
  now = 0;
  readonly events: Record<Side, TcpEvent[]> = { a: [], b: [] };
  /** Packets put on the wire / dropped by loss or queue, per sender. */
  readonly sent: Record<Side, number> = { a: 0, b: 0 };
  readonly dropped: Record<Side, number> = { a: 0, b: 0 };
  /** Data-bearing segments dropped, per sender. */
  readonly droppedData: Record<Side, number> = { a: 0, b: 0 };
  /** Packets marked CE, per sender. */
  readonly ceMarked: Record<Side, number> = { a: 0, b: 0 };
  /** Corrupted packets the checksum caught, per sender. */
  readonly corrupted: Record<Side, number> = { a: 0, b: 0 };
  private readonly deadlineMs: number;
  private readonly throughCodec: boolean;
  private flight: InFlight[] = [];
  private order = 0;
  private readonly busyUntil: Record<Side, number> = { a: 0, b: 0 };
  private readonly wire = new Uint8Array(65536 + 60);
  /** The MSS each side announced: what it may be sent, data and options together (RFC 6691). */
  private readonly mss: Record<Side, number>;
  app: PairApp = {};

  constructor(opts: PairOptions) {
    this.rng = mulberry32(opts.seed);
    this.link = { ...CLEAN_LINK, ...opts.link };
    this.deadlineMs = opts.deadlineMs ?? 3_600_000;
    this.throughCodec = opts.throughCodec ?? false;
    const family = opts.family ?? 4;
    this.addrA = family === 4 ? ADDR_A : ADDR6_A;
    this.addrB = family === 4 ? ADDR_B : ADDR6_B;
    // The MSS each side announces is its family's (RFC 8200 §8.3: 20 octets less over IPv6).
    this.mss = { a: configForFamily(resolveTcpConfig(opts.configA), family).mss, b: configForFamily(resolveTcpConfig(opts.configB), family).mss };
    const rand32 = (): number => Math.floor(this.rng() * 4294967296) >>> 0;
    const issA = rand32();
    const tsOffsetA = rand32();
    this.a = TcpConnection.connect<IpAddress>(0, { local: this.addrA, remote: this.addrB, iss: opts.issA ?? issA, config: opts.configA, tsOffset: opts.tsOffsetA ?? tsOffsetA });
    // One timestamp offset for the 4-tuple, as a stack derives it (a cookie SYN-ACK and the
    // connection from its ACK must agree), drawn when first needed.
    let offsetB = opts.tsOffsetB;
    const issB = opts.issB;
    this.listener = new TcpListener<IpAddress>({
      local: this.addrB,
      backlog: opts.backlog ?? 4,
      config: opts.configB,
      isn: issB === undefined ? rand32 : () => issB,
      tsOffset: () => (offsetB ??= rand32()),
      ...opts.listener,
    });
  }

  conn(side: Side): PairConnection | undefined {
    return side === 'a' ? this.a : this.b;
  }

  /** Runs until `done()` holds after a drain; throws (with the virtual time) past the deadline. */
  run(done: () => boolean): void {
    let sameTime = 0;
    let last = -1;
    for (;;) {
      this.drain('a');
      if (this.b !== undefined) this.drain('b');
      if (done()) return;
      const next = this.nextDeadline();
      if (next === undefined) throw new Error(`stuck at t=${this.now}: no packet in flight and no timer armed`);
      if (next > this.deadlineMs) throw new Error(`virtual deadline ${this.deadlineMs} ms passed (next event at ${next})`);
      this.now = Math.max(this.now, next);
      if (this.now === last) {
        if (++sameTime > 100_000) throw new Error(`livelock at t=${this.now}`);
      } else {
        sameTime = 0;
        last = this.now;
      }
      this.deliverDue();
      for (const side of ['a', 'b'] as const) {
        const c = this.conn(side);
        const t = c?.pollTimeout();
        if (c !== undefined && t !== undefined && t <= this.now) c.handleTimeout(this.now);
      }
    }
  }

  private nextDeadline(): number | undefined {
    let t: number | undefined;
    for (const p of this.flight) if (t === undefined || p.at < t) t = p.at;
    for (const c of [this.a, this.b]) {
      const d = c?.pollTimeout();
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    const w = this.app.wakeAt?.();
    if (w !== undefined && w > this.now && (t === undefined || w < t)) t = w;
    return t;
  }

  private deliverDue(): void {
    const due = this.flight.filter((p) => p.at <= this.now).sort((x, y) => x.at - y.at || x.order - y.order);
    if (due.length === 0) return;
    this.flight = this.flight.filter((p) => p.at > this.now);
    for (const p of due) this.deliver(p);
  }

  private deliver(p: InFlight): void {
    let repr = p.repr;
    let payload = p.payload;
    if (this.link.corrupt > 0 && this.rng() < this.link.corrupt) {
      const [src, dst] = p.to === 'b' ? [this.addrA.addr, this.addrB.addr] : [this.addrB.addr, this.addrA.addr];
      const n = emitTcp(repr, payload, src, dst, this.wire);
      const bit = Math.floor(this.rng() * n * 8);
      this.wire[bit >>> 3] = this.wire[bit >>> 3]! ^ (1 << (bit & 7));
      const parsed = parseTcp(this.wire.slice(0, n), src, dst);
      // One flipped bit always changes the one's-complement sum (RFC 1071): it must not pass.
      if (parsed.ok) throw new Error(`a corrupted segment (bit ${bit} of ${n * 8}) passed parseTcp`);
      this.corrupted[p.to === 'b' ? 'a' : 'b']++;
      return;
    }
    if (this.throughCodec) {
      const [src, dst] = p.to === 'b' ? [this.addrA.addr, this.addrB.addr] : [this.addrB.addr, this.addrA.addr];
      const n = emitTcp(repr, payload, src, dst, this.wire);
      const parsed = parseTcp(this.wire.slice(0, n), src, dst);
      if (!parsed.ok) throw new Error(`codec rejected our own segment: ${parsed.reason}`);
      repr = parsed.repr;
      payload = parsed.payload;
    }
    if (p.to === 'b' && this.b === undefined) {
      const r = this.listener.handleSegment(this.now, this.addrB, this.addrA, repr, payload);
      if (r.kind === 'connection') this.b = r.connection;
      else if (r.kind === 'reply') this.transmit('b', r.transmit.repr, r.transmit.payload);
      return;
    }
    const c = this.conn(p.to)!;
    if (c.state === 'CLOSED') {
      const rst = resetFor(repr, payload.length);
      if (rst !== undefined) this.transmit(p.to, rst, new Uint8Array(0));
      return;
    }
    c.handleSegment(this.now, repr, payload, p.ecn);
  }

  private drain(side: Side): void {
    const c = this.conn(side)!;
    for (let round = 0; round < 1000; round++) {
      let any = false;
      for (let tx = c.pollTransmit(this.now); tx !== undefined; tx = c.pollTransmit(this.now)) {
        this.transmit(side, tx.repr, tx.payload, tx.ecn === 'ect0' ? 2 : 0);
        any = true;
      }
      for (let ev = c.pollEvent(); ev !== undefined; ev = c.pollEvent()) {
        this.events[side].push(ev);
        if (side === 'b' && ev.type === 'connected') {
          this.listener.established(c);
          this.listener.accept();
        }
        if (side === 'b' && ev.type === 'closed') this.listener.release(c);
        this.app.onEvent?.(side, c, ev);
        any = true;
      }
      this.app.pump?.(side, c);
      if (!any) return;
    }
    throw new Error(`drain of ${side} did not settle`);
  }

  /** Puts a segment from `from` on the link toward the other side (copying the payload). */
  transmit(from: Side, repr: TcpRepr, payload: Uint8Array, ecn = 0): void {
    const L = this.link;
    const to: Side = from === 'a' ? 'b' : 'a';
    // A real link drops what exceeds its MTU: here it is a bug, so it fails loudly.
    const optionsAndData = tcpHeaderLength(repr) - 20 + payload.length;
    if (payload.length > 0 && optionsAndData > this.mss[to]) {
      throw new Error(`${from} sent ${payload.length} octets + ${tcpHeaderLength(repr) - 20} of options, beyond the peer's MSS ${this.mss[to]}`);
    }
    this.sent[from]++;
    let depart = this.now;
    if (L.bytesPerMs > 0) {
      const start = Math.max(this.now, this.busyUntil[from]);
      if (L.maxQueueMs > 0 && start - this.now > L.maxQueueMs) {
        this.dropped[from]++;
        if (payload.length > 0) this.droppedData[from]++;
        return;
      }
      if (L.ceMarkQueueMs > 0 && ecn !== 0 && start - this.now > L.ceMarkQueueMs) {
        ecn = 3;
        this.ceMarked[from]++;
      }
      depart = start + (payload.length + 40) / L.bytesPerMs;
      this.busyUntil[from] = depart;
    }
    if ((L.blackoutAtMs > 0 && this.now >= L.blackoutAtMs) || this.rng() < L.loss) {
      this.dropped[from]++;
      if (payload.length > 0) this.droppedData[from]++;
      return;
    }
    const copy = payload.slice();
    const arrival = (): number => depart + L.delayMs + (this.rng() < L.reorder ? this.rng() * L.jitterMs : 0);
    this.flight.push({ at: arrival(), order: this.order++, to, repr, payload: copy, ecn });
    if (this.rng() < L.duplicate) this.flight.push({ at: arrival(), order: this.order++, to, repr, payload: copy, ecn });
  }
}

/** Octet `i` of the test stream of `salt`: position-dependent so reordering or loss shows. */
export function streamByte(i: number, salt: number): number {
  return (i * 131 + (i >>> 8) * 7 + (i >>> 16) * 3 + salt) & 0xff;
}

/** Fills `out` with stream octets starting at `offset`. */
export function fillStream(out: Uint8Array, offset: number, salt: number): Uint8Array {
  for (let i = 0; i < out.length; i++) out[i] = streamByte(offset + i, salt);
  return out;
}
