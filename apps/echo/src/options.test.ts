import { expect } from 'chai';
import { listeningOn, parseEchoOptions, servicePorts } from './options.js';
import { DEFAULT_BUSY_POLL_US } from '@tcp-tun/tun';
import { usageExitCodes } from '../../../testing/cli-tests.js';

const argv = (...args: string[]) => ['node', 'tcp-tun-echo', ...args];

describe('tcp-tun-echo options', () => {
  it('has the documented defaults', () => {
    const o = parseEchoOptions(argv());
    expect(o).to.include({ dev: 'tun0', addr: '10.0.0.2', peer: '10.0.0.1', mtu: 1500, offload: 'auto', port: 7, stats: false });
    expect(o.services).to.deep.equal(['echo']);
    expect(o.faults).to.equal(undefined);
  });

  it('reads services, ports and fault flags', () => {
    const o = parseEchoOptions(argv('--services', 'echo,http,discard', '--http-port', '8080', '--port', '7007', '--drop', '0.05', '--delay', '10', '--fault-seed', '9'));
    expect([...servicePorts(o)]).to.deep.equal([
      ['echo', 7007],
      ['http', 8080],
      ['discard', 9],
    ]);
    expect(o.faults).to.include({ drop: 0.05, delayMs: 10, seed: 9 });
  });

  it('reads --offload and --no-offload', () => {
    expect(parseEchoOptions(argv('--offload', '--mtu', '9000'))).to.include({ offload: true, mtu: 9000 });
    expect(parseEchoOptions(argv('--no-offload'))).to.include({ offload: false });
    expect(parseEchoOptions(argv()).busyPollUs).to.equal(DEFAULT_BUSY_POLL_US);
    expect(parseEchoOptions(argv('--busy-poll', '0')).busyPollUs).to.equal(0);
  });

  it('reads --tun-writer (inline by default)', () => {
    expect(parseEchoOptions(argv()).tunWriter).to.equal('inline');
    expect(parseEchoOptions(argv('--tun-writer', 'worker')).tunWriter).to.equal('worker');
    expect(parseEchoOptions(argv('--tun-writer', 'auto')).tunWriter).to.equal('auto');
  });

  it('reads --addr6/--peer6: IPv6 alone, or beside IPv4', () => {
    const v6 = parseEchoOptions(argv('--addr6', 'fd00::2', '--peer6', 'fd00::1'));
    expect(v6).to.include({ addr: undefined, peer: undefined, addr6: 'fd00::2', peer6: 'fd00::1' });
    expect(listeningOn(v6, 7)).to.deep.equal(['[fd00::2]:7']);
    const both = parseEchoOptions(argv('--addr', '10.0.0.2', '--addr6', 'fd00::2', '--peer6', 'fd00::1'));
    expect(both).to.include({ addr: '10.0.0.2', peer: '10.0.0.1', addr6: 'fd00::2', peer6: 'fd00::1' });
    expect(listeningOn(both, 80)).to.deep.equal(['10.0.0.2:80', '[fd00::2]:80']);
    expect(listeningOn(parseEchoOptions(argv()), 7)).to.deep.equal(['10.0.0.2:7']);
  });

  it('rejects bad IPv6 flags with a usage error', () => {
    const exits = usageExitCodes([
      ['--addr6', 'fd00::2'], ['--peer6', 'fd00::1'], ['--addr6', 'fd00::1', '--peer6', 'fd00::1'], ['--addr6', 'fe80::2%tun0', '--peer6', 'fe80::1'],
      ['--addr6', '10.0.0.2', '--peer6', 'fd00::1'], ['--addr6', 'fd00::2', '--peer6', 'fd00::1', '--mtu', '1200'],
    ], (bad) => parseEchoOptions(argv(...bad)));
    expect(exits).to.have.length(6);
    expect(exits.every((c) => c !== 0)).to.equal(true);
  });

  it('warms up by default; --no-warm-up turns it off', () => {
    expect(parseEchoOptions(argv()).warmUp).to.equal(true);
    expect(parseEchoOptions(argv('--no-warm-up')).warmUp).to.equal(false);
    // The device part is opt-in (bench/PROFILE.md round 6: no measured gain, idle CPU after it).
    expect(parseEchoOptions(argv()).deviceWarmUp).to.equal(false);
    expect(parseEchoOptions(argv('--device-warm-up'))).to.include({ warmUp: true, deviceWarmUp: true });
  });

  it('rejects bad values with a usage error', () => {
    const exits = usageExitCodes([['--addr', '10.0.0.256'], ['--mtu', '20'], ['--services', 'echo,ftp'], ['--drop', '2'], ['--dev', 'a-very-long-device-name'], ['--addr', '10.0.0.1'], ['--busy-poll', '-1'], ['--busy-poll', '100001'], ['--tun-writer', 'thread']], (bad) => parseEchoOptions(argv(...bad)));
    expect(exits.every((c) => c !== 0)).to.equal(true);
    expect(exits).to.have.length(9);
  });
});
