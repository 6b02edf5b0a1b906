/**
 * TcpConnection as packet traces, one `describe` per RFC 9293 state. Times are explicit
 * (milliseconds); our ISS is 1000 and the peer's 9000. After `established()` the RTT sample of
 * 10 ms gives RTO = max(200, 10 + 4·5) = 200 ms; the peer's window is 10000, MSS 1000.
 */
import { expect } from 'chai';
import { TcpConnection } from './connection.js';
import { TcpListener } from './listener.js';
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
  bytes,
  drain,
  established,
  events,
  expectNothing,
  expectSent,
  readAll,
  send,
} from './__tests__/trace.js';
import type { TcpConfig, TcpRepr } from './types.js';


function connectWith(config: Partial<TcpConfig> = TRACE_CONFIG): TcpConnection {
  return TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config });
}

/** Passive open through a listener: SYN at t=0, SYN-ACK out; returns the SYN-RECEIVED connection. */
function synReceived(config: Partial<TcpConfig> = TRACE_CONFIG, syn: Partial<TcpRepr> = {}): TcpConnection {
  const listener = new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 8, config, isn: () => ISS });
  const r = listener.handleSegment(0, LOCAL, REMOTE, { ...FROM_PEER, control: 'syn', seq: IRS, mss: 1000, ...syn }, new Uint8Array(0));
  if (r.kind !== 'connection') throw new Error(`expected a connection, got ${r.kind}`);
  const conn = r.connection;
  expect(conn.state).to.equal('SYN-RECEIVED');
  expectSent(conn, 0, [{ ...TO_PEER, control: 'syn', seq: ISS, ack: IRS + 1, window: 10_000, mss: 1000 }]);
  return conn;
}

/** ESTABLISHED, then close(): FIN sent at t=20. */
function finWait1(): TcpConnection {
  const conn = established();
  conn.close();
  expect(conn.state).to.equal('FIN-WAIT-1');
  expectSent(conn, 20, [{ ...TO_PEER, control: 'fin', seq: ISS + 1, ack: IRS + 1 }]);
  return conn;
}

/** FIN-WAIT-1, then the peer acknowledges our FIN at t=30. */
function finWait2(): TcpConnection {
  const conn = finWait1();
  send(conn, 30, { ...P, ack: ISS + 2 });
  expect(conn.state).to.equal('FIN-WAIT-2');
  expectNothing(conn, 30);
  expect(events(conn)).to.deep.equal(['fin-acked']);
  return conn;
}

/** ESTABLISHED, then the peer's FIN at t=20 (acknowledged). */
function closeWait(): TcpConnection {
  const conn = established();
  send(conn, 20, { ...P, control: 'fin' });
  expect(conn.state).to.equal('CLOSE-WAIT');
  expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 2 }]);
  expect(events(conn)).to.deep.equal(['end']);
  return conn;
}

/** CLOSE-WAIT, then close(): FIN at t=30. */
function lastAck(): TcpConnection {
  const conn = closeWait();
  conn.close();
  expect(conn.state).to.equal('LAST-ACK');
  expectSent(conn, 30, [{ ...TO_PEER, control: 'fin', seq: ISS + 1, ack: IRS + 2 }]);
  return conn;
}

/** FIN-WAIT-1, then the peer's own FIN (not acknowledging ours) at t=30: simultaneous close. */
function closing(): TcpConnection {
  const conn = finWait1();
  send(conn, 30, { ...P, control: 'fin' });
  expect(conn.state).to.equal('CLOSING');
  expectSent(conn, 30, [{ ...ACK_OUT, seq: ISS + 2, ack: IRS + 2 }]);
  expect(events(conn)).to.deep.equal(['end']);
  return conn;
}

/** FIN-WAIT-2, then the peer's FIN at t=40. */
function timeWait(): TcpConnection {
  const conn = finWait2();
  send(conn, 40, { ...P, ack: ISS + 2, control: 'fin' });
  expect(conn.state).to.equal('TIME-WAIT');
  expectSent(conn, 40, [{ ...ACK_OUT, seq: ISS + 2, ack: IRS + 2 }]);
  expect(events(conn)).to.deep.equal(['end']);
  return conn;
}

describe('TcpConnection', () => {
  describe('CLOSED', () => {
    it('connect() leaves CLOSED for SYN-SENT and queues a SYN with our MSS, window and options, no ACK', () => {
      const conn = TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config: TRACE_CONFIG, tsOffset: 5000 });
      expect(conn.state).to.equal('SYN-SENT');
      expectSent(conn, 0, [{
        ...TO_PEER, control: 'syn', seq: ISS, ack: undefined, window: 10_000, mss: 1000,
        // RFC 7323 / RFC 2018 / RFC 3168 §6.1.1 (ECN-setup SYN: ECE and CWR).
        windowScale: 0, sackPermitted: true, timestamp: { tsVal: 5000, tsEcr: 0 }, ece: true, cwr: true,
      }]);
      expect(conn.pollTimeout()).to.equal(1000); // RFC 6298 §2.1: initial RTO 1 s
    });

    it("the SYN's own window is unscaled, so at most 65535 (RFC 7323 §2.2); the scale covers the buffer", () => {
      const conn = connectWith({ recvBufferSize: 1 << 20 });
      expectSent(conn, 0, [{ control: 'syn', window: 65535, windowScale: 5 }]);
    });

    it('with every option disabled the SYN carries only the MSS', () => {
      const conn = connectWith({ ...TRACE_CONFIG, windowScaling: false, sack: false, timestamps: false, ecn: false });
      expectSent(conn, 0, [{ control: 'syn', mss: 1000, windowScale: undefined, sackPermitted: undefined, timestamp: undefined, ece: undefined, cwr: undefined }]);
    });

    it('after abort(): only the final RST is sent, then nothing; no timer; segments are ignored', () => {
      const conn = established();
      conn.abort();
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['closed']);
      expect(conn.pollTimeout()).to.equal(undefined);
      expectSent(conn, 20, [{ ...TO_PEER, control: 'rst', seq: ISS + 1, ack: undefined }]);
      send(conn, 30, { ...P }, bytes(10));
      expectNothing(conn, 30);
      expect(events(conn)).to.deep.equal([]);
      conn.abort(); // idempotent
      conn.close();
      expect(events(conn)).to.deep.equal([]);
      expect(() => conn.send(bytes(1))).to.throw().with.property('code', 'ERR_TCP_NOT_WRITABLE');
    });
  });

  describe('LISTEN (TcpListener)', () => {
    const listen = (backlog = 2): TcpListener =>
      new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog, config: TRACE_CONFIG, isn: () => ISS });
    const SYN = { ...FROM_PEER, control: 'syn', seq: IRS } as const;
    const none = new Uint8Array(0);

    it('a SYN creates a SYN-RECEIVED connection with a SYN-ACK queued', () => {
      const conn = synReceived();
      expect(conn.local).to.deep.equal(LOCAL);
      expect(conn.remote).to.deep.equal(REMOTE);
    });

    it('ignores a RST, answers an ACK (and a SYN-ACK) with <SEQ=SEG.ACK><CTL=RST>, drops other segments', () => {
      const l = listen();
      expect(l.handleSegment(0, LOCAL, REMOTE, { ...FROM_PEER, control: 'rst', seq: 5 }, none)).to.deep.equal({ kind: 'drop', reason: 'rst' });
      const r = l.handleSegment(0, LOCAL, REMOTE, { ...FROM_PEER, seq: 5, ack: 777 }, bytes(3));
      expect(r.kind).to.equal('reply');
      if (r.kind === 'reply') {
        expect(r.transmit.repr).to.deep.include({ srcPort: LOCAL.port, dstPort: REMOTE.port, control: 'rst', seq: 777, ack: undefined });
      }
      expect(l.handleSegment(0, LOCAL, REMOTE, { ...SYN, ack: 42 }, none).kind).to.equal('reply');
      expect(l.handleSegment(0, LOCAL, REMOTE, { ...FROM_PEER, control: 'fin', seq: 5 }, none)).to.deep.equal({ kind: 'drop', reason: 'no-syn' });
      expect(l.handleSegment(0, { ...LOCAL, port: 1 }, REMOTE, SYN, none)).to.deep.equal({ kind: 'drop', reason: 'bad-segment' });
      expect(l.pendingCount).to.equal(0);
    });

    it('backlog full: SYNs are dropped until a connection is accepted or released', () => {
      const l = new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 2, config: TRACE_CONFIG, isn: () => ISS, synCookies: false });
      const c1 = l.handleSegment(0, LOCAL, { ...REMOTE, port: 1001 }, SYN, none);
      const c2 = l.handleSegment(0, LOCAL, { ...REMOTE, port: 1002 }, SYN, none);
      expect(l.pendingCount).to.equal(2);
      expect(l.handleSegment(0, LOCAL, { ...REMOTE, port: 1003 }, SYN, none)).to.deep.equal({ kind: 'drop', reason: 'backlog-full' });
      if (c1.kind !== 'connection' || c2.kind !== 'connection') throw new Error('expected connections');
      // c1 completes its handshake: it moves to the accept queue, still counting against the backlog.
      drain(c1.connection, 0);
      send(c1.connection, 10, { seq: IRS + 1, ack: ISS + 1 });
      expect(c1.connection.state).to.equal('ESTABLISHED');
      l.established(c1.connection);
      expect([l.pendingCount, l.queueLength]).to.deep.equal([1, 1]);
      expect(l.handleSegment(0, LOCAL, { ...REMOTE, port: 1003 }, SYN, none).kind).to.equal('drop');
      expect(l.accept()).to.equal(c1.connection);
      expect(l.accept()).to.equal(undefined);
      expect(l.handleSegment(0, LOCAL, { ...REMOTE, port: 1003 }, SYN, none).kind).to.equal('connection');
      l.release(c2.connection);
      expect(l.pendingCount).to.equal(1);
    });

    it('validates its options', () => {
      expect(() => listen(0)).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(() => new TcpListener({ local: { addr: 0, port: 0 }, backlog: 1, isn: () => 0 })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    });
  });

  describe('SYN-SENT', () => {
    it('SYN-ACK → ESTABLISHED: ACK sent, connected, RTT sampled from the SYN', () => {
      const conn = established();
      expect(conn.stats.srttMs).to.equal(10);
      expect(conn.stats.rtoMs).to.equal(200);
      expect(conn.pollTimeout()).to.equal(undefined);
    });

    it('MSS: the peer MSS caps our segments; 536 when the option is absent (RFC 9293 §3.7.1)', () => {
      expect(established(TRACE_CONFIG, { mss: 1400 }).stats.sendMss).to.equal(1000);
      expect(established(TRACE_CONFIG, { mss: 700 }).stats.sendMss).to.equal(700);
      const conn = established(TRACE_CONFIG, { mss: undefined });
      expect(conn.stats.sendMss).to.equal(536);
      conn.send(bytes(1200));
      expectSent(conn, 20, [{ payload: 536 }, { payload: 536 }, { payload: 128, control: 'psh' }]);
    });

    it("ignores the peer's window scale, SACK-permitted and timestamps when we offered none", () => {
      const conn = established({ ...TRACE_CONFIG, windowScaling: false, sack: false, timestamps: false }, { windowScale: 7, sackPermitted: true, timestamp: { tsVal: 1, tsEcr: 0 } });
      send(conn, 20, { ...P, window: 100 });
      expect(conn.stats.sendWindow).to.equal(100); // raw, not 100 << 7
      conn.send(bytes(300));
      expectSent(conn, 20, [{ seq: ISS + 1, payload: 100, timestamp: undefined, sackBlocks: undefined }]);
    });

    it('a SYN-ACK with an unacceptable ACK is answered with <SEQ=SEG.ACK><CTL=RST> and ignored', () => {
      const conn = connectWith();
      drain(conn, 0);
      send(conn, 10, { control: 'syn', seq: IRS, ack: ISS + 5 });
      expectSent(conn, 10, [{ ...TO_PEER, control: 'rst', seq: ISS + 5, ack: undefined }]);
      expect(conn.state).to.equal('SYN-SENT');
      send(conn, 10, { control: 'none', seq: IRS, ack: ISS }); // SEG.ACK =< ISS
      expectSent(conn, 10, [{ control: 'rst', seq: ISS }]);
    });

    it('RST with an acceptable ACK → ECONNREFUSED; without ACK or with a bad ACK it is ignored', () => {
      const conn = connectWith();
      drain(conn, 0);
      send(conn, 10, { control: 'rst', seq: 0 });
      send(conn, 10, { control: 'rst', seq: 0, ack: ISS + 7 });
      expectNothing(conn, 10);
      expect(conn.state).to.equal('SYN-SENT');
      send(conn, 10, { control: 'rst', seq: 0, ack: ISS + 1 });
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['error:ECONNREFUSED', 'closed']);
      expectNothing(conn, 10);
    });

    it('segments with neither SYN nor RST are dropped', () => {
      const conn = connectWith();
      drain(conn, 0);
      send(conn, 10, { control: 'fin', seq: IRS, ack: ISS + 1 });
      send(conn, 10, { control: 'none', seq: IRS }, bytes(5));
      expectNothing(conn, 10);
      expect(conn.state).to.equal('SYN-SENT');
    });

    it('SYN retransmitted with exponential backoff, then ETIMEDOUT after synRetries', () => {
      const conn = connectWith({ ...TRACE_CONFIG, synRetries: 2 });
      expectSent(conn, 0, [{ control: 'syn', seq: ISS }]);
      expect(conn.pollTimeout()).to.equal(1000);
      conn.handleTimeout(999); // early: nothing
      expectNothing(conn, 999);
      conn.handleTimeout(1000);
      expectSent(conn, 1000, [{ control: 'syn', seq: ISS, mss: 1000 }]);
      expect(conn.pollTimeout()).to.equal(3000);
      conn.handleTimeout(3000);
      expectSent(conn, 3000, [{ control: 'syn', seq: ISS }]);
      expect(conn.pollTimeout()).to.equal(7000);
      conn.handleTimeout(7000);
      expectNothing(conn, 7000);
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['error:ETIMEDOUT', 'closed']);
      expect(conn.pollTimeout()).to.equal(undefined);
    });

    it('after a lost SYN: initial window of one segment and RTO 3 s (RFC 5681 §3.1, RFC 6298 §5.7)', () => {
      const conn = connectWith();
      drain(conn, 0);
      conn.handleTimeout(1000);
      expectSent(conn, 1000, [{ control: 'syn' }]);
      send(conn, 1010, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000, mss: 1000 });
      expect(conn.state).to.equal('ESTABLISHED');
      expect(conn.stats.rttSamples).to.equal(0); // Karn: the SYN was retransmitted
      expect(conn.stats.cwnd).to.equal(1000);
      expect(conn.stats.rtoMs).to.equal(3000);
      conn.send(bytes(3000));
      expectSent(conn, 1010, [{ seq: ISS + 1, ack: IRS + 1, payload: 1000 }]);
    });

    it('data written before the handshake completes rides on the handshake ACK', () => {
      const conn = connectWith();
      expect(conn.canSend).to.equal(true);
      expect(conn.send(bytes(1500))).to.equal(1500);
      expectSent(conn, 0, [{ control: 'syn' }]);
      send(conn, 10, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000, mss: 1000 });
      expectSent(conn, 10, [
        { ...ACK_OUT, seq: ISS + 1, ack: IRS + 1, payload: bytes(1000) },
        { ...TO_PEER, control: 'psh', seq: ISS + 1001, ack: IRS + 1, payload: bytes(500, 1000) },
      ]);
    });

    it('close() during the handshake: FIN follows once ESTABLISHED', () => {
      const conn = connectWith();
      drain(conn, 0);
      conn.close();
      expect(conn.state).to.equal('SYN-SENT');
      send(conn, 10, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000 });
      expect(conn.state).to.equal('FIN-WAIT-1');
      expectSent(conn, 10, [{ control: 'fin', seq: ISS + 1, ack: IRS + 1 }]);
      expect(events(conn)).to.deep.equal(['connected']);
    });

    it('simultaneous open: SYN → SYN-RECEIVED (SYN-ACK sent), their SYN-ACK → ESTABLISHED', () => {
      const conn = connectWith();
      expectSent(conn, 0, [{ control: 'syn', seq: ISS, ack: undefined }]);
      send(conn, 5, { control: 'syn', seq: IRS, window: 10_000, mss: 1000 });
      expect(conn.state).to.equal('SYN-RECEIVED');
      expectSent(conn, 5, [{ ...TO_PEER, control: 'syn', seq: ISS, ack: IRS + 1, mss: 1000 }]);
      send(conn, 10, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000, mss: 1000 });
      expect(conn.state).to.equal('ESTABLISHED');
      expect(events(conn)).to.deep.equal(['connected']);
      expectNothing(conn, 10);
      // A RST in simultaneous open's SYN-RECEIVED is "connection refused".
      const other = connectWith();
      drain(other, 0);
      send(other, 5, { control: 'syn', seq: IRS });
      drain(other, 5);
      send(other, 6, { control: 'rst', seq: IRS + 1 });
      expect(events(other)).to.deep.equal(['error:ECONNREFUSED', 'closed']);
    });

    it('abort() in SYN-SENT sends no RST', () => {
      const conn = connectWith();
      drain(conn, 0);
      conn.abort();
      expectNothing(conn, 1);
      expect(events(conn)).to.deep.equal(['closed']);
    });
  });

  describe('SYN-RECEIVED', () => {
    it('the ACK of our SYN → ESTABLISHED and connected; data on it becomes readable', () => {
      const conn = synReceived();
      send(conn, 10, { ...P, control: 'psh' }, bytes(100));
      expect(conn.state).to.equal('ESTABLISHED');
      expect(events(conn)).to.deep.equal(['connected', 'readable']);
      expect(readAll(conn)).to.deep.equal(bytes(100));
      expectSent(conn, 10, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 101 }]);
      expect(conn.stats.srttMs).to.equal(10);
    });

    it('an unacceptable ACK is answered with <SEQ=SEG.ACK><CTL=RST>', () => {
      const conn = synReceived();
      send(conn, 10, { ...P, ack: ISS + 50 });
      expectSent(conn, 10, [{ ...TO_PEER, control: 'rst', seq: ISS + 50 }]);
      expect(conn.state).to.equal('SYN-RECEIVED');
    });

    it('a retransmitted SYN gets the SYN-ACK again at once', () => {
      const conn = synReceived();
      send(conn, 500, { control: 'syn', seq: IRS, mss: 1000 });
      expectSent(conn, 500, [{ control: 'syn', seq: ISS, ack: IRS + 1 }]);
      expect(conn.state).to.equal('SYN-RECEIVED');
    });

    it('RST (passive open): back to LISTEN, i.e. closed without error', () => {
      const conn = synReceived();
      send(conn, 10, { control: 'rst', seq: IRS + 1 });
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['closed']);
    });

    it('SYN-ACK retransmitted on timeout; after synRetries the embryo closes quietly', () => {
      const conn = synReceived({ ...TRACE_CONFIG, synRetries: 1 });
      conn.handleTimeout(1000);
      expectSent(conn, 1000, [{ control: 'syn', seq: ISS, ack: IRS + 1 }]);
      conn.handleTimeout(3000);
      expect(conn.state).to.equal('CLOSED');
      expect(events(conn)).to.deep.equal(['closed']);
    });

    it('ACK+FIN completes the handshake and the peer half-closes: CLOSE-WAIT', () => {
      const conn = synReceived();
      send(conn, 10, { ...P, control: 'fin' });
      expect(conn.state).to.equal('CLOSE-WAIT');
      expect(events(conn)).to.deep.equal(['connected', 'end']);
      expectSent(conn, 10, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 2 }]);
    });

    it('abort() sends a RST', () => {
      const conn = synReceived();
      conn.abort();
      expectSent(conn, 5, [{ control: 'rst', seq: ISS + 1 }]);
    });
  });

  describe('ESTABLISHED', () => {
    describe('receiving', () => {
      it('in-order data is readable at once; a burst fed before one drain is acknowledged once', () => {
        const conn = established();
        send(conn, 20, { ...P }, bytes(1000));
        send(conn, 20, { ...P, seq: IRS + 1001 }, bytes(1000, 1000));
        send(conn, 20, { ...P, seq: IRS + 2001, control: 'psh' }, bytes(500, 2000));
        expect(conn.readableLength).to.equal(2500);
        expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 2501, window: 7500 }]);
        expect(events(conn)).to.deep.equal(['readable']);
        expect(readAll(conn)).to.deep.equal(bytes(2500));
        // The peer may still send 7500 of 10000: more than half, so no pure window update.
        expectNothing(conn, 21);
        send(conn, 30, { ...P, seq: IRS + 2501 }, bytes(100, 2500));
        expectSent(conn, 30, [{ ack: IRS + 2601, window: 9900 }]);
      });

      it('out-of-order data: a duplicate ACK per segment at once; the hole fills → all readable together', () => {
        const conn = established();
        send(conn, 20, { ...P, seq: IRS + 1001 }, bytes(1000, 1000));
        expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1, window: 10_000 }]);
        send(conn, 21, { ...P, seq: IRS + 3001 }, bytes(1000, 3000));
        send(conn, 21, { ...P, seq: IRS + 2001 }, bytes(1000, 2000));
        // RFC 5681 §4.2: one immediate duplicate ACK per out-of-order segment (fast retransmit needs 3).
        expectSent(conn, 21, [{ ack: IRS + 1 }, { ack: IRS + 1 }]);
        expect(conn.stats.outOfOrderBytes).to.equal(3000);
        expect(conn.readableLength).to.equal(0);
        expect(events(conn)).to.deep.equal([]);
        send(conn, 22, { ...P }, bytes(1000));
        expect(conn.readableLength).to.equal(4000);
        expect(conn.stats.outOfOrderBytes).to.equal(0);
        expectSent(conn, 22, [{ ack: IRS + 4001, window: 6000 }]);
        expect(events(conn)).to.deep.equal(['readable']);
        expect(readAll(conn)).to.deep.equal(bytes(4000));
      });

      it('an out-of-order bare FIN is acknowledged at once with a duplicate ACK (RFC 5681 §4.2); the hole filled, the FIN follows', () => {
        const conn = established();
        // The last data segment is lost; the FIN after it arrives alone.
        send(conn, 20, { ...P, seq: IRS + 1001, control: 'fin' });
        expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1 }]);
        expect(conn.state).to.equal('ESTABLISHED');
        expect(conn.stats.outOfOrderSegments).to.equal(1);
        // So is a retransmission of it (each out-of-order segment earns its duplicate ACK).
        send(conn, 30, { ...P, seq: IRS + 1001, control: 'fin' });
        expectSent(conn, 30, [{ ack: IRS + 1 }]);
        send(conn, 40, { ...P }, bytes(1000));
        expectSent(conn, 40, [{ ack: IRS + 1002 }]);
        expect(conn.state).to.equal('CLOSE-WAIT');
        expect(events(conn)).to.deep.equal(['readable', 'end']);
      });

      it('overlapping and partially old segments: only the new part is taken', () => {
        const conn = established();
        send(conn, 20, { ...P }, bytes(1000));
        send(conn, 20, { ...P, seq: IRS + 501 }, bytes(1000, 500));
        expect(readAll(conn)).to.deep.equal(bytes(1500));
        expectSent(conn, 20, [{ ack: IRS + 1501 }]);
      });

      it('holds out-of-order data only up to maxOutOfOrderBytes, still sending the duplicate ACK', () => {
        const conn = established({ ...TRACE_CONFIG, maxOutOfOrderBytes: 1500 });
        send(conn, 20, { ...P, seq: IRS + 1001 }, bytes(1000, 1000));
        send(conn, 20, { ...P, seq: IRS + 3001 }, bytes(1000, 3000));
        expect(conn.stats.outOfOrderBytes).to.equal(1000);
        expectSent(conn, 20, [{ ack: IRS + 1 }, { ack: IRS + 1 }]);
      });

      it('an old duplicate is answered with an ACK (RFC 9293 §3.10.7.4 first check)', () => {
        const conn = established();
        send(conn, 20, { ...P }, bytes(1000));
        drain(conn, 20);
        send(conn, 30, { ...P }, bytes(1000));
        expectSent(conn, 30, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1001 }]);
        expect(conn.stats.unacceptableSegments).to.equal(1);
        expect(conn.readableLength).to.equal(1000);
      });

      it('data beyond the window is trimmed at the right edge and never shrinks what we offered', () => {
        const conn = established();
        send(conn, 20, { ...P, seq: IRS + 10_001 }, bytes(10)); // starts at the right edge: unacceptable
        expectSent(conn, 20, [{ ack: IRS + 1, window: 10_000 }]);
        send(conn, 21, { ...P, seq: IRS + 9501 }, bytes(1000, 9500)); // straddles the edge
        expect(conn.stats.outOfOrderBytes).to.equal(500);
        drain(conn, 21);
      });

      it('a segment larger than the window straddling both edges still delivers its new octets', () => {
        const conn = established();
        send(conn, 20, { ...P }, bytes(500));
        send(conn, 21, { ...P }, bytes(11_000)); // starts 500 old, ends 1000 past the right edge
        expectSent(conn, 21, [{ ack: IRS + 10_001, window: 0 }]);
        expect(readAll(conn)).to.deep.equal(bytes(10_000));
      });

      it('delayedAckMs > 0: one segment waits for the timer, a second full-sized one is acknowledged at once', () => {
        const conn = established({ ...TRACE_CONFIG, delayedAckMs: 40 });
        // We sent data first (a request): no quick-ACK start, replies are expected to carry ACKs.
        conn.send(bytes(10));
        drain(conn, 15);
        send(conn, 20, { ...P, ack: ISS + 11 }, bytes(1000));
        expectNothing(conn, 20);
        expect(conn.pollTimeout()).to.equal(60);
        conn.handleTimeout(60);
        expectSent(conn, 60, [{ ack: IRS + 1001 }]);
        expect(conn.pollTimeout()).to.equal(undefined);
        send(conn, 70, { ...P, seq: IRS + 1001 }, bytes(1000));
        send(conn, 71, { ...P, seq: IRS + 2001 }, bytes(1000));
        expectSent(conn, 71, [{ ack: IRS + 3001 }]);
        send(conn, 80, { ...P, seq: IRS + 5001 }, bytes(1000)); // out of order: at once
        expectSent(conn, 80, [{ ack: IRS + 3001 }]);
      });

      it('zero receive window: a probe at RCV.NXT is refused with an ACK, its ACK field still processed', () => {
        const conn = established();
        for (let i = 0; i < 10; i++) send(conn, 20, { ...P, seq: IRS + 1 + i * 1000 }, bytes(1000, i * 1000));
        expectSent(conn, 20, [{ ack: IRS + 10_001, window: 0 }]);
        conn.send(bytes(100));
        drain(conn, 20);
        send(conn, 30, { ...P, seq: IRS + 10_001, ack: ISS + 101 }, bytes(1, 10_000));
        expect(conn.readableLength).to.equal(10_000);
        expect(conn.stats.bytesInFlight).to.equal(0);
        expectSent(conn, 30, [{ ack: IRS + 10_001, window: 0 }]);
      });

      it('recv() reopening a closed window sends a window update, in SWS-avoiding steps (RFC 1122 §4.2.3.3)', () => {
        const conn = established();
        for (let i = 0; i < 10; i++) send(conn, 20, { ...P, seq: IRS + 1 + i * 1000 }, bytes(1000));
        expectSent(conn, 20, [{ ack: IRS + 10_001, window: 0 }]);
        conn.recv(500); // 500 free: below min(MSS, buffer/2) = 1000
        expectNothing(conn, 25);
        conn.recv(600);
        expectSent(conn, 26, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 10_001, window: 1100 }]);
        expect(conn.stats.windowUpdates).to.equal(1);
        // A further small read: the offered edge already moved; no new update until it matters.
        conn.recv(100);
        expectNothing(conn, 27);
        conn.recv();
        expectSent(conn, 28, [{ window: 10_000 }]);
      });

      it('recvInto() copies into the caller\'s memory and reopens the window like recv()', () => {
        const conn = established();
        for (let i = 0; i < 10; i++) send(conn, 20, { ...P, seq: IRS + 1 + i * 1000 }, bytes(1000, i * 1000));
        expectSent(conn, 20, [{ ack: IRS + 10_001, window: 0 }]);
        const out = new Uint8Array(1100).fill(0xee);
        expect(conn.recvInto(out.subarray(0, 500))).to.equal(500); // below the SWS threshold
        expectNothing(conn, 25);
        expect(conn.recvInto(out.subarray(500))).to.equal(600);
        expect(Array.from(out)).to.deep.equal(Array.from(bytes(1100)));
        expectSent(conn, 26, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 10_001, window: 1100 }]);
        const rest = new Uint8Array(20_000);
        expect(conn.recvInto(rest)).to.equal(8900);
        expect(Array.from(rest.subarray(0, 8900))).to.deep.equal(Array.from(bytes(8900, 1100)));
        expect(conn.recvInto(rest)).to.equal(0);
        expectSent(conn, 28, [{ window: 10_000 }]);
      });

      it('the peer FIN after data: readable, then end, in order; ACK covers the FIN', () => {
        const conn = established();
        send(conn, 20, { ...P, seq: IRS + 1001, control: 'fin' }, bytes(500, 1000));
        expect(conn.state).to.equal('ESTABLISHED'); // FIN beyond a hole waits
        expectSent(conn, 20, [{ ack: IRS + 1 }]);
        send(conn, 21, { ...P }, bytes(1000));
        expect(conn.state).to.equal('CLOSE-WAIT');
        expect(events(conn)).to.deep.equal(['readable', 'end']);
        expectSent(conn, 21, [{ ack: IRS + 1502 }]);
        expect(readAll(conn)).to.deep.equal(bytes(1500));
      });
    });

    describe('sending', () => {
      it('segments of MSS within the initial window, PSH on the last of the burst', () => {
        const conn = established();
        expect(conn.send(bytes(2500))).to.equal(2500);
        expectSent(conn, 20, [
          { ...ACK_OUT, seq: ISS + 1, ack: IRS + 1, payload: bytes(1000) },
          { ...ACK_OUT, seq: ISS + 1001, payload: bytes(1000, 1000) },
          { ...TO_PEER, control: 'psh', seq: ISS + 2001, payload: bytes(500, 2000) },
        ]);
        expect(conn.stats.bytesInFlight).to.equal(2500);
        expect(conn.pollTimeout()).to.equal(220);
      });

      it("respects the peer's window and the initial congestion window (RFC 6928: 10 segments)", () => {
        const conn = established({ ...TRACE_CONFIG, sendBufferSize: 100_000 }, { window: 3000 });
        conn.send(bytes(5000));
        expectSent(conn, 20, [{ payload: 1000 }, { payload: 1000 }, { payload: 1000 }]);
        const big = established({ ...TRACE_CONFIG, sendBufferSize: 100_000 }, { window: 65535 });
        big.send(bytes(20_000));
        expect(drain(big, 20).length).to.equal(10);
        expect(big.stats.cwnd).to.equal(10_000);
      });

      it('send() takes only what fits and emits writable once acknowledged data frees room', () => {
        const conn = established({ ...TRACE_CONFIG, sendBufferSize: 3000 });
        expect(conn.send(bytes(5000))).to.equal(3000);
        expect(conn.sendCapacity).to.equal(0);
        expect(conn.sendQueued).to.equal(3000);
        drain(conn, 20);
        send(conn, 30, { ...P, ack: ISS + 1001 });
        send(conn, 30, { ...P, ack: ISS + 2001 });
        expect(events(conn)).to.deep.equal(['writable']);
        expect(conn.sendCapacity).to.equal(2000);
        expect(conn.stats.rttSamples).to.equal(3); // the SYN, then one per ACK (RFC 7323 App. G weights)
      });

      it('a new ACK restarts the timer; all acknowledged stops it (RFC 6298 §5.2–5.3)', () => {
        const conn = established();
        conn.send(bytes(2000));
        drain(conn, 20);
        expect(conn.pollTimeout()).to.equal(220);
        send(conn, 100, { ...P, ack: ISS + 1001 });
        expect(conn.pollTimeout()).to.be.greaterThan(220);
        send(conn, 110, { ...P, ack: ISS + 2001 });
        expect(conn.pollTimeout()).to.equal(undefined);
      });

      it('an ACK of unsent data is answered with an ACK and the segment dropped', () => {
        const conn = established();
        send(conn, 20, { ...P, ack: ISS + 500 }, bytes(100));
        expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1 }]);
        expect(conn.readableLength).to.equal(0);
      });

      it('an old ACK (SND.UNA − MAX.SND.WND > SEG.ACK) is dropped with an ACK (RFC 5961 §5.2)', () => {
        const conn = established();
        send(conn, 20, { ...P, ack: ISS + 1 - 20_000 }, bytes(100));
        expectSent(conn, 20, [{ ack: IRS + 1 }]);
        expect(conn.readableLength).to.equal(0);
        // A merely duplicate (old but in range) ACK still delivers its data.
        const c2 = established();
        c2.send(bytes(100));
        drain(c2, 20);
        send(c2, 30, { ...P, ack: ISS + 101 });
        send(c2, 31, { ...P, ack: ISS + 1 }, bytes(10));
        expect(c2.readableLength).to.equal(10);
      });

      it('RTO: the first unacknowledged segment is resent with doubling timeouts; Karn keeps RTT unsampled', () => {
        const conn = established();
        conn.send(bytes(2000));
        expectSent(conn, 20, [{ seq: ISS + 1, payload: 1000 }, { seq: ISS + 1001, payload: 1000 }]);
        conn.handleTimeout(219);
        expectNothing(conn, 219);
        conn.handleTimeout(220);
        expectSent(conn, 220, [{ seq: ISS + 1, payload: bytes(1000) }]); // cwnd = 1 segment (loss window)
        expect(conn.pollTimeout()).to.equal(620);
        expect(conn.stats.cwnd).to.equal(1000);
        expect(conn.stats.ssthresh).to.equal(2000);
        conn.handleTimeout(620);
        expectSent(conn, 620, [{ seq: ISS + 1, payload: 1000 }]);
        expect(conn.pollTimeout()).to.equal(1420);
        expect(conn.stats.rtoCount).to.equal(2);
        send(conn, 1500, { ...P, ack: ISS + 1001 });
        // Karn: the ACK covers a retransmitted segment, so no sample (srtt stays 10), backoff cleared.
        expect(conn.stats.rttSamples).to.equal(1);
        expect(conn.stats.srttMs).to.equal(10);
        expect(conn.stats.rtoMs).to.equal(200);
        expectSent(conn, 1500, [{ seq: ISS + 1001, payload: 1000 }]); // go-back-N resumes at SND.NXT
        expect(conn.stats.retransmits).to.equal(3);
      });

      it('gives up with ETIMEDOUT after maxRetransmits (no RST sent)', () => {
        const conn = established({ ...TRACE_CONFIG, maxRetransmits: 3 });
        conn.send(bytes(100));
        drain(conn, 20);
        for (const t of [220, 620, 1420]) {
          expect(conn.pollTimeout()).to.equal(t);
          conn.handleTimeout(t);
          expectSent(conn, t, [{ seq: ISS + 1, payload: 100 }]);
        }
        expect(conn.pollTimeout()).to.equal(3020);
        conn.handleTimeout(3020);
        expect(conn.state).to.equal('CLOSED');
        expect(events(conn)).to.deep.equal(['error:ETIMEDOUT', 'closed']);
        expectNothing(conn, 3020);
      });

      it('RTO is clamped to rtoMaxMs while backing off', () => {
        const conn = established({ ...TRACE_CONFIG, rtoMaxMs: 1000, rtoInitialMs: 1000 });
        conn.send(bytes(100));
        drain(conn, 20);
        let t = 20;
        const gaps: number[] = [];
        for (let i = 0; i < 5; i++) {
          const next = conn.pollTimeout()!;
          gaps.push(next - t);
          t = next;
          conn.handleTimeout(t);
          drain(conn, t);
        }
        expect(gaps).to.deep.equal([200, 400, 800, 1000, 1000]);
      });

      it('fast retransmit on the third duplicate ACK resends only the missing segment; full ACK ends recovery', () => {
        const conn = established();
        conn.send(bytes(5000));
        expect(drain(conn, 20).length).to.equal(5);
        send(conn, 30, { ...P, ack: ISS + 1001 });
        expectNothing(conn, 30);
        send(conn, 31, { ...P, ack: ISS + 1001 });
        send(conn, 32, { ...P, ack: ISS + 1001 });
        expectNothing(conn, 32);
        send(conn, 33, { ...P, ack: ISS + 1001 });
        expectSent(conn, 33, [{ seq: ISS + 1001, payload: bytes(1000, 1000) }]);
        expect(conn.stats).to.deep.include({ fastRetransmits: 1, dupAcksIn: 3, ssthresh: 2000, cwnd: 5000, rtoCount: 0 });
        send(conn, 34, { ...P, ack: ISS + 1001 }); // a fourth inflates cwnd
        expect(conn.stats.cwnd).to.equal(6000);
        send(conn, 40, { ...P, ack: ISS + 5001 });
        expect(conn.stats.cwnd).to.equal(2000); // min(ssthresh, max(FlightSize, MSS) + MSS)
        expectNothing(conn, 40);
      });

      it('NewReno partial ACK: the next hole is resent at once, recovery continues', () => {
        const conn = established();
        conn.send(bytes(5000));
        drain(conn, 20);
        for (let t = 30; t < 34; t++) send(conn, t, { ...P, ack: ISS + 1001 });
        expectSent(conn, 33, [{ seq: ISS + 1001 }]);
        send(conn, 40, { ...P, ack: ISS + 3001 }); // partial: below `recover` (ISS + 5001)
        expectSent(conn, 40, [{ seq: ISS + 3001, payload: 1000 }]);
        expect(conn.stats.fastRetransmits).to.equal(2);
        send(conn, 50, { ...P, ack: ISS + 5001 });
        expect(conn.stats.bytesInFlight).to.equal(0);
      });

      it('window updates and data-bearing segments are not duplicate ACKs (RFC 5681 §2)', () => {
        const conn = established();
        conn.send(bytes(5000));
        drain(conn, 20);
        send(conn, 30, { ...P, ack: ISS + 1001 });
        send(conn, 31, { ...P, ack: ISS + 1001, window: 9000 });
        send(conn, 32, { ...P, ack: ISS + 1001, window: 9000 }, bytes(10));
        send(conn, 33, { ...P, seq: IRS + 11, ack: ISS + 1001, window: 9000 });
        expect(conn.stats.dupAcksIn).to.equal(1);
        expect(conn.stats.fastRetransmits).to.equal(0);
      });

      it('zero window: persist probes of one octet with backoff until the window opens', () => {
        const conn = established(TRACE_CONFIG, { window: 0 });
        conn.send(bytes(3000));
        expectNothing(conn, 20);
        expect(conn.pollTimeout()).to.equal(220);
        conn.handleTimeout(220);
        expectSent(conn, 220, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1, payload: bytes(1) }]);
        expect(conn.pollTimeout()).to.equal(620);
        send(conn, 230, { ...P, window: 0 }); // refused: window still zero
        conn.handleTimeout(620);
        expectSent(conn, 620, [{ seq: ISS + 1, payload: 1 }]);
        expect(conn.pollTimeout()).to.equal(1420);
        expect(conn.stats.persistProbes).to.equal(2);
        send(conn, 700, { ...P, window: 10_000 });
        expectSent(conn, 700, [{ seq: ISS + 1, payload: 1000 }, { seq: ISS + 1001, payload: 1000 }, { seq: ISS + 2001, payload: 1000, control: 'psh' }]);
        expect(conn.pollTimeout()).to.equal(900);
      });

      it('zero window: a probe octet the peer takes is acknowledged normally', () => {
        const conn = established(TRACE_CONFIG, { window: 0 });
        conn.send(bytes(10));
        drain(conn, 20);
        conn.handleTimeout(220);
        expectSent(conn, 220, [{ seq: ISS + 1, payload: 1 }]);
        send(conn, 230, { ...P, ack: ISS + 2, window: 0 });
        expect(conn.sendQueued).to.equal(9);
        expectNothing(conn, 230);
        send(conn, 240, { ...P, ack: ISS + 2, window: 100 });
        expectSent(conn, 240, [{ seq: ISS + 2, payload: bytes(9, 1) }]);
      });

      it('the peer closes its window on data in flight: each retransmission probes it, a peer that answers is never timed out, and the reopened window gets the data at once (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17)', () => {
        const conn = established({ ...TRACE_CONFIG, maxRetransmits: 3 });
        conn.send(bytes(3000));
        expect(drain(conn, 20).length).to.equal(3);
        // The peer takes the first segment and shrinks its window to zero: the others were dropped.
        send(conn, 30, { ...P, ack: ISS + 1001, window: 0 });
        expect(events(conn)).to.deep.equal(['writable']);
        // Twice maxRetransmits expiries, each a probe (the oldest segment again) the peer answers
        // with its zero window; the interval backs off as the RTO does.
        const gaps: number[] = [];
        let t = 30;
        for (let i = 0; i < 6; i++) {
          const next = conn.pollTimeout()!;
          gaps.push(next - t);
          t = next;
          conn.handleTimeout(t);
          expectSent(conn, t, [{ seq: ISS + 1001, payload: bytes(1000, 1000) }]);
          send(conn, t + 10, { ...P, ack: ISS + 1001, window: 0 });
          expectNothing(conn, t + 10);
          t += 10;
        }
        expect(gaps).to.deep.equal([200, 390, 790, 1590, 3190, 6390]);
        expect(conn.state).to.equal('ESTABLISHED');
        expect(events(conn)).to.deep.equal([]);
        // The window opens: the oldest segment goes at once (not at the backed-off RTO), the rest
        // as ACKs come back (from the loss window), and the timer is at the RTO again.
        send(conn, t + 10, { ...P, ack: ISS + 1001, window: 10_000 });
        expectSent(conn, t + 10, [{ seq: ISS + 1001, payload: 1000 }]);
        expect(conn.pollTimeout()).to.equal(t + 10 + 200);
        send(conn, t + 20, { ...P, ack: ISS + 2001, window: 10_000 });
        expectSent(conn, t + 20, [{ seq: ISS + 2001, payload: bytes(1000, 2000) }]);
        send(conn, t + 30, { ...P, ack: ISS + 3001, window: 10_000 });
        expect(conn.stats.bytesInFlight).to.equal(0);
        expect(events(conn)).to.deep.equal(['writable']);
      });

      it('a zero window the peer stops answering still ends: maxRetransmits unanswered probes → ETIMEDOUT', () => {
        const conn = established({ ...TRACE_CONFIG, maxRetransmits: 3 });
        conn.send(bytes(3000));
        drain(conn, 20);
        send(conn, 30, { ...P, ack: ISS + 1001, window: 0 });
        for (let i = 0; i < 3; i++) {
          const t = conn.pollTimeout()!;
          conn.handleTimeout(t);
          expectSent(conn, t, [{ seq: ISS + 1001 }]);
        }
        conn.handleTimeout(conn.pollTimeout()!);
        expect(events(conn)).to.deep.equal(['writable', 'error:ETIMEDOUT', 'closed']);
      });

      it('persist gives up with ETIMEDOUT when probes go unanswered maxRetransmits times', () => {
        const conn = established({ ...TRACE_CONFIG, maxRetransmits: 2 }, { window: 0 });
        conn.send(bytes(10));
        drain(conn, 20);
        for (let i = 0; i < 3; i++) {
          const t = conn.pollTimeout()!;
          conn.handleTimeout(t);
          drain(conn, t);
        }
        expect(events(conn)).to.deep.equal(['error:ETIMEDOUT', 'closed']);
      });
    });

    describe('control segments', () => {
      it('RST at exactly RCV.NXT → ECONNRESET; outside the window it is ignored silently (RFC 5961 §3.2)', () => {
        const conn = established();
        send(conn, 20, { control: 'rst', seq: IRS + 10_001 });
        send(conn, 20, { control: 'rst', seq: IRS });
        expectNothing(conn, 20);
        expect(conn.state).to.equal('ESTABLISHED');
        send(conn, 21, { control: 'rst', seq: IRS + 1 });
        expect(conn.state).to.equal('CLOSED');
        expect(events(conn)).to.deep.equal(['error:ECONNRESET', 'closed']);
        expectNothing(conn, 21);
      });

      it('a SYN is answered with a challenge ACK and changes nothing (RFC 5961 §4)', () => {
        const conn = established();
        send(conn, 20, { control: 'syn', seq: IRS + 100 });
        send(conn, 20, { control: 'syn', seq: IRS - 100 });
        expectSent(conn, 20, [{ ...ACK_OUT, seq: ISS + 1, ack: IRS + 1 }]);
        expect(conn.state).to.equal('ESTABLISHED');
        expect(conn.stats.challengeAcks).to.equal(1);
      });

      it('a segment without ACK is dropped', () => {
        const conn = established();
        send(conn, 20, { seq: IRS + 1 }, bytes(10));
        expect(conn.readableLength).to.equal(0);
        expectNothing(conn, 20);
      });

      it('close(): FIN rides on the last data segment; canSend turns false', () => {
        const conn = established();
        conn.send(bytes(1500));
        conn.close();
        expect(conn.canSend).to.equal(false);
        expect(() => conn.send(bytes(1))).to.throw().with.property('code', 'ERR_TCP_NOT_WRITABLE');
        expect(conn.state).to.equal('FIN-WAIT-1');
        expectSent(conn, 20, [
          { seq: ISS + 1, payload: 1000, control: 'none' },
          { seq: ISS + 1001, payload: 500, control: 'fin' },
        ]);
        conn.close(); // idempotent
        expectNothing(conn, 20);
      });

      it('abort(): RST <SEQ=SND.NXT>, closed without error', () => {
        const conn = established();
        conn.send(bytes(100));
        drain(conn, 20);
        conn.abort();
        expectSent(conn, 21, [{ ...TO_PEER, control: 'rst', seq: ISS + 101, ack: undefined }]);
        expect(events(conn)).to.deep.equal(['closed']);
      });
    });

    it('sequence numbers wrap around 2^32', () => {
      const iss = 0xffff_ff00;
      const irs = 0xffff_fff0;
      const conn = TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss, config: TRACE_CONFIG });
      expectSent(conn, 0, [{ control: 'syn', seq: iss }]);
      send(conn, 10, { control: 'syn', seq: irs, ack: iss + 1, window: 10_000, mss: 1000 });
      expectSent(conn, 10, [{ seq: iss + 1, ack: irs + 1 }]);
      conn.send(bytes(1000));
      expectSent(conn, 20, [{ seq: iss + 1, payload: 1000 }]);
      send(conn, 30, { seq: irs + 1, ack: (iss + 1001) >>> 0, window: 10_000 }, bytes(1000));
      expect(conn.stats.bytesInFlight).to.equal(0);
      expect(readAll(conn)).to.deep.equal(bytes(1000));
      expectSent(conn, 30, [{ seq: (iss + 1001) >>> 0, ack: (irs + 1001) >>> 0 }]);
    });
  });

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
