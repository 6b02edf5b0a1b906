/**
 * Passive open, sans-IO (RFC 9293 §3.10.7.2, "If the state is LISTEN"): a listening port turns
 * SYNs into SYN-RECEIVED connections, bounded by a backlog, and answers stray ACKs with RST.
 * When the backlog (or the SYN-RECEIVED limit) is full it answers SYNs statelessly with SYN
 * cookies (RFC 4987 §3.6) and turns a returning ACK that carries a valid cookie into an
 * ESTABLISHED connection. The stack owns the connection table; the listener only counts and queues.
 *
 * Cookie layout (the ISN of our SYN-ACK), as in RFC 4987 §3.6 and Linux:
 *   bits 31..27  t mod 32, t = floor(now / 64 s)
 *   bits 26..24  index of the peer's MSS in COOKIE_MSS (largest entry not above it)
 *   bits 23..0   keyed hash of the 4-tuple, t, the MSS index and the peer's ISN
 * A cookie is valid for the current and the previous counter period (64–128 s). Options the
 * cookie cannot carry (window scale, SACK, timestamps, ECN) are not offered in a cookie SYN-ACK.
 */
import { resolveTcpConfig } from './config.js';
import { TcpConnection } from './connection.js';
import { seqAdd } from './seq.js';
import { TcpUsageError } from './errors.js';
import { resetFor } from './reset.js';
import type { Endpoint, Instant, TcpConfig, TcpRepr, Transmit } from './types.js';

/** What the stack does with a segment the listener saw. */
export type ListenResult =
  /**
   * A new connection: put it in the table and drain it. From a SYN it is SYN-RECEIVED with its
   * SYN-ACK queued; from an ACK returning a valid SYN cookie it is already ESTABLISHED with
   * `connected` pending (call `established()` on that event, as for any embryo).
   */
  | { readonly kind: 'connection'; readonly connection: TcpConnection }
  /** Send this reply (a RST for a stray ACK, or a stateless SYN-ACK carrying a SYN cookie). */
  | { readonly kind: 'reply'; readonly transmit: Transmit }
  /** Ignore the segment; `reason` is for counters. */
  | { readonly kind: 'drop'; readonly reason: 'rst' | 'backlog-full' | 'no-syn' | 'bad-segment' };

/** Options of {@link TcpListener}. */
export interface ListenerOptions {
  /** Address (0 = any) and port we listen on. */
  readonly local: Endpoint;
  /** Most connections held before `accept()`: embryonic (SYN-RECEIVED) plus established. */
  readonly backlog: number;
  /** Configuration for accepted connections. */
  readonly config?: Partial<TcpConfig> | undefined;
  /** Initial sequence number generator (RFC 9293 §3.4.1, RFC 6528); time and randomness come from the stack. */
  readonly isn: (now: Instant, local: Endpoint, remote: Endpoint) => number;
  /**
   * Timestamp offset for each accepted connection (RFC 7323 §5.4: random per connection; the
   * stack supplies the randomness). Absent: each connection derives one from its ISS.
   */
  readonly tsOffset?: ((now: Instant, local: Endpoint, remote: Endpoint) => number) | undefined;
  /** Answer SYNs with SYN cookies when full (RFC 4987 §3.6) instead of dropping them. Default true. */
  readonly synCookies?: boolean | undefined;
  /** Most embryonic (SYN-RECEIVED) connections; beyond it SYNs get cookies (or are dropped). Default `backlog`. */
  readonly maxSynReceived?: number | undefined;
  /**
   * Keyed 32-bit hash of four uint32s for the cookies, supplied by the stack (it holds the secret
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
  /** ACKs checked for a cookie and found invalid or stale (answered with RST). */
  readonly synCookiesRejected: number;
  /** SYNs dropped because the listener was full (cookies off), and valid cookie ACKs dropped because the accept queue was full. */
  readonly synDropped: number;
}

/** MSS values a cookie can encode (3 bits; the first is RFC 9293's default 536). */
export const COOKIE_MSS: readonly number[] = [536, 1220, 1300, 1440, 1460, 4312, 8960, 65495];
/** Length of one cookie time counter period (RFC 4987 §3.6: 64 s, as Linux). */
const COOKIE_PERIOD_MS = 64_000;

/** A fixed 32-bit mix (murmur3 finaliser) for the fallback cookie hash. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const EMPTY = new Uint8Array(0);

/** A listening port: SYN handling, backlog and accept queue. */
export class TcpListener {
  /** Address (0 = any) and port. */
  readonly local: Endpoint;
  /** Most connections held (pending plus queued). */
  readonly backlog: number;
  private readonly config: TcpConfig;
  private readonly isn: (now: Instant, local: Endpoint, remote: Endpoint) => number;
  private readonly tsOffset: ((now: Instant, local: Endpoint, remote: Endpoint) => number) | undefined;
  private readonly pending = new Set<TcpConnection>();
  private readonly queue: TcpConnection[] = [];
  private readonly synCookies: boolean;
  private readonly maxSynReceived: number;
  private readonly cookieHash: (a: number, b: number, c: number, d: number) => number;
  private nCookiesSent = 0;
  private nCookiesAccepted = 0;
  private nCookiesRejected = 0;
  private nSynDropped = 0;
  /** When the last cookie SYN-ACK was sent. */
  private lastCookieAt: Instant | undefined;

  constructor(opts: ListenerOptions) {
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
  handleSegment(now: Instant, local: Endpoint, remote: Endpoint, repr: TcpRepr, payload: Uint8Array): ListenResult {
    if (local.port !== this.local.port || (this.local.addr !== 0 && local.addr !== this.local.addr)) {
      return { kind: 'drop', reason: 'bad-segment' };
    }
    // First: "An incoming RST segment could not be valid ... it should be ignored."
    if (repr.control === 'rst') return { kind: 'drop', reason: 'rst' };
    // Second: "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
    // state": <SEQ=SEG.ACK><CTL=RST> (a SYN-ACK included).
    if (repr.ack !== undefined) {
      // RFC 4987 §3.6: the ACK may return one of our SYN cookies.
      if (this.synCookies && repr.control !== 'syn') {
        const r = this.cookieAck(now, local, remote, repr, payload);
        if (r !== undefined) return r;
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
    const connection = TcpConnection.accept(now, {
      local,
      remote,
      iss: this.isn(now, local, remote),
      syn: repr,
      config: this.config,
      tsOffset: this.tsOffset?.(now, local, remote),
    });
    this.pending.add(connection);
    return { kind: 'connection', connection };
  }

  /** The cookie for this 4-tuple, counter `t`, MSS index `m` and peer ISN. */
  private cookie(local: Endpoint, remote: Endpoint, t: number, m: number, peerIsn: number): number {
    const inner = this.cookieHash(peerIsn >>> 0, t >>> 0, m, local.addr >>> 0);
    const h = this.cookieHash(remote.addr >>> 0, local.addr >>> 0, ((remote.port << 16) | local.port) >>> 0, inner >>> 0) & 0xffffff;
    return (((t & 31) << 27) | (m << 24) | h) >>> 0;
  }

  /** A stateless SYN-ACK whose ISN is a cookie; only the MSS option is offered. */
  private cookieSynAck(now: Instant, local: Endpoint, remote: Endpoint, syn: TcpRepr): Transmit {
    const peerMss = syn.mss ?? COOKIE_MSS[0]!;
    let m = 0;
    while (m + 1 < COOKIE_MSS.length && COOKIE_MSS[m + 1]! <= peerMss) m++;
    const t = Math.floor(now / COOKIE_PERIOD_MS);
    this.nCookiesSent++;
    this.lastCookieAt = now;
    const repr: TcpRepr = {
      srcPort: local.port,
      dstPort: remote.port,
      control: 'syn',
      seq: this.cookie(local, remote, t, m, syn.seq),
      ack: seqAdd(syn.seq, 1),
      // The SYN window TcpConnection.fromCookie assumes we advertised (unscaled, RFC 7323 §2.2).
      window: Math.min(this.config.recvBufferSize, 65535),
      mss: this.config.mss,
    };
    return { repr, payload: EMPTY };
  }

  /** An ACK for the port: a connection if it returns a valid cookie, else undefined (→ RST). */
  private cookieAck(now: Instant, local: Endpoint, remote: Endpoint, repr: TcpRepr, payload: Uint8Array): ListenResult | undefined {
    const cookie = seqAdd(repr.ack!, -1);
    const peerIsn = seqAdd(repr.seq, -1);
    const m = (cookie >>> 24) & 7;
    const tNow = Math.floor(now / COOKIE_PERIOD_MS);
    let valid = false;
    // The current and the previous counter period (RFC 4987 §3.6).
    for (let t = tNow; t >= tNow - 1 && t >= 0 && !valid; t--) {
      if ((t & 31) === cookie >>> 27 && this.cookie(local, remote, t, m, peerIsn) === cookie) valid = true;
    }
    if (!valid) {
      this.nCookiesRejected++;
      // While cookies are in use, a data segment beyond the first (SEG.SEQ − 1 is then not the
      // peer's ISN, so its cookie cannot be checked) may belong to a cookie connection whose
      // first ACK was lost or overtaken: drop it silently rather than reset that connection;
      // the peer retransmits from its ISN + 1, which validates. Bare ACKs are still reset.
      if (payload.length > 0 && this.lastCookieAt !== undefined && now - this.lastCookieAt < 2 * COOKIE_PERIOD_MS) {
        return { kind: 'drop', reason: 'bad-segment' };
      }
      return undefined;
    }
    if (this.queue.length >= this.backlog) {
      // The accept queue itself is full: drop (as Linux); the peer's data retransmissions retry.
      this.nSynDropped++;
      return { kind: 'drop', reason: 'backlog-full' };
    }
    this.nCookiesAccepted++;
    const connection = TcpConnection.fromCookie(now, {
      local,
      remote,
      iss: cookie,
      ack: repr,
      mss: COOKIE_MSS[m]!,
      config: this.config,
      tsOffset: this.tsOffset?.(now, local, remote),
    });
    if (payload.length > 0 || repr.control === 'fin') connection.handleSegment(now, repr, payload);
    this.pending.add(connection);
    return { kind: 'connection', connection };
  }

  /** The stack reports that an embryonic connection reached ESTABLISHED: it joins the accept queue. */
  established(conn: TcpConnection): void {
    if (this.pending.delete(conn)) this.queue.push(conn);
  }

  /** The stack reports that an embryonic or queued connection died before `accept()`. */
  release(conn: TcpConnection): void {
    if (this.pending.delete(conn)) return;
    const i = this.queue.indexOf(conn);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** The oldest established connection not yet accepted, or undefined. */
  accept(): TcpConnection | undefined {
    return this.queue.shift();
  }
}
