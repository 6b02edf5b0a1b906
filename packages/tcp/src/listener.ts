/**
 * Passive open, sans-IO (RFC 9293 §3.10.7.2, "If the state is LISTEN"): a listening port turns
 * SYNs into SYN-RECEIVED connections, bounded by a backlog, and answers stray ACKs with RST.
 * When the backlog (or the SYN-RECEIVED limit) is full it answers SYNs statelessly with SYN
 * cookies (RFC 4987 §3.6) and turns a returning ACK that carries a valid cookie into an
 * ESTABLISHED connection. The stack owns the connection table; the listener only counts and queues.
 *
 * Cookie layout (the ISN of our SYN-ACK), as in RFC 4987 §3.6 and Linux:
 *   bits 31..27  t mod 32, t = floor(now / 64 s)
 *   bits 26..24  index of the peer's MSS in COOKIE_MSS, or COOKIE_MSS6 for IPv6 (largest entry
 *                not above it)
 *   bits 23..0   keyed hash of the 4-tuple, t, the MSS index, the peer's ISN and the options word
 * A cookie is valid for the current and the previous counter period (64–128 s).
 *
 * Options (RFC 4987 §3.6 names their loss as the cookies' main drawback). When the SYN offers
 * timestamps and our config allows them, the cookie SYN-ACK offers what a normal SYN-ACK would
 * (window scale, SACK-permitted, timestamps, ECN setup) and carries the choices in the low 6 bits
 * of its TSval, as Linux's cookie_init_timestamp():
 *   bits 3..0  the peer's window shift (0–14), 0xf = no window scaling
 *   bit  4     SACK permitted
 *   bit  5     ECN agreed (RFC 3168 §6.1.1)
 * The peer's ACK echoes that TSval in TSecr (RFC 7323 §3.2), so the choices come back with it.
 * Unlike Linux, the options word (those 6 bits, plus whether timestamps were offered at all) is
 * also an input of the cookie hash: a TSecr whose low bits differ from what we sent makes the
 * cookie invalid, so a peer (or an on-path forger) cannot switch on anything we did not agree to.
 * Without timestamps the SYN-ACK offers only the MSS option and the connection runs without
 * window scaling, SACK, timestamps and ECN (there is nowhere to keep the choices).
 *
 * TSval of a cookie SYN-ACK: the connection's clock value (now + offset) with its low 6 bits
 * replaced by the options, minus 64 if that would exceed the clock value; so it is never ahead
 * of the TSvals the connection sends later (RFC 7323 §5.4 monotonicity) and at most 63 ms behind.
 *
 * Timestamp offsets: one per 4-tuple, for cookie and ordinary connections alike (as Linux's
 * secure_tcp_ts_off), so every incarnation of a 4-tuple continues one TSval clock (RFC 7323
 * §5.4; a peer in TIME-WAIT checks it, RFC 6191). It comes from the `tsOffset` option, which
 * must therefore be a function of the 4-tuple (the stack's keyed hash), or, without it, from
 * the keyed `cookieHash` of the 4-tuple. Nothing is stored for a cookie: the SYN-ACK and the
 * connection made from the ACK each compute it.
 *
 * IPv6. An IPv4 address enters the cookie hash as itself (cookies of IPv4 4-tuples are what they
 * were before IPv6). An IPv6 address enters it as `cookieHash` of its four 32-bit words: every
 * one of its 128 bits counts, and two addresses that agree on some 32 bits do not collide; which
 * addresses would give equal words depends on the secret key, so an attacker cannot choose them.
 * A flag in the hashed options word keeps the two families' cookies apart. The MSS a cookie SYN-ACK
 * advertises and the MSS assumed without the option follow the family (RFC 8200 §8.3,
 * RFC 9293 §3.7.1). A listener bound to `::` takes segments for any local address of either
 * family (dual stack; IPV6_V6ONLY is the stack's filter), one bound to 0.0.0.0 only IPv4 ones.
 */
import { defaultPeerMss, ipAddressEquals, isUnspecifiedAddress, type IpAddress } from './address.js';
import { chooseWindowScale, configForFamily, resolveTcpConfig } from './config.js';
import { TcpConnection, type CookieAgreedOptions } from './connection.js';
import { seqAdd, seqGt } from './seq.js';
import { TcpUsageError } from './errors.js';
import { resetFor } from './reset.js';
import type { Endpoint, Instant, TcpConfig, TcpRepr, Transmit } from './types.js';

/** What the stack does with a segment the listener saw (`A`: the address type, see {@link TcpListener}). */
export type ListenResult<A extends IpAddress = number> =
  /**
   * A new connection: put it in the table and drain it. From a SYN it is SYN-RECEIVED with its
   * SYN-ACK queued; from an ACK returning a valid SYN cookie it is already ESTABLISHED with
   * `connected` pending (call `established()` on that event, as for any embryo).
   */
  | {
      /** A new connection. */
      readonly kind: 'connection';
      /** The connection, SYN-RECEIVED or (from a cookie) ESTABLISHED. */
      readonly connection: TcpConnection<A>;
    }
  /** Send this reply (a RST for a stray ACK, or a stateless SYN-ACK carrying a SYN cookie). */
  | {
      /** A reply to send, no state kept. */
      readonly kind: 'reply';
      /** The segment to send. */
      readonly transmit: Transmit;
    }
  /** Ignore the segment; `reason` is for counters. */
  | {
      /** Ignore the segment. */
      readonly kind: 'drop';
      /**
       * Why: `rst` a RST (never answered) or a segment no RST may answer; `backlog-full` a SYN
       * the full backlog refused; `no-syn` a segment with neither SYN nor ACK; `bad-segment` one
       * not for this listener, or a data segment that failed SYN-cookie validation.
       */
      readonly reason: 'rst' | 'backlog-full' | 'no-syn' | 'bad-segment';
    };

/** Options of {@link TcpListener}. */
export interface ListenerOptions<A extends IpAddress = number> {
  /** Address (0 = any IPv4 address, `::` = any address of either family) and port we listen on. */
  readonly local: Endpoint<A>;
  /** Most connections held before `accept()`: embryonic (SYN-RECEIVED) plus established. */
  readonly backlog: number;
  /** Configuration for accepted connections. */
  readonly config?: Partial<TcpConfig> | undefined;
  /** Initial sequence number generator (RFC 9293 §3.4.1, RFC 6528); time and randomness come from the stack. */
  readonly isn: (now: Instant, local: Endpoint<A>, remote: Endpoint<A>) => number;
  /**
   * Timestamp offset of the connections of a 4-tuple (RFC 7323 §5.4, §7.1), cookie connections
   * included. It must depend only on the 4-tuple and a secret (RFC 6528's shape, e.g. a keyed
   * hash), never on `now` or fresh randomness: a cookie SYN-ACK and the connection its ACK opens
   * compute it separately and must agree, and successive incarnations of a 4-tuple then send
   * monotonic TSvals. Absent: derived from the 4-tuple with `cookieHash`.
   */
  readonly tsOffset?: ((now: Instant, local: Endpoint<A>, remote: Endpoint<A>) => number) | undefined;
  /** Answer SYNs with SYN cookies when full (RFC 4987 §3.6) instead of dropping them. Default true. */
  readonly synCookies?: boolean | undefined;
  /** Most embryonic (SYN-RECEIVED) connections; beyond it SYNs get cookies (or are dropped). Default `backlog`. */
  readonly maxSynReceived?: number | undefined;
  /**
   * Keyed 32-bit hash of four uint32s for the cookies and the timestamp offsets of cookie
   * connections (an IPv6 address is first hashed from its four words, see the file comment),
   * supplied by the stack (it holds the secret
   * and the randomness, e.g. SipHash or HMAC over a random key). Absent: a simple
   * non-cryptographic mix keyed with one value of `isn`, adequate for tests only.
   */
  readonly cookieHash?: ((a: number, b: number, c: number, d: number) => number) | undefined;
}

/** Counters of a listener. */
export interface ListenerStats {
  /** SYN-ACKs sent with a cookie ISN. */
  readonly synCookiesSent: number;
  /** ACKs whose cookie was valid: connections created from them. */
  readonly synCookiesAccepted: number;
  /**
   * ACKs checked for a cookie and found invalid or stale (answered with RST, or dropped if they
   * carry data); only counted while cookies were sent in the current or previous cookie period.
   */
  readonly synCookiesRejected: number;
  /**
   * ACKs for the port that matched no connection while no cookie could be outstanding (cookies
   * off, or none sent in the current or previous period): answered with RST (RFC 9293 §3.10.7.2).
   */
  readonly strayAcks: number;
  /** SYNs dropped because the listener was full (cookies off), and valid cookie ACKs dropped because the accept queue was full. */
  readonly synDropped: number;
}

/** MSS values a cookie can encode (3 bits; the first is RFC 9293's default 536). */
export const COOKIE_MSS: readonly number[] = [536, 1220, 1300, 1440, 1460, 4312, 8960, 65495];
/**
 * MSS values an IPv6 cookie can encode: MTU − 60 (RFC 8200 §8.3) for MTUs 576 (a peer below the
 * IPv6 minimum, still never sent more than it announced), 1280 (the IPv6 minimum, RFC 8200 §5;
 * also the MSS assumed without the option), 1480 (6in4 tunnels), 1492 (PPPoE), 1500, 4352, 9000
 * and 65535, as Linux keeps a table per family.
 */
export const COOKIE_MSS6: readonly number[] = [516, 1220, 1420, 1432, 1440, 4292, 8940, 65475];
/** Length of one cookie time counter period (RFC 4987 §3.6: 64 s, as Linux). */
const COOKIE_PERIOD_MS = 64_000;
/** Low TSval bits of a cookie SYN-ACK that carry the options (Linux's TSBITS). */
const TS_OPTION_BITS = 6;
const TS_OPTION_MASK = (1 << TS_OPTION_BITS) - 1;
/** Window shift field of the options: 0xf = no window scaling (RFC 7323 §2.3: shifts are 0–14). */
const TS_OPT_WSCALE_MASK = 0xf;
const TS_OPT_SACK = 1 << 4;
const TS_OPT_ECN = 1 << 5;
/** Bit of the hashed options word: timestamps were offered (the 6 bits above are valid). */
const OPT_WORD_TS = 1 << TS_OPTION_BITS;
/**
 * First word of the timestamp offset hash; it keeps that hash apart from the cookie hashes, whose
 * first word is a peer's ISN (inner) or address (outer): 255.255.255.255 is never a peer address.
 */
const TS_OFFSET_TAG = 0xffffffff;
/** The first word of the IPv6 timestamp offset hash (the IPv4 one's, with the low bit clear). */
const TS_OFFSET_TAG6 = 0xfffffffe;
/** Bit of the cookie's hashed options word for an IPv6 4-tuple (above 3 MSS bits and 7 option bits). */
const COOKIE_IPV6 = 1 << 10;

/** The low 6 TSval bits for `o` (Linux's cookie_init_timestamp layout). */
function encodeOptions(o: CookieAgreedOptions): number {
  const ws = o.windowScale === undefined ? TS_OPT_WSCALE_MASK : Math.min(o.windowScale, 14);
  return ws | (o.sackPermitted ? TS_OPT_SACK : 0) | (o.ecn ? TS_OPT_ECN : 0);
}

/** The options in the low 6 bits of an echoed TSval (0xf in the shift field: no window scaling). */
function decodeOptions(tsEcr: number): CookieAgreedOptions {
  const ws = tsEcr & TS_OPT_WSCALE_MASK;
  return { windowScale: ws === TS_OPT_WSCALE_MASK ? undefined : ws, sackPermitted: (tsEcr & TS_OPT_SACK) !== 0, ecn: (tsEcr & TS_OPT_ECN) !== 0 };
}

/** A fixed 32-bit mix (murmur3 finaliser) for the fallback cookie hash. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const EMPTY = new Uint8Array(0);

/** The big-endian 32-bit word at `i` of an IPv6 address. */
function be32(a: Uint8Array, i: number): number {
  return ((a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!) >>> 0;
}

/**
 * A listening port: SYN handling, backlog and accept queue. `A` is the address type of the
 * segments it takes: `number` (IPv4, the default) or `IpAddress` for a dual-stack listener.
 */
export class TcpListener<A extends IpAddress = number> {
  /** Address (0 = any IPv4 address, `::` = any address) and port. */
  readonly local: Endpoint<A>;
  /** Most connections held (pending plus queued). */
  readonly backlog: number;
  private readonly config: TcpConfig;
  private readonly isn: (now: Instant, local: Endpoint<A>, remote: Endpoint<A>) => number;
  private readonly tsOffset: ((now: Instant, local: Endpoint<A>, remote: Endpoint<A>) => number) | undefined;
  private readonly pending = new Set<TcpConnection<A>>();
  private readonly queue: TcpConnection<A>[] = [];
  private readonly synCookies: boolean;
  private readonly maxSynReceived: number;
  private readonly cookieHash: (a: number, b: number, c: number, d: number) => number;
  private nCookiesSent = 0;
  private nCookiesAccepted = 0;
  private nCookiesRejected = 0;
  private nSynDropped = 0;
  private nStrayAcks = 0;
  /** The shift we offer (RFC 7323 §2.3), −1 with window scaling off in the config. */
  private readonly wsOffered: number;
  /** When the last cookie SYN-ACK was sent. */
  private lastCookieAt: Instant | undefined;

  constructor(opts: ListenerOptions<NoInfer<A>>) {
    if (!Number.isInteger(opts.backlog) || opts.backlog < 1) {
      throw new TcpUsageError('ERR_INVALID_ARG_VALUE', `backlog must be a positive integer, got ${String(opts.backlog)}`);
    }
    if (!Number.isInteger(opts.local.port) || opts.local.port < 1 || opts.local.port > 65535) {
      throw new TcpUsageError('ERR_INVALID_ARG_VALUE', `listening port must be in [1, 65535], got ${String(opts.local.port)}`);
    }
    this.local = opts.local;
    this.backlog = opts.backlog;
    // Validated once here, so a bad option throws at listen() time rather than on the first SYN.
    this.config = resolveTcpConfig(opts.config);
    this.isn = opts.isn;
    this.tsOffset = opts.tsOffset;
    this.synCookies = opts.synCookies ?? true;
    this.wsOffered = this.config.windowScaling ? chooseWindowScale(this.config) : -1;
    const maxSyn = opts.maxSynReceived ?? opts.backlog;
    if (!Number.isInteger(maxSyn) || maxSyn < 0) {
      throw new TcpUsageError('ERR_INVALID_ARG_VALUE', `maxSynReceived must be a non-negative integer, got ${String(maxSyn)}`);
    }
    this.maxSynReceived = maxSyn;
    if (opts.cookieHash !== undefined) {
      this.cookieHash = opts.cookieHash;
    } else {
      const key = opts.isn(0, opts.local, opts.local) >>> 0;
      this.cookieHash = (a, b, c, d) => fmix(fmix(fmix(fmix(key ^ a) ^ b) ^ c) ^ d);
    }
  }

  /** Counters (SYN cookies, drops). */
  get stats(): ListenerStats {
    return {
      synCookiesSent: this.nCookiesSent,
      synCookiesAccepted: this.nCookiesAccepted,
      synCookiesRejected: this.nCookiesRejected,
      synDropped: this.nSynDropped,
      strayAcks: this.nStrayAcks,
    };
  }

  /** Embryonic connections (SYN-RECEIVED). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Established connections waiting for `accept()`. */
  get queueLength(): number {
    return this.queue.length;
  }

  /**
   * A segment for the listening port that matched no connection (RFC 9293 §3.10.7.2).
   * `local` is the segment's actual destination (the listener may be bound to any address).
   */
  handleSegment(now: Instant, local: Endpoint<A>, remote: Endpoint<A>, repr: TcpRepr, payload: Uint8Array): ListenResult<A> {
    if (local.port !== this.local.port || !this.takes(local.addr, remote.addr)) return { kind: 'drop', reason: 'bad-segment' };
    // First: "An incoming RST segment could not be valid ... it should be ignored."
    if (repr.control === 'rst') return { kind: 'drop', reason: 'rst' };
    // Second: "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
    // state": <SEQ=SEG.ACK><CTL=RST> (a SYN-ACK included).
    if (repr.ack !== undefined) {
      // RFC 4987 §3.6: the ACK may return one of our SYN cookies, if one can be outstanding.
      // Otherwise it is a plain stray ACK (late, or for a connection that is gone).
      if (repr.control !== 'syn' && this.cookiesOutstanding(now)) {
        const r = this.cookieAck(now, local, remote, repr, payload);
        if (r !== undefined) return r;
      } else {
        this.nStrayAcks++;
      }
      const rst = resetFor(repr, payload.length);
      if (rst === undefined) return { kind: 'drop', reason: 'rst' };
      return { kind: 'reply', transmit: { repr: rst, payload: EMPTY } };
    }
    // Fifth: "any other control or text-bearing segment (not containing SYN) must have an ACK
    // and thus would have been discarded by the ACK processing".
    if (repr.control !== 'syn') return { kind: 'drop', reason: 'no-syn' };
    // Third: SYN. When full, answer with a SYN cookie and keep no state (RFC 4987 §3.6), or
    // drop (the peer retries) with cookies off.
    if (this.pending.size + this.queue.length >= this.backlog || this.pending.size >= this.maxSynReceived) {
      if (!this.synCookies) {
        this.nSynDropped++;
        return { kind: 'drop', reason: 'backlog-full' };
      }
      return { kind: 'reply', transmit: this.cookieSynAck(now, local, remote, repr) };
    }
    const connection = TcpConnection.accept<A>(now, {
      local,
      remote,
      iss: this.isn(now, local, remote),
      syn: repr,
      config: this.config,
      tsOffset: this.tsOffsetFor(now, local, remote),
    });
    this.pending.add(connection);
    return { kind: 'connection', connection };
  }

  /**
   * Whether a segment to `local` from `remote` is for this listener's address: the same address;
   * any IPv4 address when bound to 0.0.0.0; any address of either family when bound to `::`.
   * The two ends of a segment are always of one family.
   */
  private takes(local: IpAddress, remote: IpAddress): boolean {
    const bound = this.local.addr;
    if (typeof local === 'number') {
      if (typeof remote !== 'number') return false;
      // 0.0.0.0 and `::` both take IPv4 (the fast path: one comparison for the usual listener).
      return bound === 0 || bound === local || (typeof bound !== 'number' && isUnspecifiedAddress(bound));
    }
    if (typeof remote === 'number') return false;
    return typeof bound !== 'number' && (isUnspecifiedAddress(bound) || ipAddressEquals(bound, local));
  }

  /**
   * The 32-bit word an address enters the cookie hash as: an IPv4 address itself, an IPv6 address
   * the keyed hash of its four words (all 128 bits; see the file comment).
   */
  private addrWord(a: IpAddress): number {
    if (typeof a === 'number') return a >>> 0;
    return this.cookieHash(be32(a, 0), be32(a, 4), be32(a, 8), be32(a, 12)) >>> 0;
  }

  /**
   * Whether a cookie sent by this listener can still be valid: one was sent in the current or
   * the previous counter period.
   */
  private cookiesOutstanding(now: Instant): boolean {
    if (!this.synCookies || this.lastCookieAt === undefined) return false;
    return Math.floor(now / COOKIE_PERIOD_MS) - Math.floor(this.lastCookieAt / COOKIE_PERIOD_MS) <= 1;
  }

  /**
   * The cookie for this 4-tuple, counter `t`, MSS index `m`, peer ISN and options word (0
   * without timestamps, else OPT_WORD_TS | the 6 option bits of the TSval).
   */
  private cookie(local: Endpoint<A>, remote: Endpoint<A>, t: number, m: number, peerIsn: number, optWord: number): number {
    const localWord = this.addrWord(local.addr);
    // The family flag above the 3 MSS bits and the 7 option bits: an IPv6 cookie never equals an IPv4 one.
    const family = typeof remote.addr === 'number' ? 0 : COOKIE_IPV6;
    const inner = this.cookieHash(peerIsn >>> 0, t >>> 0, (m | (optWord << 3) | family) >>> 0, localWord);
    const h = this.cookieHash(this.addrWord(remote.addr), localWord, ((remote.port << 16) | local.port) >>> 0, inner >>> 0) & 0xffffff;
    return (((t & 31) << 27) | (m << 24) | h) >>> 0;
  }

  /**
   * The timestamp offset of the connections of this 4-tuple (RFC 7323 §5.4, §7.1: unrelated across
   * 4-tuples and hiding our clock, the same for every incarnation), recomputable from the
   * 4-tuple alone because nothing is stored for a cookie (Linux's secure_tcp_ts_off): the
   * `tsOffset` option, or the keyed `cookieHash` of the 4-tuple.
   */
  private tsOffsetFor(now: Instant, local: Endpoint<A>, remote: Endpoint<A>): number {
    if (this.tsOffset !== undefined) return this.tsOffset(now, local, remote) >>> 0;
    const tag = typeof remote.addr === 'number' ? TS_OFFSET_TAG : TS_OFFSET_TAG6;
    return this.cookieHash(tag, this.addrWord(remote.addr), this.addrWord(local.addr), ((remote.port << 16) | local.port) >>> 0) >>> 0;
  }

  /**
   * A stateless SYN-ACK whose ISN is a cookie. With timestamps (the SYN offered them and the
   * config allows them) it answers the SYN's options as TcpConnection.accept would and encodes
   * the choices in the low bits of its TSval; without, it offers only the MSS option.
   */
  private cookieSynAck(now: Instant, local: Endpoint<A>, remote: Endpoint<A>, syn: TcpRepr): Transmit {
    const family = typeof remote.addr === 'number' ? 4 : 6;
    const cfg = configForFamily(this.config, family);
    // RFC 9293 §3.7.1: without the option the peer's MSS is 536 (IPv4) or 1220 (IPv6).
    const peerMss = syn.mss ?? defaultPeerMss(family);
    let m = 0;
    const table = family === 4 ? COOKIE_MSS : COOKIE_MSS6;
    while (m + 1 < table.length && table[m + 1]! <= peerMss) m++;
    const t = Math.floor(now / COOKIE_PERIOD_MS);
    const synTs = cfg.timestamps ? syn.timestamp : undefined;
    let agreed: CookieAgreedOptions | undefined;
    let optWord = 0;
    if (synTs !== undefined) {
      agreed = {
        // RFC 7323 §2.3: a shift above 14 is used as 14.
        windowScale: this.wsOffered >= 0 && syn.windowScale !== undefined ? Math.min(syn.windowScale, 14) : undefined,
        sackPermitted: cfg.sack && syn.sackPermitted === true,
        // RFC 3168 §6.1.1: an ECN-setup SYN has both ECE and CWR.
        ecn: cfg.ecn && syn.ece === true && syn.cwr === true,
      };
      optWord = OPT_WORD_TS | encodeOptions(agreed);
    }
    this.nCookiesSent++;
    this.lastCookieAt = now;
    let timestamp: TcpRepr['timestamp'];
    if (synTs !== undefined) {
      // Our clock as the connection will read it, low bits replaced by the options, never ahead
      // of it (the connection's later TSvals must not be older: RFC 7323 §5.4).
      const clock = (Math.floor(now) + this.tsOffsetFor(now, local, remote)) >>> 0;
      let tsVal = ((clock & ~TS_OPTION_MASK) | (optWord & TS_OPTION_MASK)) >>> 0;
      if (seqGt(tsVal, clock)) tsVal = seqAdd(tsVal, -(1 << TS_OPTION_BITS));
      timestamp = { tsVal, tsEcr: synTs.tsVal };
    }
    const repr: TcpRepr = {
      srcPort: local.port,
      dstPort: remote.port,
      control: 'syn',
      seq: this.cookie(local, remote, t, m, syn.seq, optWord),
      ack: seqAdd(syn.seq, 1),
      // The SYN window TcpConnection.fromCookie assumes we advertised (unscaled, RFC 7323 §2.2).
      window: Math.min(this.config.recvBufferSize, 65535),
      mss: cfg.mss,
      windowScale: agreed?.windowScale !== undefined ? this.wsOffered : undefined,
      sackPermitted: agreed?.sackPermitted === true ? true : undefined,
      timestamp,
      // RFC 3168 §6.1.1: an ECN-setup SYN-ACK carries ECE without CWR.
      ece: agreed?.ecn === true ? true : undefined,
    };
    return { repr, payload: EMPTY };
  }

  /** An ACK for the port: a connection if it returns a valid cookie, else undefined (→ RST). */
  private cookieAck(now: Instant, local: Endpoint<A>, remote: Endpoint<A>, repr: TcpRepr, payload: Uint8Array): ListenResult<A> | undefined {
    const cfg = this.config;
    const cookie = seqAdd(repr.ack!, -1);
    const peerIsn = seqAdd(repr.seq, -1);
    const m = (cookie >>> 24) & 7;
    // RFC 7323 §3.2: the ACK echoes our SYN-ACK's TSval in TSecr, and with it the options. The
    // hash covers them, so a TSecr whose low bits differ from what we sent invalidates the cookie.
    const ts = cfg.timestamps ? repr.timestamp : undefined;
    const optWord = ts === undefined ? 0 : OPT_WORD_TS | (ts.tsEcr & TS_OPTION_MASK);
    const tNow = Math.floor(now / COOKIE_PERIOD_MS);
    let valid = false;
    // The current and the previous counter period (RFC 4987 §3.6).
    for (let t = tNow; t >= tNow - 1 && t >= 0 && !valid; t--) {
      if ((t & 31) === cookie >>> 27 && this.cookie(local, remote, t, m, peerIsn, optWord) === cookie) valid = true;
    }
    const agreed = ts === undefined ? undefined : decodeOptions(ts.tsEcr);
    // Nothing beyond what a SYN-ACK of ours can agree: the 4-bit shift field holds 0–14 or 0xf
    // (none), and options off in our config are never agreed (even a hash collision cannot).
    if (agreed !== undefined && ((agreed.windowScale !== undefined && this.wsOffered < 0) || (agreed.sackPermitted && !cfg.sack) || (agreed.ecn && !cfg.ecn))) {
      valid = false;
    }
    if (!valid) {
      this.nCookiesRejected++;
      // While cookies are in use, a data segment beyond the first (SEG.SEQ − 1 is then not the
      // peer's ISN, so its cookie cannot be checked) may belong to a cookie connection whose
      // first ACK was lost or overtaken: drop it silently rather than reset that connection;
      // the peer retransmits from its ISN + 1, which validates. Bare ACKs are still reset.
      if (payload.length > 0) return { kind: 'drop', reason: 'bad-segment' };
      return undefined;
    }
    if (this.queue.length >= this.backlog) {
      // The accept queue itself is full: drop (as Linux); the peer's data retransmissions retry.
      this.nSynDropped++;
      return { kind: 'drop', reason: 'backlog-full' };
    }
    this.nCookiesAccepted++;
    const connection = TcpConnection.fromCookie<A>(now, {
      local,
      remote,
      iss: cookie,
      ack: repr,
      mss: (typeof remote.addr === 'number' ? COOKIE_MSS : COOKIE_MSS6)[m]!,
      config: this.config,
      // The offset the cookie SYN-ACK's TSval was made with (the 4-tuple's).
      tsOffset: this.tsOffsetFor(now, local, remote),
      options: agreed,
    });
    if (payload.length > 0 || repr.control === 'fin') connection.handleSegment(now, repr, payload);
    this.pending.add(connection);
    return { kind: 'connection', connection };
  }

  /** The stack reports that an embryonic connection reached ESTABLISHED: it joins the accept queue. */
  established(conn: TcpConnection<A>): void {
    if (this.pending.delete(conn)) this.queue.push(conn);
  }

  /** The stack reports that an embryonic or queued connection died before `accept()`. */
  release(conn: TcpConnection<A>): void {
    if (this.pending.delete(conn)) return;
    const i = this.queue.indexOf(conn);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** The oldest established connection not yet accepted, or undefined. */
  accept(): TcpConnection<A> | undefined {
    return this.queue.shift();
  }
}
