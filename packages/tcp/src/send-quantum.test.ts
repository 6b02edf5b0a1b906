/**
 * The send quantum (`TcpConfig.sendQuantum`, Linux's tcp_tso_should_defer): a sender limited by
 * cwnd or the peer's window, with at least a quantum in flight, holds new data until the room
 * reaches a whole quantum or a third of the window, then sends it in one go, so the stack's GSO
 * writes ("trains") come out full. Packet traces first (our ISS 1000, the peer's 9000, MSS 1000,
 * NewReno, `TRACE_CONFIG`), then two engines over the simulated link.
 */
import { expect } from 'chai';
import { runOneWay } from './__tests__/one-way.js';
import { Pair, fillStream, type LinkOptions } from './__tests__/pair.js';
import { ISS, P, TO_PEER, TRACE_CONFIG, bytes, drain, established, expectNothing, expectSent, send, type Expected } from './__tests__/trace.js';
import { DEFAULT_TCP_CONFIG, configForFamily, resolveTcpConfig } from './config.js';
import { TcpConnection } from './connection.js';
import type { TcpConfig, TcpRepr } from './types.js';

/** Trace config with a send buffer that holds the whole test stream. */
const CFG: Partial<TcpConfig> = { ...TRACE_CONFIG, sendBufferAutoSize: false, sendBufferSize: 100_000 };

/** `n` full segments of new data from segment `k` (sequence ISS + 1 + 1000·k) on. */
function segments(k: number, n: number): Expected[] {
  return Array.from({ length: n }, (_, i) => ({ ...TO_PEER, seq: ISS + 1 + 1000 * (k + i), payload: bytes(1000, 1000 * (k + i)) }));
}

/** The peer acknowledges up to segment `k` (exclusive), offering `window`. */
function ackTo(k: number, window: number): Partial<TcpRepr> {
  return { ...P, ack: ISS + 1 + 1000 * k, window };
}

describe('send quantum (sendQuantum, as Linux tcp_tso_should_defer)', () => {
  describe('configuration', () => {
    it('defaults to 0 (no deferral); takes integers in [0, 1 MiB]; anything else is ERR_INVALID_ARG_VALUE', () => {
      expect(DEFAULT_TCP_CONFIG.sendQuantum).to.equal(0);
      expect(resolveTcpConfig({ sendQuantum: 0 }).sendQuantum).to.equal(0);
      expect(resolveTcpConfig({ sendQuantum: 128 * 1024 }).sendQuantum).to.equal(128 * 1024);
      expect(resolveTcpConfig({ sendQuantum: 1 << 20 }).sendQuantum).to.equal(1 << 20);
      for (const bad of [-1, (1 << 20) + 1, 1500.5, Number.NaN, '65536', true]) {
        expect(() => resolveTcpConfig({ sendQuantum: bad } as unknown as Partial<TcpConfig>), String(bad))
          .to.throw(/TCP config 'sendQuantum' must be an integer in \[0, 1048576\]/)
          .with.property('code', 'ERR_INVALID_ARG_VALUE');
      }
    });

    it('IPv6 connections keep the quantum (octets of payload per super-packet, whatever the family)', () => {
      const c = resolveTcpConfig({ sendQuantum: 65536 });
      expect(configForFamily(c, 6)).to.deep.include({ sendQuantum: 65536, mss: 1440 });
    });
  });

  describe('a window-limited sender', () => {
    it('the peer window limits: nothing new until the room reaches a quantum, then the whole quantum at once; with sendQuantum 0 each ACK releases a segment', () => {
      // Quantum 3000 = 3 segments; the peer's window 9000 holds 3 quanta (the first go at once).
      const conn = established({ ...CFG, sendQuantum: 3000 }, { window: 9000 });
      conn.send(bytes(30_000));
      expectSent(conn, 20, segments(0, 9));
      expect(conn.stats.sendsDeferred).to.equal(0);
      // One segment acknowledged: room 1000, under a quantum and under a third of the window
      // (3000), with 8000 in flight: wait for the next ACK.
      send(conn, 30, ackTo(1, 9000));
      expectNothing(conn, 30);
      expect(conn.stats.sendsDeferred).to.equal(1);
      // Not a zero window: no persist probe; the retransmission timer stays armed for the flight.
      expect(conn.pollTimeout()).to.equal(230);
      expect(conn.stats.persistProbes).to.equal(0);
      send(conn, 31, ackTo(2, 9000));
      expectNothing(conn, 31);
      // Still the same wait: counted once.
      expect(conn.stats.sendsDeferred).to.equal(1);
      // The wait is charged to the peer's window (Linux's tcpi_rwnd_limited), as the closed
      // window since t=20 was: not to cwnd.
      expect([conn.stats.rwndLimitedMs, conn.stats.cwndLimitedMs]).to.deep.equal([11, 0]);
      // Room 3000: one quantum, in one go.
      send(conn, 32, ackTo(3, 9000));
      expectSent(conn, 32, segments(9, 3));
      expect(conn.stats.bytesInFlight).to.equal(9000);
      // A new wait counts again.
      send(conn, 40, ackTo(4, 9000));
      expectNothing(conn, 40);
      expect(conn.stats.sendsDeferred).to.equal(2);

      // Without a quantum the same ACKs each release one segment, as always.
      const plain = established(CFG, { window: 9000 });
      plain.send(bytes(30_000));
      expectSent(plain, 20, segments(0, 9));
      send(plain, 30, ackTo(1, 9000));
      expectSent(plain, 30, segments(9, 1));
      send(plain, 31, ackTo(2, 9000));
      expectSent(plain, 31, segments(10, 1));
      expect(plain.stats.sendsDeferred).to.equal(0);
    });

    it('a third of the window is enough (tcp_tso_win_divisor 3), and a train once started is finished as the window allows', () => {
      // Quantum 6000, window 9000: after the first quantum the room is 3000, a third of the
      // window: a second quantum starts and sends what fits.
      const conn = established({ ...CFG, sendQuantum: 6000 }, { window: 9000 });
      conn.send(bytes(30_000));
      expectSent(conn, 20, segments(0, 9));
      // The second quantum runs to ISS + 12001: each ACK releases its share at once.
      send(conn, 30, ackTo(1, 9000));
      expectSent(conn, 30, segments(9, 1));
      send(conn, 31, ackTo(2, 9000));
      expectSent(conn, 31, segments(10, 1));
      send(conn, 32, ackTo(3, 9000));
      expectSent(conn, 32, segments(11, 1));
      expect(conn.stats.sendsDeferred).to.equal(0);
      // The quantum is done: rooms of 1000 and 2000 wait...
      send(conn, 33, ackTo(4, 9000));
      expectNothing(conn, 33);
      send(conn, 34, ackTo(5, 9000));
      expectNothing(conn, 34);
      expect(conn.stats.sendsDeferred).to.equal(1);
      // ...a third of the window (3000) goes, though under a quantum.
      send(conn, 35, ackTo(6, 9000));
      expectSent(conn, 35, segments(12, 3));
    });

    it('cwnd limits: the wait counts as cwnd-limited, so cwnd keeps growing (Linux is_cwnd_limited), then a quantum or a third of cwnd goes', () => {
      // Quantum 5000; the peer's window is large, cwnd (10 segments, slow start) limits.
      const conn = established({ ...CFG, sendQuantum: 5000 }, { window: 65_535 });
      conn.send(bytes(60_000));
      expectSent(conn, 20, segments(0, 10));
      // cwnd 11000 − pipe 9000: room 2000, under a quantum and under cwnd / 3.
      send(conn, 30, ackTo(1, 65_535));
      expect(conn.stats.cwnd).to.equal(11_000);
      expectNothing(conn, 30);
      expect(conn.stats.sendsDeferred).to.equal(1);
      // The flight before this ACK (9000) is 2000 below cwnd, yet the window was in use: cwnd
      // grows to 12000 (without the deferral's cwnd-limited mark it would stay at 11000, and
      // the room of 3000 would wait again).
      send(conn, 31, ackTo(2, 65_535));
      expect(conn.stats.cwnd).to.equal(12_000);
      // Room 4000 = cwnd / 3.
      expectSent(conn, 31, segments(10, 4));
      // The wait was charged to cwnd.
      expect([conn.stats.rwndLimitedMs, conn.stats.cwndLimitedMs]).to.deep.equal([0, 11]);
    });
  });

  describe('no deferral', () => {
    it('an application-limited sender (all it queued fits the room) never waits, whatever is in flight', () => {
      const conn = established({ ...CFG, sendQuantum: 4000 }, { window: 9000 });
      conn.send(bytes(9000));
      expectSent(conn, 20, segments(0, 9));
      // 8000 in flight, room 1000 each time: each write of 1000 fits and goes at once.
      for (let k = 0; k < 20; k++) {
        send(conn, 30 + k, ackTo(k + 1, 9000));
        conn.send(bytes(1000, 1000 * (9 + k)));
        expectSent(conn, 30 + k, [{ seq: ISS + 1 + 1000 * (9 + k), payload: bytes(1000, 1000 * (9 + k)) }]);
      }
      expect(conn.stats.sendsDeferred).to.equal(0);
    });

    it('nothing (or less than a quantum) in flight: the room goes at once, however small', () => {
      // Quantum 64 KiB, a window of 2000: never a quantum in flight, so nothing waits.
      const conn = established({ ...CFG, sendQuantum: 65_536 }, { window: 2000 });
      conn.send(bytes(10_000));
      expectSent(conn, 20, segments(0, 2));
      send(conn, 30, ackTo(1, 2000));
      expectSent(conn, 30, segments(2, 1));
      send(conn, 40, ackTo(3, 2000));
      expectSent(conn, 40, segments(3, 2));
      // Quantum 8000, window 9000: the first quantum goes, the 9th segment waits (8000 in
      // flight, room 1000)...
      const q = established({ ...CFG, sendQuantum: 8000 }, { window: 9000 });
      q.send(bytes(30_000));
      expectSent(q, 20, segments(0, 8));
      expect(q.stats.sendsDeferred).to.equal(1);
      // ...until an ACK leaves less than a quantum in flight (7000): no ACK is sure to follow, so
      // the room (2000, under both a quantum and a third of the window) goes at once.
      send(q, 30, ackTo(1, 9000));
      expectSent(q, 30, segments(8, 2));
      expect(conn.stats.sendsDeferred + q.stats.sendsDeferred).to.equal(1);
    });

    it('loss recovery (RFC 6675) sends new data as the pipe allows, exactly as without a quantum', () => {
      /** SACK without timestamps; quantum 2000 (the initial 10 segments are 5 quanta). */
      const run = (sendQuantum: number): { conn: TcpConnection; trace: string[] } => {
        const conn = established({ ...CFG, timestamps: false, sendQuantum }, { window: 20_000, sackPermitted: true });
        conn.send(bytes(40_000));
        const trace: string[] = [];
        const log = (t: number): void => {
          for (const s of drain(conn, t)) trace.push(`t=${t} seq=${s.repr.seq - ISS - 1} len=${s.payload.length}`);
        };
        log(20);
        // Segment 0 is lost; 1..3 arrive: three SACKed above it, RFC 6675 recovery, its retransmission.
        send(conn, 30, { ...ackTo(0, 20_000), sackBlocks: [{ left: ISS + 1001, right: ISS + 4001 }] });
        log(30);
        expect(conn.stats.inRecovery).to.equal(true);
        // Each further SACK lowers the pipe by a segment: once below cwnd (5000), new data goes,
        // one segment per ACK: rooms of 1000, under a quantum and under cwnd / 3.
        for (let k = 5; k <= 10; k++) {
          send(conn, 30 + k, { ...ackTo(0, 20_000), sackBlocks: [{ left: ISS + 1001, right: ISS + 1 + 1000 * k }] });
          log(30 + k);
        }
        return { conn, trace };
      };
      const plain = run(0);
      const quantum = run(2000);
      expect(quantum.trace).to.deep.equal(plain.trace);
      expect(quantum.trace[0]).to.equal('t=20 seq=0 len=1000');
      expect(quantum.trace.filter((s) => s.startsWith('t=20')).length).to.equal(10);
      expect(quantum.trace).to.include('t=30 seq=0 len=1000');
      // New data during recovery, one segment at a time.
      const newData = quantum.trace.filter((s) => Number(/seq=(\d+)/.exec(s)?.[1]) >= 10_000);
      expect(newData.length).to.be.at.least(2);
      expect(quantum.conn.stats.inRecovery).to.equal(true);
      expect(quantum.conn.stats.sendsDeferred).to.equal(0);
    });

    it('a tail loss probe sends new data the quantum holds back (RFC 8985 §7.3)', () => {
      const conn = established({ ...CFG, timestamps: false, sendQuantum: 3000 }, { window: 9000, sackPermitted: true });
      conn.send(bytes(30_000));
      expectSent(conn, 20, segments(0, 9));
      send(conn, 30, ackTo(1, 9000));
      expectNothing(conn, 30);
      expect(conn.stats.sendsDeferred).to.equal(1);
      // PTO = 2·SRTT = 20 ms after the ACK; the probe is the next new segment.
      expect(conn.pollTimeout()).to.equal(50);
      conn.handleTimeout(50);
      expectSent(conn, 50, segments(9, 1));
      expect(conn.stats.tlpProbes).to.equal(1);
      expect(conn.stats.retransmits).to.equal(0);
    });
  });

  describe('two engines over the simulated link', function () {
    this.timeout(120_000);
    const KiB = 1024;
    const MiB = 1024 * KiB;
    const STREAM = fillStream(new Uint8Array(4 * MiB), 0, 41);

    interface Run {
      readonly failure: string | undefined;
      readonly doneMs: number;
      /** Writes a GSO stack would make: runs of contiguous data segments sent at one instant, cut at the quantum. */
      readonly writes: number;
      readonly pair: Pair;
    }

    /** `a` sends `size` octets and closes; `b` reads and checks them all. */
    function oneWay(seed: number, link: Partial<LinkOptions>, size: number, config: Partial<TcpConfig>, family: 4 | 6 = 4): Run {
      const pair = new Pair({ seed, link, configA: config, configB: { recvBufferSize: 4 * MiB }, family, deadlineMs: 3_600_000 });
      const quantum = config.sendQuantum ?? 64 * KiB;
      let writes = 0;
      let runAt = -1;
      let runEnd = -1;
      let runBytes = 0;
      const transmit = pair.transmit.bind(pair);
      pair.transmit = (from, repr, payload, ecn) => {
        if (from === 'a' && payload.length > 0) {
          if (pair.now !== runAt || repr.seq !== runEnd || runBytes + payload.length > Math.max(quantum, payload.length)) {
            writes++;
            runAt = pair.now;
            runBytes = 0;
          }
          runBytes += payload.length;
          runEnd = (repr.seq + payload.length) >>> 0;
        }
        transmit(from, repr, payload, ecn);
      };
      const { failure, doneMs } = runOneWay(pair, STREAM, size);
      return { failure, doneMs, writes, pair };
    }

    it('a fast path (100 MB/s, 2 ms RTT): far fewer, fuller writes than without a quantum, at about the same speed', () => {
      const link: Partial<LinkOptions> = { delayMs: 1, bytesPerMs: 100_000 };
      // A send buffer larger than the window: the sender is cwnd-limited, not application-limited.
      const plain = oneWay(1, link, 4 * MiB, { sendBufferSize: 4 * MiB, sendQuantum: 0 });
      const quantum = oneWay(1, link, 4 * MiB, { sendBufferSize: 4 * MiB, sendQuantum: 64 * KiB });
      expect(plain.failure).to.equal(undefined);
      expect(quantum.failure).to.equal(undefined);
      const perWrite = (r: Run): string => `${r.writes} writes (${((4 * MiB) / r.writes / KiB).toFixed(1)} KiB each), ${r.doneMs.toFixed(1)} ms`;
      console.log(`      sendQuantum 0: ${perWrite(plain)}; 64 KiB: ${perWrite(quantum)}, ${quantum.pair.a.stats.sendsDeferred} waits`);
      expect(plain.pair.a.stats.sendsDeferred).to.equal(0);
      expect(quantum.pair.a.stats.sendsDeferred).to.be.greaterThan(0);
      expect(quantum.writes).to.be.below(plain.writes / 4);
      expect(quantum.doneMs).to.be.at.most(plain.doneMs * 1.1);
      expect(quantum.pair.a.stats.retransmits).to.equal(0);
    });

    it('under 2% loss every octet arrives, with waits and recovery both exercised (16 seeds × 1 MiB, every fourth over IPv6)', () => {
      const env = process.env['SEED'];
      const seeds = env !== undefined && env !== '' ? [Number(env)] : Array.from({ length: 16 }, (_, i) => 700 + i);
      let deferred = 0;
      let fastRetransmits = 0;
      let rtos = 0;
      let segmentsOut = 0;
      for (const seed of seeds) {
        const r = oneWay(seed, { delayMs: 5, loss: 0.02, bytesPerMs: 10_000, maxQueueMs: 20 }, MiB, { sendQuantum: 32 * KiB }, seed % 4 === 3 ? 6 : 4);
        expect(r.failure, `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
        const s = r.pair.a.stats;
        deferred += s.sendsDeferred;
        fastRetransmits += s.fastRetransmits;
        rtos += s.rtoCount;
        segmentsOut += s.segmentsOut;
      }
      expect(deferred).to.be.greaterThan(0);
      expect(fastRetransmits).to.be.greaterThan(0);
      expect(rtos * 500, `${rtos} RTOs in ${segmentsOut} segments`).to.be.below(segmentsOut);
    });
  });
});
