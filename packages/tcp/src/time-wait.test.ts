/**
 * The compact TIME-WAIT record (time-wait.ts) as packet traces: made from a connection that
 * enters TIME-WAIT (`toTimeWait`), it answers what a TIME-WAIT must — retransmitted FINs,
 * other segments, RSTs as Linux, new SYNs by RFC 6191 — and costs well under 256 octets.
 * Our ISS is 1000, the peer's 9000; TRACE_CONFIG's TIME-WAIT lasts 2000 ms.
 */
import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TcpConnection } from './connection.js';
import { TimeWaitRecord } from './time-wait.js';
import { ACK_OUT, FROM_PEER, IRS, ISS, LOCAL, P, REMOTE, TO_PEER, TRACE_CONFIG, bytes, drain, established, events, expectSent, send } from './__tests__/trace.js';
import type { TcpConfig, TcpRepr } from './types.js';

/** FIN-WAIT-2 (our FIN acknowledged at t=30), then the peer's FIN at t=40 (with `fin` options): TIME-WAIT. */
function viaFinWait2(config: Partial<TcpConfig> = TRACE_CONFIG, peer: Partial<TcpRepr> = {}, fin: Partial<TcpRepr> = {}): TcpConnection {
  const conn = established(config, peer);
  conn.close();
  drain(conn, 20);
  send(conn, 30, { ...P, ack: ISS + 2 });
  send(conn, 40, { ...P, ack: ISS + 2, control: 'fin', ...fin });
  expect(conn.state).to.equal('TIME-WAIT');
  expectSent(conn, 40, [{ ...ACK_OUT, seq: ISS + 2, ack: IRS + 2 }]);
  expect(events(conn)).to.deep.equal(['fin-acked', 'end']);
  return conn;
}

/** A record from `viaFinWait2`, the connection closed by the hand-over. */
function record(config?: Partial<TcpConfig>, peer?: Partial<TcpRepr>, fin?: Partial<TcpRepr>): TimeWaitRecord {
  const conn = viaFinWait2(config, peer, fin);
  const tw = conn.toTimeWait()!;
  expect(tw).to.be.instanceOf(TimeWaitRecord);
  expect(conn.state).to.equal('CLOSED');
  expect(events(conn)).to.deep.equal(['closed']);
  expect(drain(conn, 40)).to.deep.equal([]);
  return tw;
}

/** The timestamps trace: the peer's SYN-ACK TSval 500, its FIN 600; our offset 7000. */
function recordWithTimestamps(): TimeWaitRecord {
  const conn = TcpConnection.connect(0, { local: LOCAL, remote: REMOTE, iss: ISS, config: TRACE_CONFIG, tsOffset: 7000 });
  drain(conn, 0);
  send(conn, 10, { control: 'syn', seq: IRS, ack: ISS + 1, window: 10_000, mss: 1000, timestamp: { tsVal: 500, tsEcr: 7000 } });
  drain(conn, 10);
  conn.close();
  drain(conn, 20);
  send(conn, 30, { ...P, ack: ISS + 2, timestamp: { tsVal: 550, tsEcr: 7020 } });
  send(conn, 40, { ...P, ack: ISS + 2, control: 'fin', timestamp: { tsVal: 600, tsEcr: 7020 } });
  expect(conn.state).to.equal('TIME-WAIT');
  drain(conn, 40);
  return conn.toTimeWait()!;
}

const NONE = 0;

describe('TIME-WAIT as a compact record (TimeWaitRecord)', () => {
  describe('made from a connection that enters TIME-WAIT', () => {
    it('toTimeWait() hands it over: the connection is CLOSED (closed, nothing sent), the record keeps the 2·MSL deadline', () => {
      const tw = record();
      expect([tw.localPort, tw.remotePort]).to.deep.equal([LOCAL.port, REMOTE.port]);
      expect(tw.expiresAt).to.equal(40 + 2000);
      expect(tw.expired(2039)).to.equal(false);
      expect(tw.expired(2040)).to.equal(true);
      expect(tw.timestamps).to.equal(false);
    });

    it('from CLOSING too (simultaneous close, the ACK of our FIN last)', () => {
      const conn = established();
      conn.close();
      drain(conn, 20);
      send(conn, 30, { ...P, control: 'fin' });
      expect(conn.state).to.equal('CLOSING');
      drain(conn, 30);
      send(conn, 35, { ...P, seq: IRS + 2, ack: ISS + 2 });
      expect(conn.state).to.equal('TIME-WAIT');
      const tw = conn.toTimeWait()!;
      expect(tw.expiresAt).to.equal(35 + 2000);
      expect(tw.ack(36)).to.deep.include({ seq: ISS + 2, ack: IRS + 2 });
    });

    it('in any other state there is nothing to hand over', () => {
      const conn = established();
      expect(conn.toTimeWait()).to.equal(undefined);
      expect(conn.state).to.equal('ESTABLISHED');
      conn.abort();
      expect(conn.toTimeWait()).to.equal(undefined);
    });
  });

  describe('what it answers', () => {
    it('a retransmitted FIN: ACK <SEQ=SND.NXT><ACK=RCV.NXT>, and the 2·MSL wait restarts (RFC 9293 §3.10.7.4)', () => {
      const tw = record();
      expect(tw.handleSegment(1000, { ...FROM_PEER, ...P, ack: ISS + 2, control: 'fin' }, NONE)).to.equal('ack');
      // The window as last advertised: the right edge stays where it was, one less for the FIN.
      expect(tw.ack(1000)).to.deep.equal({ ...TO_PEER, control: 'none', seq: ISS + 2, ack: IRS + 2, window: 9999, timestamp: undefined });
      expect(tw.expiresAt).to.equal(3000);
      // Every retransmission is answered: they occupy sequence space (no rate limit).
      expect(tw.handleSegment(1100, { ...FROM_PEER, ...P, ack: ISS + 2, control: 'fin' }, NONE)).to.equal('ack');
      expect(tw.expiresAt).to.equal(3100);
    });

    it('with timestamps the ACK carries TSval = clock + offset and TSecr = TS.Recent (RFC 7323 §3.2); PAWS rejects old TSvals with an ACK', () => {
      const tw = recordWithTimestamps();
      expect(tw.timestamps).to.equal(true);
      const fin = { ...FROM_PEER, ...P, ack: ISS + 2, control: 'fin' } as const;
      expect(tw.handleSegment(1000, { ...fin, timestamp: { tsVal: 650, tsEcr: 7040 } }, NONE)).to.equal('ack');
      expect(tw.ack(1000).timestamp).to.deep.equal({ tsVal: 8000, tsEcr: 600 });
      // Data with an older TSval than TS.Recent: a duplicate from an earlier wrap (RFC 7323 §5.3 R1).
      expect(tw.handleSegment(1010, { ...FROM_PEER, ...P, seq: IRS + 2, ack: ISS + 2, timestamp: { tsVal: 599, tsEcr: 7040 } }, 10)).to.equal('ack');
      expect(tw.expiresAt).to.equal(3000); // not a FIN: no restart
    });

    it('other segments: data or a FIN in the window get an ACK; a bare ACK in the window gets nothing', () => {
      const tw = record();
      expect(tw.handleSegment(100, { ...FROM_PEER, ...P, seq: IRS + 2, ack: ISS + 2 }, 10)).to.equal('ack');
      expect(tw.handleSegment(101, { ...FROM_PEER, ...P, seq: IRS + 2, ack: ISS + 2 }, NONE)).to.equal('drop');
      expect(tw.handleSegment(102, { ...FROM_PEER, ...P, seq: IRS + 2, ack: ISS + 2, control: 'fin' }, NONE)).to.equal('ack');
      expect(tw.expiresAt).to.equal(2102); // a FIN restarts the wait
    });

    it('out-of-window bare ACKs and SYNs are answered at most once per 500 ms (Linux: no reflector for forged segments)', () => {
      const tw = record();
      const stray = { ...FROM_PEER, ...P, seq: IRS + 50_000, ack: ISS + 2 };
      expect(tw.handleSegment(100, stray, NONE)).to.equal('ack');
      expect(tw.handleSegment(300, stray, NONE)).to.equal('drop');
      expect(tw.handleSegment(300, { ...FROM_PEER, control: 'syn', seq: IRS + 1 }, NONE)).to.equal('drop');
      expect(tw.handleSegment(600, stray, NONE)).to.equal('ack');
      // Out-of-window data is not rate-limited.
      expect(tw.handleSegment(601, stray, 100)).to.equal('ack');
    });

    it('RST as Linux: at exactly RCV.NXT it ends TIME-WAIT; elsewhere, or with an old TSval while TS.Recent is under 60 s old, it is dropped', () => {
      const tw = recordWithTimestamps();
      const rst = { ...FROM_PEER, control: 'rst', seq: IRS + 2, ack: undefined } as const;
      expect(tw.handleSegment(100, { ...rst, seq: IRS + 3 }, NONE)).to.equal('drop');
      expect(tw.handleSegment(100, { ...rst, seq: IRS + 1 }, NONE)).to.equal('drop');
      expect(tw.handleSegment(100, { ...rst, timestamp: { tsVal: 599, tsEcr: 0 } }, NONE)).to.equal('drop');
      // An old TSval no longer proves anything once TS.Recent is 60 s old (Linux's TCP_PAWS_MSL).
      expect(tw.handleSegment(61_000, { ...rst, timestamp: { tsVal: 599, tsEcr: 0 } }, NONE)).to.equal('close');
      expect(record().handleSegment(100, rst, NONE)).to.equal('close');
    });

    it('SYN: RFC 6191 reuse (newer TSval, or SEG.SEQ > RCV.NXT without timestamps); any other SYN gets a challenge ACK', () => {
      const plain = record();
      const syn = { ...FROM_PEER, control: 'syn', seq: IRS + 100_000 } as const;
      expect(plain.reusableBy(syn)).to.equal(true);
      expect(plain.handleSegment(100, syn, NONE)).to.equal('reuse');
      expect(plain.reusableBy({ ...syn, ack: 5 })).to.equal(false);
      expect(plain.handleSegment(100, { ...syn, seq: IRS + 1 }, NONE)).to.equal('ack');
      const ts = recordWithTimestamps();
      expect(ts.handleSegment(100, { ...syn, seq: IRS - 5, timestamp: { tsVal: 700, tsEcr: 0 } }, NONE)).to.equal('reuse');
      expect(ts.handleSegment(100, { ...syn, timestamp: { tsVal: 599, tsEcr: 0 } }, NONE)).to.equal('ack');
    });

    it('a connection in TIME-WAIT answers through the same record (identical decisions and replies)', () => {
      const conn = viaFinWait2();
      const tw = record();
      const segs: Array<[number, Partial<TcpRepr>, number]> = [
        [100, { ...P, ack: ISS + 2, control: 'fin' }, 0],
        [200, { ...P, seq: IRS + 2, ack: ISS + 2 }, 5],
        [300, { ...P, seq: IRS + 2, ack: ISS + 2 }, 0],
        [400, { ...P, seq: IRS + 70_000, ack: ISS + 2 }, 0],
        [450, { ...P, seq: IRS + 70_000, ack: ISS + 2 }, 0],
      ];
      for (const [now, seg, len] of segs) {
        const verdict = tw.handleSegment(now, { ...FROM_PEER, ...seg }, len);
        send(conn, now, seg, bytes(len));
        const out = drain(conn, now).map((o) => o.repr);
        expect(out, `t=${now}`).to.deep.equal(verdict === 'ack' ? [tw.ack(now)] : []);
        expect(conn.pollTimeout(), `t=${now}`).to.equal(tw.expiresAt);
      }
    });
  });

  it('costs under 256 octets of heap each (100,000 records, after GC)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = (): number => {
      for (let i = 0; i < 3; i++) gc();
      return process.memoryUsage().heapUsed;
    };
    const N = 100_000;
    const keep: TimeWaitRecord[] = new Array(N);
    const before = heap();
    for (let i = 0; i < N; i++) {
      // Sequence numbers and TSvals across the whole 32-bit range, a fractional clock.
      keep[i] = new TimeWaitRecord({
        localPort: 80,
        remotePort: 1024 + (i % 60_000),
        sndNxt: (0xfff00000 + i * 7919) >>> 0,
        rcvNxt: (0x80000000 + i * 104_729) >>> 0,
        windowField: 65535,
        windowShift: 7,
        timestamps: i % 2 === 0 ? { offset: (0xdeadbeef + i) >>> 0, recent: (0xf0000000 + i) >>> 0, recentAt: 123_456.789 + i } : undefined,
        timeWaitMs: 60_000,
        now: 1_000_000.25 + i / 3,
      });
    }
    const perRecord = (heap() - before) / N;
    console.log(`      heap per TIME-WAIT record: ${perRecord.toFixed(0)} B (array slot included)`);
    expect(perRecord).to.be.below(256);
    expect(keep[N - 1]!.ack(2_000_000).seq).to.equal((0xfff00000 + (N - 1) * 7919) >>> 0);
  });
});
