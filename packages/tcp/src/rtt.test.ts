import { expect } from 'chai';
import { RttEstimator } from './rtt.js';

describe('RttEstimator (RFC 6298)', () => {
  it('starts at the initial RTO, then follows SRTT + 4·RTTVAR, clamped to the minimum', () => {
    const e = new RttEstimator(1000, 200, 60_000);
    expect(e.rtoMs).to.equal(1000);
    e.sample(400); // SRTT 400, RTTVAR 200 → 1200
    expect([e.srttMs, e.rttvarMs, e.rtoMs]).to.deep.equal([400, 200, 1200]);
    e.sample(200); // RTTVAR = 3/4·200 + 1/4·200 = 200; SRTT = 7/8·400 + 1/8·200 = 375 → 1175
    expect([e.srttMs, e.rttvarMs, e.rtoMs]).to.deep.equal([375, 200, 1175]);
    const fast = new RttEstimator(1000, 200, 60_000);
    fast.sample(2);
    expect(fast.rtoMs).to.equal(200);
  });

  it('doubles on backoff up to the maximum; a reset or a new sample clears it', () => {
    const e = new RttEstimator(1000, 200, 5000);
    e.backoff();
    e.backoff();
    expect(e.rtoMs).to.equal(4000);
    e.backoff();
    e.backoff();
    expect(e.rtoMs).to.equal(5000);
    e.resetBackoff();
    expect(e.rtoMs).to.equal(1000);
    e.backoff();
    e.sample(100);
    expect(e.backoffs).to.equal(0);
  });

  it('after a lost SYN with no sample, uses 3 s (RFC 6298 §5.7)', () => {
    const e = new RttEstimator(1000, 200, 60_000);
    e.afterSynLoss();
    expect(e.rtoMs).to.equal(3000);
  });
});
