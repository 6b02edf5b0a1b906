/**
 * Passive open, sans-IO (RFC 9293 §3.10.7.2, "If the state is LISTEN"): a listening port turns
 * SYNs into SYN-RECEIVED connections, bounded by a backlog, and answers stray ACKs with RST.
 * The stack owns the connection table; the listener only counts and queues.
 */
import { resolveTcpConfig } from './config.js';
import { TcpConnection } from './connection.js';
import { TcpUsageError } from './errors.js';
import { resetFor } from './reset.js';
import type { Endpoint, Instant, TcpConfig, TcpRepr, Transmit } from './types.js';

/** What the stack does with a segment the listener saw. */
export type ListenResult =
  /** A new SYN-RECEIVED connection: put it in the table and drain it (its SYN-ACK is queued). */
  | { readonly kind: 'connection'; readonly connection: TcpConnection }
  /** Send this reply (a RST for a stray ACK). */
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
      const rst = resetFor(repr, payload.length);
      if (rst === undefined) return { kind: 'drop', reason: 'rst' };
      return { kind: 'reply', transmit: { repr: rst, payload: EMPTY } };
    }
    // Fifth: "any other control or text-bearing segment (not containing SYN) must have an ACK
    // and thus would have been discarded by the ACK processing".
    if (repr.control !== 'syn') return { kind: 'drop', reason: 'no-syn' };
    // Third: SYN. Drop (the peer retries) when the backlog is full, as Linux does.
    if (this.pending.size + this.queue.length >= this.backlog) return { kind: 'drop', reason: 'backlog-full' };
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
