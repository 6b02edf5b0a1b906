/**
 * A one-way transfer over a {@link Pair}, for tests that judge a whole flow: `a` sends `size`
 * octets of `stream` and closes; `b` reads, checks every octet and closes too.
 */
import type { Pair } from './pair.js';

/** What {@link runOneWay} saw. */
export interface OneWayResult {
  /** The first thing that went wrong (an error, a wrong octet, a short read), or undefined. */
  readonly failure: string | undefined;
  /** The pair's clock when `b` had read every octet (0 if it never did). */
  readonly doneMs: number;
}

/** Runs the transfer on `pair` (whose `app` it sets) until both sides are CLOSED or it fails. */
export function runOneWay(pair: Pair, stream: Uint8Array, size: number): OneWayResult {
  let sent = 0;
  let received = 0;
  let doneMs = 0;
  let failure: string | undefined;
  pair.app = {
    onEvent(side, conn, ev) {
      if (ev.type === 'error') failure ??= `${side}: error ${ev.code} in ${conn.state} at t=${pair.now}`;
      if (side === 'b' && (ev.type === 'readable' || ev.type === 'end')) {
        for (let c = conn.recv(); c !== undefined; c = conn.recv()) {
          for (let i = 0; i < c.length; i++) {
            if (c[i] !== stream[received + i]) {
              failure ??= `b: octet ${received + i} is ${c[i]}, expected ${stream[received + i]}`;
              return;
            }
          }
          received += c.length;
          if (received === size) doneMs = pair.now;
        }
        if (ev.type === 'end') conn.close();
      }
    },
    pump(side, conn) {
      if (side !== 'a' || !conn.canSend) return;
      while (sent < size && conn.sendCapacity > 0) sent += conn.send(stream.subarray(sent, size));
      if (sent === size) conn.close();
    },
  };
  try {
    pair.run(() => failure !== undefined || (pair.a.state === 'CLOSED' && pair.b?.state === 'CLOSED'));
  } catch (e) {
    failure ??= `harness: ${(e as Error).message}`;
  }
  if (failure === undefined && received !== size) failure = `b received ${received} of ${size} octets`;
  return { failure, doneMs };
}
