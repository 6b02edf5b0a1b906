import { expect } from 'chai';
import { DEFAULT_TCP_CONFIG, chooseWindowScale, resolveTcpConfig } from './config.js';
import type { TcpConfig } from './types.js';

describe('resolveTcpConfig', () => {
  it('returns the defaults for no argument or an empty object', () => {
    expect(resolveTcpConfig()).to.equal(DEFAULT_TCP_CONFIG);
    expect(resolveTcpConfig({})).to.deep.equal(DEFAULT_TCP_CONFIG);
    expect(DEFAULT_TCP_CONFIG).to.deep.include({
      mss: 1460,
      rtoInitialMs: 1000,
      rtoMinMs: 200,
      rtoMaxMs: 60_000,
      delayedAckMs: 40,
      recvBufferSize: 256 * 1024,
      sendBufferSize: 256 * 1024,
      sendBufferAutoSize: true,
      windowScale: -1,
      windowScaling: true,
      sack: true,
      timestamps: true,
      ecn: true,
      congestionControl: 'cubic',
      noDelay: false,
      keepAliveIdleMs: 7_200_000,
      keepAliveIntervalMs: 75_000,
      keepAliveProbes: 9,
      userTimeoutMs: 0,
      challengeAckLimit: 10,
      challengeAckWindowMs: 1000,
      sendQuantum: 0,
    });
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
    ['window scale above 14 (RFC 7323 §2.3)', { windowScale: 15 }],
    ['non-boolean sack', { sack: 1 }],
    ['unknown congestion control', { congestionControl: 'bbr' }],
    ['string noDelay', { noDelay: 'yes' }],
    ['keepAliveProbes 0', { keepAliveProbes: 0 }],
    ['keepAliveIdleMs 0', { keepAliveIdleMs: 0 }],
    ['negative userTimeoutMs', { userTimeoutMs: -1 }],
    ['challengeAckWindowMs 0', { challengeAckWindowMs: 0 }],
    ['negative sendQuantum', { sendQuantum: -1 }],
    ['sendQuantum above 1 MiB', { sendQuantum: (1 << 20) + 1 }],
    ['non-integer sendQuantum', { sendQuantum: 65536.5 }],
  ];
  it('returns a config it resolved before as is (no copy per connection)', () => {
    const c = resolveTcpConfig({ mss: 1000 });
    expect(resolveTcpConfig(c)).to.equal(c);
  });

  it('chooses the smallest window scale covering the receive buffer (RFC 7323 §2.3)', () => {
    expect(chooseWindowScale(resolveTcpConfig({ recvBufferSize: 65535 }))).to.equal(0);
    expect(chooseWindowScale(resolveTcpConfig({ recvBufferSize: 65536 }))).to.equal(1);
    expect(chooseWindowScale(resolveTcpConfig({}))).to.equal(3); // 256 KiB
    expect(chooseWindowScale(resolveTcpConfig({ recvBufferSize: 4 * 1024 * 1024 }))).to.equal(7); // like Linux
    expect(chooseWindowScale(resolveTcpConfig({ recvBufferSize: 16 * 1024 * 1024 }))).to.equal(9);
    expect(chooseWindowScale(resolveTcpConfig({ recvBufferSize: 1 << 30 }))).to.equal(14);
    expect(chooseWindowScale(resolveTcpConfig({ windowScale: 3 }))).to.equal(3);
  });

  for (const [what, partial] of bad) {
    it(`rejects ${what} with ERR_INVALID_ARG_VALUE`, () => {
      expect(() => resolveTcpConfig(partial as Partial<TcpConfig>)).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    });
  }
});
