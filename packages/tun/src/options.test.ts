import { expect } from 'chai';
import { openTun } from './device.js';
import { TunError } from './errors.js';
import {
  BIG_TSO_MIN_KERNEL, DEFAULT_BUSY_POLL_US, DEFAULT_TX_QUEUE_LEN, formatIpv4, kernelTakesBigTso, parseIpv4, parseKernelRelease, resolveBigTso,
  resolveOptions, type TunOptions,
} from './options.js';

function rejectsWith(options: unknown): TunError {
  try {
    resolveOptions(options as TunOptions);
  } catch (error) {
    expect(error).to.be.instanceOf(TunError);
    return error as TunError;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('options', () => {
  describe('parseIpv4 / formatIpv4', () => {
    it('parses dotted quads to uint32 and back', () => {
      expect(parseIpv4('10.0.0.1')).to.equal(0x0a000001);
      expect(parseIpv4('255.255.255.255')).to.equal(0xffffffff);
      expect(parseIpv4('0.0.0.0')).to.equal(0);
      expect(formatIpv4(0xc0a80102)).to.equal('192.168.1.2');
      expect(formatIpv4(0xffffffff)).to.equal('255.255.255.255');
    });

    it('refuses anything else', () => {
      for (const bad of ['', '10.0.0', '10.0.0.1.2', '256.0.0.1', '10.0.0.01', ' 10.0.0.1', '10.0.0.1 ', 'a.b.c.d', '1e1.0.0.1', '::1']) {
        expect(parseIpv4(bad), bad).to.equal(undefined);
      }
    });
  });

  describe('resolveOptions', () => {
    it('fills in defaults', () => {
      expect(resolveOptions()).to.deep.equal({
        name: 'tun0', address: undefined, peer: undefined, prefixLength: undefined, address6: undefined, peer6: undefined, mtu: 1500,
        txQueueLen: 10_000, up: false, disableIpv6: true, readBatch: 256, busyPollUs: DEFAULT_BUSY_POLL_US, offload: false, completeChecksums: true,
        configure: true, txQueueLenRequired: false, disableIpv6Required: false, onWarning: undefined, writer: 'inline',
        bigTso: 'auto',
      });
      expect(DEFAULT_TX_QUEUE_LEN).to.equal(10_000);
    });

    it('brings the interface up by default when an address is given, with /24 without a peer', () => {
      const r = resolveOptions({ address: '10.0.0.1' });
      expect(r.up).to.equal(true);
      expect(r.address).to.equal(0x0a000001);
      expect(r.prefixLength).to.equal(24);
    });

    it('keeps the kernel /32 for a point-to-point peer unless a prefix is given', () => {
      expect(resolveOptions({ address: '10.0.0.1', peer: '10.0.0.2' }).prefixLength).to.equal(undefined);
      expect(resolveOptions({ address: '10.0.0.1', peer: '10.0.0.2', prefixLength: 30 }).prefixLength).to.equal(30);
      expect(resolveOptions({ address: '10.0.0.1', up: false }).up).to.equal(false);
    });

    it('address6/peer6: bytes, up by default, IPv6 on, and the rules between them', () => {
      const r = resolveOptions({ address6: 'fd00::1', peer6: 'FD00:0::2' });
      expect(Buffer.from(r.address6!).toString('hex')).to.equal('fd000000000000000000000000000001');
      expect(Buffer.from(r.peer6!).toString('hex')).to.equal('fd000000000000000000000000000002');
      expect(r).to.include({ up: true, disableIpv6: false, disableIpv6Required: false });
      expect(resolveOptions({ address6: 'fd00::1' }).peer6).to.equal(undefined);
      expect(resolveOptions({ address6: 'fd00::1', disableIpv6: false }).disableIpv6).to.equal(false);
      expect(resolveOptions({ address6: 'fd00::1', mtu: 1280 }).mtu).to.equal(1280);
      expect(rejectsWith({ address6: 'fd00::1', disableIpv6: true }).message).to.contain("'disableIpv6' cannot be true with 'address6'");
      expect(rejectsWith({ address6: 'fd00::1', mtu: 1279 }).message).to.contain('at least 1280');
      expect(rejectsWith({ peer6: 'fd00::2' }).message).to.contain("needs 'address6'");
      expect(rejectsWith({ address6: 'fd00::1', peer6: 'fd00::2', up: false }).message).to.contain("'up' cannot be false with 'peer6'");
      expect(resolveOptions({ address6: 'fd00::1', up: false }).up).to.equal(false);
      expect(rejectsWith({ address6: 'fd00::1', peer6: 'fd00:0:0::1' }).message).to.contain("must differ from 'address6'");
      for (const bad of ['10.0.0.1', 'fe80::1%tun0', 'fd00::1/64', '[fd00::1]', 'fd00:::1', 42]) {
        const e = rejectsWith({ address6: bad });
        expect(e.code, String(bad)).to.equal('ERR_INVALID_ARG_VALUE');
        expect(e.message).to.contain('must be an IPv6 address');
      }
      for (const [bad, why] of [['::', 'unspecified'], ['::1', 'loopback'], ['ff02::2', 'multicast'], ['::ffff:10.0.0.1', 'IPv4-mapped']]) {
        expect(rejectsWith({ address6: 'fd00::1', peer6: bad }).message).to.contain(why);
      }
    });

    it('accepts the limits', () => {
      expect(resolveOptions({ mtu: 68 }).mtu).to.equal(68);
      expect(resolveOptions({ mtu: 65535 }).mtu).to.equal(65535);
      expect(resolveOptions({ name: 'a'.repeat(15) }).name).to.equal('a'.repeat(15));
      expect(resolveOptions({ name: 'tun%d' }).name).to.equal('tun%d');
      expect(resolveOptions({ txQueueLen: 0 }).txQueueLen).to.equal(0);
      expect(resolveOptions({ readBatch: 1 }).readBatch).to.equal(1);
      expect(resolveOptions({ busyPollUs: 0 }).busyPollUs).to.equal(0);
      expect(resolveOptions({ busyPollUs: 100_000 }).busyPollUs).to.equal(100_000);
      expect(resolveOptions({ txQueueLen: 500 }).txQueueLen).to.equal(500);
      expect(resolveOptions({ offload: true }).offload).to.equal(true);
      expect(resolveOptions({ offload: false }).offload).to.equal(false);
      expect(resolveOptions({ offload: 'auto' }).offload).to.equal('auto');
      expect(resolveOptions({ writer: 'worker' }).writer).to.equal('worker');
      expect(resolveOptions({ writer: 'auto' }).writer).to.equal('auto');
      expect(resolveOptions({}).offload).to.equal(false);
    });

    const bad: Array<[string, unknown]> = [
      ['name too long', { name: 'a'.repeat(16) }],
      ['empty name', { name: '' }],
      ['name with slash', { name: 'a/b' }],
      ['name with colon', { name: 'a:1' }],
      ['name with space', { name: 'a b' }],
      ['name dot', { name: '.' }],
      ['name not a string', { name: 7 }],
      ['bad address', { address: '10.0.0.300' }],
      ['address not a string', { address: 0x0a000001 }],
      ['bad peer', { address: '10.0.0.1', peer: 'nope' }],
      ['peer without address', { peer: '10.0.0.2' }],
      ['prefix without address', { prefixLength: 24 }],
      ['prefix too long', { address: '10.0.0.1', prefixLength: 33 }],
      ['mtu too small', { mtu: 67 }],
      ['mtu too large', { mtu: 65536 }],
      ['mtu not an integer', { mtu: 1500.5 }],
      ['mtu a string', { mtu: '1500' }],
      ['negative txQueueLen', { txQueueLen: -1 }],
      ['readBatch 0', { readBatch: 0 }],
      ['negative busyPollUs', { busyPollUs: -1 }],
      ['busyPollUs too large', { busyPollUs: 100_001 }],
      ['busyPollUs not an integer', { busyPollUs: 2.5 }],
      ['up not a boolean', { up: 'yes' }],
      ['disableIpv6 not a boolean', { disableIpv6: 1 }],
      ['offload not a boolean', { offload: 'yes' }],
      ['offload a number', { offload: 1 }],
      ['offload another string', { offload: 'on' }],
      ['completeChecksums not a boolean', { completeChecksums: 'no' }],
      ['bigTso not a boolean', { offload: true, bigTso: 'yes' }],
      ['bigTso a number', { offload: true, bigTso: 1 }],
      ['bigTso: true without offload', { bigTso: true }],
      ['bigTso: true with offload: false', { offload: false, bigTso: true }],
      ['writer not a mode', { writer: 'thread' }],
      ['txQueueLen not an integer', { txQueueLen: 1000.5 }],
      ['txQueueLen too large', { txQueueLen: 2 ** 31 }],
      ['unknown option', { mut: 1500 }],
    ];
    for (const [what, options] of bad) {
      it(`rejects ${what} with ERR_INVALID_ARG_VALUE`, () => {
        const error = rejectsWith(options);
        expect(error.code).to.equal('ERR_INVALID_ARG_VALUE');
        expect(error.message).to.match(/^The option '\w+' /);
      });
    }

    it("bigTso: 'auto' by default; true needs offload (true or 'auto'); false always allowed", () => {
      expect(resolveOptions({}).bigTso).to.equal('auto');
      expect(resolveOptions({ offload: true }).bigTso).to.equal('auto');
      expect(resolveOptions({ offload: true, bigTso: true }).bigTso).to.equal(true);
      expect(resolveOptions({ offload: 'auto', bigTso: true }).bigTso).to.equal(true);
      expect(resolveOptions({ offload: true, bigTso: false }).bigTso).to.equal(false);
      expect(resolveOptions({ bigTso: false }).bigTso).to.equal(false);
      expect(resolveOptions({ bigTso: 'auto' }).bigTso).to.equal('auto');
      expect(rejectsWith({ bigTso: true }).message).to.contain("needs 'offload'");
    });

    it('makes openTun reject before touching the system', async () => {
      const error = await openTun({ name: 'x'.repeat(16) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(TunError);
      expect((error as TunError).code).to.equal('ERR_INVALID_ARG_VALUE');
    });
  });
});

describe('BIG TCP: kernel release and the bigTso setting', () => {
  it('parseKernelRelease reads major.minor from os.release() text', () => {
    expect(parseKernelRelease('6.18.44-fc-v1300')).to.deep.equal({ major: 6, minor: 18 });
    expect(parseKernelRelease('5.15.0-91-generic')).to.deep.equal({ major: 5, minor: 15 });
    expect(parseKernelRelease('6.3')).to.deep.equal({ major: 6, minor: 3 });
    expect(parseKernelRelease('6.2.0-rc1')).to.deep.equal({ major: 6, minor: 2 });
    expect(parseKernelRelease('10.0.1')).to.deep.equal({ major: 10, minor: 0 });
    expect(parseKernelRelease('4.19.0+')).to.deep.equal({ major: 4, minor: 19 });
    for (const bad of ['', 'linux', '6', '6.', 'v6.3', ' 6.3', '6.x.1', '.6.3']) {
      expect(parseKernelRelease(bad), JSON.stringify(bad)).to.equal(undefined);
    }
  });

  it('kernelTakesBigTso: Linux 6.3 and later', () => {
    expect(BIG_TSO_MIN_KERNEL).to.deep.equal({ major: 6, minor: 3 });
    for (const yes of ['6.3.0', '6.3', '6.18.44-fc-v1300', '6.10.1-arch1-1', '7.0.0', '10.1']) expect(kernelTakesBigTso(yes), yes).to.equal(true);
    for (const no of ['6.2.16', '6.1.0-18-amd64', '5.19.0', '5.15.0-91-generic', '4.19.0', '3.10.0-1160.el7.x86_64', 'garbage', '']) {
      expect(kernelTakesBigTso(no), no).to.equal(false);
    }
  });

  it('resolveBigTso: off without offload; as asked with it; auto by the release', () => {
    expect(resolveBigTso('auto', true, '6.18.44-fc-v1300')).to.equal(true);
    expect(resolveBigTso('auto', true, '6.2.0')).to.equal(false);
    expect(resolveBigTso('auto', true, 'weird')).to.equal(false);
    expect(resolveBigTso('auto', false, '6.18.0')).to.equal(false);
    expect(resolveBigTso(true, true, '5.15.0'), 'forced on an older kernel').to.equal(true);
    expect(resolveBigTso(true, false, '6.18.0'), "offload 'auto' fell back: no header, no big packets").to.equal(false);
    expect(resolveBigTso(false, true, '6.18.0')).to.equal(false);
  });
});
