/**
 * What the hostile side of the IPv4 fuzz bed sends: random octets (some dressed as IPv4),
 * segments of the peer model's live connections with fields mutated, valid segments with
 * header and option octets flipped, fragments (overlapping, duplicated, missing, oversized,
 * floods) and ICMP (echo requests, errors quoting our connections' packets, unknown types).
 *
 * Every packet is built into one reusable buffer (templates from `emitIpv4`/`emitTcp`, then
 * mutated in place and checksums fixed up), its payloads drawn from a pool of seeded random
 * octets, every choice from the bed's one `Rng`; the factory hands each packet to the bed's
 * `inject` as soon as it is built.
 */
import { IpProtocol, emitIcmpv4, emitIpv4, internetChecksum, type Ipv4Repr } from '@tcp-tun/ip';
import { emitTcp, type SackBlock, type TcpControl, type TcpRepr } from '@tcp-tun/tcp';
import { fixChecksums, flipByte, nearOrFar, putU32, type Rng } from './fuzz-bytes.js';
import { FUZZ_PEER, FUZZ_US, OTHER_SOURCES, PEER_MSS, SERVICE_PORTS, type MutableTcpRepr, type PeerModel } from './fuzz-peer.js';

const CONTROLS: readonly TcpControl[] = ['none', 'psh', 'syn', 'fin', 'rst'];

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

type MutableIpv4Repr = { -readonly [K in keyof Ipv4Repr]: Ipv4Repr[K] };

/** Builds the fuzzed packets of one run and hands each to `inject`; see the file comment. */
export class PacketFactory {
  readonly #rng: Rng;
  readonly #mix: FuzzMix;
  readonly #mixTotal: number;
  readonly #peer: PeerModel;
  readonly #inject: (packet: Uint8Array) => void;
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

  /**
   * Fills the pool of random octets from `rng` at once (1 MiB), so it must be made before
   * anything else draws from the same `rng`.
   * @param peer the peer model whose connections the packets aim at
   * @param inject delivers a fuzzed packet to the stack (the buffer is reused afterwards)
   */
  constructor(rng: Rng, mix: FuzzMix, peer: PeerModel, inject: (packet: Uint8Array) => void) {
    this.#rng = rng;
    this.#mix = mix;
    this.#mixTotal = mix.random + mix.mutated + mix.flipped + mix.fragments + mix.icmp;
    this.#peer = peer;
    this.#inject = inject;
    this.#pool = new Uint8Array(1 << 20);
    for (let i = 0; i < this.#pool.length; i += 4) {
      const v = this.#rng.u32();
      this.#pool[i] = v;
      this.#pool[i + 1] = v >>> 8;
      this.#pool[i + 2] = v >>> 16;
      this.#pool[i + 3] = v >>> 24;
    }
  }

  /** The pool of seeded random octets (the bed takes its stack's secret and its data from it). */
  get pool(): Uint8Array {
    return this.#pool;
  }

  /** Writes IPv4 + `repr` with `length` pool octets into the buffer; returns the packet. */
  tcpPacket(repr: TcpRepr, src: number, length: number, dst = FUZZ_US): Uint8Array {
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

  /** Builds and injects one fuzzed packet, of a kind picked by the mix's weights. */
  fuzzOne(): void {
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
        const c = this.#peer.anyConn();
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
    const c = this.#peer.anyConn();
    let repr: MutableTcpRepr;
    let src = FUZZ_PEER;
    if (c === undefined) {
      repr = { srcPort: 1024 + rng.int(60000), dstPort: rng.pick(SERVICE_PORTS), control: 'syn', seq: rng.u32(), ack: undefined, window: 65535, mss: PEER_MSS };
    } else {
      repr = this.#peer.base(c, 'none', c.sndNxt, c.state === 'syn-sent' ? undefined : c.rcvNxt);
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
          repr.timestamp = { tsVal: rng.chance(0.5) ? nearOrFar(rng, this.#peer.tsClock) : rng.u32(), tsEcr: rng.u32() };
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
    const packet = this.tcpPacket(repr, src, length);
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
    const c = this.#peer.anyConn();
    const repr: MutableTcpRepr = c === undefined
      ? { srcPort: 1024 + rng.int(60000), dstPort: rng.pick(SERVICE_PORTS), control: 'syn', seq: rng.u32(), ack: undefined, window: 65535, mss: PEER_MSS, sackPermitted: true, timestamp: { tsVal: 1, tsEcr: 0 }, windowScale: 7 }
      : this.#peer.base(c, rng.chance(0.8) ? 'psh' : 'syn', c.sndNxt, c.rcvNxt);
    if (rng.chance(0.5)) repr.sackBlocks = [{ left: repr.ack ?? 0, right: ((repr.ack ?? 0) + 1000) >>> 0 }];
    const length = rng.int(300);
    const p = this.tcpPacket(repr, FUZZ_PEER, length);
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
    const c = this.#peer.anyConn();
    const repr: TcpRepr = c === undefined
      ? { srcPort: 1024 + rng.int(60000), dstPort: rng.pick(SERVICE_PORTS), control: 'syn', seq: rng.u32(), ack: undefined, window: 65535, mss: PEER_MSS }
      : this.#peer.base(c, 'psh', c.sndNxt, c.rcvNxt);
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
      const c = this.#peer.anyConn();
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
}
