/**
 * State builders for the packet-trace tests of `TcpConnection` (connection-opening,
 * connection-established and connection-closing .test.ts): each drives a fresh connection into one
 * RFC 9293 state by the usual trace (our ISS 1000, the peer's 9000, `TRACE_CONFIG`), asserting
 * every segment and event on the way, so a test starts from a state it knows exactly. Times are
 * explicit milliseconds; `established()` itself lives in `trace.ts`.
 */
import { expect } from 'chai';
import { TcpConnection } from '../connection.js';
import { TcpListener } from '../listener.js';
import {
  P,
  ACK_OUT,
  FROM_PEER,
  IRS,
  ISS,
  LOCAL,
  REMOTE,
  TO_PEER,
  TRACE_CONFIG,
  established,
  events,
  expectNothing,
  expectSent,
  send,
} from './trace.js';
import type { TcpConfig, TcpRepr } from '../types.js';

/** Active open from LOCAL to REMOTE at t=0 with our ISS: SYN-SENT, the SYN still queued. */
export function connectWith(config: Partial<TcpConfig> = TRACE_CONFIG): TcpConnection {
  return TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config });
}

/** Passive open through a listener: SYN at t=0, SYN-ACK out; returns the SYN-RECEIVED connection. */
export function synReceived(config: Partial<TcpConfig> = TRACE_CONFIG, syn: Partial<TcpRepr> = {}): TcpConnection {
  const listener = new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 8, config, isn: () => ISS });
  const r = listener.handleSegment(0, LOCAL, REMOTE, { ...FROM_PEER, control: 'syn', seq: IRS, mss: 1000, ...syn }, new Uint8Array(0));
  if (r.kind !== 'connection') throw new Error(`expected a connection, got ${r.kind}`);
  const conn = r.connection;
  expect(conn.state).to.equal('SYN-RECEIVED');
  expectSent(conn, 0, [{ ...TO_PEER, control: 'syn', seq: ISS, ack: IRS + 1, window: 10_000, mss: 1000 }]);
  return conn;
}

/** ESTABLISHED, then close(): FIN sent at t=20. */
export function finWait1(): TcpConnection {
  const conn = established();
  conn.close();
  expect(conn.state).to.equal('FIN-WAIT-1');
  expectSent(conn, 20, [{ ...TO_PEER, control: 'fin', seq: ISS + 1, ack: IRS + 1 }]);
  return conn;
}

/** FIN-WAIT-1, then the peer acknowledges our FIN at t=30. */
export function finWait2(): TcpConnection {
  const conn = finWait1();
  send(conn, 30, { ...P, ack: ISS + 2 });
  expect(conn.state).to.equal('FIN-WAIT-2');
  expectNothing(conn, 30);
  expect(events(conn)).to.deep.equal(['fin-acked']);
  return conn;
}

/** ESTABLISHED, then the peer's FIN at t=20 (acknowledged). */
export function closeWait(): TcpConnection {
  const conn = established();
  send(conn, 20, { ...P, control: 'fin' });
  expect(conn.state).to.equal('CLOSE-WAIT');
  expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 2 }]);
  expect(events(conn)).to.deep.equal(['end']);
  return conn;
}

/** CLOSE-WAIT, then close(): FIN at t=30. */
export function lastAck(): TcpConnection {
  const conn = closeWait();
  conn.close();
  expect(conn.state).to.equal('LAST-ACK');
  expectSent(conn, 30, [{ ...TO_PEER, control: 'fin', seq: ISS + 1, ack: IRS + 2 }]);
  return conn;
}

/** FIN-WAIT-1, then the peer's own FIN (not acknowledging ours) at t=30: simultaneous close. */
export function closing(): TcpConnection {
  const conn = finWait1();
  send(conn, 30, { ...P, control: 'fin' });
  expect(conn.state).to.equal('CLOSING');
  expectSent(conn, 30, [{ ...ACK_OUT, seq: ISS + 2, ack: IRS + 2 }]);
  expect(events(conn)).to.deep.equal(['end']);
  return conn;
}

/** FIN-WAIT-2, then the peer's FIN at t=40. */
export function timeWait(): TcpConnection {
  const conn = finWait2();
  send(conn, 40, { ...P, ack: ISS + 2, control: 'fin' });
  expect(conn.state).to.equal('TIME-WAIT');
  expectSent(conn, 40, [{ ...ACK_OUT, seq: ISS + 2, ack: IRS + 2 }]);
  expect(events(conn)).to.deep.equal(['end']);
  return conn;
}
