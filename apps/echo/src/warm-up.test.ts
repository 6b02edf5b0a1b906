import { expect } from 'chai';
import { TunError, openWarmUpPair } from '@tcp-tun/tun';
import { warmUpBeforeServing, type WarmUpPlan } from './warm-up.js';

const plan = (over: Partial<WarmUpPlan> = {}): WarmUpPlan => ({
  families: [4],
  segmentationOffload: true,
  device: { mtu: 1500, offload: true },
  devicePair: true,
  inMemoryBudgetMs: 30,
  deviceBudgetMs: 60,
  ...over,
});

describe('echo warm-up (in memory, then over a socketpair device pair)', function () {
  this.timeout(20_000);

  for (const offload of [true, false]) {
    it(`runs connections over the device pair to completion (offload ${String(offload)}, both families)`, async () => {
      const warnings: string[] = [];
      // A long device budget: on a loaded machine the first connections of a fresh part can
      // reach the per-connection limit (250 ms) and count as failed; later ones complete.
      const outcome = await warmUpBeforeServing(
        plan({ families: [4, 6], segmentationOffload: offload, device: { mtu: 1500, offload }, deviceBudgetMs: 1000 }),
        { openPair: openWarmUpPair, warn: (m) => warnings.push(m) },
      );
      expect(warnings).to.deep.equal([]);
      expect(outcome.warning).to.equal(undefined);
      expect(outcome.device?.connections).to.be.greaterThan(0);
    });
  }

  it('fails soft: a socketpair that cannot be made gives one warning, the in-memory part still ran', async () => {
    const warnings: string[] = [];
    const outcome = await warmUpBeforeServing(plan(), {
      openPair: () => {
        throw new TunError('ERR_TUN_CONFIG', 'socketpair(AF_UNIX, SOCK_SEQPACKET) failed: EMFILE', { errno: 'EMFILE', syscall: 'socketpair' });
      },
      warn: (m) => warnings.push(m),
    });
    expect(outcome.device).to.equal(undefined);
    expect(outcome.inMemory.connections).to.be.greaterThan(0);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/^device warm-up skipped .*EMFILE \(ERR_TUN_CONFIG\)$/);
    expect(outcome.warning).to.equal(warnings[0]);
  });

  it('fails soft when the warm-up over the pair throws, and closes the pair', async () => {
    const warnings: string[] = [];
    let closed = 0;
    const outcome = await warmUpBeforeServing(plan({ families: [4] }), {
      openPair: (options) => {
        const pair = openWarmUpPair(options);
        for (const device of pair) {
          // A device whose start fails: the stack's constructor throws before any connection.
          device.start = () => {
            throw new Error('start failed');
          };
          const close = device.close.bind(device);
          device.close = () => (closed++, close());
        }
        return pair;
      },
      warn: (m) => warnings.push(m),
    });
    expect(outcome.device).to.equal(undefined);
    expect(warnings[0]).to.contain('start failed');
    expect(closed).to.be.at.least(2);
  });

  it('skips the device part when not asked for (the default; --device-warm-up turns it on)', async () => {
    let opened = false;
    const outcome = await warmUpBeforeServing(plan({ devicePair: false }), {
      openPair: (options) => ((opened = true), openWarmUpPair(options)),
      warn: () => undefined,
    });
    expect(opened).to.equal(false);
    expect(outcome.device).to.equal(undefined);
    expect(outcome.warning).to.equal(undefined);
  });
});
