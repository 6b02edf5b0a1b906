/**
 * Every timer of a connection in one table (the shape of quinn-proto's `TimerTable`): a tagged
 * union names them, one slot each holds an absolute deadline. `handleTimeout` runs the expired
 * ones in `TIMER_ORDER`; `pollTimeout` is `earliest()`; closing or entering TIME-WAIT stops them
 * by name instead of by a list of fields repeated in four places.
 */
import type { Instant } from '../types.js';
import { onKeepAliveTimeout, onPmtuExpired, onUserTimeout } from './liveness.js';
import { detectLosses, onRetransmitTimeout, onTlpTimeout } from './recovery.js';
import { onPersistTimeout } from './sender.js';
import type { Tcb } from './tcb.js';

/** The timers of a connection. */
export type TimerKind =
  /** RFC 9293 §3.10.8: the 2·MSL wait of TIME-WAIT. */
  | 'timeWait'
  /** Linux's tcp_fin_timeout: an orphan's idle bound in FIN-WAIT-2. */
  | 'finWait2'
  /** RFC 5482 / RFC 9293 §3.10.8 user timeout: data unacknowledged (or held by a zero window) this long. */
  | 'user'
  /** RFC 6298 retransmission timer (also the SYN's). */
  | 'retransmit'
  /** RFC 1122 §4.2.3.6 keepalive. */
  | 'keepalive'
  /** RFC 8985 §6.2 step 5: the RACK reordering timer. */
  | 'reorder'
  /** RFC 8985 §7.2: the tail loss probe timeout. */
  | 'tlp'
  /** RFC 9293 §3.8.6.1: the zero-window persist timer. */
  | 'persist'
  /** RFC 1122 §4.2.3.2: the delayed-ACK timer. */
  | 'delayedAck'
  /** RFC 1191 §6.3: try a larger path MTU again after ICMP lowered it. */
  | 'pmtuRaise';

/** The order in which `handleTimeout` runs the timers that expired together. */
export const TIMER_ORDER: readonly TimerKind[] = Object.freeze([
  'timeWait',
  'finWait2',
  'user',
  'retransmit',
  'keepalive',
  'reorder',
  'tlp',
  'persist',
  'delayedAck',
  'pmtuRaise',
] as const);

const SLOT: Readonly<Record<TimerKind, number>> = Object.freeze({
  timeWait: 0,
  finWait2: 1,
  user: 2,
  retransmit: 3,
  keepalive: 4,
  reorder: 5,
  tlp: 6,
  persist: 7,
  delayedAck: 8,
  pmtuRaise: 9,
});

/** Absolute deadlines by timer; a disarmed timer holds Infinity. */
export class TimerTable {
  private readonly at: number[] = [Infinity, Infinity, Infinity, Infinity, Infinity, Infinity, Infinity, Infinity, Infinity, Infinity];

  /** The deadline of `kind`, or undefined when disarmed. */
  get(kind: TimerKind): Instant | undefined {
    const t = this.at[SLOT[kind]]!;
    return t === Infinity ? undefined : t;
  }

  /** Whether `kind` is armed. */
  armed(kind: TimerKind): boolean {
    return this.at[SLOT[kind]] !== Infinity;
  }

  /** Arms `kind` for `at` (replacing any deadline), or disarms it with undefined. */
  set(kind: TimerKind, at: Instant | undefined): void {
    this.at[SLOT[kind]] = at === undefined ? Infinity : at;
  }

  /** Arms `kind` for `at` unless it is armed already. */
  arm(kind: TimerKind, at: Instant): void {
    const i = SLOT[kind];
    if (this.at[i] === Infinity) this.at[i] = at;
  }

  /** Disarms `kind`. */
  stop(kind: TimerKind): void {
    this.at[SLOT[kind]] = Infinity;
  }

  /** Whether `kind` is armed and its deadline is at or before `now`. */
  expired(kind: TimerKind, now: Instant): boolean {
    return this.at[SLOT[kind]]! <= now;
  }

  /** Disarms every timer (CLOSED). */
  stopAll(): void {
    this.at.fill(Infinity);
  }

  /** The earliest armed deadline, or undefined. */
  earliest(): Instant | undefined {
    const a = this.at;
    let t = a[0]!;
    for (let i = 1; i < a.length; i++) if (a[i]! < t) t = a[i]!;
    return t === Infinity ? undefined : t;
  }
}

/** Runs every timer whose deadline is at or before `now`, in `TIMER_ORDER`, until the connection closes. */
export function handleTimeout(t: Tcb, now: Instant): void {
  if (t.st === 'CLOSED') return;
  const timers = t.timers;
  for (const kind of TIMER_ORDER) {
    if (!timers.expired(kind, now)) continue;
    timers.stop(kind);
    fire(t, kind, now);
    if (t.closedEmitted) return;
  }
}

function fire(t: Tcb, kind: TimerKind, now: Instant): void {
  switch (kind) {
    case 'timeWait':
      // RFC 9293 §3.10.8: TIME-WAIT timeout deletes the TCB.
      t.toClosed(undefined);
      return;
    case 'finWait2':
      // An orphan's peer stayed silent in FIN-WAIT-2 for finWait2TimeoutMs: give up like Linux's
      // tcp_fin_timeout, telling the peer with a RST.
      t.finalRst = t.rstRepr(t.snd.max);
      t.toClosed('ETIMEDOUT');
      return;
    case 'user':
      onUserTimeout(t);
      return;
    case 'retransmit':
      onRetransmitTimeout(t, now);
      return;
    case 'keepalive':
      onKeepAliveTimeout(t, now);
      return;
    case 'reorder':
      detectLosses(t, now);
      return;
    case 'tlp':
      onTlpTimeout(t);
      return;
    case 'persist':
      onPersistTimeout(t, now);
      return;
    case 'delayedAck':
      t.rcv.ackNow = true;
      return;
    case 'pmtuRaise':
      onPmtuExpired(t);
      return;
  }
}
