import { expect } from 'chai';
import { LIMIT_APP, LIMIT_CWND, LIMIT_IDLE, LIMIT_RWND, LimitClock } from './connection/counters.js';

describe('LimitClock (busy / app / rwnd / cwnd-limited time)', () => {
  it('charges each period to the limit in force, skips idle time and counts the open period up to the last report', () => {
    const c = new LimitClock();
    c.enter(LIMIT_CWND, 100); // data starts to leave at 100
    c.enter(LIMIT_CWND, 105); // same limit: nothing changes but the last report
    c.enter(LIMIT_RWND, 110);
    c.enter(LIMIT_APP, 125);
    c.enter(LIMIT_IDLE, 130); // everything acknowledged
    c.enter(LIMIT_IDLE, 500);
    expect([c.total(LIMIT_CWND), c.total(LIMIT_RWND), c.total(LIMIT_APP), c.total(LIMIT_IDLE)]).to.deep.equal([10, 15, 5, 0]);
    c.enter(LIMIT_CWND, 1000);
    c.enter(LIMIT_CWND, 1007);
    expect(c.total(LIMIT_CWND), 'open period to the last report').to.equal(17);
  });

  it('never goes backwards with a clock that steps back', () => {
    const c = new LimitClock();
    c.enter(LIMIT_APP, 50);
    c.enter(LIMIT_CWND, 40);
    expect(c.total(LIMIT_APP)).to.equal(0);
    expect(c.total(LIMIT_CWND)).to.equal(10); // open since 40, last report 50
  });
});
