/**
 * TcpConnection as packet traces, the opening states: CLOSED, LISTEN (TcpListener), SYN-SENT and
 * SYN-RECEIVED, one `describe` per RFC 9293 state (the established phase and the closing states
 * are in connection-established.test.ts and connection-closing.test.ts; the state builders in
 * __tests__/states.ts). Times are explicit (milliseconds); our ISS is 1000 and the peer's 9000.
 * After `established()` the RTT sample of 10 ms gives RTO = max(200, 10 + 4·5) = 200 ms; the
 * peer's window is 10000, MSS 1000.
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
import { connectWith, synReceived } from './__tests__/states.js';

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
});
