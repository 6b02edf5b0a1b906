/**
 * The `fin-acked` event as packet traces: emitted once, when SND.UNA passes our FIN
 * (RFC 9293 §3.10.7.4 fifth: FIN-WAIT-1 → FIN-WAIT-2, CLOSING → TIME-WAIT, LAST-ACK → CLOSED),
 * in order with the other events, and never when the connection ends by RST, abort or failure
 * before that ACK. Same conventions as the connection-*.test.ts files: our ISS is 1000, the peer's 9000,
 * RTO 200 ms after `established()`.
 */
import { expect } from 'chai';
import type { TcpConnection } from './connection.js';
import { ACK_OUT, IRS, ISS, P, TO_PEER, bytes, drain, established, events, expectNothing, expectSent, send } from './__tests__/trace.js';
import { Pair } from './__tests__/pair.js';
import type { TcpState } from './types.js';

/** ESTABLISHED, then close(): FIN sent at t=20. */
function finWait1(): TcpConnection {
  const conn = established();
  conn.close();
  expectSent(conn, 20, [{ ...TO_PEER, control: 'fin', seq: ISS + 1, ack: IRS + 1 }]);
  expect(conn.state).to.equal('FIN-WAIT-1');
  return conn;
}

/** ESTABLISHED, the peer's FIN at t=20, then close(): FIN at t=30. */
function lastAck(): TcpConnection {
  const conn = established();
  send(conn, 20, { ...P, control: 'fin' });
  expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 2 }]);
  expect(events(conn)).to.deep.equal(['end']);
  conn.close();
  expectSent(conn, 30, [{ ...TO_PEER, control: 'fin', seq: ISS + 1, ack: IRS + 2 }]);
  expect(conn.state).to.equal('LAST-ACK');
  return conn;
}

describe("TcpConnection 'fin-acked'", () => {
  describe('FIN-WAIT-1 → FIN-WAIT-2', () => {
    it('the ACK of our FIN emits it, once, and the state moves on', () => {
      const conn = finWait1();
      send(conn, 30, { ...P, ack: ISS + 2 });
      expect(conn.state).to.equal('FIN-WAIT-2');
      expect(events(conn)).to.deep.equal(['fin-acked']);
      // A duplicate of that ACK, data and the peer's FIN later: never a second one.
      send(conn, 31, { ...P, ack: ISS + 2 });
      expectNothing(conn, 31);
      expect(events(conn)).to.deep.equal([]);
      send(conn, 35, { ...P, ack: ISS + 2 }, bytes(10));
      send(conn, 40, { ...P, seq: IRS + 11, ack: ISS + 2, control: 'fin' });
      expect(conn.state).to.equal('TIME-WAIT');
      expect(events(conn)).to.deep.equal(['readable', 'end']);
      conn.handleTimeout(2040);
      expect(events(conn)).to.deep.equal(['closed']);
    });

    it('an ACK of our data but not of the FIN riding on it emits nothing; the rest does', () => {
      const conn = established();
      expect(conn.send(bytes(100))).to.equal(100);
      conn.close();
      expectSent(conn, 20, [{ seq: ISS + 1, payload: 100, control: 'fin' }]);
      send(conn, 30, { ...P, ack: ISS + 51 });
      expect(conn.state).to.equal('FIN-WAIT-1');
      expect(events(conn)).to.deep.equal([]);
      send(conn, 31, { ...P, ack: ISS + 101 }); // every data octet, still not the FIN
      expect(conn.state).to.equal('FIN-WAIT-1');
      expect(events(conn)).to.deep.equal([]);
      send(conn, 40, { ...P, ack: ISS + 102 });
      expect(conn.state).to.equal('FIN-WAIT-2');
      expect(events(conn)).to.deep.equal(['fin-acked']);
    });

    it('a FIN that also acknowledges ours: fin-acked (fifth step) before end (eighth step) → TIME-WAIT', () => {
      const conn = finWait1();
      send(conn, 30, { ...P, ack: ISS + 2, control: 'fin' });
      expect(conn.state).to.equal('TIME-WAIT');
      expectSent(conn, 30, [{ seq: ISS + 2, ack: IRS + 2 }]);
      expect(events(conn)).to.deep.equal(['fin-acked', 'end']);
      // The peer's FIN again (our ACK was lost): acknowledged again, no event.
      send(conn, 1000, { ...P, ack: ISS + 2, control: 'fin' });
      expectSent(conn, 1000, [{ seq: ISS + 2, ack: IRS + 2 }]);
      expect(events(conn)).to.deep.equal([]);
    });

    it('after a retransmission of the FIN, its ACK emits it once', () => {
      const conn = finWait1();
      conn.handleTimeout(220);
      expectSent(conn, 220, [{ control: 'fin', seq: ISS + 1 }]);
      send(conn, 230, { ...P, ack: ISS + 2 });
      send(conn, 231, { ...P, ack: ISS + 2 }); // the ACK of the first copy, late
      expect(conn.state).to.equal('FIN-WAIT-2');
      expect(events(conn)).to.deep.equal(['fin-acked']);
    });
  });

  describe('CLOSING → TIME-WAIT (simultaneous close)', () => {
    it("the peer's FIN crosses ours: end, then fin-acked on the ACK of our FIN", () => {
      const conn = finWait1();
      send(conn, 30, { ...P, control: 'fin' }); // SEG.ACK = ISS + 1: our FIN not yet acknowledged
      expect(conn.state).to.equal('CLOSING');
      expectSent(conn, 30, [{ ...ACK_OUT, seq: ISS + 2, ack: IRS + 2 }]);
      expect(events(conn)).to.deep.equal(['end']);
      send(conn, 40, { ...P, seq: IRS + 2, ack: ISS + 2 });
      expect(conn.state).to.equal('TIME-WAIT');
      expectNothing(conn, 40);
      expect(events(conn)).to.deep.equal(['fin-acked']);
      conn.handleTimeout(2040);
      expect(events(conn)).to.deep.equal(['closed']);
    });

    it('two engines closing at the same time: each sees end, fin-acked, closed', () => {
      const pair = new Pair({ seed: 7 });
      const states: Record<'a' | 'b', Set<TcpState>> = { a: new Set(), b: new Set() };
      pair.app = {
        pump(side, conn) {
          states[side].add(conn.state);
        },
      };
      pair.run(() => pair.a.state === 'ESTABLISHED' && pair.b?.state === 'ESTABLISHED');
      const b = pair.b!;
      // Both FINs leave in the same instant and cross on the 10 ms link.
      pair.a.close();
      b.close();
      pair.run(() => pair.a.state === 'CLOSED' && b.state === 'CLOSED');
      for (const side of ['a', 'b'] as const) {
        expect(states[side].has('CLOSING'), `${side} passed CLOSING`).to.equal(true);
        expect(pair.events[side].map((e) => e.type)).to.deep.equal(['connected', 'end', 'fin-acked', 'closed']);
      }
    });
  });

  describe('LAST-ACK → CLOSED', () => {
    it('the ACK of our FIN: fin-acked right before closed', () => {
      const conn = lastAck();
      send(conn, 40, { ...P, seq: IRS + 2, ack: ISS + 2 });
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['fin-acked', 'closed']);
      expectNothing(conn, 40);
    });

    it('data with the FIN in LAST-ACK: the ACK of the data alone emits nothing, the final ACK fin-acked and closed', () => {
      const conn = established();
      send(conn, 20, { ...P, control: 'fin' });
      drain(conn, 20);
      expect(events(conn)).to.deep.equal(['end']);
      conn.send(bytes(100));
      conn.close();
      expectSent(conn, 30, [{ seq: ISS + 1, ack: IRS + 2, payload: 100, control: 'fin' }]);
      send(conn, 40, { ...P, seq: IRS + 2, ack: ISS + 101 });
      expect(conn.state).to.equal('LAST-ACK');
      expect(events(conn)).to.deep.equal([]);
      send(conn, 50, { ...P, seq: IRS + 2, ack: ISS + 102 });
      expect(events(conn)).to.deep.equal(['fin-acked', 'closed']);
    });

    it('the FIN never acknowledged: ETIMEDOUT and closed, no fin-acked', () => {
      const conn = lastAck();
      for (let i = 0; i < 40 && conn.state !== 'CLOSED'; i++) {
        const t = conn.pollTimeout();
        if (t === undefined) break;
        conn.handleTimeout(t);
        drain(conn, t);
      }
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['error:ETIMEDOUT', 'closed']);
    });
  });

  describe('not emitted when the connection ends before the ACK', () => {
    it('RST in FIN-WAIT-1: error and closed only; a late ACK finds the connection CLOSED', () => {
      const conn = finWait1();
      send(conn, 30, { control: 'rst', seq: IRS + 1 });
      send(conn, 31, { ...P, ack: ISS + 2 });
      expect(events(conn)).to.deep.equal(['error:ECONNRESET', 'closed']);
    });

    it('RST in CLOSING: closed only', () => {
      const conn = finWait1();
      send(conn, 30, { ...P, control: 'fin' });
      expect(events(conn)).to.deep.equal(['end']);
      send(conn, 40, { control: 'rst', seq: IRS + 2 });
      expect(events(conn)).to.deep.equal(['closed']);
    });

    it('RST in LAST-ACK: closed only', () => {
      const conn = lastAck();
      send(conn, 40, { control: 'rst', seq: IRS + 2 });
      send(conn, 41, { ...P, seq: IRS + 2, ack: ISS + 2 });
      expect(events(conn)).to.deep.equal(['closed']);
    });

    it('abort() in FIN-WAIT-1: RST out, closed only, and an ACK afterwards changes nothing', () => {
      const conn = finWait1();
      conn.abort();
      expectSent(conn, 25, [{ control: 'rst', seq: ISS + 2 }]);
      send(conn, 30, { ...P, ack: ISS + 2 });
      expect(events(conn)).to.deep.equal(['closed']);
    });

    it('abort() in LAST-ACK: closed only', () => {
      const conn = lastAck();
      conn.abort();
      expectNothing(conn, 35);
      expect(events(conn)).to.deep.equal(['closed']);
    });

    it('abort() after the ACK of our FIN: the event already came, closed follows', () => {
      const conn = finWait1();
      send(conn, 30, { ...P, ack: ISS + 2 });
      conn.abort();
      expect(events(conn)).to.deep.equal(['fin-acked', 'closed']);
    });
  });
});
