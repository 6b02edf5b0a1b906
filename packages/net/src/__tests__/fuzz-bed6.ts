/**
 * The IPv6 fuzz bed: a dual-stack `Stack` on a raw link (we are fd00::1; peers fd00::2..5) with
 * a listener on `::` that answers every connection with data, connections of its own, and a
 * seeded factory of IPv6 packets: random octets behind a version-6 nibble; fixed headers to us
 * (and to multicast, mapped, loopback and foreign addresses) with random extension-header
 * chains (hop-by-hop and destination options with random TLVs, routing, fragment) and random
 * upper layers; TCP segments of live connections (the peer side follows what the stack sends)
 * with one to three fields mutated, checksums right; fragments of valid packets, cut, reordered,
 * duplicated, overlapped or lost, and floods of random ones; ICMPv6 echo requests, errors
 * quoting what the stack sent (mutated), NDP/MLD and random types. Time is a virtual clock.
 */
import {
  IPV6_LOOPBACK,
  emitIcmpv6,
  emitIpv6,
  icmpv6Length,
  ipv6FromString,
  makeIpv6Repr,
  type Icmpv6Repr,
  type Ipv6Address,
} from '@tcp-tun/ip';
import { emitTcp, tcpHeaderLength, type TcpControl, type TcpRepr } from '@tcp-tun/tcp';
import { Stack } from '../stack.js';
import { FUZZ_LIMITS } from './fuzz-bed.js';
import { Rng } from './fuzz-bytes.js';
import { RawLink } from './harness.js';
import { connect, fragment6, listen, type Conn } from './raw6.js';

export const FUZZ6_US = ipv6FromString('fd00::1');
const PEERS: readonly Ipv6Address[] = ['fd00::2', 'fd00::3', 'fd00::4', 'fd00::5'].map(ipv6FromString);
const ODD_SOURCES: readonly Ipv6Address[] = ['::', '::1', 'ff02::1', '::ffff:10.0.0.2', 'fe80::1', 'fd00::1'].map(ipv6FromString);
const ODD_DESTS: readonly Ipv6Address[] = ['ff02::1', 'ff02::2', 'ff02::16', 'ff02::1:ff00:1', '::1', '::ffff:10.0.0.1', 'fd00::77', '::'].map(ipv6FromString);
const CONTROLS: readonly TcpControl[] = ['none', 'psh', 'syn', 'fin', 'rst'];

/** Kinds of packet and their weights. */
export interface FuzzMix6 {
  readonly random: number;
  readonly chains: number;
  readonly mutated: number;
  readonly fragments: number;
  readonly icmp: number;
}

/** A flow the stack sent on: what the peer's next segment looks like. */
interface Flow {
  readonly peer: Ipv6Address;
  readonly peerPort: number;
  readonly stackPort: number;
  /** Next sequence number the stack expects from the peer (its ACK field), and what it sent last. */
  peerSeq: number;
  stackNext: number;
  window: number;
  tsVal: number | undefined;
  quote: Uint8Array;
}

/** Counters of a run. */
export interface FuzzCounts6 {
  fuzzed: number;
  sentByStack: number;
  bytesFromStack: number;
}

/** A live dual-stack stack and an IPv6 packet factory. */
export class FuzzBed6 {
  readonly stack: Stack;
  readonly counts: FuzzCounts6 = { fuzzed: 0, sentByStack: 0, bytesFromStack: 0 };
  readonly #rng: Rng;
  readonly #mix: FuzzMix6;
  readonly #total: number;
  readonly #link: RawLink;
  readonly #flows = new Map<string, Flow>();
  readonly #flowList: Flow[] = [];
  readonly #own: Conn[] = [];
  #now = 1000;
  #ident = 1;

  constructor(seed: number, mix: FuzzMix6) {
    this.#rng = new Rng(seed);
    this.#mix = mix;
    this.#total = mix.random + mix.chains + mix.mutated + mix.fragments + mix.icmp;
    this.#link = new RawLink(1500, (p) => this.#onSent(p));
    this.stack = new Stack({
      link: this.#link,
      address: '10.0.0.1',
      address6: 'fd00::1',
      clock: () => this.#now,
      // No Node timer firing at wall-clock moments: the same seed replays exactly.
      timers: 'manual',
      maxConnections: FUZZ_LIMITS.maxConnections,
      reassembly: FUZZ_LIMITS.reassembly,
      tcp: {
        recvBufferSize: FUZZ_LIMITS.recvBufferSize,
        sendBufferSize: FUZZ_LIMITS.sendBufferSize,
        maxOutOfOrderBytes: FUZZ_LIMITS.maxOutOfOrderBytes,
      },
      secret: new Uint8Array(32).fill(seed & 0xff),
    });
    const l = listen(this.stack, 80, '::', false, FUZZ_LIMITS.backlog);
    l.onAccept = (c) => c.write(new Uint8Array(4000 + this.#rng.int(20000)).fill(0x61), this.#rng.chance(0.3));
  }

  /** Injects `count` packets, in batches, with time moving on and invariants checked as it goes. */
  async run(count: number): Promise<void> {
    const deliver = (packets: Uint8Array[]): Promise<void> => this.#link.inject(...packets);
    let batch: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      batch.push(...this.#packet());
      if (batch.length >= 32) {
        await deliver(batch);
        batch = [];
      }
      if (i % 500 === 499) {
        this.#now += 40 + this.#rng.int(400);
        this.stack.runTimers();
        if (this.#own.length < 4 && this.#rng.chance(0.5)) {
          try {
            this.#own.push(connect(this.stack, this.#rng.pick(PEERS), 1 + this.#rng.int(2000)));
          } catch {
            // EADDRNOTAVAIL/ENOBUFS under the caps: fine.
          }
        }
        this.#own.splice(0, this.#own.length, ...this.#own.filter((c) => !c.closed && c.error === undefined));
        this.check();
      }
    }
    if (batch.length > 0) await deliver(batch);
  }

  /** The invariants: no hidden internal error, tables and the reassembler within their caps. */
  check(): void {
    const s = this.stack.stats();
    if ((s.drops['internal-error'] ?? 0) !== 0) throw new Error('the stack caught an internal error');
    let n = 0;
    for (const e of this.stack._connectionEntries()) {
      n++;
      if (e.conn.readableLength > FUZZ_LIMITS.recvBufferSize) throw new Error(`readable ${e.conn.readableLength} over the buffer`);
      if (e.family === 6 && typeof e.remoteAddr === 'number') throw new Error('an IPv6 entry with an IPv4 address');
    }
    if (n > FUZZ_LIMITS.maxConnections) throw new Error(`${n} connections over the cap`);
    const r = s.ipv6?.reassembly;
    if (r === undefined) throw new Error('no ipv6 stats');
    if (r.bytesHeld > FUZZ_LIMITS.reassembly.maxTotalBytes || r.datagramsHeld > FUZZ_LIMITS.reassembly.maxDatagrams) {
      throw new Error(`reassembly over its caps: ${r.bytesHeld} octets, ${r.datagramsHeld} packets`);
    }
  }

  close(): Promise<void> {
    return this.stack.close();
  }

  /** What the stack sent: remember the flow so the peer's segments can follow it. */
  #onSent(p: Uint8Array): void {
    this.counts.sentByStack++;
    if (p.length < 60 || (p[0] as number) >>> 4 !== 6 || p[6] !== 6) return;
    const tcp = p.subarray(40);
    const stackPort = (tcp[0]! << 8) | tcp[1]!;
    const peerPort = (tcp[2]! << 8) | tcp[3]!;
    const seq = ((tcp[4]! << 24) | (tcp[5]! << 16) | (tcp[6]! << 8) | tcp[7]!) >>> 0;
    const ack = ((tcp[8]! << 24) | (tcp[9]! << 16) | (tcp[10]! << 8) | tcp[11]!) >>> 0;
    const flags = tcp[13]!;
    const doff = (tcp[12]! >> 4) * 4;
    const len = tcp.length - doff;
    this.counts.bytesFromStack += Math.max(0, len);
    const peer = p.slice(24, 40);
    const key = `${peer.join('.')}|${peerPort}|${stackPort}`;
    let f = this.#flows.get(key);
    if ((flags & 0x04) !== 0) {
      if (f !== undefined) this.#forget(key, f);
      return;
    }
    const next = (seq + len + ((flags & 0x03) !== 0 ? 1 : 0)) >>> 0;
    if (f === undefined) {
      if (this.#flows.size >= 64) return;
      f = { peer, peerPort, stackPort, peerSeq: (flags & 0x10) !== 0 ? ack : this.#rng.u32(), stackNext: next, window: 8192, tsVal: undefined, quote: p.slice(0, 48) };
      this.#flows.set(key, f);
      this.#flowList.push(f);
      // The stack opened it (a SYN): the peer answers SYN-ACK at once, sometimes.
      if ((flags & 0x12) === 0x02 && this.#rng.chance(0.7)) {
        const synAck = this.#segment(f, { control: 'syn', ack: next, seq: f.peerSeq });
        f.peerSeq = (f.peerSeq + 1) >>> 0;
        setImmediate(() => void this.#link.inject(synAck));
      }
      return;
    }
    f.stackNext = next;
    f.quote = p.slice(0, 48);
  }

  #forget(key: string, f: Flow): void {
    this.#flows.delete(key);
    const i = this.#flowList.indexOf(f);
    if (i >= 0) this.#flowList.splice(i, 1);
  }

  #packet(): Uint8Array[] {
    this.counts.fuzzed++;
    let k = this.#rng.int(this.#total);
    const m = this.#mix;
    if ((k -= m.random) < 0) return [this.#random()];
    if ((k -= m.chains) < 0) return [this.#chain()];
    if ((k -= m.mutated) < 0) return [this.#mutated()];
    if ((k -= m.fragments) < 0) return this.#fragments();
    return [this.#icmp()];
  }

  #bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#rng.u32() & 0xff;
    return out;
  }

  #random(): Uint8Array {
    const rng = this.#rng;
    const p = this.#bytes(rng.int(rng.chance(0.5) ? 48 : 300));
    if (p.length > 0 && rng.chance(0.9)) p[0] = 0x60 | (p[0]! & 0x0f);
    if (p.length >= 40 && rng.chance(0.5)) p.set(FUZZ6_US, 24);
    if (p.length >= 40 && rng.chance(0.5)) {
      p[4] = (p.length - 40) >>> 8;
      p[5] = (p.length - 40) & 0xff;
    }
    return p;
  }

  #src(): Ipv6Address {
    return this.#rng.chance(0.9) ? this.#rng.pick(PEERS) : this.#rng.pick(ODD_SOURCES);
  }

  #dst(): Ipv6Address {
    return this.#rng.chance(0.85) ? FUZZ6_US : this.#rng.pick(ODD_DESTS);
  }

  /** A fixed header and a random chain of extension headers, then a random upper layer. */
  #chain(): Uint8Array {
    const rng = this.#rng;
    const parts: Uint8Array[] = [];
    const types: number[] = [];
    const n = rng.int(5);
    for (let i = 0; i < n; i++) {
      const t = rng.pick([0, 60, 43, 44, 0, 60, 59, 135, 139]);
      types.push(t);
      if (t === 44) {
        const f = new Uint8Array(8);
        f.set(this.#bytes(6), 2);
        if (rng.chance(0.5)) f[3] = 0; // atomic fragment sometimes
        parts.push(f);
        continue;
      }
      const len = 8 * (1 + rng.int(rng.chance(0.9) ? 3 : 40));
      const h = new Uint8Array(len);
      h[1] = len / 8 - 1;
      if (t === 43) {
        h[2] = rng.pick([0, 2, 3, 4, 253]);
        h[3] = rng.chance(0.5) ? 0 : rng.int(4);
        h.set(this.#bytes(len - 4), 4);
      } else {
        // Options: Pad1, PadN, router alert, unknown ones with each action (RFC 8200 §4.2).
        let at = 2;
        while (at < len) {
          const kind = rng.pick([0, 1, 5, 0x1e, 0x5e, 0x9e, 0xde, 0xc2, rng.u32() & 0xff]);
          if (kind === 0) {
            at++;
            continue;
          }
          const olen = Math.min(rng.int(8), len - at - 2);
          if (olen < 0) break;
          h[at] = kind;
          h[at + 1] = rng.chance(0.95) ? olen : rng.int(256);
          at += 2 + olen;
        }
      }
      parts.push(h);
    }
    const upper = rng.pick([6, 58, 17, 58, 6, rng.int(256)]);
    let body: Uint8Array;
    if (upper === 6 && rng.chance(0.5)) {
      body = new Uint8Array(20 + rng.int(40));
      const repr: TcpRepr = { srcPort: 1 + rng.int(65535), dstPort: rng.chance(0.5) ? 80 : rng.int(65536), control: rng.pick(CONTROLS), seq: rng.u32(), ack: rng.chance(0.5) ? rng.u32() : undefined, window: rng.int(65536) };
      body = body.subarray(0, emitTcp(repr, this.#bytes(rng.int(20)), this.#src(), FUZZ6_US, body.length >= 60 ? body : new Uint8Array(80)));
    } else {
      body = this.#bytes(rng.int(120));
    }
    const nexts = [...types, upper];
    for (let i = 0; i < parts.length; i++) (parts[i] as Uint8Array)[0] = nexts[i + 1] as number;
    const payloadLength = parts.reduce((a, b) => a + b.length, 0) + body.length;
    const out = new Uint8Array(40 + payloadLength);
    emitIpv6(makeIpv6Repr({ src: this.#src(), dst: this.#dst(), nextHeader: nexts[0] as number, payloadLength, hopLimit: rng.int(256) }), out);
    let at = 40;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    out.set(body, at);
    if (rng.chance(0.05)) {
      out[4] = rng.int(256);
      out[5] = rng.int(256);
    }
    return out;
  }

  /** A TCP segment of `f` from the peer, checksummed. */
  #segment(f: Flow, over: Partial<TcpRepr>, payload: Uint8Array = new Uint8Array(0), dst: Ipv6Address = FUZZ6_US): Uint8Array {
    const repr: TcpRepr = {
      srcPort: f.peerPort,
      dstPort: f.stackPort,
      control: 'none',
      seq: f.peerSeq,
      ack: f.stackNext,
      window: f.window,
      ...over,
    };
    const out = new Uint8Array(40 + tcpHeaderLength(repr) + payload.length);
    const len = emitTcp(repr, payload, f.peer, dst, out.subarray(40));
    emitIpv6(makeIpv6Repr({ src: f.peer, dst, nextHeader: 6, payloadLength: len }), out);
    return out.subarray(0, 40 + len);
  }

  /** A segment of a live flow (or a SYN opening one), one to three fields mutated. */
  #mutated(): Uint8Array {
    const rng = this.#rng;
    if (this.#flowList.length === 0 || rng.chance(0.15)) {
      const f: Flow = { peer: rng.pick(PEERS), peerPort: 1024 + rng.int(60000), stackPort: rng.chance(0.9) ? 80 : rng.int(65536), peerSeq: rng.u32(), stackNext: 0, window: 65535, tsVal: undefined, quote: new Uint8Array(0) };
      const syn = this.#segment(f, { control: 'syn', ack: undefined, mss: rng.chance(0.5) ? 1220 + rng.int(300) : undefined, windowScale: rng.chance(0.5) ? rng.int(15) : undefined, sackPermitted: rng.chance(0.5) });
      return syn;
    }
    const f = rng.pick(this.#flowList);
    const over: { -readonly [K in keyof TcpRepr]?: TcpRepr[K] } = {};
    let payload: Uint8Array = new Uint8Array(rng.chance(0.5) ? rng.int(1200) : 0).fill(0x62);
    const n = 1 + rng.int(3);
    for (let i = 0; i < n; i++) {
      switch (rng.int(8)) {
        case 0:
          over.seq = rng.chance(0.5) ? rng.u32() : (f.peerSeq + rng.int(70000) - 35000) >>> 0;
          break;
        case 1:
          over.ack = rng.chance(0.5) ? rng.u32() : (f.stackNext + rng.int(70000) - 35000) >>> 0;
          break;
        case 2:
          over.control = rng.pick(CONTROLS);
          break;
        case 3:
          over.window = rng.chance(0.3) ? 0 : rng.int(65536);
          break;
        case 4:
          over.sackBlocks = [{ left: (f.stackNext - rng.int(5000)) >>> 0, right: (f.stackNext + rng.int(5000)) >>> 0 }];
          break;
        case 5:
          over.timestamp = { tsVal: rng.u32(), tsEcr: rng.u32() };
          break;
        case 6:
          payload = this.#bytes(rng.int(1400));
          break;
        default:
          break;
      }
    }
    const seg = this.#segment(f, over, payload);
    if (over.seq === undefined && over.control !== 'syn' && over.control !== 'rst') f.peerSeq = (f.peerSeq + payload.length + (over.control === 'fin' ? 1 : 0)) >>> 0;
    return seg;
  }

  /** Fragments of a valid packet (reordered, duplicated, overlapped, lost) or a random flood. */
  #fragments(): Uint8Array[] {
    const rng = this.#rng;
    if (rng.chance(0.3)) {
      const n = 1 + rng.int(8);
      const out: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const body = this.#bytes(8 * (1 + rng.int(40)));
        const p = new Uint8Array(48 + body.length);
        emitIpv6(makeIpv6Repr({ src: this.#src(), dst: FUZZ6_US, nextHeader: 44, payloadLength: 8 + body.length }), p);
        p[40] = rng.pick([6, 58, 17]);
        const off = rng.int(8192) & ~7;
        p[42] = off >>> 8;
        p[43] = (off & 0xf8) | (rng.chance(0.8) ? 1 : 0);
        const id = rng.chance(0.5) ? rng.int(4) : rng.u32();
        p[44] = id >>> 24;
        p[45] = (id >>> 16) & 0xff;
        p[46] = (id >>> 8) & 0xff;
        p[47] = id & 0xff;
        p.set(body, 48);
        out.push(p);
      }
      return out;
    }
    const whole = rng.chance(0.5) || this.#flowList.length === 0 ? this.#echo(600 + rng.int(2000)) : this.#mutated();
    const frags = fragment6(whole, 8 * (8 + rng.int(100)), this.#ident++);
    const out: Uint8Array[] = [];
    for (const f of frags) {
      if (rng.chance(0.05)) continue; // lost
      out.push(f);
      if (rng.chance(0.05)) out.push(f.slice()); // duplicated
      if (rng.chance(0.05) && f.length > 56) {
        const o = f.slice();
        o[43] = (o[43]! + 8) & 0xff; // overlapping
        out.push(o);
      }
    }
    for (let i = out.length - 1; i > 0; i--) {
      if (rng.chance(0.3)) {
        const j = rng.int(i + 1);
        [out[i], out[j]] = [out[j] as Uint8Array, out[i] as Uint8Array];
      }
    }
    return out;
  }

  #echo(size: number): Uint8Array {
    return this.#icmpPacket(this.#src(), FUZZ6_US, { type: 'echo-request', ident: this.#rng.int(65536), seqNo: this.#rng.int(65536), data: this.#bytes(size) });
  }

  #icmpPacket(src: Ipv6Address, dst: Ipv6Address, repr: Icmpv6Repr, hopLimit = 64): Uint8Array {
    const len = icmpv6Length(repr);
    const out = new Uint8Array(40 + len);
    emitIpv6(makeIpv6Repr({ src, dst, nextHeader: 58, payloadLength: len, hopLimit }), out);
    emitIcmpv6(repr, src, dst, out.subarray(40));
    return out;
  }

  /** Echo requests, errors quoting what the stack sent (mutated), NDP/MLD, random types. */
  #icmp(): Uint8Array {
    const rng = this.#rng;
    switch (rng.int(5)) {
      case 0:
        return this.#echo(rng.int(1500));
      case 1: {
        const f = this.#flowList.length > 0 ? rng.pick(this.#flowList) : undefined;
        const quoted = f !== undefined && f.quote.length > 0 ? f.quote.slice() : this.#bytes(48);
        for (let i = rng.int(3); i > 0; i--) quoted[rng.int(quoted.length)] = rng.u32() & 0xff;
        const t = rng.int(4);
        const repr: Icmpv6Repr =
          t === 0
            ? { type: 'packet-too-big', mtu: rng.chance(0.5) ? 1280 + rng.int(300) : rng.u32(), quoted }
            : t === 1
              ? { type: 'dest-unreachable', code: rng.int(8), quoted }
              : t === 2
                ? { type: 'time-exceeded', code: rng.int(3), quoted }
                : { type: 'parameter-problem', code: rng.int(4), pointer: rng.u32(), quoted };
        return this.#icmpPacket(rng.chance(0.8) ? rng.pick(PEERS) : ipv6FromString('fd00::fe'), FUZZ6_US, repr);
      }
      case 2: {
        const msgType = rng.pick([130, 131, 132, 133, 134, 135, 136, 137, 143]);
        const type = msgType >= 133 && msgType <= 137 ? 'neighbour-discovery' : 'multicast-listener';
        return this.#icmpPacket(ipv6FromString('fe80::1'), rng.chance(0.5) ? rng.pick(ODD_DESTS) : FUZZ6_US, { type, msgType, code: 0, body: this.#bytes(rng.int(40)) }, 255);
      }
      case 3: {
        // Any type, random body, checksum right (emitted as an unknown error or random echo).
        const p = this.#icmpPacket(rng.pick(PEERS), FUZZ6_US, { type: 'echo-request', ident: 0, seqNo: 0, data: this.#bytes(rng.int(64)) });
        p[40] = rng.int(256);
        p[41] = rng.int(256);
        // Fix the checksum for the new type/code: the sum changes by the difference.
        p[42] = 0;
        p[43] = 0;
        const sum = icmpSum(p);
        p[42] = sum >>> 8;
        p[43] = sum & 0xff;
        return p;
      }
      default:
        return this.#icmpPacket(IPV6_LOOPBACK, FUZZ6_US, { type: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(8) });
    }
  }
}

/** The ICMPv6 checksum of the message in `p` (fixed header in front, checksum field zero). */
function icmpSum(p: Uint8Array): number {
  let sum = 0;
  for (let i = 8; i < 40; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
  const len = p.length - 40;
  sum += len + 58;
  for (let i = 40; i < p.length; i += 2) sum += (p[i]! << 8) | (i + 1 < p.length ? p[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  return c;
}
