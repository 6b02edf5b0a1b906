/**
 * Least privilege (issue 14): `openTun` as an unprivileged user (uid 65534, no capabilities)
 * on TUN devices that root prepared for that user, inside a namespace the suite creates. The
 * device runs in a child that drops to `nobody` before opening (tun-child.ts).
 */
import { expect } from 'chai';
import { TunChild, useTunSuite } from './__tests__/netns.js';

const NS = `tcptun-tunpriv-${process.pid}`;
const AS_NOBODY = { ...process.env, TUN_CHILD_DROP_PRIVILEGES: '1' };

describe('openTun without privilege (least privilege)', function () {
  this.timeout(30_000);
  const suite = useTunSuite(NS, 'least-privilege TUN tests');

  const child = (options: object, env?: NodeJS.ProcessEnv): TunChild => suite.child(options, env ?? AS_NOBODY);

  /** As root in the namespace: a persistent TUN owned by nobody, configured as `ip` would. */
  function prepare(name: string, setup: { address?: string; peer?: string; mtu?: number; up?: boolean } = {}): void {
    suite.ns().run(['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tun', 'user', 'nobody']);
    if (setup.mtu !== undefined) suite.ns().run(['ip', 'link', 'set', 'dev', name, 'mtu', String(setup.mtu)]);
    if (setup.address !== undefined) {
      suite.ns().run(['ip', 'addr', 'add', setup.address, ...(setup.peer === undefined ? [] : ['peer', setup.peer]), 'dev', name]);
    }
    if (setup.up === true) suite.ns().run(['ip', 'link', 'set', 'dev', name, 'up']);
  }

  it('configure: false attaches to a device made for the user, reads its MTU and state, touches nothing', async () => {
    prepare('tlpa0', { mtu: 1400, address: '10.110.0.1', peer: '10.110.0.2', up: true });
    const c = child({ name: 'tlpa0', configure: false, mtu: 9000, address: '10.99.0.1', txQueueLen: 123 });
    const open = await c.next('open');
    expect(open).to.include({ name: 'tlpa0', mtu: 1400 });
    expect(open.configuration).to.deep.equal({ configured: false, changed: [], skipped: [], up: true });
    expect(suite.ns().read('/sys/class/net/tlpa0/tx_queue_len'), 'txqueuelen untouched').to.equal('500');
    expect(suite.ns().run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'tlpa0'])).to.contain('inet 10.110.0.1 peer 10.110.0.2/32');
    // It moves packets: the kernel's ping to the peer arrives.
    c.command({ cmd: 'start' });
    await c.next('started');
    suite.ns().spawn(['ping', '-c', '3', '-i', '0.2', '-W', '1', '10.110.0.2']);
    // IPv6 is as root left it (on), so router solicitations may come first: look for the ping.
    let icmp = false;
    for (let i = 0; i < 10 && !icmp; i++) icmp = (await c.packets(1)).some((p) => p[0]! >> 4 === 4 && p[9] === 1);
    expect(icmp, 'the kernel ping reached the device').to.equal(true);
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('default configure on a device that already has the wanted address, MTU and state: goes on and warns once', async () => {
    prepare('tlpb0', { address: '10.111.0.1', peer: '10.111.0.2', up: true });
    const c = child({ name: 'tlpb0', address: '10.111.0.1', peer: '10.111.0.2', mtu: 1500 });
    const warning = await c.next('warning');
    const open = await c.next('open');
    expect(open).to.include({ name: 'tlpb0', mtu: 1500 });
    const configuration = open.configuration as { configured: boolean; changed: string[]; skipped: { what: string; fix: string }[] };
    expect(configuration.configured).to.equal(true);
    expect(configuration.changed).to.deep.equal([]);
    expect(configuration.skipped.map((s) => s.what)).to.have.members(['txqueuelen', 'disable_ipv6']);
    expect(String(warning.message)).to.contain('ip link set dev tlpb0 txqueuelen 10000')
      .and.to.contain('sysctl -w net.ipv6.conf.tlpb0.disable_ipv6=1');
    c.command({ cmd: 'stats' });
    await c.next('stats');
    c.command({ cmd: 'close' });
    await c.next('closed');
    expect(c.events('warning'), 'said once: no second warning').to.have.length(0);
  });

  it('a wrong configuration it may not change fails with ERR_TUN_CONFIG naming the fixing command', async () => {
    prepare('tlpc0', { mtu: 1400, address: '10.112.0.1', peer: '10.112.0.2', up: true });
    const c = child({ name: 'tlpc0', address: '10.112.0.1', peer: '10.112.0.2', mtu: 1500 });
    const error = await c.next('error');
    expect(error.code).to.equal('ERR_TUN_CONFIG');
    expect(error.errno).to.be.oneOf(['EPERM', 'EACCES']);
    expect(String(error.message)).to.contain('has mtu 1400, wanted 1500').and.to.contain('ip link set dev tlpc0 mtu 1500');
    const down = child({ name: 'tlpc0', address: '10.112.0.9', peer: '10.112.0.2', mtu: 1400 });
    const e2 = await down.next('error');
    expect(e2.code).to.equal('ERR_TUN_CONFIG');
    expect(String(e2.message)).to.contain('has address 10.112.0.1, wanted 10.112.0.9').and.to.contain('ip addr add 10.112.0.9 peer 10.112.0.2 dev tlpc0');
  });

  it('a missing device fails with ERR_TUN_PERMISSION naming `ip tuntap add … user nobody`, leaving nothing behind', async () => {
    const c = child({ name: 'tlpd0', address: '10.113.0.1', peer: '10.113.0.2' });
    const error = await c.next('error');
    expect(error.code).to.equal('ERR_TUN_PERMISSION');
    expect(String(error.message)).to.contain('ip tuntap add dev tlpd0 mode tun user nobody');
    expect(suite.ns().run(['ip', '-o', 'link', 'show'])).not.to.contain('tlpd0');
  });
});
