/**
 * The fuzzing bed of fuzz.test.ts: a live `Stack` (10.0.0.1) over a `RawLink`, with echo,
 * discard and source services listening, clients of its own connected to a peer, and a peer
 * model (10.0.0.2) that keeps real connections established and carrying data both ways, so
 * that the mutated packets hit connections in their interesting states rather than only the
 * parsers.
 *
 * The bed is the driver and the referee; its parts have files of their own:
 * - `fuzz-bytes.ts`: the seeded `Rng` and the octet tools (checksums fixed after a mutation);
 * - `fuzz-peer.ts`: the peer model, which follows what the stack sends and converses validly;
 * - `fuzz-packets.ts`: the hostile packets (random, mutated, flipped, fragments, ICMP).
 * All of them draw from one `Rng`, and time is a virtual clock the bed advances, firing the
 * stack's timers synchronously, so a run replays exactly from its seed. After every packet the
 * bed checks the stack's invariants (see {@link FuzzBed.check}); it also checks every packet
 * the stack sends.
 */
import { IpProtocol, parseIpv4 } from '@tcp-tun/ip';
import { parseTcp, type TcpState } from '@tcp-tun/tcp';
import type { Socket } from '../socket.js';
import { Stack, type StackOptions } from '../stack.js';
import { Rng } from './fuzz-bytes.js';
import { PacketFactory, type FuzzMix } from './fuzz-packets.js';
import { DISCARD_PORT, ECHO_PORT, FUZZ_PEER, FUZZ_US, PEER_SERVICE_PORT, PeerModel, SOURCE_PORT } from './fuzz-peer.js';
import { RawLink } from './harness.js';

export type { FuzzMix } from './fuzz-packets.js';

const STATES: ReadonlySet<TcpState> = new Set<TcpState>([
  'CLOSED', 'LISTEN', 'SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2',
  'CLOSE-WAIT', 'CLOSING', 'LAST-ACK', 'TIME-WAIT',
]);

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

/** A live stack, a peer model and a packet factory; see the file comment. */
export class FuzzBed {
  readonly stack: Stack;
  readonly link: RawLink;
  readonly counts: FuzzCounts = { fuzzed: 0, conversation: 0, sent: 0, peerOpens: 0, stackOpens: 0, bytesFromStack: 0 };
  /** Invariant violations noticed while the stack was sending (reported by `check`). */
  readonly problems: string[] = [];
  readonly #rng: Rng;
  readonly #peer: PeerModel;
  readonly #packets: PacketFactory;
  #now = 0;
  readonly #clients = new Set<Socket>();
  readonly #stuck = new Map<Socket, number>();
  readonly #maxConnections: number;

  constructor(seed: number, mix: FuzzMix, options: Partial<StackOptions> = {}) {
    this.#rng = new Rng(seed);
    this.#peer = new PeerModel(this.#rng, this.counts, (repr, length) => this.#inject(this.#packets.tcpPacket(repr, FUZZ_PEER, length), false));
    // First draws of the Rng: the factory's pool of random octets (the secret comes from it).
    this.#packets = new PacketFactory(this.#rng, mix, this.#peer, (p) => this.#inject(p));
    this.link = new RawLink(1500, (p) => this.#onSent(p));
    const secret = this.#packets.pool.slice(0, 24);
    this.stack = new Stack({
      link: this.link,
      address: '10.0.0.1',
      clock: () => this.#now,
      // No Node timer firing at wall-clock moments: the same seed replays exactly.
      timers: 'manual',
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
    return this.#peer.size;
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
    const block = this.#packets.pool.subarray(0, 16 * 1024);
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
    if (ip.repr.dst === FUZZ_PEER) this.#peer.follow(packet, tcp.repr, tcp.payload.length);
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
        this.#peer.prune(this.stack);
      }
      if ((i & 7) === 0) this.#advance((i & 1023) === 0 ? this.#rng.int(4000) : this.#rng.int(8));
      this.#peer.converse();
      this.#packets.fuzzOne();
      onPacket?.(i);
    }
  }

  /** Moves the virtual clock and fires every timer that became due, synchronously. */
  #advance(ms: number): void {
    if (ms === 0) return;
    this.#now += ms;
    this.#peer.advance(ms);
    this.stack.runTimers();
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
