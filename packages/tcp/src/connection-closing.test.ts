/**
 * TcpConnection as packet traces, the closing states: FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING,
 * LAST-ACK and TIME-WAIT, one `describe` per RFC 9293 state, then the event rules (the opening
 * states are in connection-opening.test.ts, ESTABLISHED in connection-established.test.ts; the state
 * builders in __tests__/states.ts). Times are explicit (milliseconds); our ISS is 1000 and the
 * peer's 9000. After `established()` the RTT sample of 10 ms gives RTO = max(200, 10 + 4·5) =
 * 200 ms; the peer's window is 10000, MSS 1000.
 */
import { expect } from 'chai';
import {
  P,
  ACK_OUT,
  FROM_PEER,
  IRS,
  ISS,
  bytes,
  drain,
  established,
  events,
  expectNothing,
  expectSent,
  readAll,
  send,
} from './__tests__/trace.js';
import { closeWait, closing, finWait1, finWait2, lastAck, timeWait } from './__tests__/states.js';

describe('TcpConnection', () => {
  describe('FIN-WAIT-1', () => {
    it('the ACK of our FIN → FIN-WAIT-2', () => {
      finWait2();
    });

    it('data keeps arriving and is readable while our FIN is outstanding', () => {
      const conn = finWait1();
      send(conn, 30, { ...P }, bytes(100));
      expect(readAll(conn)).to.deep.equal(bytes(100));
      expectSent(conn, 30, [{ seq: ISS + 2, ack: IRS + 101 }]);
    });

    it('their FIN before the ACK of ours → CLOSING (simultaneous close)', () => {
      closing();
    });

    it('FIN acknowledging our FIN → TIME-WAIT directly', () => {
      const conn = finWait1();
      send(conn, 30, { ...P, ack: ISS + 2, control: 'fin' });
      expect(conn.state).to.equal('TIME-WAIT');
      expectSent(conn, 30, [{ seq: ISS + 2, ack: IRS + 2 }]);
      // The fifth step (ACK) runs before the eighth (FIN): our FIN's ACK is announced first.
      expect(events(conn)).to.deep.equal(['fin-acked', 'end']);
    });

    it('our FIN is retransmitted on timeout', () => {
      const conn = finWait1();
      expect(conn.pollTimeout()).to.equal(220);
      conn.handleTimeout(220);
      expectSent(conn, 220, [{ control: 'fin', seq: ISS + 1, ack: IRS + 1, payload: 0 }]);
    });

    it('RST → ECONNRESET', () => {
      const conn = finWait1();
      send(conn, 30, { control: 'rst', seq: IRS + 1 });
      expect(events(conn)).to.deep.equal(['error:ECONNRESET', 'closed']);
    });
  });

  describe('FIN-WAIT-2', () => {
    it('data, then their FIN → TIME-WAIT with an ACK', () => {
      const conn = finWait2();
      send(conn, 35, { ...P, ack: ISS + 2 }, bytes(10));
      expect(readAll(conn)).to.deep.equal(bytes(10));
      send(conn, 40, { ...P, seq: IRS + 11, ack: ISS + 2, control: 'fin' });
      expect(conn.state).to.equal('TIME-WAIT');
      expectSent(conn, 40, [{ seq: ISS + 2, ack: IRS + 12 }]);
      expect(events(conn)).to.deep.equal(['readable', 'end']);
    });

    it('a half-closed connection the application still holds is never timed out (RFC 9293 §3.6)', () => {
      const conn = finWait2();
      // Not an orphan: no FIN-WAIT-2 bound, so nothing is due at all.
      expect(conn.pollTimeout()).to.equal(undefined);
      conn.handleTimeout(90_000);
      expectNothing(conn, 90_000);
      send(conn, 90_000, { ...P, ack: ISS + 2 }, bytes(3)); // the answer, 90 s later
      expect(conn.state).to.equal('FIN-WAIT-2');
      expect(events(conn)).to.deep.equal(['readable']);
    });

    it('a silent peer of an orphan: after finWait2TimeoutMs of idleness, RST and ETIMEDOUT', () => {
      const conn = finWait2();
      conn.orphan(30);
      expect(conn.pollTimeout()).to.equal(5030);
      send(conn, 1000, { ...P, ack: ISS + 2 }, bytes(1)); // activity restarts the bound
      drain(conn, 1000);
      expect(conn.pollTimeout()).to.equal(6000);
      conn.handleTimeout(6000);
      expectSent(conn, 6000, [{ control: 'rst', seq: ISS + 2 }]);
      expect(events(conn)).to.deep.equal(['readable', 'error:ETIMEDOUT', 'closed']);
    });

    it('RST → ECONNRESET', () => {
      const conn = finWait2();
      send(conn, 40, { control: 'rst', seq: IRS + 1 });
      expect(events(conn)).to.deep.equal(['error:ECONNRESET', 'closed']);
    });
  });

  describe('CLOSE-WAIT', () => {
    it('we may still send; close() → LAST-ACK with FIN on the data', () => {
      const conn = closeWait();
      expect(conn.canSend).to.equal(true);
      conn.send(bytes(100));
      conn.close();
      expect(conn.state).to.equal('LAST-ACK');
      expectSent(conn, 30, [{ seq: ISS + 1, ack: IRS + 2, payload: 100, control: 'fin' }]);
    });

    it('a retransmitted FIN is acknowledged again', () => {
      const conn = closeWait();
      send(conn, 30, { ...P, control: 'fin' });
      expectSent(conn, 30, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 2 }]);
      expect(events(conn)).to.deep.equal([]);
      expect(conn.state).to.equal('CLOSE-WAIT');
    });

    it('RST → ECONNRESET', () => {
      const conn = closeWait();
      send(conn, 30, { control: 'rst', seq: IRS + 2 });
      expect(events(conn)).to.deep.equal(['error:ECONNRESET', 'closed']);
    });
  });

  describe('CLOSING', () => {
    it('the ACK of our FIN → TIME-WAIT', () => {
      const conn = closing();
      send(conn, 40, { ...P, seq: IRS + 2, ack: ISS + 2 });
      expect(conn.state).to.equal('TIME-WAIT');
      expectNothing(conn, 40);
      expect(events(conn)).to.deep.equal(['fin-acked']);
    });

    it('RST → CLOSED without error', () => {
      const conn = closing();
      send(conn, 40, { control: 'rst', seq: IRS + 2 });
      expect(events(conn)).to.deep.equal(['closed']);
    });
  });

  describe('LAST-ACK', () => {
    it('the ACK of our FIN → CLOSED', () => {
      const conn = lastAck();
      send(conn, 40, { ...P, seq: IRS + 2, ack: ISS + 2 });
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['fin-acked', 'closed']);
      expect(conn.pollTimeout()).to.equal(undefined);
      expectNothing(conn, 40);
    });

    it('the FIN is retransmitted until acknowledged', () => {
      const conn = lastAck();
      conn.handleTimeout(230);
      expectSent(conn, 230, [{ control: 'fin', seq: ISS + 1 }]);
      expect(conn.pollTimeout()).to.equal(630);
    });

    it('RST → CLOSED without error', () => {
      const conn = lastAck();
      send(conn, 40, { control: 'rst', seq: IRS + 2 });
      expect(events(conn)).to.deep.equal(['closed']);
    });
  });

  describe('TIME-WAIT', () => {
    it('lasts timeWaitMs, then CLOSED and closed', () => {
      const conn = timeWait();
      expect(conn.pollTimeout()).to.equal(2040);
      conn.handleTimeout(2039);
      expect(conn.state).to.equal('TIME-WAIT');
      conn.handleTimeout(2040);
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['closed']);
      expectNothing(conn, 2040);
    });

    it('a retransmitted FIN is acknowledged and restarts the wait', () => {
      const conn = timeWait();
      send(conn, 1000, { ...P, ack: ISS + 2, control: 'fin' });
      expectSent(conn, 1000, [{ ...ACK_OUT, seq: ISS + 2, ack: IRS + 2 }]);
      expect(conn.pollTimeout()).to.equal(3000);
    });

    it('an old SYN (SEG.SEQ =< RCV.NXT) gets a challenge ACK, not a new connection', () => {
      const conn = timeWait();
      expect(conn.reusableBy({ ...FROM_PEER, control: 'syn', seq: IRS + 1 })).to.equal(false);
      send(conn, 100, { control: 'syn', seq: IRS + 1 });
      expectSent(conn, 100, [{ seq: ISS + 2, ack: IRS + 2 }]);
      expect(conn.state).to.equal('TIME-WAIT');
    });

    it('a new SYN with SEG.SEQ > RCV.NXT may reuse the 4-tuple: CLOSED quietly (RFC 6191, RFC 1122 §4.2.2.13)', () => {
      const conn = timeWait();
      const syn = { ...FROM_PEER, control: 'syn', seq: IRS + 100_000 } as const;
      expect(conn.reusableBy(syn)).to.equal(true);
      expect(conn.reusableBy({ ...syn, ack: 5 })).to.equal(false);
      conn.handleSegment(100, syn, new Uint8Array(0));
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['closed']);
      expectNothing(conn, 100);
    });

    it('a RST elsewhere in the window is ignored; one at exactly RCV.NXT ends TIME-WAIT quietly, as Linux (RFC 1337: see time-wait.ts)', () => {
      const conn = timeWait();
      send(conn, 100, { control: 'rst', seq: IRS + 3 });
      expect(conn.state).to.equal('TIME-WAIT');
      expect(events(conn)).to.deep.equal([]);
      expectNothing(conn, 100);
      send(conn, 110, { control: 'rst', seq: IRS + 2 });
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['closed']);
      expectNothing(conn, 110);
    });
  });

  describe('events', () => {
    it("'closed' is emitted exactly once and last, and nothing follows it", () => {
      const conn = established();
      send(conn, 20, { ...P }, bytes(10));
      send(conn, 20, { control: 'rst', seq: IRS + 11 });
      send(conn, 21, { ...P, seq: IRS + 11 }, bytes(10));
      conn.abort();
      expect(events(conn)).to.deep.equal(['readable', 'error:ECONNRESET', 'closed']);
      expect(conn.readableLength).to.equal(10); // what arrived before the RST can still be read
    });

    it("'readable' is coalesced: at most one pending at a time", () => {
      const conn = established();
      send(conn, 20, { ...P }, bytes(10));
      send(conn, 20, { ...P, seq: IRS + 11 }, bytes(10));
      expect(events(conn)).to.deep.equal(['readable']);
      send(conn, 21, { ...P, seq: IRS + 21 }, bytes(10));
      expect(events(conn)).to.deep.equal(['readable']);
      expect(conn.readableLength).to.equal(30);
    });
  });
});
