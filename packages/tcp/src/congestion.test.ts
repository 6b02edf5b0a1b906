import { expect } from 'chai';
import { Cubic, HyStart, NewReno, initialWindow, type AckContext } from './congestion.js';

const MSS = 1000;

describe('NewReno (RFC 5681, RFC 6582)', () => {
  it('initial window per RFC 6928, one segment after a lost SYN', () => {
    expect(initialWindow(1460, false)).to.equal(14600);
    expect(initialWindow(536, false)).to.equal(5360);
    expect(initialWindow(9000, false)).to.equal(18000);
    expect(initialWindow(1460, true)).to.equal(1460);
  });

  it('slow start grows by the octets acknowledged (at most 8·SMSS per ACK in the initial one, RFC 9406 §4.3), only when cwnd-limited', () => {
    const cc = new NewReno(MSS, 10_000, 0);
    cc.onAck(1000, 1001, 9000, true);
    expect(cc.cwnd).to.equal(11_000);
    cc.onAck(5000, 6001, 0, true); // a stretch ACK of 5 segments counts whole
    expect(cc.cwnd).to.equal(16_000);
    cc.onAck(25_000, 31_001, 0, true); // one of 25 (a GRO receiver acking a GSO train): capped at 8
    expect(cc.cwnd).to.equal(24_000);
    cc.onAck(1000, 32_001, 0, false);
    expect(cc.cwnd).to.equal(24_000);
  });

  it('a slow start after an RTO counts at most 2·SMSS per ACK (RFC 3465: HyStart++ is over)', () => {
    const cc = new NewReno(MSS, 10_000, 0);
    cc.onRto(8000, 9000, true); // ssthresh 4000, cwnd 1000: slow start again, without HyStart++
    cc.onAck(2500, 3500, 0, true);
    expect(cc.cwnd).to.equal(3000);
  });

  it('congestion avoidance adds one SMSS per cwnd of acknowledged octets', () => {
    const cc = new NewReno(MSS, 10_000, 0);
    cc.onRto(8000, 9000, true); // ssthresh 4000, cwnd 1000
    expect([cc.ssthresh, cc.cwnd]).to.deep.equal([4000, 1000]);
    cc.onAck(1000, 1000, 0, true);
    cc.onAck(1000, 2000, 0, true);
    cc.onAck(1000, 3000, 0, true);
    expect(cc.cwnd).to.equal(4000);
    for (let i = 0; i < 4; i++) cc.onAck(1000, 4000 + i * 1000, 0, true);
    expect(cc.cwnd).to.equal(5000);
  });

  it('fast recovery: enter, inflate, partial ACK, full ACK; no second entry before `recover`', () => {
    const cc = new NewReno(MSS, 10_000, 0);
    expect(cc.canFastRetransmit(1000)).to.equal(true);
    cc.onCongestion(10_000, 10_001);
    expect([cc.ssthresh, cc.cwnd, cc.inRecovery]).to.deep.equal([5000, 8000, true]);
    cc.onDuplicateAck();
    expect(cc.cwnd).to.equal(9000);
    expect(cc.onAck(3000, 4001, 6000, true)).to.equal('partial');
    expect(cc.cwnd).to.equal(7000); // 9000 − 3000 + 1000
    expect(cc.onAck(6000, 10_001, 0, true)).to.equal('full');
    expect([cc.cwnd, cc.inRecovery]).to.deep.equal([2000, false]);
    cc.onRto(5000, 20_001, true);
    expect(cc.canFastRetransmit(15_001)).to.equal(false); // RFC 6582 §3.2 step 4
    expect(cc.canFastRetransmit(20_001)).to.equal(true);
  });

  it('a loss repaired by a tail loss probe (RFC 8985 §7.4.2): one reduction as for fast recovery, no recovery entered; none during recovery', () => {
    const cc = new NewReno(MSS, 10_000, 0);
    cc.onTlpLoss(10_000, 0);
    expect([cc.ssthresh, cc.cwnd, cc.inRecovery]).to.deep.equal([5000, 5000, false]);
    const inRecovery = new NewReno(MSS, 10_000, 0);
    inRecovery.onCongestion(10_000, 10_001);
    const before = [inRecovery.ssthresh, inRecovery.cwnd];
    inRecovery.onTlpLoss(8000, 0);
    expect([inRecovery.ssthresh, inRecovery.cwnd]).to.deep.equal(before);
  });

  it('restart after idle (RFC 5681 §4.1): more than an RTO idle → cwnd = min(IW, cwnd), ssthresh keeps 3/4 of the old window (RFC 2861 §3)', () => {
    const cc = new NewReno(MSS, 40_000, 0);
    cc.onResume(150, 0, false);
    expect(cc.cwnd).to.equal(40_000);
    cc.onResume(5000, 0, true);
    expect([cc.cwnd, cc.ssthresh]).to.deep.equal([10_000, 0x7fffffff]); // still in the first slow start
    const later = new NewReno(MSS, 60_000, 0);
    later.onEcnEcho(40_000, 0); // ssthresh = cwnd = 20 000
    later.cwnd = 32_000;
    later.onResume(5000, 0, true);
    expect([later.cwnd, later.ssthresh]).to.deep.equal([10_000, 24_000]);
    const small = new NewReno(MSS, 4000, 0);
    small.onResume(5000, 0, true);
    expect([small.cwnd, small.ssthresh]).to.deep.equal([4000, 0x7fffffff]);
  });

  it('a repeated timeout keeps ssthresh', () => {
    const cc = new NewReno(MSS, 10_000, 0);
    cc.onRto(10_000, 10_001, true);
    cc.onRto(1000, 10_001, false);
    expect(cc.ssthresh).to.equal(5000);
  });
});

describe('CUBIC (RFC 9438)', () => {
  const ctx = (now: number): AckContext => ({ now, rttSampleMs: 100, srttMs: 100, sndMax: 0x7fff_0000 });

  it('a loss sets W_max, ssthresh = β·cwnd and K = ∛(W_max·(1 − β)/C)', () => {
    const cc = new Cubic(MSS, 100_000, 0);
    cc.onCongestion(100_000, 100_001, 0, true);
    expect([cc.ssthresh, cc.cwnd, cc.inRecovery]).to.deep.equal([70_000, 70_000, true]);
    expect(cc.wMax).to.equal(100);
    expect(cc.onAck(1000, 100_001, 50_000, true, ctx(0))).to.equal('full');
    expect(cc.cwnd).to.equal(70_000);
    cc.onAck(1000, 101_001, 69_000, true, ctx(1)); // first CA ACK starts the epoch
    expect(cc.k).to.be.closeTo(Math.cbrt(75), 1e-9); // ≈ 4.217 s
    expect(cc.wCubic(0)).to.be.closeTo(70, 1e-9);
    expect(cc.wCubic(cc.k)).to.be.closeTo(100, 1e-9);
    expect(cc.wCubic(cc.k + 1)).to.be.closeTo(100.4, 1e-9);
    expect(cc.wCubic(cc.k + 2)).to.be.closeTo(103.2, 1e-9);
  });

  it('fast convergence: a loss below the previous W_max releases bandwidth (W_max = cwnd·(1 + β)/2)', () => {
    const cc = new Cubic(MSS, 100_000, 0);
    cc.onCongestion(100_000, 1, 0, true);
    cc.onAck(1000, 2, 0, true, ctx(0));
    cc.onCongestion(70_000, 3, 0, true); // cwnd 70 < W_last_max 100
    expect(cc.wMax).to.be.closeTo(70 * 0.85, 1e-9);
  });

  it('cwnd follows the cubic curve W_cubic(t) = C(t − K)³ + W_max, concave then convex, at 100 ms RTT', () => {
    const cc = new Cubic(MSS, 100_000, 0);
    cc.onCongestion(100_000, 1, 0, true);
    cc.onAck(1000, 1, 0, true, ctx(0)); // ends recovery at t=0
    let ack = 2;
    const at = new Map<number, number>();
    for (let round = 0; round < 70; round++) {
      const acks = Math.floor(cc.cwnd / MSS);
      for (let i = 0; i < acks; i++) {
        const now = round * 100 + (i * 100) / acks;
        cc.onAck(MSS, (ack += MSS), cc.cwnd, true, ctx(now));
      }
      at.set((round + 1) * 100, cc.cwnd / MSS);
    }
    // Points on both sides of K ≈ 4.217 s; the window leads W_cubic(t) by about one RTT (§4.2).
    for (const ms of [1000, 2000, 3000, 4200, 5000, 6000, 7000]) {
      const expected = cc.wCubic(ms / 1000);
      expect(at.get(ms)!, `t=${ms} ms`).to.be.closeTo(expected, 0.04 * expected);
    }
    // Plateau around W_max near K.
    expect(at.get(4200)!).to.be.closeTo(100, 2);
  });

  it('§5.8: idle time and application-limited time are taken out of the epoch (t counts only time cwnd could grow)', () => {
    const start = (): Cubic => {
      const cc = new Cubic(MSS, 100_000, 0);
      cc.onCongestion(100_000, 1, 0, true);
      cc.onAck(1000, 1, 0, true, ctx(0));
      cc.onAck(1000, 2, 70_000, true, ctx(1000)); // the epoch starts at 1 s
      return cc;
    };
    const idle = start();
    idle.onResume(30_000, 40_000, true);
    expect(idle.epochStartMs).to.equal(31_000);
    idle.onResume(60_000, 45_000, true); // never beyond now
    expect(idle.epochStartMs).to.equal(45_000);
    const limited = start();
    limited.onAck(1000, 3, 1000, false, ctx(2000)); // application-limited from 2 s
    limited.onAck(1000, 4, 1000, false, ctx(20_000));
    limited.onAck(1000, 5, 70_000, true, ctx(32_000)); // window-limited again at 32 s
    expect(limited.epochStartMs).to.equal(31_000);
  });

  it('small windows at long RTT grow in the Reno-friendly region (W_est, §4.3)', () => {
    const cc = new Cubic(MSS, 10_000, 0);
    cc.onCongestion(10_000, 1, 0, true);
    cc.onAck(1000, 1, 0, true, { ...ctx(0), srttMs: 1000 });
    let ack = 2;
    for (let round = 0; round < 20; round++) {
      const acks = Math.floor(cc.cwnd / MSS);
      for (let i = 0; i < acks; i++) cc.onAck(MSS, (ack += MSS), cc.cwnd, true, { ...ctx(round * 1000 + i), srttMs: 1000 });
    }
    // W_cubic(20 s) with W_max 10 is far above, but it is clamped to 1.5·cwnd per RTT; Reno would be 7 + 20·0.53.
    expect(cc.cwnd / MSS).to.be.greaterThan(7 + 20 * 0.5);
  });
});

describe('HyStart++ (RFC 9406)', () => {
  it('leaves slow start for CSS when the round minimum RTT rises by max(4, min(RTT/8, 16)) ms, then ends after 5 CSS rounds', () => {
    const hs = new HyStart();
    let sndMax = 0;
    // One round: the first ACK passes the previous round's end, then 7 more within the round.
    const round = (rtt: number): number => {
      const base = sndMax;
      sndMax += 10_000;
      let d = 1;
      for (let i = 1; i <= 8; i++) d = hs.onAck(base + i, sndMax, rtt);
      return d;
    };
    expect(round(100)).to.equal(1);
    expect(round(110)).to.equal(1); // +10 < 12.5: still slow start
    expect(round(124)).to.equal(4); // ≥ 110 + 13.75: Conservative Slow Start, growth / 4
    expect(hs.inCss).to.equal(true);
    for (let i = 0; i < 4; i++) expect(round(124)).to.equal(4);
    expect(round(124)).to.equal(0); // fifth CSS round over: ssthresh = cwnd
    expect(hs.done).to.equal(true);
  });

  it('an RTT back below the CSS baseline resumes slow start', () => {
    const hs = new HyStart();
    let sndMax = 0;
    const round = (rtt: number): number => {
      sndMax += 10_000;
      let d = 1;
      for (let i = 0; i < 8; i++) d = hs.onAck(sndMax - 10_000 + i, sndMax, rtt);
      return d;
    };
    round(50);
    round(50);
    expect(round(60)).to.equal(4);
    expect(round(40)).to.equal(1);
    expect(hs.inCss).to.equal(false);
  });

  it('slow start grows by acked/4 in CSS and sets ssthresh = cwnd when HyStart++ ends it', () => {
    const cc = new NewReno(MSS, 10_000, 0);
    let sndMax = 0;
    const growth: number[] = [];
    for (const rtt of [100, 100, 130, 130, 130, 130, 130, 130]) {
      const base = sndMax;
      sndMax += 20_000;
      const before = cc.cwnd;
      for (let i = 1; i <= 8; i++) cc.onAck(1000, base + i, 0, true, { now: 0, rttSampleMs: rtt, srttMs: rtt, sndMax });
      growth.push(cc.cwnd - before);
    }
    expect(growth.slice(0, 2)).to.deep.equal([8000, 8000]); // slow start: acked octets (ABC)
    expect(growth[3]).to.equal(2000); // a whole CSS round: acked / 4
    expect(cc.ssthresh).to.equal(cc.cwnd);
  });
});
