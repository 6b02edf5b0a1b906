/**
 * The linger of `stack.close()`: orphans (connections whose socket was destroyed or ended) that
 * still deliver what it wrote — our data or FIN not yet acknowledged — get a short, bounded
 * wait while they make progress, so closing a stack right after a socket's 'close' loses
 * nothing; what is left after it is reset by the stack.
 */
import type { TcpState } from '@tcp-tun/tcp';
import type { ConnectionEntry } from './internal.js';

/** States in which an orphan still waits for the peer to acknowledge our data or FIN. */
const LINGER_STATES: ReadonlySet<TcpState> = new Set<TcpState>(['FIN-WAIT-1', 'CLOSING', 'LAST-ACK']);
/** `stack.close()` lingers for orphans at most this long without progress, in ms. */
export const CLOSE_LINGER_STALL_MS = 300;
/** ... and at most this long in all, in ms. */
export const CLOSE_LINGER_MAX_MS = 10_000;
const CLOSE_LINGER_POLL_MS = 10;

/** An orphan whose data or FIN still waits for the peer's acknowledgment. */
export function lingers(e: ConnectionEntry): boolean {
  return e.owner === undefined && e.orphan && !e.removed && e.listener === undefined && LINGER_STATES.has(e.conn.state);
}

/**
 * Waits while the lingering orphans among `connections()` make progress (bounded: 300 ms
 * without any, 10 s in all); holds the process meanwhile through `hold`.
 */
export async function linger(connections: () => Iterable<ConnectionEntry>, hold: (delta: 1 | -1) => void): Promise<void> {
  const pending = (): ConnectionEntry[] => [...connections()].filter(lingers);
  let list = pending();
  if (list.length === 0) return;
  hold(1);
  try {
    let last = '';
    let still = 0;
    for (let polls = 0; list.length > 0 && polls * CLOSE_LINGER_POLL_MS < CLOSE_LINGER_MAX_MS; polls++) {
      await new Promise((resolve) => setTimeout(resolve, CLOSE_LINGER_POLL_MS));
      list = pending();
      const key = list.map((e) => `${e.conn.state}:${e.conn.sendQueued}`).join(',');
      if (key !== last) {
        last = key;
        still = 0;
      } else if (++still * CLOSE_LINGER_POLL_MS >= CLOSE_LINGER_STALL_MS) {
        break;
      }
    }
  } finally {
    hold(-1);
  }
}
