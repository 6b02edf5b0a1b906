/**
 * `offload: 'auto'`: which refusals fall back to a plain device and which stay errors. The attach
 * step is replaced by a fake, so no device or privilege is needed; the real attach with offloads
 * is in offload.test.ts.
 */
import { expect } from 'chai';
import { type AttachedTun, attachTunWithFallback } from './configure.js';
import { configError, TunError } from './errors.js';

/** A fake attach that refuses offloads with `refusal` and records what it was asked. */
function fakeAttach(refusal: TunError | undefined, plainRefusal?: TunError) {
  const calls: boolean[] = [];
  const attach = (name: string, offload: boolean): AttachedTun => {
    calls.push(offload);
    if (offload && refusal) throw refusal;
    if (!offload && plainRefusal) throw plainRefusal;
    return { fd: offload ? 11 : 12, name };
  };
  return { attach, calls };
}

describe("attachTunWithFallback (offload: 'auto')", () => {
  it('keeps the offloads where the kernel takes them', () => {
    const { attach, calls } = fakeAttach(undefined);
    expect(attachTunWithFallback('tun0', 'auto', attach)).to.deep.equal({ fd: 11, name: 'tun0', offload: { state: 'on' } });
    expect(calls).to.deep.equal([true]);
  });

  it('falls back to a plain device when TUNSETOFFLOAD is refused, and gives the reason', () => {
    const { attach, calls } = fakeAttach(configError('ioctl(TUNSETOFFLOAD)', 'EINVAL', ' (0x3)'));
    const got = attachTunWithFallback('tun0', 'auto', attach);
    expect(got).to.deep.equal({
      fd: 12, name: 'tun0', offload: { state: 'unsupported', reason: 'ioctl(TUNSETOFFLOAD) failed: EINVAL (0x3)' },
    });
    expect(calls).to.deep.equal([true, false]);
  });

  it('does not fall back on errors that are not about offloads (permission, busy)', () => {
    for (const error of [
      new TunError('ERR_TUN_BUSY', 'busy', { errno: 'EBUSY' }),
      configError('ioctl(TUNSETIFF)', 'EPERM'),
    ]) {
      const { attach, calls } = fakeAttach(error);
      expect(() => attachTunWithFallback('tun0', 'auto', attach)).to.throw(TunError).with.property('code', error.code);
      expect(calls).to.deep.equal([true]);
    }
  });

  it('throws the plain attach\'s error when that fails too (e.g. a TAP device of that name)', () => {
    const plain = configError('ioctl(TUNSETIFF)', 'EINVAL', ": 'tun0' may exist as a non-TUN device");
    const { attach } = fakeAttach(configError('ioctl(TUNSETIFF)', 'EINVAL'), plain);
    expect(() => attachTunWithFallback('tun0', 'auto', attach)).to.throw(plain.message);
  });

  it('true and false attach once, as asked, and report on / off', () => {
    const { attach, calls } = fakeAttach(undefined);
    expect(attachTunWithFallback('tun0', true, attach).offload).to.deep.equal({ state: 'on' });
    expect(attachTunWithFallback('tun0', false, attach).offload).to.deep.equal({ state: 'off' });
    expect(calls).to.deep.equal([true, false]);
    const refusing = fakeAttach(configError('ioctl(TUNSETOFFLOAD)', 'EINVAL'));
    expect(() => attachTunWithFallback('tun0', true, refusing.attach)).to.throw(TunError).with.property('code', 'ERR_TUN_CONFIG');
  });
});
