import { expect } from 'chai';
import { NewReno, initialWindow } from './congestion.js';

const MSS = 1000;

describe('NewReno (RFC 5681, RFC 6582)', () => {
  it('initial window per RFC 6928, one segment after a lost SYN', () => {
    expect(initialWindow(1460, false)).to.equal(14600);
    expect(initialWindow(536, false)).to.equal(5360);
    expect(initialWindow(9000, false)).to.equal(18000);
    expect(initialWindow(1460, true)).to.equal(1460);
  });

  it('slow start grows by the octets acknowledged (at most 2·SMSS per ACK), only when cwnd-limited', () => {
    const cc = new NewReno(MSS, 10_000, 0);
    cc.onAck(1000, 1001, 9000, true);
    expect(cc.cwnd).to.equal(11_000);
    cc.onAck(5000, 6001, 0, true);
    expect(cc.cwnd).to.equal(13_000);
    cc.onAck(1000, 7001, 0, false);
    expect(cc.cwnd).to.equal(13_000);
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

  it('a repeated timeout keeps ssthresh', () => {
    const cc = new NewReno(MSS, 10_000, 0);
    cc.onRto(10_000, 10_001, true);
    cc.onRto(1000, 10_001, false);
    expect(cc.ssthresh).to.equal(5000);
  });
});
