/**
 * TcpConnection as packet traces, the ESTABLISHED state: receiving, sending (retransmission,
 * recovery, zero windows) and control segments (the opening states are in
 * connection-opening.test.ts, the closing ones in connection-closing.test.ts). Times are explicit
 * (milliseconds); our ISS is 1000 and the peer's 9000. After `established()` the RTT sample of
 * 10 ms gives RTO = max(200, 10 + 4·5) = 200 ms; the peer's window is 10000, MSS 1000.
 */
import { expect } from 'chai';
import { TcpConnection } from './connection.js';
import {
  P,
  ACK_OUT,
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

describe('TcpConnection', () => {
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
});
