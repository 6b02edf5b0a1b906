/**
 * From trace records to what one plot shows: which connection (by number, by 4-tuple or
 * endpoint, or the one that carried most bytes), which direction of it (the one that carried
 * more data), and the series of that direction.
 */
import type { TraceConnRecord, TraceInfoRecord, TraceRecord, TraceSegmentRecord } from '@tcp-tun/net';

/** A connection of a trace, with what it carried. */
export interface ConnectionSummary {
  /** Its number in the trace. */
  readonly conn: number;
  /** Our end, "address:port". */
  readonly local: string;
  /** The peer's end, "address:port". */
  readonly remote: string;
  /** Payload octets sent by the traced stack / received from the peer (retransmissions included). */
  readonly bytesOut: number;
  /** Payload octets received from the peer (retransmissions included). */
  readonly bytesIn: number;
  /** Segments of both directions. */
  readonly segments: number;
}

/** The series of one direction of one connection. */
export interface PlotModel {
  /** The connection drawn. */
  readonly connection: ConnectionSummary;
  /** `out`: the traced stack sends the data drawn; `in`: the peer does. */
  readonly direction: 'out' | 'in';
  /** Data segments of that direction (SYN/FIN included: they occupy sequence space). */
  readonly data: readonly TraceSegmentRecord[];
  /** Segments of the other direction that carry an ACK: the ACK, window and SACK lines. */
  readonly acks: readonly TraceSegmentRecord[];
  /** Engine samples of the traced stack (its cwnd, srtt: meaningful when `direction` is `out`). */
  readonly info: readonly TraceInfoRecord[];
  /** Retransmitted data segments in `data`. */
  readonly retransmissions: number;
  /** First time of the connection's records, ms. */
  readonly t0: number;
  /** Last time of the connection's records, ms. */
  readonly t1: number;
}

/** Bad input: the trace holds no connection, or none matches the selector. */
export class PlotInputError extends Error {
  /** `ERR_NO_CONNECTION` (nothing matches the selector) or `ERR_EMPTY_TRACE` (no connection at all). */
  readonly code: 'ERR_NO_CONNECTION' | 'ERR_EMPTY_TRACE';

  constructor(code: 'ERR_NO_CONNECTION' | 'ERR_EMPTY_TRACE', message: string) {
    super(message);
    this.name = 'PlotInputError';
    this.code = code;
  }
}

/** Every connection of a trace, in the order first seen. */
export function connections(records: readonly TraceRecord[]): ConnectionSummary[] {
  const by = new Map<number, { conn: number; local: string; remote: string; bytesOut: number; bytesIn: number; segments: number }>();
  for (const r of records) {
    if (r.type === 'conn') by.set(r.conn, { conn: r.conn, local: r.local, remote: r.remote, bytesOut: 0, bytesIn: 0, segments: 0 });
    else if (r.type === 'seg') {
      const c = by.get(r.conn);
      if (c === undefined) continue;
      c.segments++;
      if (r.dir === 'out') c.bytesOut += r.len;
      else c.bytesIn += r.len;
    }
  }
  return [...by.values()];
}

/**
 * Picks a connection: `selector` is its number ("2"), its 4-tuple as "local-remote"
 * ("10.0.0.2:49152-10.0.0.1:80"), or one endpoint ("10.0.0.1:80", matching either end; the
 * first such connection). Undefined: the connection that carried the most bytes.
 */
export function selectConnection(records: readonly TraceRecord[], selector?: string): ConnectionSummary {
  const all = connections(records);
  if (all.length === 0) throw new PlotInputError('ERR_EMPTY_TRACE', 'the trace holds no TCP connection');
  if (selector === undefined) return all.reduce((a, b) => (b.bytesOut + b.bytesIn > a.bytesOut + a.bytesIn ? b : a));
  const found = /^\d+$/.test(selector)
    ? all.find((c) => c.conn === Number(selector))
    : all.find((c) => `${c.local}-${c.remote}` === selector || c.local === selector || c.remote === selector);
  if (found === undefined) {
    const list = all.map((c) => `${c.conn}: ${c.local}-${c.remote}`).join(', ');
    throw new PlotInputError('ERR_NO_CONNECTION', `no connection '${selector}' in the trace (it has ${list})`);
  }
  return found;
}

/** The model of one connection; `direction` defaults to the one that carried more payload. */
export function buildModel(records: readonly TraceRecord[], selector?: string, direction?: 'out' | 'in'): PlotModel {
  const connection = selectConnection(records, selector);
  const dir = direction ?? (connection.bytesIn > connection.bytesOut ? 'in' : 'out');
  const data: TraceSegmentRecord[] = [];
  const acks: TraceSegmentRecord[] = [];
  const info: TraceInfoRecord[] = [];
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const r of records) {
    if (!('conn' in r) || r.conn !== connection.conn) continue;
    t0 = Math.min(t0, r.t);
    t1 = Math.max(t1, r.t);
    if (r.type === 'info') info.push(r);
    else if (r.type === 'seg') {
      const span = r.len + (r.flags.includes('S') ? 1 : 0) + (r.flags.includes('F') ? 1 : 0);
      if (r.dir === dir && span > 0) data.push(r);
      if (r.dir !== dir && r.ack !== undefined) acks.push(r);
    }
  }
  const conn = records.find((r): r is TraceConnRecord => r.type === 'conn' && r.conn === connection.conn);
  if (conn !== undefined) t0 = Math.min(t0, conn.t);
  return { connection, direction: dir, data, acks, info, retransmissions: data.filter((s) => s.retx === true).length, t0, t1: Math.max(t1, t0) };
}
