/**
 * The kernel side's IPv6 (options `address6`/`peer6`) against the Linux kernel, inside a network
 * namespace the suite creates: the address (`nodad`, point-to-point), the host route to us, the
 * sysctls that keep the kernel quiet, nothing sent unasked, `configure: false` touching nothing,
 * and least privilege on a device root prepared. Needs root/CAP_NET_ADMIN: skipped loudly
 * without it, and a failure when env CI is set.
 */
import { expect } from 'chai';
import { TunChild, useTunSuite } from './__tests__/netns.js';

const NS = `tcptun-tun6-${process.pid}`;
const AS_NOBODY = { ...process.env, TUN_CHILD_DROP_PRIVILEGES: '1' };

describe('openTun with address6/peer6 in a network namespace', function () {
  this.timeout(30_000);
  const suite = useTunSuite(NS, 'TUN IPv6 tests');

  const child = (options: object, env?: NodeJS.ProcessEnv): TunChild => suite.child(options, env);

  const sysctl = (dev: string, key: string): string => suite.ns().read(`/proc/sys/net/ipv6/conf/${dev}/${key}`);

  it('sets the address (nodad, peer form), the route to us and the quiet sysctls; the kernel sends nothing unasked', async () => {
    const c = child({ name: 'tv6a0', address: '10.94.0.1', peer: '10.94.0.2', address6: 'fd00:94::1', peer6: 'fd00:94::2' });
    const open = await c.next('open');
    const configuration = open.configuration as { changed: string[]; skipped: unknown[]; ipv6: unknown };
    expect(configuration.ipv6).to.deep.equal({
      address: 'fd00:94::1', peer: 'fd00:94::2',
      sysctls: { disable_ipv6: '0', addr_gen_mode: '1', accept_ra: '0', router_solicitations: '0' },
    });
    expect(configuration.changed).to.include.members(['addr_gen_mode', 'accept_ra', 'router_solicitations', 'address6', 'state']);
    // The peer form brought its own route: nothing left for the route setting.
    expect(configuration.changed).not.to.include('route6');
    expect(configuration.skipped).to.deep.equal([]);
    const addresses = suite.ns().run(['ip', '-6', '-o', 'addr', 'show', 'dev', 'tv6a0']);
    expect(addresses).to.match(/inet6 fd00:94::1 peer fd00:94::2\/128 scope global nodad/);
    expect(addresses, 'no link-local address').not.to.contain('fe80');
    expect(addresses).not.to.contain('tentative');
    expect(suite.ns().run(['ip', '-6', 'route', 'show', 'dev', 'tv6a0'])).to.match(/^fd00:94::2 proto kernel/m);
    expect(suite.ns().run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'tv6a0'])).to.contain('inet 10.94.0.1 peer 10.94.0.2/32');
    // Router solicitations come within seconds of up on a default TUN (two in five seconds when
    // measured); with the sysctls set nothing at all arrives.
    c.command({ cmd: 'start' });
    await c.next('started');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    c.command({ cmd: 'stats' });
    const quiet = await c.next('stats');
    expect((quiet.stats as { rxPackets: number }).rxPackets, 'packets the kernel sent unasked').to.equal(0);
    // The address is usable at once and the route leads into the device: the kernel's ping
    // to us arrives, from fd00:94::1.
    suite.ns().spawn(['ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', 'fd00:94::2']);
    const [packet] = await c.packets(1);
    expect(packet![0]! >> 4, 'IPv6').to.equal(6);
    expect(packet![6], 'next header ICMPv6').to.equal(58);
    expect(packet![40], 'echo request').to.equal(128);
    expect(Buffer.from(packet!.subarray(8, 24)).toString('hex')).to.equal('fd000094000000000000000000000001');
    expect(Buffer.from(packet!.subarray(24, 40)).toString('hex')).to.equal('fd000094000000000000000000000002');
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('configure: false leaves IPv6 as it is', async () => {
    suite.ns().run(['ip', 'tuntap', 'add', 'dev', 'tv6b0', 'mode', 'tun']);
    const before = ['disable_ipv6', 'addr_gen_mode', 'accept_ra', 'router_solicitations'].map((k) => sysctl('tv6b0', k));
    const c = child({ name: 'tv6b0', configure: false, address6: 'fd00:95::1', peer6: 'fd00:95::2' });
    const open = await c.next('open');
    expect(open.configuration).to.deep.equal({ configured: false, changed: [], skipped: [], up: false });
    expect(['disable_ipv6', 'addr_gen_mode', 'accept_ra', 'router_solicitations'].map((k) => sysctl('tv6b0', k))).to.deep.equal(before);
    expect(suite.ns().run(['ip', '-6', '-o', 'addr', 'show', 'dev', 'tv6b0'])).to.equal('');
    c.command({ cmd: 'close' });
    await c.next('closed');
    suite.ns().run(['ip', 'link', 'del', 'dev', 'tv6b0']);
  });

  it('adds only the route when root gave the address without a peer', async () => {
    suite.ns().run(['ip', 'tuntap', 'add', 'dev', 'tv6c0', 'mode', 'tun']);
    suite.ns().run(['ip', '-6', 'addr', 'add', 'fd00:96::1/128', 'dev', 'tv6c0', 'nodad']);
    const c = child({ name: 'tv6c0', address6: 'fd00:96::1', peer6: 'fd00:96::2' });
    const open = await c.next('open');
    const configuration = open.configuration as { changed: string[] };
    expect(configuration.changed).to.include('route6').and.not.to.include('address6');
    const routes = suite.ns().run(['ip', '-6', 'route', 'show', 'dev', 'tv6c0']);
    expect(routes, routes).to.match(/^fd00:96::2 metric 1024/m);
    c.command({ cmd: 'close' });
    await c.next('closed');
    suite.ns().run(['ip', 'link', 'del', 'dev', 'tv6c0']);
  });

  it('with up: false and no peer6 the address is added and the interface left down', async () => {
    const c = child({ name: 'tv6f0', address6: 'fd00:99::1', up: false });
    const open = await c.next('open');
    const configuration = open.configuration as { changed: string[]; up: boolean };
    expect(configuration.up).to.equal(false);
    expect(configuration.changed).to.include('address6').and.not.to.include('route6');
    expect(suite.ns().run(['ip', '-6', '-o', 'addr', 'show', 'dev', 'tv6f0'])).to.match(/inet6 fd00:99::1\/128 scope global nodad/);
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  describe('without privilege, on a device root prepared for nobody', () => {
    function prepare(name: string, address6: string, peer6: string): void {
      suite.ns().run(['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tun', 'user', 'nobody']);
      for (const [key, value] of [['addr_gen_mode', '1'], ['accept_ra', '0'], ['router_solicitations', '0']] as const) {
        suite.ns().run(['sysctl', '-q', '-w', `net.ipv6.conf.${name}.${key}=${value}`]);
      }
      suite.ns().run(['ip', 'link', 'set', 'dev', name, 'txqueuelen', '10000', 'up']);
      suite.ns().run(['ip', '-6', 'addr', 'add', address6, 'peer', peer6, 'dev', name, 'nodad']);
    }

    it('opens one already as asked, changing nothing', async () => {
      prepare('tv6d0', 'fd00:97::1', 'fd00:97::2');
      const c = child({ name: 'tv6d0', address6: 'fd00:97::1', peer6: 'fd00:97::2' }, AS_NOBODY);
      const open = await c.next('open');
      const configuration = open.configuration as { changed: string[]; skipped: unknown[]; ipv6: { sysctls: object } };
      expect(configuration.changed).to.deep.equal([]);
      expect(configuration.skipped).to.deep.equal([]);
      expect(configuration.ipv6.sysctls).to.deep.equal({ disable_ipv6: '0', addr_gen_mode: '1', accept_ra: '0', router_solicitations: '0' });
      c.command({ cmd: 'close' });
      await c.next('closed');
    });

    it('quiet sysctls it may not set are skipped with one warning naming them; the device opens', async () => {
      suite.ns().run(['ip', 'tuntap', 'add', 'dev', 'tv6g0', 'mode', 'tun', 'user', 'nobody']);
      suite.ns().run(['ip', 'link', 'set', 'dev', 'tv6g0', 'txqueuelen', '10000', 'up']);
      suite.ns().run(['ip', '-6', 'addr', 'add', 'fd00:9a::1', 'peer', 'fd00:9a::2', 'dev', 'tv6g0', 'nodad']);
      const c = child({ name: 'tv6g0', address6: 'fd00:9a::1', peer6: 'fd00:9a::2' }, AS_NOBODY);
      const warning = await c.next('warning');
      const open = await c.next('open');
      const configuration = open.configuration as { changed: string[]; skipped: { what: string }[] };
      expect(configuration.changed).to.deep.equal([]);
      expect(configuration.skipped.map((s) => s.what)).to.have.members(['addr_gen_mode', 'accept_ra', 'router_solicitations']);
      expect(String(warning.message)).to.contain('sysctl -w net.ipv6.conf.tv6g0.addr_gen_mode=1')
        .and.to.contain('sysctl -w net.ipv6.conf.tv6g0.router_solicitations=0');
      c.command({ cmd: 'close' });
      await c.next('closed');
    });

    it('a different address fails with ERR_TUN_CONFIG naming the ip command that fixes it', async () => {
      prepare('tv6e0', 'fd00:98::1', 'fd00:98::2');
      const c = child({ name: 'tv6e0', address6: 'fd00:98::9', peer6: 'fd00:98::2' }, AS_NOBODY);
      const error = await c.next('error');
      expect(error.code).to.equal('ERR_TUN_CONFIG');
      expect(error.errno).to.be.oneOf(['EPERM', 'EACCES']);
      expect(String(error.message)).to.contain('has address6 none, wanted fd00:98::9')
        .and.to.contain('ip -6 addr add fd00:98::9 peer fd00:98::2 dev tv6e0 nodad');
    });
  });
});
