/**
 * The simulated peer (10.0.0.2) of the IPv4 fuzz bed: the addresses and ports of the bed's
 * little network, and a model that keeps real connections with the stack going. It follows
 * what the stack sends (its SYNs to the peer's service, SYN-ACKs, data, FINs, RSTs), owes and
 * sends the ACKs and SYN-ACKs a well-behaved peer would, opens connections to the stack's
 * services and sends data within the stack's window, so that the fuzzed packets meet
 * connections in their interesting states rather than only the parsers.
 *
 * Every random choice comes from the bed's one `Rng`, in a fixed order, so a run replays
 * exactly from its seed. The model builds no packet itself: it hands a segment template and a
 * payload length to the `send` it is given (see {@link PeerModel}).
 */
import { ipv4FromString } from '@tcp-tun/ip';
import type { TcpControl, TcpRepr } from '@tcp-tun/tcp';
import type { Stack } from '../stack.js';
import type { Rng } from './fuzz-bytes.js';

/** The stack's address in the bed. */
export const FUZZ_US = ipv4FromString('10.0.0.1');
/** The modelled peer's address. */
export const FUZZ_PEER = ipv4FromString('10.0.0.2');
/** Sources that are not the modelled peer: another host, 0.0.0.0, loopback, class E. */
export const OTHER_SOURCES = [ipv4FromString('10.0.0.3'), 0, ipv4FromString('127.0.0.1'), ipv4FromString('240.0.0.1'), ipv4FromString('192.168.7.7')];
/** The stack's echo service (what it reads it writes back). */
export const ECHO_PORT = 7;
/** The stack's discard service (reads and drops). */
export const DISCARD_PORT = 9;
/** The stack's source service (writes until pushed back). */
export const SOURCE_PORT = 19;
/** A port of the stack with no listener. */
const CLOSED_PORT = 81;
/** The stack's ports the peer aims at (echo twice as often; one closed port). */
export const SERVICE_PORTS = [ECHO_PORT, DISCARD_PORT, SOURCE_PORT, ECHO_PORT, CLOSED_PORT];
/** The port on the peer that the stack's own clients connect to. */
export const PEER_SERVICE_PORT = 5000;
/** The MSS the peer announces in its SYNs. */
export const PEER_MSS = 1460;

/** A `TcpRepr` whose fields the bed may overwrite. */
export type MutableTcpRepr = { -readonly [K in keyof TcpRepr]: TcpRepr[K] };

/** The peer's side of one connection, as the model keeps it. */
export interface PeerConn {
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

/** The counters the model keeps up (a part of the bed's `FuzzCounts`). */
export interface PeerCounts {
  /** Connections the peer model opened. */
  peerOpens: number;
  /** Octets the peer model received in order from the stack. */
  bytesFromStack: number;
}

/**
 * Sends a valid segment of the peer: `repr` from the peer to the stack with `length` octets of
 * data (the bed builds the packet, injects it and counts it as conversation).
 */
export type PeerSend = (repr: TcpRepr, length: number) => void;

/** The peer's connections with the stack and its valid side of the conversation. */
export class PeerModel {
  readonly #rng: Rng;
  readonly #counts: PeerCounts;
  readonly #send: PeerSend;
  readonly #conns = new Map<number, PeerConn>();
  readonly #owed: PeerConn[] = [];
  #tsClock = 1;

  constructor(rng: Rng, counts: PeerCounts, send: PeerSend) {
    this.#rng = rng;
    this.#counts = counts;
    this.#send = send;
  }

  /** Connections the model holds. */
  get size(): number {
    return this.#conns.size;
  }

  /** The peer's timestamp clock (the TSval of its segments). */
  get tsClock(): number {
    return this.#tsClock;
  }

  /** Virtual time moved on by `ms`: so does the peer's timestamp clock. */
  advance(ms: number): void {
    this.#tsClock = (this.#tsClock + ms) >>> 0;
  }

  /**
   * Follows a valid TCP segment the stack sent to the peer (`packet` whole, for ICMP quotes):
   * an RST forgets the connection, a SYN to the peer's service opens one (answered with a
   * SYN-ACK), a SYN-ACK completes ours, and data or a FIN in order advances what we expect.
   */
  follow(packet: Uint8Array, r: TcpRepr, payloadLength: number): void {
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
    const len = payloadLength + (r.control === 'fin' ? 1 : 0);
    if (len > 0) {
      if (r.seq === c.rcvNxt) {
        c.rcvNxt = (c.rcvNxt + len) >>> 0;
        this.#counts.bytesFromStack += payloadLength;
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

  /** Forgets modelled connections the stack no longer has. */
  prune(stack: Stack): void {
    const live = new Set<number>();
    for (const e of stack._connectionEntries()) if (e.remoteAddr === FUZZ_PEER) live.add(e.localPort * 65536 + e.remotePort);
    for (const key of this.#conns.keys()) if (!live.has(key)) this.#conns.delete(key);
  }

  /** The peer's valid traffic: owed ACKs/SYN-ACKs, new connections, data. */
  converse(): void {
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
      this.#counts.peerOpens++;
      this.#send(this.base(c, 'syn', c.iss, undefined), 0);
      return;
    }
    if (this.#conns.size > 0 && rng.chance(0.15)) {
      const c = this.anyConn();
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

  /** One of the modelled connections, picked at random; undefined when there is none. */
  anyConn(): PeerConn | undefined {
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
      repr = this.base(c, 'syn', c.iss, c.rcvNxt);
    } else if (c.state === 'syn-sent') {
      return;
    } else {
      n = length;
      const fin = this.#rng.chance(0.001);
      repr = this.base(c, fin ? 'fin' : n > 0 ? 'psh' : 'none', c.sndNxt, c.rcvNxt);
      c.sndNxt = (c.sndNxt + n + (fin ? 1 : 0)) >>> 0;
    }
    this.#send(repr, n);
  }

  /** The template of a segment of `c` (options as negotiated). */
  base(c: PeerConn, control: TcpControl, seq: number, ack: number | undefined): MutableTcpRepr {
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
}
