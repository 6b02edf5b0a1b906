/**
 * Packet traces for the modern-TCP parts of TcpConnection: option negotiation (RFC 7323 window
 * scale and timestamps, RFC 2018 SACK-permitted, RFC 3168 ECN), PAWS, SACK generation and
 * SACK/RACK-driven retransmission (RFC 6675, RFC 8985), tail loss probes, delayed ACKs
 * (RFC 1122 §4.2.3.2, RFC 5681 §4.2), Nagle (RFC 1122 §4.2.3.4) and ECN reactions.
 * Our ISS is 1000, the peer's 9000; our TSval is the time in ms (tsOffset 0).
 */
import { expect } from 'chai';
import { TcpConnection } from './connection.js';
import { TcpListener } from './listener.js';
import {
  P,
  FROM_PEER,
  IRS,
  ISS,
  LOCAL,
  REMOTE,
  TO_PEER,
  TRACE_CONFIG,
  bytes,
  drain,
  events,
  expectNothing,
  expectSent,
  readAll,
  send,
} from './__tests__/trace.js';
import type { TcpConfig, TcpRepr } from './types.js';

const PEER_OPTS: Partial<TcpRepr> = { windowScale: 2, sackPermitted: true, timestamp: { tsVal: 500, tsEcr: 0 } };

/** Active open with `config`, tsOffset 0; the SYN-ACK at t=10 carries `peer` options. */
function open(config: Partial<TcpConfig> = TRACE_CONFIG, peer: Partial<TcpRepr> = {}): TcpConnection {
  const conn = TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config, tsOffset: 0 });
  drain(conn, 0);
  send(conn, 10, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000, mss: 1000, ...peer });
  drain(conn, 10);
  expect(events(conn)).to.deep.equal(['connected']);
  return conn;
}

/** Passive open through a listener with `config`; returns the connection and its SYN-ACK. */
function passive(config: Partial<TcpConfig>, syn: Partial<TcpRepr>): { conn: TcpConnection; synAck: TcpRepr } {
  const l = new TcpListener({ local: { addr: 0, port: LOCAL.port }, backlog: 4, config, isn: () => ISS, tsOffset: () => 0 });
  const r = l.handleSegment(5, LOCAL, REMOTE, { ...FROM_PEER, control: 'syn', seq: IRS, mss: 1000, ...syn }, new Uint8Array(0));
  if (r.kind !== 'connection') throw new Error(r.kind);
  const out = drain(r.connection, 5);
  expect(out.length).to.equal(1);
  return { conn: r.connection, synAck: out[0]!.repr };
}

describe('TcpConnection options and modern TCP', () => {
  describe('negotiation (RFC 7323 §1.3, RFC 2018 §2, RFC 3168 §6.1.1)', () => {
    it('offered and accepted: window scale both ways, SACK, timestamps, ECN', () => {
      const conn = open({ ...TRACE_CONFIG, recvBufferSize: 1 << 20 }, { ...PEER_OPTS, ece: true });
      const s = conn.stats;
      expect([s.sendWindowScale, s.recvWindowScale, s.sackEnabled, s.timestampsEnabled, s.ecnEnabled]).to.deep.equal([2, 5, true, true, true]);
      // The SYN-ACK's window is unscaled (10000); later windows are shifted by 2.
      expect(s.sendWindow).to.equal(10_000);
      send(conn, 20, { ...P, window: 3000, timestamp: { tsVal: 510, tsEcr: 0 } });
      expect(conn.stats.sendWindow).to.equal(12_000);
      // Our windows are the free buffer >> 5.
      conn.send(bytes(10));
      expectSent(conn, 20, [{ window: (1 << 20) >> 5, timestamp: { tsVal: 20, tsEcr: 510 }, payload: 10 }]);
    });

    it('declined: a SYN-ACK without options leaves every option off and windows unscaled', () => {
      const conn = open({ ...TRACE_CONFIG, recvBufferSize: 1 << 20 });
      const s = conn.stats;
      expect([s.sendWindowScale, s.recvWindowScale, s.sackEnabled, s.timestampsEnabled, s.ecnEnabled]).to.deep.equal([-1, -1, false, false, false]);
      send(conn, 20, { ...P, window: 3000 });
      expect(conn.stats.sendWindow).to.equal(3000);
      conn.send(bytes(10));
      expectSent(conn, 20, [{ window: 65535, timestamp: undefined, sackBlocks: undefined, payload: 10 }]);
    });

    it('a SYN-ACK with both ECE and CWR is not ECN-setup: ECN stays off', () => {
      expect(open(TRACE_CONFIG, { ece: true, cwr: true }).stats.ecnEnabled).to.equal(false);
    });

    it('a retransmitted SYN drops the ECN setup (RFC 3168 §6.1.1.1); an ECE SYN-ACK then does not enable ECN', () => {
      const conn = TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config: TRACE_CONFIG, tsOffset: 0 });
      expectSent(conn, 0, [{ control: 'syn', ece: true, cwr: true }]);
      conn.handleTimeout(1000);
      expectSent(conn, 1000, [{ control: 'syn', ece: undefined, cwr: undefined, timestamp: { tsVal: 1000, tsEcr: 0 } }]);
      send(conn, 1010, { control: 'syn', seq: IRS, ack: ISS + 1, ece: true });
      expect(conn.stats.ecnEnabled).to.equal(false);
    });

    it('passive: the SYN-ACK answers exactly the options the SYN offered', () => {
      const all = passive({ ...TRACE_CONFIG, recvBufferSize: 200_000 }, { ...PEER_OPTS, ece: true, cwr: true });
      expect(all.synAck).to.deep.include({ control: 'syn', ack: IRS + 1, windowScale: 2, sackPermitted: true, timestamp: { tsVal: 5, tsEcr: 500 }, ece: true, window: 65535 });
      expect(all.synAck.cwr).to.equal(undefined);
      const none = passive(TRACE_CONFIG, {});
      expect(none.synAck).to.deep.include({ windowScale: undefined, sackPermitted: undefined, timestamp: undefined, ece: undefined });
      // ECE alone is not an ECN-setup SYN.
      expect(passive(TRACE_CONFIG, { ece: true }).synAck.ece).to.equal(undefined);
      // Our config can decline what the peer offers.
      const off = passive({ ...TRACE_CONFIG, windowScaling: false, sack: false, timestamps: false, ecn: false }, { ...PEER_OPTS, ece: true, cwr: true });
      expect(off.synAck).to.deep.include({ windowScale: undefined, sackPermitted: undefined, timestamp: undefined, ece: undefined });
    });

    it('with timestamps a full segment carries MSS − 12 data octets, less again for SACK blocks (RFC 6691)', () => {
      const conn = open(TRACE_CONFIG, PEER_OPTS);
      expect(conn.stats.sendMss).to.equal(988);
      send(conn, 20, { ...P, seq: IRS + 2001, window: 5000, timestamp: { tsVal: 600, tsEcr: 10 } }, bytes(100)); // a hole: we owe one SACK block
      drain(conn, 20);
      conn.send(bytes(3000));
      const out = drain(conn, 21);
      expect(out.map((o) => o.payload.length)).to.deep.equal([976, 976, 976, 72]);
      expect(out[0]!.repr.sackBlocks).to.deep.equal([{ left: IRS + 2001, right: IRS + 2101 }]);
    });

    it('passive: the handshake ACK is the first scaled window; timestamps flow on every segment', () => {
      const { conn } = passive(TRACE_CONFIG, PEER_OPTS);
      send(conn, 15, { seq: IRS + 1, ack: ISS + 1, window: 1000, timestamp: { tsVal: 505, tsEcr: 5 } });
      expect(conn.state).to.equal('ESTABLISHED');
      expect(conn.stats.sendWindow).to.equal(4000);
      expect(conn.stats.srttMs).to.equal(10);
      conn.send(bytes(5));
      expectSent(conn, 16, [{ seq: ISS + 1, timestamp: { tsVal: 16, tsEcr: 505 }, payload: 5 }]);
    });
  });

  describe('timestamps (RFC 7323 §4, §5)', () => {
    const TS = { ...TRACE_CONFIG };
    const peerTs = (tsVal: number, tsEcr: number): Partial<TcpRepr> => ({ timestamp: { tsVal, tsEcr } });

    it('RTTM: the RTT comes from TSecr, also for a retransmitted segment', () => {
      const conn = open(TS, PEER_OPTS);
      conn.send(bytes(1000));
      drain(conn, 20);
      conn.handleTimeout(220); // RTO: resent at t=220 with TSval 220
      expectSent(conn, 220, [{ seq: ISS + 1, timestamp: { tsVal: 220, tsEcr: 500 } }]);
      const samples = conn.stats.rttSamples;
      // The ACK echoes the retransmission's TSval: RTT 30 ms, unambiguous (no Karn needed).
      send(conn, 250, { ...P, ack: ISS + 1001, ...peerTs(600, 220) });
      expect(conn.stats.rttSamples).to.equal(samples + 1);
      expect(conn.stats.srttMs).to.be.greaterThan(10);
    });

    it('TS.Recent follows segments at Last.ACK.sent; later out-of-order ones do not change it', () => {
      const conn = open(TS, PEER_OPTS);
      send(conn, 20, { ...P, seq: IRS + 1001, ...peerTs(700, 10) }, bytes(1000)); // beyond RCV.NXT: not recorded
      expectSent(conn, 20, [{ ack: IRS + 1, timestamp: { tsVal: 20, tsEcr: 500 } }]);
      send(conn, 21, { ...P, ...peerTs(600, 10) }, bytes(1000)); // fills the hole at Last.ACK.sent
      expectSent(conn, 21, [{ ack: IRS + 2001, timestamp: { tsVal: 21, tsEcr: 600 } }]);
    });

    it('PAWS: a segment with an older TSval is dropped and answered with an ACK; RST is exempt', () => {
      const conn = open(TS, PEER_OPTS);
      send(conn, 20, { ...P, ...peerTs(600, 10) }, bytes(100));
      expectSent(conn, 20, [{ ack: IRS + 101 }]);
      send(conn, 30, { ...P, seq: IRS + 101, ...peerTs(599, 10) }, bytes(100)); // old: a wrapped duplicate
      expect(conn.readableLength).to.equal(100);
      expect(conn.stats.pawsRejected).to.equal(1);
      expectSent(conn, 30, [{ ack: IRS + 101, timestamp: { tsVal: 30, tsEcr: 600 } }]);
      send(conn, 40, { ...P, seq: IRS + 101, control: 'rst', ...peerTs(1, 0) });
      expect(conn.state).to.equal('CLOSED');
    });

    it('PAWS: TS.Recent idle for more than 24 days no longer rejects (RFC 7323 §5.5)', () => {
      const conn = open(TS, PEER_OPTS);
      const later = 10 + 25 * 24 * 3600 * 1000;
      send(conn, later, { ...P, ...peerTs(1, 10) }, bytes(100));
      expect(conn.stats.pawsRejected).to.equal(0);
      expect(conn.readableLength).to.equal(100);
      // TS.Recent is now the new value: TSval 1 is current again.
      send(conn, later + 1, { ...P, seq: IRS + 101, ...peerTs(2, 10) }, bytes(1));
      expect(conn.readableLength).to.equal(101);
    });
  });

  describe('SACK generation (RFC 2018 §4)', () => {
    it('out-of-order data: the block of the latest arrival first, then the other recent ones', () => {
      const conn = open({ ...TRACE_CONFIG, timestamps: false }, { sackPermitted: true });
      send(conn, 20, { ...P, seq: IRS + 2001 }, bytes(1000));
      expectSent(conn, 20, [{ ack: IRS + 1, sackBlocks: [{ left: IRS + 2001, right: IRS + 3001 }] }]);
      send(conn, 21, { ...P, seq: IRS + 6001 }, bytes(1000));
      send(conn, 21, { ...P, seq: IRS + 4001 }, bytes(1000));
      // One ACK for the drain, with SACK there is no need for one duplicate ACK per segment.
      expectSent(conn, 21, [{
        ack: IRS + 1,
        sackBlocks: [
          { left: IRS + 4001, right: IRS + 5001 },
          { left: IRS + 6001, right: IRS + 7001 },
          { left: IRS + 2001, right: IRS + 3001 },
        ],
      }]);
      // A segment extending an older block moves that block to the front.
      send(conn, 22, { ...P, seq: IRS + 3001 }, bytes(1000));
      expectSent(conn, 22, [{
        ack: IRS + 1,
        sackBlocks: [
          { left: IRS + 2001, right: IRS + 4001 + 1000 },
          { left: IRS + 6001, right: IRS + 7001 },
        ],
      }]);
      // The hole fills: everything is cumulative, no blocks.
      send(conn, 23, { ...P }, bytes(2000));
      expectSent(conn, 23, [{ ack: IRS + 5001, sackBlocks: [{ left: IRS + 6001, right: IRS + 7001 }] }]);
      send(conn, 24, { ...P, seq: IRS + 5001 }, bytes(1000));
      expectSent(conn, 24, [{ ack: IRS + 7001, sackBlocks: undefined }]);
    });

    it('at most 4 blocks, or 3 with timestamps (the option space)', () => {
      for (const [ts, max] of [[false, 4], [true, 3]] as const) {
        const conn = open({ ...TRACE_CONFIG, recvBufferSize: 20_000, maxOutOfOrderBytes: 20_000 }, ts ? PEER_OPTS : { sackPermitted: true });
        for (let k = 1; k <= 5; k++) send(conn, 20 + k, { ...P, seq: IRS + 1 + 2000 * k, ...(ts ? { timestamp: { tsVal: 600, tsEcr: 1 } } : {}) }, bytes(1000));
        const out = drain(conn, 30);
        expect(out.length).to.equal(1);
        const blocks = out[0]!.repr.sackBlocks!;
        expect(blocks.length, `timestamps ${ts}`).to.equal(max);
        expect(blocks[0]).to.deep.equal({ left: IRS + 10_001, right: IRS + 11_001 }); // the latest
        expect(blocks[1]).to.deep.equal({ left: IRS + 8001, right: IRS + 9001 });
      }
    });
  });

  describe('SACK loss recovery (RFC 6675, RFC 8985)', () => {
    const CFG = { ...TRACE_CONFIG, timestamps: false };
    /** Established with SACK; 10 segments of 1000 sent at t=20. */
    function tenInFlight(): TcpConnection {
      const conn = open(CFG, { sackPermitted: true });
      conn.send(bytes(10_000));
      expectSent(conn, 20, Array.from({ length: 10 }, (_, k) => ({ seq: ISS + 1 + 1000 * k, payload: 1000 })));
      return conn;
    }
    const sack = (...ranges: Array<[number, number]>): Partial<TcpRepr> => ({
      sackBlocks: ranges.map(([l, r]) => ({ left: ISS + 1 + l * 1000, right: ISS + 1 + r * 1000 })),
    });

    it('only the holes are retransmitted, once enough is SACKed above them (RACK, reordering window 0)', () => {
      const conn = tenInFlight();
      // Segments 0 and 3 are lost; 1-2 and 4-9 arrive.
      send(conn, 30, { ...P, ...sack([1, 3]) });
      send(conn, 30, { ...P, ...sack([4, 10], [1, 3]) });
      expectSent(conn, 30, [{ seq: ISS + 1, payload: 1000 }, { seq: ISS + 3001, payload: 1000 }]);
      expect(conn.stats.lostSegments).to.equal(2);
      expect(conn.stats.inRecovery).to.equal(true);
      expect(conn.stats.sackedBytes).to.equal(8000);
      send(conn, 40, { ...P, ack: ISS + 3001, ...sack([4, 10]) });
      expectNothing(conn, 40);
      send(conn, 41, { ...P, ack: ISS + 10_001 });
      expect(conn.stats.inRecovery).to.equal(false);
      expect(conn.stats.retransmits).to.equal(2);
      expect(conn.stats.rtoCount).to.equal(0);
    });

    it('RACK reordering window: one SACKed segment waits min_RTT/4 before the hole counts as lost', () => {
      const conn = tenInFlight();
      // An RTT sample to set min_RTT: segment 0 acknowledged after 10 ms.
      send(conn, 30, { ...P, ack: ISS + 1001 });
      // Segment 2 SACKed while 1 is missing; fewer than 3 SACKed: wait RACK.rtt + min_RTT/4.
      send(conn, 31, { ...P, ack: ISS + 1001, ...sack([2, 3]) });
      expectNothing(conn, 31);
      const t = conn.pollTimeout()!;
      expect(t).to.equal(20 + 11 + 10 / 4); // xmit + RACK.rtt + reo_wnd
      // The missing segment was only reordered: it arrives before the timer, nothing is resent.
      send(conn, 32, { ...P, ack: ISS + 3001 });
      conn.handleTimeout(t);
      expectNothing(conn, t);
      expect(conn.stats.retransmits).to.equal(0);
    });

    it('RACK reordering timer fires: the hole is retransmitted', () => {
      const conn = tenInFlight();
      send(conn, 30, { ...P, ack: ISS + 1001 });
      send(conn, 31, { ...P, ack: ISS + 1001, ...sack([2, 3]) });
      const t = conn.pollTimeout()!;
      conn.handleTimeout(t);
      expectSent(conn, t, [{ seq: ISS + 1001, payload: 1000 }]);
      expect(conn.stats.fastRetransmits).to.equal(1);
    });

    it('a lost retransmission is detected by RACK too (no RTO)', () => {
      const conn = tenInFlight();
      send(conn, 30, { ...P, ...sack([1, 10]) });
      expectSent(conn, 30, [{ seq: ISS + 1 }]);
      conn.send(bytes(1000)); // new data sent after the retransmission...
      send(conn, 31, { ...P, window: 20_000, ...sack([1, 10]) });
      drain(conn, 31);
      // ...is SACKed 10 ms later while the retransmission is not: it is lost again.
      send(conn, 45, { ...P, window: 20_000, ...sack([1, 11]) });
      expectSent(conn, 45, [{ seq: ISS + 1, payload: 1000 }]);
      expect(conn.stats.rtoCount).to.equal(0);
    });

    it('TLP: with nothing acknowledged, the last segment is probed after 2·SRTT, then the RTO is re-armed', () => {
      const conn = open(CFG, { sackPermitted: true });
      conn.send(bytes(2000));
      drain(conn, 20);
      expect(conn.pollTimeout()).to.equal(40); // PTO = 2·SRTT = 20 ms
      conn.handleTimeout(40);
      expectSent(conn, 40, [{ seq: ISS + 1001, payload: 1000 }]);
      expect(conn.stats.tlpProbes).to.equal(1);
      expect(conn.pollTimeout()).to.equal(240); // RTO from the probe
      // The probe's ACK with a SACK shows segment 0 is missing: RACK retransmits it.
      send(conn, 50, { ...P, ...sack([1, 2]) });
      expect(conn.stats.rtoCount).to.equal(0);
    });

    it('TLP: a single segment in flight adds the worst-case delayed ACK (200 ms); new data is probed when the window allows', () => {
      const conn = open(CFG, { sackPermitted: true });
      conn.send(bytes(500));
      drain(conn, 20);
      expect(conn.pollTimeout()).to.equal(220); // PTO 2·10 + 200 from t=20, capped by the RTO deadline 20 + 200
      // cwnd-limited: 10 segments out, an 11th waits; the probe sends it (RFC 8985 §7.3).
      const c2 = open(CFG, { sackPermitted: true });
      c2.send(bytes(11_000));
      send(c2, 11, { ...P, window: 20_000 });
      expect(drain(c2, 20).length).to.equal(10);
      c2.handleTimeout(40);
      expectSent(c2, 40, [{ seq: ISS + 10_001, payload: 1000 }]);
      expect(c2.stats.retransmits).to.equal(0);
    });

    describe("TLP episode (RFC 8985 §7.4.2): a probe that resent old data reduces cwnd only if it repaired a loss", () => {
      const DSACK_OF_PROBE = { sackBlocks: [{ left: ISS + 1001, right: ISS + 2001 }] }; // below the ACK: a D-SACK (RFC 2883 §4)
      /** Two segments out at t=20, nothing acknowledged; the probe resends the second at t=40. */
      function probed(config: Partial<TcpConfig> = CFG): TcpConnection {
        const conn = open(config, { sackPermitted: true });
        conn.send(bytes(2000));
        drain(conn, 20);
        conn.handleTimeout(40);
        expectSent(conn, 40, [{ seq: ISS + 1001, payload: 1000 }]);
        expect(conn.stats.retransmits).to.equal(1);
        return conn;
      }
      function untouched(conn: TcpConnection): void {
        expect(conn.stats.ssthresh, 'ssthresh').to.equal(0x7fffffff);
      }
      /** New data sent and acknowledged past the probe's end: the ACK that ends any open episode. */
      function past(conn: TcpConnection, t: number): void {
        conn.send(bytes(1000));
        expectSent(conn, t, [{ seq: ISS + 2001, payload: 1000 }]);
        send(conn, t + 5, { ...P, ack: ISS + 3001 });
      }

      it('original and probe both arrived: the ACK reaching the probe\'s end waits for the D-SACK in the next ACK; no reduction', () => {
        const conn = probed();
        send(conn, 45, { ...P, ack: ISS + 2001 }); // the originals arrived
        untouched(conn);
        send(conn, 46, { ...P, ack: ISS + 2001, ...DSACK_OF_PROBE }); // then the probe's duplicate
        expect(conn.stats.dsacksReceived).to.equal(1);
        past(conn, 50);
        untouched(conn);
      });

      it('the D-SACK on the very ACK that reaches the probe\'s end: no reduction', () => {
        const conn = probed();
        send(conn, 45, { ...P, ack: ISS + 2001, ...DSACK_OF_PROBE });
        past(conn, 50);
        untouched(conn);
      });

      it('a pure duplicate ACK at the probe\'s end (no D-SACK): both arrived, no reduction', () => {
        const conn = probed();
        send(conn, 45, { ...P, ack: ISS + 2001 });
        send(conn, 46, { ...P, ack: ISS + 2001 });
        past(conn, 50);
        untouched(conn);
      });

      it('the probe repaired a loss (no D-SACK, no duplicate before an ACK beyond its end): one reduction', () => {
        const conn = probed();
        send(conn, 45, { ...P, ack: ISS + 2001 });
        untouched(conn);
        const cwnd = conn.stats.cwnd;
        past(conn, 50);
        expect(conn.stats.ssthresh).to.be.below(cwnd);
        expect(conn.stats.inRecovery, 'no recovery entered').to.equal(false);
        // The episode is over: one more ACK beyond changes nothing.
        const after = conn.stats.ssthresh;
        conn.send(bytes(1000));
        drain(conn, 60);
        send(conn, 61, { ...P, ack: ISS + 4001 });
        expect(conn.stats.ssthresh).to.equal(after);
      });

      it('a fast recovery entered during the episode answers for the probe too: no second reduction when it ends', () => {
        // CUBIC: a second reduction from cwnd = ssthresh would show (NewReno's from FlightSize might not).
        const conn = probed({ ...CFG, congestionControl: 'cubic' });
        send(conn, 45, { ...P, ack: ISS + 2001 }); // the episode stays open (no D-SACK yet)
        conn.send(bytes(5000));
        expect(drain(conn, 50).length).to.equal(5); // ISS+2001 .. ISS+7001
        // The first of them is missing, the other four SACKed: loss recovery, one reduction.
        send(conn, 55, { ...P, ack: ISS + 2001, sackBlocks: [{ left: ISS + 3001, right: ISS + 7001 }] });
        expect(conn.stats.inRecovery).to.equal(true);
        const reduced = conn.stats.ssthresh;
        expect(reduced).to.be.below(0x7fffffff);
        expectSent(conn, 55, [{ seq: ISS + 2001, payload: 1000 }]);
        // The repair is acknowledged, beyond the probe's end: the recovery ends, nothing more.
        send(conn, 60, { ...P, ack: ISS + 7001 });
        expect(conn.stats.inRecovery).to.equal(false);
        expect(conn.stats.ssthresh).to.equal(reduced);
      });
    });
  });

  describe('delayed ACKs (RFC 1122 §4.2.3.2, RFC 5681 §4.2)', () => {
    const CFG = { ...TRACE_CONFIG, delayedAckMs: 40 };
    /** Established, with quick-ACK mode over (we sent data: replies carry ACKs). */
    function interactive(): TcpConnection {
      const conn = open(CFG);
      conn.send(bytes(10));
      drain(conn, 15);
      return conn;
    }

    it('the first segments of a connection are acknowledged at once (quick-ACK start)', () => {
      const conn = open(CFG);
      for (let k = 0; k < 3; k++) {
        send(conn, 20 + k, { ...P, seq: IRS + 1 + k * 500 }, bytes(500));
        expectSent(conn, 20 + k, [{ ack: IRS + 501 + k * 500 }]);
      }
    });

    it('one segment waits at most delayedAckMs; the second full-sized one is acknowledged at once', () => {
      const conn = interactive();
      send(conn, 20, { ...P, ack: ISS + 11 }, bytes(1000));
      expectNothing(conn, 20);
      expect(conn.pollTimeout()).to.equal(60);
      conn.handleTimeout(60);
      expectSent(conn, 60, [{ ack: IRS + 1001 }]);
      send(conn, 70, { ...P, ack: ISS + 11, seq: IRS + 1001 }, bytes(1000));
      expectNothing(conn, 70);
      send(conn, 75, { ...P, ack: ISS + 11, seq: IRS + 2001 }, bytes(1000));
      expectSent(conn, 75, [{ ack: IRS + 3001 }]);
    });

    it('a burst of many segments fed before one drain gets one cumulative ACK', () => {
      const conn = interactive();
      for (let k = 0; k < 7; k++) send(conn, 20, { ...P, ack: ISS + 11, seq: IRS + 1 + k * 1000 }, bytes(1000));
      expectSent(conn, 20, [{ ack: IRS + 7001 }]);
    });

    it('a reply within the drain carries the delayed ACK', () => {
      const conn = interactive();
      send(conn, 20, { ...P, ack: ISS + 11, control: 'psh' }, bytes(100));
      expectNothing(conn, 20); // we are interactive: the reply should carry it
      conn.send(bytes(50));
      expectSent(conn, 20, [{ ack: IRS + 101, payload: 50 }]);
    });

    it('quick ACKs: out-of-order data, the segment filling the hole, and PSH when we are not replying', () => {
      const conn = interactive();
      send(conn, 20, { ...P, ack: ISS + 11, seq: IRS + 1001 }, bytes(1000));
      expectSent(conn, 20, [{ ack: IRS + 1 }]);
      send(conn, 21, { ...P, ack: ISS + 11 }, bytes(1000));
      expectSent(conn, 21, [{ ack: IRS + 2001 }]);
      // Not interactive now (we sent nothing since the peer's last data): PSH is acknowledged at once.
      send(conn, 30, { ...P, ack: ISS + 11, seq: IRS + 2001, control: 'psh' }, bytes(100));
      expectSent(conn, 30, [{ ack: IRS + 2101 }]);
    });
  });

  describe("Nagle's algorithm (RFC 1122 §4.2.3.4, Minshall's variant)", () => {
    it('a small segment waits while an earlier small segment is unacknowledged, then goes', () => {
      const conn = open(TRACE_CONFIG);
      expect(conn.noDelay).to.equal(false);
      conn.send(bytes(100));
      expectSent(conn, 20, [{ payload: 100 }]);
      conn.send(bytes(100));
      expectNothing(conn, 21);
      send(conn, 30, { ...P, ack: ISS + 101 });
      expectSent(conn, 30, [{ seq: ISS + 101, payload: 100 }]);
    });

    it('a full-sized segment is never held; the small tail after it goes too (Minshall)', () => {
      const conn = open(TRACE_CONFIG);
      conn.send(bytes(1500));
      expectSent(conn, 20, [{ payload: 1000 }, { payload: 500 }]);
      conn.send(bytes(2100));
      expectSent(conn, 21, [{ payload: 1000 }, { payload: 1000 }]); // the 100-octet tail waits for the first small one
    });

    it('noDelay (config or setNoDelay) sends small segments at once', () => {
      const conn = open({ ...TRACE_CONFIG, noDelay: true });
      conn.send(bytes(100));
      conn.send(bytes(0));
      expectSent(conn, 20, [{ payload: 100 }]);
      conn.send(bytes(100));
      expectSent(conn, 21, [{ payload: 100 }]);
      const c2 = open(TRACE_CONFIG);
      c2.send(bytes(100));
      drain(c2, 20);
      c2.send(bytes(100));
      expectNothing(c2, 21);
      c2.setNoDelay();
      expect(c2.stats.noDelay).to.equal(true);
      expectSent(c2, 22, [{ payload: 100 }]);
      c2.setNoDelay(false);
      c2.send(bytes(100));
      expectNothing(c2, 23);
    });

    it('the FIN is not delayed: close() sends the held small data with the FIN', () => {
      const conn = open(TRACE_CONFIG);
      conn.send(bytes(100));
      drain(conn, 20);
      conn.send(bytes(100));
      expectNothing(conn, 21);
      conn.close();
      expectSent(conn, 22, [{ control: 'fin', seq: ISS + 101, payload: 100 }]);
    });
  });

  describe('ECN (RFC 3168 §6.1)', () => {
    const ECN_PEER: Partial<TcpRepr> = { ece: true };

    it('data is ECT(0); pure ACKs, retransmissions and the handshake are not ECN-capable', () => {
      const conn = open(TRACE_CONFIG, ECN_PEER);
      conn.send(bytes(1000));
      const first = conn.pollTransmit(20)!;
      expect(first.ecn).to.equal('ect0');
      conn.handleTimeout(220);
      const again = conn.pollTransmit(220)!;
      expect([again.repr.seq, again.ecn]).to.deep.equal([ISS + 1, 'not-ect']);
      send(conn, 230, { ...P, ack: ISS + 1001 }, bytes(10));
      expect(conn.pollTransmit(230)!.ecn).to.equal('not-ect');
      const plain = open(TRACE_CONFIG);
      plain.send(bytes(10));
      expect(plain.pollTransmit(20)!.ecn).to.equal('not-ect');
    });

    it('receiver: a CE mark makes every ACK carry ECE until the peer sends CWR', () => {
      const conn = open(TRACE_CONFIG, ECN_PEER);
      conn.handleSegment(20, { ...FROM_PEER, ...P }, bytes(100), 3);
      expectSent(conn, 20, [{ ack: IRS + 101, ece: true }]);
      expect(conn.stats.ceReceived).to.equal(1);
      send(conn, 21, { ...P, seq: IRS + 101 }, bytes(100));
      expectSent(conn, 21, [{ ack: IRS + 201, ece: true }]);
      send(conn, 22, { ...P, seq: IRS + 201, cwr: true }, bytes(100));
      expectSent(conn, 22, [{ ack: IRS + 301, ece: undefined }]);
    });

    it('sender: ECE reduces cwnd once per window and the next new data carries CWR', () => {
      const conn = open(TRACE_CONFIG, ECN_PEER);
      conn.send(bytes(10_000));
      drain(conn, 20);
      const cwnd = conn.stats.cwnd;
      send(conn, 30, { ...P, ack: ISS + 1001, ece: true });
      expect(conn.stats.cwnd).to.be.below(cwnd);
      expect(conn.stats.ecnReductions).to.equal(1);
      send(conn, 31, { ...P, ack: ISS + 2001, ece: true }); // same window: no second reduction
      expect(conn.stats.ecnReductions).to.equal(1);
      expect(conn.stats.retransmits).to.equal(0);
      conn.send(bytes(5000));
      send(conn, 40, { ...P, ack: ISS + 10_001, window: 20_000 });
      const out = drain(conn, 40);
      expect(out[0]!.repr.cwr).to.equal(true);
      expect(out.slice(1).every((o) => o.repr.cwr === undefined)).to.equal(true);
    });

    it('the ACK of exactly the recovery point still carries ECE (the peer has not seen our CWR yet): no second reduction; an ECE beyond it is a new signal (RFC 3168 §6.1.2)', () => {
      const conn = open(TRACE_CONFIG, ECN_PEER);
      conn.send(bytes(10_000));
      expect(drain(conn, 20).length).to.equal(10);
      send(conn, 30, { ...P, ack: ISS + 1001, ece: true });
      expect(conn.stats.ecnReductions).to.equal(1);
      const reduced = conn.stats.ssthresh;
      // Every octet sent before the reduction acknowledged, still with ECE: the same signal.
      send(conn, 40, { ...P, ack: ISS + 10_001, ece: true, window: 20_000 });
      expect(conn.stats.ecnReductions).to.equal(1);
      expect(conn.stats.ssthresh).to.equal(reduced);
      // New data carries CWR; ECE on an ACK of it is the peer reporting new congestion.
      conn.send(bytes(3000));
      const out = drain(conn, 40);
      expect(out[0]!.repr.cwr).to.equal(true);
      send(conn, 50, { ...P, ack: ISS + 10_001 + out[0]!.payload.length, ece: true, window: 20_000 });
      expect(conn.stats.ecnReductions).to.equal(2);
    });
  });

  describe('idle and application-limited periods (RFC 5681 §4.1, RFC 9438 §5.8)', () => {
    const RTT = 10;
    const WINDOW = 60_000;

    /**
     * A peer that acknowledges every data segment `RTT` ms after it left, each ACK followed by
     * whatever it lets us send (an ACK clock), for `n` round trips from `t`; the first ACK may
     * carry ECE. Returns the time reached.
     */
    function rounds(conn: TcpConnection, t: number, n: number, eceFirst = false): number {
      let flight = drain(conn, t).filter((o) => o.payload.length > 0);
      let ece = eceFirst;
      for (let r = 0; r < n && flight.length > 0; r++) {
        t += RTT;
        const next: typeof flight = [];
        for (const o of flight) {
          send(conn, t, { ...P, ack: (o.repr.seq + o.payload.length) >>> 0, window: WINDOW, ece: ece || undefined });
          ece = false;
          next.push(...drain(conn, t).filter((x) => x.payload.length > 0));
        }
        flight = next;
      }
      return t;
    }

    it('after more than an RTO without sending, cwnd restarts from min(IW, cwnd) instead of bursting the old window; a shorter pause keeps it', () => {
      // One send() of 40,000 octets each time: the buffer is not sized by cwnd here.
      const conn = open({ ...TRACE_CONFIG, sendBufferSize: 40_000, sendBufferAutoSize: false }, { window: WINDOW });
      conn.send(bytes(40_000));
      let t = rounds(conn, 20, 10);
      expect(conn.stats.bytesInFlight).to.equal(0);
      const grown = conn.stats.cwnd;
      expect(grown).to.be.at.least(20_000);
      expect(conn.stats.rtoMs).to.equal(200);
      // 100 ms without sending (< RTO): the whole window is still valid.
      conn.send(bytes(40_000));
      const short = drain(conn, t + 100);
      expect(short.length).to.equal(Math.floor(grown / 1000));
      t += 100 + RTT;
      for (const o of short) send(conn, t, { ...P, ack: (o.repr.seq + o.payload.length) >>> 0, window: WINDOW });
      t = rounds(conn, t, 10);
      expect(conn.stats.bytesInFlight).to.equal(0);
      const before = conn.stats.cwnd;
      // 5 s without sending (> RTO): at most the initial window (10 segments) leaves at once.
      conn.send(bytes(40_000));
      expect(drain(conn, t + 5000).length).to.equal(10);
      expect(conn.stats.cwnd).to.equal(10_000);
      // RFC 2861 §3: ssthresh = max(ssthresh, 3/4 of the old window), so slow start climbs back.
      expect(conn.stats.ssthresh).to.be.at.least(Math.floor((before * 3) / 4));
    });

    it('CUBIC: an idle period does not count as time on the cubic curve (the epoch shifts); growth resumes where it stopped', () => {
      const config = { ...TRACE_CONFIG, congestionControl: 'cubic' as const, sendBufferSize: 100_000, ecn: true };
      const conn = open(config, { window: WINDOW, ece: true });
      conn.send(bytes(60_000));
      // One ECE: W_max = 10 segments, cwnd 7, then congestion avoidance on the cubic curve.
      let t = rounds(conn, 20, 100, true);
      expect(conn.stats.ecnReductions).to.equal(1);
      const beforeIdle = conn.stats.cwnd;
      // 30 s without data, then a bulk transfer: one round trip of ACKs.
      conn.send(bytes(100_000));
      t = rounds(conn, t + 30_000, 1);
      const after = conn.stats.cwnd;
      expect(after / beforeIdle).to.be.below(1.1);
    });

    it('CUBIC: time spent application-limited does not count either', () => {
      const config = { ...TRACE_CONFIG, congestionControl: 'cubic' as const, sendBufferSize: 100_000, ecn: true };
      const conn = open(config, { window: WINDOW, ece: true });
      conn.send(bytes(40_000));
      let t = rounds(conn, 20, 100, true);
      const beforePause = conn.stats.cwnd;
      // 30 s of a trickle: one small segment every 100 ms (never idle longer than the RTO,
      // never cwnd-limited), then a bulk transfer.
      for (let i = 0; i < 300; i++) {
        t += 100;
        conn.send(bytes(100));
        t = rounds(conn, t, 1);
      }
      expect(conn.stats.cwnd).to.equal(beforePause);
      conn.send(bytes(100_000));
      t = rounds(conn, t + 50, 1);
      const after = conn.stats.cwnd;
      expect(after / beforePause).to.be.below(1.1);
    });
  });

  describe('large segments', () => {
    it('a segment larger than the MSS (GRO/TSO peer) is accepted whole', () => {
      const conn = open({ ...TRACE_CONFIG, recvBufferSize: 100_000 });
      send(conn, 20, { ...P }, bytes(30_000));
      expectSent(conn, 20, [{ ack: IRS + 30_001 }]);
      expect(readAll(conn)).to.deep.equal(bytes(30_000));
    });

    it('MSS follows the config up to 65495 (a 64 KiB MTU)', () => {
      const conn = open({ ...TRACE_CONFIG, mss: 65495, recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 }, { mss: 65495, windowScale: 7 });
      expect(conn.stats.sendMss).to.equal(65495);
      send(conn, 20, { ...P, window: 8192 });
      conn.send(bytes(200_000));
      expect(drain(conn, 21).map((o) => o.payload.length)).to.deep.equal([65495, 65495]);
      void TO_PEER;
    });
  });
});
