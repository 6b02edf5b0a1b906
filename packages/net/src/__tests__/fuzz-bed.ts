/**
 * The fuzzing bed of fuzz.test.ts: a live `Stack` (10.0.0.1) over a `RawLink`, with echo,
 * discard and source services listening, clients of its own connected to a peer, and a peer
 * model (10.0.0.2) that keeps real connections established and carrying data both ways, so
 * that the mutated packets hit connections in their interesting states rather than only the
 * parsers.
 *
 * Every packet is built into one reusable buffer (templates from `emitIpv4`/`emitTcp`, then
 * mutated in place and checksums fixed up), from a seeded PRNG; time is a virtual clock the
 * bed advances, firing the stack's timers synchronously, so a run replays exactly from its
 * seed. After every packet the bed checks the stack's invariants (see {@link FuzzBed.check}).
 */
import {
  IpProtocol,
  emitIcmpv4,
  emitIpv4,
  internetChecksum,
  ipv4FromString,
  onesComplementSum,
  parseIpv4,
  pseudoHeaderSum,
  type Ipv4Repr,
} from '@tcp-tun/ip';
import { emitTcp, parseTcp, type SackBlock, type TcpControl, type TcpRepr, type TcpState } from '@tcp-tun/tcp';
import type { Socket } from '../socket.js';
import { Stack, type StackOptions } from '../stack.js';
import { RawLink } from './harness.js';

export const FUZZ_US = ipv4FromString('10.0.0.1');
export const FUZZ_PEER = ipv4FromString('10.0.0.2');
/** Sources that are not the modelled peer: another host, 0.0.0.0, loopback, class E. */
const OTHER_SOURCES = [ipv4FromString('10.0.0.3'), 0, ipv4FromString('127.0.0.1'), ipv4FromString('240.0.0.1'), ipv4FromString('192.168.7.7')];
const ECHO_PORT = 7;
const DISCARD_PORT = 9;
const SOURCE_PORT = 19;
const CLOSED_PORT = 81;
const SERVICE_PORTS = [ECHO_PORT, DISCARD_PORT, SOURCE_PORT, ECHO_PORT, CLOSED_PORT];
/** The port on the peer that the stack's own clients connect to. */
const PEER_SERVICE_PORT = 5000;
const PEER_MSS = 1460;

const STATES: ReadonlySet<TcpState> = new Set<TcpState>([
  'CLOSED', 'LISTEN', 'SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2',
  'CLOSE-WAIT', 'CLOSING', 'LAST-ACK', 'TIME-WAIT',
]);
const CONTROLS: readonly TcpControl[] = ['none', 'psh', 'syn', 'fin', 'rst'];

/** mulberry32 as a uint32 source: fast, seedable, good enough to drive mutations. */
export class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  u32(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0..n-1. */
  int(n: number): number {
    return this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.u32() % items.length] as T;
  }
}

/** The peer's side of one connection, as the model keeps it. */
interface PeerConn {
  readonly key: number;
  readonly peerPort: number;
  readonly stackPort: number;
  /** 'syn-sent': our SYN is out; 'syn-received': the stack's SYN arrived (it connected to us). */
  state: 'syn-sent' | 'syn-received' | 'established';
  readonly iss: number;
  /** Our next sequence number. */
  sndNxt: number;
  /** The next sequence number we expect from the stack. */
  rcvNxt: number;
  /** The stack's last advertised window (raw field). */
  window: number;
  readonly timestamps: boolean;
  readonly sack: boolean;
  /**
   * The window we advertise: small (2–8 KiB), so that the stack sends a few segments per ACK
   * rather than megabytes (which would only cost time), and sometimes 0 (persist probes).
   */
  rcvWindow: number;
  tsEcr: number;
  /** We owe the stack an ACK (it sent data or a SYN-ACK). */
  owed: boolean;
  /** The first 28 octets of the last packet the stack sent on this connection (for ICMP quotes). */
  readonly quote: Uint8Array;
  quoteLength: number;
}

/** Relative weights of the kinds of packet the bed makes. */
export interface FuzzMix {
  /** Random bytes, sometimes dressed as IPv4 (version nibble, or a valid header and checksums). */
  readonly random: number;
  /** A segment of a live connection with one to three fields mutated (checksum fixed). */
  readonly mutated: number;
  /** A valid segment of a live connection with random bytes flipped (checksums fixed). */
  readonly flipped: number;
  /** Fragments: of valid segments (overlapping, duplicated, missing, oversized) and floods. */
  readonly fragments: number;
  /** ICMP: echo requests, errors quoting our connections, unknown types. */
  readonly icmp: number;
}

/** Counters of one run. */
export interface FuzzCounts {
  /** Fuzzed packets injected (the random and mutated ones). */
  fuzzed: number;
  /** Valid packets of the peer model (handshakes, ACKs, data) that keep connections alive. */
  conversation: number;
  /** Packets the stack sent. */
  sent: number;
  /** Connections the peer model opened / the stack opened to the peer. */
  peerOpens: number;
  stackOpens: number;
  /** Octets the peer model received in order from the stack. */
  bytesFromStack: number;
}

/** Limits the bed gives its stack: small, so that caps are reached often. */
export const FUZZ_LIMITS = {
  maxConnections: 40,
  backlog: 6,
  recvBufferSize: 32 * 1024,
  sendBufferSize: 64 * 1024,
  maxOutOfOrderBytes: 16 * 1024,
  reassembly: { maxDatagrams: 16, maxBytesPerDatagram: 16 * 1024, maxTotalBytes: 48 * 1024, maxFragmentsPerDatagram: 16, timeoutMs: 500 },
} as const;

type MutableIpv4Repr = { -readonly [K in keyof Ipv4Repr]: Ipv4Repr[K] };
type MutableTcpRepr = { -readonly [K in keyof TcpRepr]: TcpRepr[K] };

/** A live stack, a peer model and a packet factory; see the file comment. */
export class FuzzBed {
  readonly stack: Stack;
  readonly link: RawLink;
  readonly counts: FuzzCounts = { fuzzed: 0, conversation: 0, sent: 0, peerOpens: 0, stackOpens: 0, bytesFromStack: 0 };
  /** Invariant violations noticed while the stack was sending (reported by `check`). */
  readonly problems: string[] = [];
  readonly #rng: Rng;
  readonly #mix: FuzzMix;
  readonly #mixTotal: number;
  #now = 0;
  readonly #conns = new Map<number, PeerConn>();
  readonly #owed: PeerConn[] = [];
  readonly #clients = new Set<Socket>();
  readonly #stuck = new Map<Socket, number>();
  /** Output buffer of every injected packet (the largest IPv4 datagram). */
  readonly #buf = new Uint8Array(65535);
  readonly #tcpOut = this.#buf.subarray(20);
  /** Random octets to draw payloads and noise from. */
  readonly #pool: Uint8Array;
  readonly #ip: MutableIpv4Repr = {
    src: FUZZ_PEER, dst: FUZZ_US, protocol: IpProtocol.Tcp, ttl: 64, payloadLength: 0, ident: 0,
    dontFragment: true, moreFragments: false, fragmentOffset: 0, dscp: 0, ecn: 0,
  };
  #ident = 1;
  #tsClock = 1;
  readonly #maxConnections: number;

  constructor(seed: number, mix: FuzzMix, options: Partial<StackOptions> = {}) {
    this.#rng = new Rng(seed);
    this.#mix = mix;
    this.#mixTotal = mix.random + mix.mutated + mix.flipped + mix.fragments + mix.icmp;
    this.#pool = new Uint8Array(1 << 20);
    for (let i = 0; i < this.#pool.length; i += 4) {
      const v = this.#rng.u32();
      this.#pool[i] = v;
      this.#pool[i + 1] = v >>> 8;
      this.#pool[i + 2] = v >>> 16;
      this.#pool[i + 3] = v >>> 24;
    }
    this.link = new RawLink(1500, (p) => this.#onSent(p));
    const secret = this.#pool.slice(0, 24);
    this.stack = new Stack({
      link: this.link,
      address: '10.0.0.1',
      clock: () => this.#now,
      secret,
      maxConnections: FUZZ_LIMITS.maxConnections,
      reassembly: FUZZ_LIMITS.reassembly,
      tcp: {
        recvBufferSize: FUZZ_LIMITS.recvBufferSize,
        sendBufferSize: FUZZ_LIMITS.sendBufferSize,
        maxOutOfOrderBytes: FUZZ_LIMITS.maxOutOfOrderBytes,
        // Short timers, so that virtual-time jumps retire TIME-WAIT and dead peers quickly.
        timeWaitMs: 1500,
        finWait2TimeoutMs: 3000,
        maxRetransmits: 6,
        synRetries: 3,
      },
      ...options,
    });
    this.#maxConnections = this.stack.maxConnections;
    this.#listen();
  }

  /** Virtual time, ms. */
  get now(): number {
    return this.#now;
  }

  /** What the stack's own client sockets are doing (for diagnostics). */
  get clients(): string[] {
    return [...this.#clients].map((s) => `${s.readyState} ${s.tcpState} destroyed=${s.destroyed} connecting=${s.connecting}`);
  }

  /** Connections the peer model holds. */
  get peerConnections(): number {
    return this.#conns.size;
  }

  #listen(): void {
    const quiet = (s: Socket): void => {
      s.on('error', () => undefined);
    };
    const net = this.stack.net;
    net.createServer({ allowHalfOpen: true }, (s) => {
      quiet(s);
      s.pipe(s);
    }).listen(ECHO_PORT, '0.0.0.0', FUZZ_LIMITS.backlog);
    net.createServer((s) => {
      quiet(s);
      s.resume();
    }).listen(DISCARD_PORT, '0.0.0.0', FUZZ_LIMITS.backlog);
    net.createServer((s) => {
      quiet(s);
      this.#pump(s);
      s.resume();
    }).listen(SOURCE_PORT, '0.0.0.0', FUZZ_LIMITS.backlog);
  }

  /** Writes pool slices until the socket pushes back, and again on 'drain'. */
  #pump(s: Socket): void {
    const block = this.#pool.subarray(0, 16 * 1024);
    const go = (): void => {
      while (!s.destroyed && s.writable && s.write(block)) {
        // until backpressure
      }
    };
    s.on('drain', go);
    go();
  }

  /**
   * Keeps a few connections of the stack's own (active opens) to the peer going, and checks
   * that a socket whose connection left the table closes: one still open after several
   * turns of the event loop would never close (a leak; the fuzzer found one).
   */
  #openClients(): void {
    for (const s of this.#clients) {
      if (s.tcpState !== 'CLOSED' || s.connecting || s.destroyed) {
        this.#stuck.delete(s);
        continue;
      }
      const turns = (this.#stuck.get(s) ?? 0) + 1;
      this.#stuck.set(s, turns);
      if (turns > 8) this.problems.push(`a client socket's connection is gone but the socket never closed (${s.readyState})`);
    }
    while (this.#clients.size < 3) {
      const s = this.stack.net.connect(PEER_SERVICE_PORT, '10.0.0.2');
      this.counts.stackOpens++;
      this.#clients.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.#clients.delete(s);
        this.#stuck.delete(s);
      });
      s.on('connect', () => this.#pump(s));
      s.resume();
    }
  }

  // ---- the packets the stack sends -------------------------------------------------------

  #onSent(packet: Uint8Array): void {
    this.counts.sent++;
    const ip = parseIpv4(packet);
    if (!ip.ok) {
      this.problems.push(`the stack sent an invalid IPv4 packet (${ip.reason})`);
      return;
    }
    if (ip.repr.src !== FUZZ_US) this.problems.push('the stack sent from a foreign address');
    if (ip.repr.protocol !== IpProtocol.Tcp) return;
    const tcp = parseTcp(ip.payload, ip.repr.src, ip.repr.dst);
    if (!tcp.ok) {
      this.problems.push(`the stack sent an invalid TCP segment (${tcp.reason})`);
      return;
    }
    if (packet.length > this.link.mtu) {
      // RFC 6691 §2 (and RFC 9293 §3.7.1): the sender must shrink the data by the options it
      // puts in a segment, so that no packet exceeds the MSS the peer (and our MTU) allow.
      const header = ip.payload.length - tcp.payload.length;
      this.problems.push(`the stack sent ${packet.length} octets over an MTU of ${this.link.mtu} (TCP header ${header}, data ${tcp.payload.length}, ${tcp.repr.control}${tcp.repr.timestamp ? ', timestamps' : ''}${tcp.repr.sackBlocks ? `, ${tcp.repr.sackBlocks.length} SACK blocks` : ''})`);
    }
    if (ip.repr.dst !== FUZZ_PEER) return;
    const r = tcp.repr;
    const key = r.srcPort * 65536 + r.dstPort;
    let c = this.#conns.get(key);
    if (r.control === 'rst') {
      if (c !== undefined) this.#conns.delete(key);
      return;
    }
    if (c === undefined) {
      // The stack connects to the peer: answer its SYN.
      if (r.control !== 'syn' || r.ack !== undefined || r.dstPort !== PEER_SERVICE_PORT) return;
      const iss = this.#rng.u32();
      c = this.#newConn(key, r.dstPort, r.srcPort, 'syn-received', iss);
      c.rcvNxt = (r.seq + 1) >>> 0;
      this.#conns.set(key, c);
      this.#owe(c);
      return;
    }
    c.quote.set(packet.subarray(0, Math.min(28, packet.length)));
    c.quoteLength = Math.min(28, packet.length);
    c.window = r.window;
    if (r.timestamp !== undefined) c.tsEcr = r.timestamp.tsVal;
    if (r.control === 'syn') {
      if (c.state === 'syn-sent' && r.ack === c.sndNxt) {
        c.rcvNxt = (r.seq + 1) >>> 0;
        c.state = 'established';
      }
      this.#owe(c);
      return;
    }
    if (c.state === 'syn-received' && r.ack === c.sndNxt) c.state = 'established';
    if (r.ack !== undefined && ((r.ack - c.sndNxt) | 0) > 0 && ((r.ack - c.sndNxt) | 0) < 1 << 20) {
      // A fuzzed segment carried data the stack accepted: follow its acknowledgment.
      c.sndNxt = r.ack;
    }
    const len = tcp.payload.length + (r.control === 'fin' ? 1 : 0);
    if (len > 0) {
      if (r.seq === c.rcvNxt) {
        c.rcvNxt = (c.rcvNxt + len) >>> 0;
        this.counts.bytesFromStack += tcp.payload.length;
      }
      this.#owe(c);
    }
  }

  #newConn(key: number, peerPort: number, stackPort: number, state: PeerConn['state'], iss: number): PeerConn {
    return {
      key,
      peerPort,
      stackPort,
      state,
      iss,
      sndNxt: (iss + 1) >>> 0,
      rcvNxt: 0,
      window: 0,
      timestamps: this.#rng.chance(0.3),
      sack: this.#rng.chance(0.5),
      rcvWindow: 2048 + this.#rng.int(6144),
      tsEcr: 0,
      owed: false,
      quote: new Uint8Array(28),
      quoteLength: 0,
    };
  }

  #owe(c: PeerConn): void {
    if (c.owed) return;
    c.owed = true;
    this.#owed.push(c);
  }

  // ---- driving ---------------------------------------------------------------------------

  /**
   * Injects fuzzed packets until `count` were (plus the peer model's conversation), checking
   * the invariants after every packet; yields to the event loop every 128 steps so sockets
   * and streams run. `onPacket` is called after each step. Throws with the packet index on
   * the first violation.
   */
  async run(count: number, onPacket?: (index: number) => void): Promise<void> {
    for (let i = 0; this.counts.fuzzed < count; i++) {
      if ((i & 127) === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.#openClients();
        this.#prune();
      }
      if ((i & 7) === 0) this.#advance((i & 1023) === 0 ? this.#rng.int(4000) : this.#rng.int(8));
      this.#converse();
      this.#fuzzOne();
      onPacket?.(i);
    }
  }

  /** Moves the virtual clock and fires every timer that became due, synchronously. */
  #advance(ms: number): void {
    if (ms === 0) return;
    this.#now += ms;
    this.#tsClock = (this.#tsClock + ms) >>> 0;
    this.stack._runTimers();
  }

  /** Forgets modelled connections the stack no longer has. */
  #prune(): void {
    const live = new Set<number>();
    for (const e of this.stack._connectionEntries()) if (e.remoteAddr === FUZZ_PEER) live.add(e.localPort * 65536 + e.remotePort);
    for (const key of this.#conns.keys()) if (!live.has(key)) this.#conns.delete(key);
  }

  /** The peer's valid traffic: owed ACKs/SYN-ACKs, new connections, data. */
  #converse(): void {
    const rng = this.#rng;
    if (this.#owed.length > 0 && rng.chance(0.7)) {
      const c = this.#owed.shift() as PeerConn;
      c.owed = false;
      if (this.#conns.get(c.key) === c) this.#sendValid(c, rng.chance(0.3) ? this.#dataLength(c) : 0);
      return;
    }
    if (this.#conns.size < 12 && rng.chance(0.02)) {
      const peerPort = 1024 + rng.int(60000);
      const stackPort = rng.pick(SERVICE_PORTS);
      const key = stackPort * 65536 + peerPort;
      if (this.#conns.has(key)) return;
      const c = this.#newConn(key, peerPort, stackPort, 'syn-sent', rng.u32());
      this.#conns.set(key, c);
      this.counts.peerOpens++;
      this.#inject(this.#tcpPacket(this.#base(c, 'syn', c.iss, undefined), FUZZ_PEER, 0), false);
      return;
    }
    if (this.#conns.size > 0 && rng.chance(0.15)) {
      const c = this.#anyConn();
      if (c === undefined || c.state !== 'established') return;
      // Now and then close our window for a while (the stack probes), then open it again.
      if (rng.chance(0.01)) c.rcvWindow = c.rcvWindow === 0 ? 2048 + rng.int(6144) : 0;
      this.#sendValid(c, this.#dataLength(c));
    }
  }

  #dataLength(c: PeerConn): number {
    const n = this.#rng.int(PEER_MSS + 1);
    return Math.min(n, c.window);
  }

  #anyConn(): PeerConn | undefined {
    const n = this.#conns.size;
    if (n === 0) return undefined;
    let k = this.#rng.int(n);
    for (const c of this.#conns.values()) if (k-- === 0) return c;
    return undefined;
  }

  /** A valid segment of `c` in its current state; advances the model. */
  #sendValid(c: PeerConn, length: number): void {
    let repr: TcpRepr;
    let n = 0;
    if (c.state === 'syn-received') {
      repr = this.#base(c, 'syn', c.iss, c.rcvNxt);
    } else if (c.state === 'syn-sent') {
      return;
    } else {
      n = length;
      const fin = this.#rng.chance(0.001);
      repr = this.#base(c, fin ? 'fin' : n > 0 ? 'psh' : 'none', c.sndNxt, c.rcvNxt);
      c.sndNxt = (c.sndNxt + n + (fin ? 1 : 0)) >>> 0;
    }
    this.#inject(this.#tcpPacket(repr, FUZZ_PEER, n), false);
  }

  /** The template of a segment of `c` (options as negotiated). */
  #base(c: PeerConn, control: TcpControl, seq: number, ack: number | undefined): MutableTcpRepr {
    const syn = control === 'syn';
    return {
      srcPort: c.peerPort,
      dstPort: c.stackPort,
      control,
      seq,
      ack,
      window: c.rcvWindow,
      mss: syn ? PEER_MSS : undefined,
      sackPermitted: syn && c.sack ? true : undefined,
      timestamp: c.timestamps ? { tsVal: this.#tsClock, tsEcr: syn && ack === undefined ? 0 : c.tsEcr } : undefined,
    };
  }

  /** Writes IPv4 + `repr` with `length` pool octets into the buffer; returns the packet. */
  #tcpPacket(repr: TcpRepr, src: number, length: number, dst = FUZZ_US): Uint8Array {
    const off = this.#rng.int(this.#pool.length - length);
    const n = emitTcp(repr, this.#pool.subarray(off, off + length), src, dst, this.#tcpOut);
    const ip = this.#ip;
    ip.src = src;
    ip.dst = dst;
    ip.protocol = IpProtocol.Tcp;
    ip.payloadLength = n;
    ip.ident = this.#nextIdent();
    ip.moreFragments = false;
    ip.fragmentOffset = 0;
    ip.dontFragment = true;
    ip.ttl = 64;
    ip.ecn = 0;
    ip.dscp = 0;
    emitIpv4(ip, this.#buf);
    return this.#buf.subarray(0, 20 + n);
  }

  #nextIdent(): number {
    this.#ident = (this.#ident + 1) & 0xffff;
    return this.#ident;
  }

  /** Delivers one packet (a batch of one) and checks the invariants right after it. */
  #inject(packet: Uint8Array, fuzzed = true): void {
    if (fuzzed) this.counts.fuzzed++;
    else this.counts.conversation++;
    try {
      this.link.inject(packet);
    } catch (err) {
      throw new Error(`packet ${this.counts.fuzzed + this.counts.conversation}: the stack threw ${(err as Error)?.stack ?? String(err)}`);
    }
    this.check(this.counts.fuzzed + this.counts.conversation);
  }

  // ---- fuzzed packets --------------------------------------------------------------------

  #fuzzOne(): void {
    const m = this.#mix;
    let k = this.#rng.int(this.#mixTotal);
    if ((k -= m.random) < 0) this.#fuzzRandom();
    else if ((k -= m.mutated) < 0) this.#fuzzMutated();
    else if ((k -= m.flipped) < 0) this.#fuzzFlipped();
    else if ((k -= m.fragments) < 0) this.#fuzzFragments();
    else this.#fuzzIcmp();
  }

  /** Random octets; half dressed as IPv4 to get past the version check, some fully valid. */
  #fuzzRandom(): void {
    const rng = this.#rng;
    const len = rng.chance(0.9) ? rng.int(100) : rng.int(1600);
    const off = rng.int(this.#pool.length - len);
    const buf = this.#buf;
    buf.set(this.#pool.subarray(off, off + len));
    const p = buf.subarray(0, len);
    const kind = rng.int(4);
    if (kind >= 1 && len > 0) buf[0] = 0x45;
    if (kind >= 2 && len >= 20) {
      // A valid header for us around random contents: the TCP/ICMP parsers see them.
      buf[2] = len >>> 8;
      buf[3] = len & 0xff;
      if (rng.chance(0.8)) buf[6] = (buf[6] as number) & 0x40; // mostly not a fragment
      if (rng.chance(0.8)) buf[7] = 0;
      buf[9] = rng.chance(0.9) ? rng.pick([IpProtocol.Tcp, IpProtocol.Tcp, IpProtocol.Icmp]) : rng.int(256);
      putU32(buf, 12, rng.chance(0.8) ? FUZZ_PEER : rng.u32());
      putU32(buf, 16, rng.chance(0.95) ? FUZZ_US : rng.u32());
      if (kind === 3 && len >= 40 && buf[9] === IpProtocol.Tcp) {
        // Aim at a live connection or listener so the engine sees the noise.
        const c = this.#anyConn();
        const dstPort = c?.stackPort ?? rng.pick(SERVICE_PORTS);
        const srcPort = c?.peerPort ?? rng.int(65536);
        buf[20] = srcPort >>> 8;
        buf[21] = srcPort & 0xff;
        buf[22] = dstPort >>> 8;
        buf[23] = dstPort & 0xff;
        if (c !== undefined && rng.chance(0.5)) {
          putU32(buf, 24, (c.sndNxt + rng.int(2000) - 1000) >>> 0);
          putU32(buf, 28, c.rcvNxt);
        }
      }
      fixChecksums(buf, len, rng.chance(0.9));
    }
    this.#inject(p);
  }

  /** A segment of a live connection (or a listener) with one to three fields mutated. */
  #fuzzMutated(): void {
    const rng = this.#rng;
    const c = this.#anyConn();
    let repr: MutableTcpRepr;
    let src = FUZZ_PEER;
    if (c === undefined) {
      repr = { srcPort: 1024 + rng.int(60000), dstPort: rng.pick(SERVICE_PORTS), control: 'syn', seq: rng.u32(), ack: undefined, window: 65535, mss: PEER_MSS };
    } else {
      repr = this.#base(c, 'none', c.sndNxt, c.state === 'syn-sent' ? undefined : c.rcvNxt);
    }
    let length = 0;
    const mutations = 1 + rng.int(3);
    for (let m = 0; m < mutations; m++) {
      switch (rng.int(14)) {
        case 0:
          repr.control = rng.pick(CONTROLS);
          break;
        case 1:
          repr.ack = rng.chance(0.3) ? undefined : repr.ack ?? rng.u32();
          repr.control = rng.pick(CONTROLS);
          break;
        case 2:
          repr.seq = nearOrFar(rng, repr.seq);
          break;
        case 3:
          repr.ack = nearOrFar(rng, repr.ack ?? rng.u32());
          break;
        case 4:
          repr.window = rng.pick([0, 0, 1, 536, 65535, rng.int(65536)]);
          break;
        case 5:
          if (rng.chance(0.5)) repr.dstPort = rng.chance(0.5) ? rng.pick(SERVICE_PORTS) : rng.int(65536);
          else repr.srcPort = rng.int(65536);
          break;
        case 6:
        case 7:
          length = rng.pick([1, 1, 100, PEER_MSS, PEER_MSS + 1, 1600, rng.int(4000)]);
          if (repr.control !== 'rst' && repr.control !== 'syn' && rng.chance(0.5)) repr.control = 'psh';
          break;
        case 8:
          repr.mss = rng.pick([0, 1, 63, 64, 536, 1460, 65535, rng.int(65536)]);
          repr.windowScale = rng.chance(0.5) ? rng.int(15) : undefined;
          repr.sackPermitted = rng.chance(0.5) ? true : undefined;
          break;
        case 9: {
          const blocks: SackBlock[] = [];
          const edge = c?.iss !== undefined && rng.chance(0.5) ? (repr.ack ?? 0) : rng.u32();
          for (let b = 1 + rng.int(4); b > 0; b--) {
            const left = nearOrFar(rng, edge);
            blocks.push({ left, right: rng.chance(0.8) ? (left + 1 + rng.int(20000)) >>> 0 : rng.u32() });
          }
          repr.sackBlocks = blocks;
          break;
        }
        case 10:
          repr.timestamp = { tsVal: rng.chance(0.5) ? nearOrFar(rng, this.#tsClock) : rng.u32(), tsEcr: rng.u32() };
          break;
        case 11:
          repr.urgent = rng.int(65536);
          repr.ece = rng.chance(0.5);
          repr.cwr = rng.chance(0.5);
          break;
        case 12:
          src = rng.pick(OTHER_SOURCES);
          break;
        default:
          length = rng.int(200);
          repr.control = rng.pick(['fin', 'rst', 'syn'] as const);
      }
    }
    const packet = this.#tcpPacket(repr, src, length);
    if (rng.chance(0.1)) this.#mutateIp(packet);
    this.#inject(packet);
  }

  /** IP-level mutations of a built packet, checksums fixed again. */
  #mutateIp(p: Uint8Array): void {
    const rng = this.#rng;
    switch (rng.int(5)) {
      case 0:
        p[1] = rng.int(256); // DSCP/ECN, CE included
        break;
      case 1:
        p[8] = rng.pick([0, 1, 255]); // TTL
        break;
      case 2:
        putU32(p, 16, rng.chance(0.5) ? 0xffffffff : rng.u32()); // not for us
        break;
      case 3:
        p[6] = (p[6] as number) | 0x20; // MF on a lone packet: a fragment that never completes
        break;
      default: {
        // Total length shorter than the packet (padding) or longer (truncated).
        const t = Math.max(20, p.length + rng.int(41) - 20);
        p[2] = t >>> 8;
        p[3] = t & 0xff;
      }
    }
    fixChecksums(p, p.length, true);
  }

  /** A valid segment with random header/option octets flipped, checksums fixed. */
  #fuzzFlipped(): void {
    const rng = this.#rng;
    const c = this.#anyConn();
    const repr: MutableTcpRepr = c === undefined
      ? { srcPort: 1024 + rng.int(60000), dstPort: rng.pick(SERVICE_PORTS), control: 'syn', seq: rng.u32(), ack: undefined, window: 65535, mss: PEER_MSS, sackPermitted: true, timestamp: { tsVal: 1, tsEcr: 0 }, windowScale: 7 }
      : this.#base(c, rng.chance(0.8) ? 'psh' : 'syn', c.sndNxt, c.rcvNxt);
    if (rng.chance(0.5)) repr.sackBlocks = [{ left: repr.ack ?? 0, right: ((repr.ack ?? 0) + 1000) >>> 0 }];
    const length = rng.int(300);
    const p = this.#tcpPacket(repr, FUZZ_PEER, length);
    const hdr = 20 + ((p[32] as number) >>> 4) * 4;
    for (let f = 1 + rng.int(4); f > 0; f--) {
      // Mostly inside the TCP header and options (where parsing decisions are), sometimes anywhere.
      const i = rng.chance(0.85) ? 20 + rng.int(hdr - 20) : rng.int(p.length);
      p[i] = rng.chance(0.5) ? rng.int(256) : (p[i] as number) ^ (1 << rng.int(8));
    }
    fixChecksums(p, p.length, rng.chance(0.95));
    this.#inject(p);
  }

  /** Fragments of a valid segment, mutated, or a flood of random fragments. */
  #fuzzFragments(): void {
    const rng = this.#rng;
    if (rng.chance(0.15)) {
      // Random fragment: random ident (sometimes a popular one), offset and size.
      const len = 8 * (1 + rng.int(rng.chance(0.9) ? 4 : 185));
      const off = rng.int(this.#pool.length - len);
      this.#buf.set(this.#pool.subarray(off, off + len), 20);
      this.#emitFragment(rng.chance(0.5) ? rng.int(4) : rng.int(65536), 8 * rng.int(rng.chance(0.8) ? 64 : 8192), rng.chance(0.8), len, rng.pick([IpProtocol.Tcp, IpProtocol.Icmp, 17]));
      return;
    }
    // A whole segment, cut into 8-octet-aligned pieces, some of them mutated.
    const c = this.#anyConn();
    const repr: TcpRepr = c === undefined
      ? { srcPort: 1024 + rng.int(60000), dstPort: rng.pick(SERVICE_PORTS), control: 'syn', seq: rng.u32(), ack: undefined, window: 65535, mss: PEER_MSS }
      : this.#base(c, 'psh', c.sndNxt, c.rcvNxt);
    const length = rng.int(3000);
    const off = rng.int(this.#pool.length - length);
    const whole = new Uint8Array(60 + length);
    const n = emitTcp(repr, this.#pool.subarray(off, off + length), FUZZ_PEER, FUZZ_US, whole);
    const ident = this.#nextIdent();
    const pieces = 2 + rng.int(4);
    const step = Math.max(8, (Math.ceil(n / pieces) + 7) & ~7);
    const order: number[] = [];
    for (let at = 0; at < n; at += step) order.push(at);
    if (rng.chance(0.5)) order.reverse();
    const clean = rng.chance(0.5);
    for (const at of order) {
      let start = at;
      let end = Math.min(n, at + step);
      let ident2 = ident;
      let more = end < n;
      switch (clean ? 9 : rng.int(10)) {
        case 0:
          continue; // missing: the datagram never completes and must expire
        case 1:
          start = Math.max(0, start - 8 * (1 + rng.int(4))); // overlaps the previous piece
          break;
        case 2:
          more = !more;
          break;
        case 3:
          ident2 = rng.int(65536);
          break;
        case 4:
          end = Math.min(n, end + 8 * rng.int(4)); // overlaps the next piece
          break;
        default:
      }
      if (more && ((end - start) & 7) !== 0) end = start + ((end - start) & ~7);
      if (end <= start) continue;
      this.#buf.set(whole.subarray(start, end), 20);
      if (rng.chance(0.05)) flipByte(this.#buf, 20 + rng.int(end - start), 0xff); // overlap with other bytes
      this.#emitFragment(ident2, start, more, end - start, IpProtocol.Tcp);
      if (rng.chance(0.1)) this.#inject(this.#buf.subarray(0, 20 + end - start)); // duplicate
    }
  }

  /** Injects the fragment whose payload already sits at buf[20..20+len). */
  #emitFragment(ident: number, offset: number, more: boolean, len: number, protocol: number): void {
    const ip = this.#ip;
    ip.src = FUZZ_PEER;
    ip.dst = FUZZ_US;
    ip.protocol = protocol;
    ip.payloadLength = len;
    ip.ident = ident;
    ip.moreFragments = more;
    ip.fragmentOffset = Math.min(offset, 65528);
    ip.dontFragment = false;
    emitIpv4(ip, this.#buf);
    this.#inject(this.#buf.subarray(0, 20 + len));
  }

  /** ICMP: echo requests, errors quoting our connections' packets, other types. */
  #fuzzIcmp(): void {
    const rng = this.#rng;
    const body = this.#buf.subarray(20);
    let n: number;
    const kind = rng.int(5);
    if (kind === 0) {
      const len = rng.chance(0.9) ? rng.int(64) : rng.int(1600);
      const off = rng.int(this.#pool.length - len);
      n = emitIcmpv4({ type: 'echo-request', ident: rng.int(65536), seqNo: rng.int(65536), data: this.#pool.subarray(off, off + len) }, body);
    } else if (kind <= 3) {
      const c = this.#anyConn();
      let quote: Uint8Array;
      if (c !== undefined && c.quoteLength === 28 && rng.chance(0.8)) {
        quote = c.quote.slice();
        if (rng.chance(0.3)) flipByte(quote, 20 + rng.int(8), 1 << rng.int(8)); // ports or sequence number off
        if (rng.chance(0.1)) quote = quote.subarray(0, rng.int(28));
      } else {
        const len = rng.int(64);
        const off = rng.int(this.#pool.length - len);
        quote = this.#pool.slice(off, off + len);
        if (len > 0) quote[0] = 0x45;
      }
      n = kind === 3
        ? emitIcmpv4({ type: 'time-exceeded', code: rng.int(2), quoted: quote }, body)
        : emitIcmpv4({ type: 'dest-unreachable', code: rng.chance(0.5) ? 4 : rng.int(16), nextHopMtu: rng.pick([0, 68, 576, 1280, 1400, 1500, rng.int(65536)]), quoted: quote }, body);
    } else {
      // Any type and code with random contents, checksum right.
      n = 8 + rng.int(64);
      const off = rng.int(this.#pool.length - n);
      body.set(this.#pool.subarray(off, off + n));
      body[2] = 0;
      body[3] = 0;
      const sum = internetChecksum(body, 0, 0, n);
      body[2] = sum >>> 8;
      body[3] = sum & 0xff;
    }
    const ip = this.#ip;
    ip.src = rng.chance(0.95) ? FUZZ_PEER : rng.pick(OTHER_SOURCES);
    ip.dst = FUZZ_US;
    ip.protocol = IpProtocol.Icmp;
    ip.payloadLength = n;
    ip.ident = this.#nextIdent();
    ip.moreFragments = false;
    ip.fragmentOffset = 0;
    ip.dontFragment = true;
    emitIpv4(ip, this.#buf);
    this.#inject(this.#buf.subarray(0, 20 + n));
  }

  // ---- invariants ------------------------------------------------------------------------

  /**
   * Throws unless: no packet ended in the stack's `internal-error` catch; everything the stack
   * sent parsed; every connection's state is an RFC 9293 state; readable ≤ recvBufferSize,
   * sendQueued ≤ sendBufferSize, 0 ≤ bytesInFlight ≤ sendQueued + 1, out-of-order octets ≤
   * maxOutOfOrderBytes; the table holds at most maxConnections; the reassembler holds at
   * most its caps.
   */
  check(index: number): void {
    const stack = this.stack;
    if (stack._dropCount('internal-error') !== 0) throw new Error(`packet ${index}: a received packet threw inside the stack (internal-error)`);
    if (this.problems.length > 0) throw new Error(`packet ${index}: ${this.problems[0]}`);
    let n = 0;
    for (const e of stack._connectionEntries()) {
      n++;
      const c = e.conn;
      const state = c.state;
      if (!STATES.has(state)) throw new Error(`packet ${index}: state ${String(state)}`);
      const cfg = c.config;
      if (c.readableLength > cfg.recvBufferSize) throw new Error(`packet ${index}: readable ${c.readableLength} > ${cfg.recvBufferSize}`);
      const queued = c.sendQueued;
      if (queued > cfg.sendBufferSize) throw new Error(`packet ${index}: sendQueued ${queued} > ${cfg.sendBufferSize}`);
      const s = c.stats;
      if (!(s.bytesInFlight >= 0 && s.bytesInFlight <= queued + 1)) {
        throw new Error(`packet ${index}: bytesInFlight ${s.bytesInFlight} with sendQueued ${queued} in ${state}`);
      }
      if (s.outOfOrderBytes > cfg.maxOutOfOrderBytes) throw new Error(`packet ${index}: outOfOrderBytes ${s.outOfOrderBytes}`);
    }
    if (n > this.#maxConnections) throw new Error(`packet ${index}: ${n} connections > maxConnections ${this.#maxConnections}`);
  }

  /** Closes the stack and forgets the clients. */
  async close(): Promise<void> {
    await this.stack.close();
  }
}

/** A sequence number near `x` (±few, ± a window, ±2^31) or anywhere. */
function nearOrFar(rng: Rng, x: number): number {
  switch (rng.int(6)) {
    case 0:
      return (x + rng.int(16) - 8) >>> 0;
    case 1:
      return (x + rng.int(2 * 65536) - 65536) >>> 0;
    case 2:
      return (x + 0x80000000 + rng.int(16) - 8) >>> 0;
    case 3:
      return (x - 1) >>> 0;
    case 4:
      return (x + rng.int(1 << 20)) >>> 0;
    default:
      return rng.u32();
  }
}

function flipByte(b: Uint8Array, i: number, mask: number): void {
  b[i] = (b[i] as number) ^ mask;
}

function putU32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

/**
 * Fixes the IPv4 header checksum of `p` (over its IHL, when it fits) and, with `transport`,
 * the TCP or ICMP checksum over what Total Length covers, so mutated packets get past the
 * checksum checks and reach the parsers and the engine.
 */
export function fixChecksums(p: Uint8Array, length: number, transport: boolean): void {
  if (length < 20) return;
  const ihl = Math.min(((p[0] as number) & 0x0f) * 4, length);
  if (ihl >= 20) {
    p[10] = 0;
    p[11] = 0;
    const sum = internetChecksum(p, 0, 0, ihl);
    p[10] = sum >>> 8;
    p[11] = sum & 0xff;
  }
  if (!transport || ihl < 20) return;
  const total = Math.min(length, ((p[2] as number) << 8) | (p[3] as number));
  const proto = p[9] as number;
  if (proto === IpProtocol.Tcp && total - ihl >= 18) {
    const src = ((p[12]! << 24) | (p[13]! << 16) | (p[14]! << 8) | p[15]!) >>> 0;
    const dst = ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0;
    p[ihl + 16] = 0;
    p[ihl + 17] = 0;
    const sum = ~onesComplementSum(p, pseudoHeaderSum(src, dst, IpProtocol.Tcp, total - ihl), ihl, total) & 0xffff;
    p[ihl + 16] = sum >>> 8;
    p[ihl + 17] = sum & 0xff;
  } else if (proto === IpProtocol.Icmp && total - ihl >= 4) {
    p[ihl + 2] = 0;
    p[ihl + 3] = 0;
    const sum = internetChecksum(p, 0, ihl, total);
    p[ihl + 2] = sum >>> 8;
    p[ihl + 3] = sum & 0xff;
  }
}
