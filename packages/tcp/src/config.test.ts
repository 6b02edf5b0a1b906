import { expect } from 'chai';
import { DEFAULT_TCP_CONFIG, resolveTcpConfig } from './config.js';
import type { TcpConfig } from './types.js';

describe('resolveTcpConfig', () => {
  it('returns the defaults for no argument or an empty object', () => {
    expect(resolveTcpConfig()).to.equal(DEFAULT_TCP_CONFIG);
    expect(resolveTcpConfig({})).to.deep.equal(DEFAULT_TCP_CONFIG);
    expect(DEFAULT_TCP_CONFIG).to.deep.include({ mss: 1460, rtoInitialMs: 1000, rtoMinMs: 200, rtoMaxMs: 60_000, delayedAckMs: 0 });
  });

  it('overrides given fields, keeps the rest, treats undefined as "default", and freezes the result', () => {
    const c = resolveTcpConfig({ mss: 1000, recvBufferSize: undefined });
    expect(c.mss).to.equal(1000);
    expect(c.recvBufferSize).to.equal(DEFAULT_TCP_CONFIG.recvBufferSize);
    expect(Object.isFrozen(c)).to.equal(true);
  });

  const bad: Array<[string, Partial<TcpConfig> | Record<string, unknown>]> = [
    ['unknown key', { mtu: 1500 }],
    ['non-integer', { mss: 1000.5 }],
    ['string', { mss: '1000' }],
    ['NaN', { timeWaitMs: Number.NaN }],
    ['mss too small', { mss: 63 }],
    ['mss too large', { mss: 65496 }],
    ['zero receive buffer', { recvBufferSize: 0 }],
    ['negative retries', { maxRetransmits: -1 }],
    ['delayed ACK of 500 ms (RFC 1122 §4.2.3.2)', { delayedAckMs: 500 }],
    ['rtoMin above rtoMax', { rtoMinMs: 5000, rtoMaxMs: 1000, rtoInitialMs: 1000 }],
    ['rtoInitial below rtoMin', { rtoInitialMs: 100 }],
    ['rtoInitial above rtoMax', { rtoMaxMs: 500 }],
  ];
  for (const [what, partial] of bad) {
    it(`rejects ${what} with ERR_INVALID_ARG_VALUE`, () => {
      expect(() => resolveTcpConfig(partial as Partial<TcpConfig>)).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    });
  }
});
