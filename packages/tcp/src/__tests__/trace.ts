/**
 * Helpers for TCP tests that read like packet traces (ARCHITECTURE.md §6):
 *   send(conn, 10, { ...SYN_ACK, seq: IRS, ack: ISS + 1 });
 *   expectSent(conn, 10, [{ ...ACK, seq: ISS + 1, ack: IRS + 1 }]);
 * Segments arriving at the engine are built from the `FROM_PEER` template; expected outgoing
 * segments from `TO_PEER`. Only the keys an expectation names are compared, and `payload` may be
 * a length or the exact octets.
 */
import { expect } from 'chai';
import { ipv6FromString } from '@tcp-tun/ip';
import { TcpConnection } from '../connection.js';
import type { IpAddress } from '../address.js';
import type { Endpoint, Instant, TcpConfig, TcpEvent, TcpRepr } from '../types.js';

/** A connection of either IP version (the helpers never look at addresses). */
export type AnyConnection = TcpConnection<IpAddress>;

export const LOCAL: Endpoint = { addr: 0x0a000001, port: 49152 };
export const REMOTE: Endpoint = { addr: 0x0a000002, port: 80 };
/** Our initial sequence number in traces. */
export const ISS = 1000;
/** The peer's initial sequence number in traces. */
export const IRS = 9000;

/** A segment from the peer to us; override with spread. */
export const FROM_PEER: TcpRepr = {
  srcPort: REMOTE.port,
  dstPort: LOCAL.port,
  control: 'none',
  seq: 0,
  ack: undefined,
  window: 65535,
};

/** Expected segment from us to the peer. */
export const TO_PEER = { srcPort: LOCAL.port, dstPort: REMOTE.port } as const;

/** The peer's next in-order segment after the handshake: acknowledges our SYN, window 10000. */
export const P = { seq: IRS + 1, ack: ISS + 1, window: 10_000 } as const;

/** A pure ACK from us. */
export const ACK_OUT = { ...TO_PEER, control: 'none' } as const;

/** What an expected outgoing segment may pin down. */
export type Expected = Partial<TcpRepr> & { payload?: Uint8Array | number };

/**
 * A config small enough for readable traces: MSS 1000, 10 kB buffers, short closing timers,
 * NewReno and an ACK at the end of each drain (the RFC 9293 state-machine traces). We still offer
 * window scaling, SACK, timestamps and ECN; the trace peer's SYN-ACK declines them all unless a
 * test adds them.
 */
export const TRACE_CONFIG: Partial<TcpConfig> = {
  mss: 1000,
  recvBufferSize: 10_000,
  sendBufferSize: 20_000,
  maxOutOfOrderBytes: 10_000,
  timeWaitMs: 2000,
  finWait2TimeoutMs: 5000,
  delayedAckMs: 0,
  congestionControl: 'newreno',
};

/** `n` octets counting up from `from` (mod 256), so slices are recognisable. */
export function bytes(n: number, from = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (from + i) & 0xff;
  return out;
}

/** The peer sends `seg` (with `payload`) to `conn` at time `t`. */
export function send(conn: AnyConnection, t: Instant, seg: Partial<TcpRepr>, payload: Uint8Array = new Uint8Array(0)): void {
  conn.handleSegment(t, { ...FROM_PEER, ...seg }, payload);
}

/** Drains every segment `conn` has to send at `t`. */
export function drain(conn: AnyConnection, t: Instant): { repr: TcpRepr; payload: Uint8Array }[] {
  const out: { repr: TcpRepr; payload: Uint8Array }[] = [];
  for (let tx = conn.pollTransmit(t); tx !== undefined; tx = conn.pollTransmit(t)) {
    out.push({ repr: tx.repr, payload: tx.payload.slice() });
    if (out.length > 10_000) throw new Error('pollTransmit never returns undefined');
  }
  return out;
}

function describeRepr(r: TcpRepr, len: number): string {
  return `${r.control}${r.ack !== undefined ? '+ack' : ''}${r.ece === true ? '+ece' : ''}${r.cwr === true ? '+cwr' : ''} seq=${r.seq} ack=${String(r.ack)} win=${r.window}` +
    `${r.mss !== undefined ? ` mss=${r.mss}` : ''}${r.windowScale !== undefined ? ` ws=${r.windowScale}` : ''}` +
    `${r.timestamp !== undefined ? ` ts=${r.timestamp.tsVal}/${r.timestamp.tsEcr}` : ''}` +
    `${r.sackBlocks !== undefined ? ` sack=${r.sackBlocks.map((b) => `${b.left}-${b.right}`).join(',')}` : ''} len=${len}`;
}

/** `conn` sends exactly the segments `expected` at time `t` (each compared on the keys it names). */
export function expectSent(conn: AnyConnection, t: Instant, expected: Expected[]): void {
  const got = drain(conn, t);
  const trace = got.map((g) => describeRepr(g.repr, g.payload.length)).join('\n  ');
  expect(got.length, `segments sent at t=${t}:\n  ${trace}`).to.equal(expected.length);
  expected.forEach((exp, i) => {
    const g = got[i]!;
    for (const [key, value] of Object.entries(exp)) {
      if (key === 'payload') {
        if (typeof value === 'number') expect(g.payload.length, `segment ${i} payload length\n  ${trace}`).to.equal(value);
        else expect(Array.from(g.payload), `segment ${i} payload`).to.deep.equal(Array.from(value as Uint8Array));
      } else {
        expect((g.repr as unknown as Record<string, unknown>)[key], `segment ${i} field ${key}\n  ${trace}`).to.deep.equal(value);
      }
    }
  });
}

/** `conn` sends nothing at `t`. */
export function expectNothing(conn: AnyConnection, t: Instant): void {
  expectSent(conn, t, []);
}

/** Drains the events of `conn` as short strings: `connected`, `error:ECONNRESET`, ... */
export function events(conn: AnyConnection): string[] {
  const out: string[] = [];
  for (let ev: TcpEvent | undefined = conn.pollEvent(); ev !== undefined; ev = conn.pollEvent()) {
    out.push(ev.type === 'error' ? `error:${ev.code}` : ev.type);
  }
  return out;
}

/** Reads everything readable as one array. */
export function readAll(conn: AnyConnection): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let c = conn.recv(); c !== undefined; c = conn.recv()) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Active open to ESTABLISHED: SYN at t=0, SYN-ACK (MSS 1000, window 10000) at t=10. */
export function established(config: Partial<TcpConfig> = TRACE_CONFIG, peer: Partial<TcpRepr> = {}): TcpConnection {
  const conn = TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config });
  expectSent(conn, 0, [{ ...TO_PEER, control: 'syn', seq: ISS, ack: undefined }]);
  send(conn, 10, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000, mss: 1000, ...peer });
  expectSent(conn, 10, [{ ...TO_PEER, control: 'none', seq: ISS + 1, ack: IRS + 1 }]);
  expect(events(conn)).to.deep.equal(['connected']);
  expect(conn.state).to.equal('ESTABLISHED');
  return conn;
}

/** The IPv6 endpoints of IPv6 traces (the ports of LOCAL and REMOTE). */
export const LOCAL6: Endpoint<IpAddress> = { addr: ipv6FromString('fd00::1'), port: LOCAL.port };
export const REMOTE6: Endpoint<IpAddress> = { addr: ipv6FromString('fd00::2'), port: REMOTE.port };

/** {@link established} over IPv6 (LOCAL6 → REMOTE6): the SYN carries the IPv6 MSS, config MSS − 20. */
export function established6(config: Partial<TcpConfig> = TRACE_CONFIG, peer: Partial<TcpRepr> = {}): AnyConnection {
  const conn = TcpConnection.connect<IpAddress>(0, { local: LOCAL6, remote: REMOTE6, iss: ISS, config });
  expectSent(conn, 0, [{ ...TO_PEER, control: 'syn', seq: ISS, ack: undefined, mss: (config.mss ?? 1460) - 20 }]);
  send(conn, 10, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000, mss: 1000, ...peer });
  expectSent(conn, 10, [{ ...TO_PEER, control: 'none', seq: ISS + 1, ack: IRS + 1 }]);
  expect(events(conn)).to.deep.equal(['connected']);
  return conn;
}
