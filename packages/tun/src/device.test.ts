/**
 * End-to-end tests of the TUN device against the Linux kernel, inside a network namespace the
 * suite creates. The device runs in a child process started with `ip netns exec` (a process
 * cannot easily move itself into a namespace); the kernel's side is driven from other short
 * processes in the same namespace. Needs root/CAP_NET_ADMIN: skipped loudly without it, and a
 * failure when env CI is set.
 */
import { expect } from 'chai';
import { createInterface } from 'node:readline';
import { TunChild, UDP_PACED_SCRIPT, UDP_RECV_SCRIPT, UDP_SEND_SCRIPT, useTunSuite } from './__tests__/netns.js';
import { icmpEchoRequest, readIpv4, udp } from './__tests__/packets.js';

const NS = `tcptun-tun-${process.pid}`;

describe('TunDevice in a network namespace', function () {
  this.timeout(30_000);
  const suite = useTunSuite(NS, 'TUN device tests');

  const child = (options: object, env?: NodeJS.ProcessEnv): TunChild => suite.child(options, env);

  it('creates and configures the interface: address, peer, MTU, txqueuelen, IPv6 off, up', async () => {
    const c = child({ name: 'tcfg0', address: '10.91.0.1', peer: '10.91.0.2', mtu: 1400, txQueueLen: 777 });
    const open = await c.next('open');
    expect(open).to.include({ name: 'tcfg0', mtu: 1400 });
    expect(suite.ns().read('/sys/class/net/tcfg0/mtu')).to.equal('1400');
    expect(suite.ns().read('/sys/class/net/tcfg0/tx_queue_len')).to.equal('777');
    expect(suite.ns().read('/proc/sys/net/ipv6/conf/tcfg0/disable_ipv6')).to.equal('1');
    const flags = Number(suite.ns().read('/sys/class/net/tcfg0/flags'));
    expect(flags & 0x1, 'IFF_UP').to.equal(1);
    expect(flags & 0x10, 'IFF_POINTOPOINT').to.equal(0x10);
    const addr = suite.ns().run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'tcfg0']);
    expect(addr).to.contain('inet 10.91.0.1 peer 10.91.0.2/32');
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('applies prefixLength as the netmask and resolves a %d name', async () => {
    const c = child({ name: 'tpat%d', address: '10.92.0.1', prefixLength: 28 });
    const open = await c.next('open');
    expect(open.name).to.equal('tpat0');
    const addr = suite.ns().run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'tpat0']);
    expect(addr).to.contain('inet 10.92.0.1/28');
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('leaves the interface down and IPv6 alone when asked', async () => {
    const c = child({ name: 'tdown0', address: '10.93.0.1', up: false, disableIpv6: false });
    await c.next('open');
    expect(Number(suite.ns().read('/sys/class/net/tdown0/flags')) & 0x1).to.equal(0);
    expect(suite.ns().read('/proc/sys/net/ipv6/conf/tdown0/disable_ipv6')).to.equal('0');
    // Writing to a down TUN fails with EIO: counted as a drop, not thrown.
    c.command({ cmd: 'send', hex: Buffer.from(icmpEchoRequest('10.93.0.2', '10.93.0.1', 1, 1, new Uint8Array(8))).toString('hex') });
    const sent = await c.next('sent');
    expect(sent.stats).to.include({ txPackets: 0, txDropped: 1 });
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('delivers a UDP datagram the kernel sends to the peer as one IPv4 packet', async () => {
    const c = child({ name: 'trx0', address: '10.94.0.1', peer: '10.94.0.2' });
    await c.next('open');
    c.command({ cmd: 'start' });
    await c.next('started');
    await suite.ns().node(UDP_SEND_SCRIPT, ['10.94.0.2', '4000', '1', 'hello-tun']);
    const [packet] = await c.packets(1);
    const ip = readIpv4(packet!);
    expect(ip).to.include({ version: 4, protocol: 17, src: '10.94.0.1', dst: '10.94.0.2' });
    const data = Buffer.from(ip.payload.subarray(8)).toString();
    expect(data).to.equal('hello-tun:0');
    expect(new DataView(ip.payload.buffer, ip.payload.byteOffset).getUint16(2)).to.equal(4000);
    c.command({ cmd: 'stats' });
    const stats = await c.next('stats');
    expect(stats.nonIpv4, 'no IPv6 (router solicitations) in the device').to.equal(0);
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('writes an ICMP echo request the kernel answers, and the reply is read back', async () => {
    const c = child({ name: 'tping0', address: '10.95.0.1', peer: '10.95.0.2' });
    await c.next('open');
    c.command({ cmd: 'start' });
    await c.next('started');
    const data = Buffer.from('tcp-tun ping payload');
    const request = icmpEchoRequest('10.95.0.2', '10.95.0.1', 0x4242, 7, data);
    c.command({ cmd: 'send', hex: Buffer.from(request).toString('hex') });
    const sent = await c.next('sent');
    expect(sent.stats).to.include({ txPackets: 1, txBytes: request.length, txDropped: 0 });
    const [reply] = await c.packets(1);
    const ip = readIpv4(reply!);
    expect(ip).to.include({ protocol: 1, src: '10.95.0.1', dst: '10.95.0.2' });
    const icmp = ip.payload;
    expect(icmp[0], 'echo reply').to.equal(0);
    const v = new DataView(icmp.buffer, icmp.byteOffset);
    expect(v.getUint16(4)).to.equal(0x4242);
    expect(v.getUint16(6)).to.equal(7);
    expect(Buffer.from(icmp.subarray(8)).toString()).to.equal(data.toString());
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('writes a UDP datagram a kernel socket receives', async () => {
    const c = child({ name: 'ttx0', address: '10.96.0.1', peer: '10.96.0.2' });
    await c.next('open');
    const listener = suite.ns().spawn([process.execPath, '-e', UDP_RECV_SCRIPT, '--', '10.96.0.1', '5555']);
    const lines = createInterface({ input: listener.stdout! });
    const received = new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line === 'ready') {
          c.command({ cmd: 'send', hex: Buffer.from(udp('10.96.0.2', '10.96.0.1', 40000, 5555, Buffer.from('from-tun'))).toString('hex') });
        } else {
          resolve(line);
        }
      });
      listener.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    const line = await Promise.race([
      received,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('kernel received nothing')), 10_000))),
    ]);
    clearTimeout(timer);
    expect(JSON.parse(line)).to.deep.equal({ from: '10.96.0.2', port: 40000, data: 'from-tun' });
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('delivers a burst in batches of at most readBatch (the first packet alone), losing nothing', async () => {
    const count = 2000;
    const c = child({ name: 'tflood0', address: '10.97.0.1', peer: '10.97.0.2', txQueueLen: 5000, readBatch: 64 });
    await c.next('open');
    // Queue the burst before reading starts, so the drain sees a full queue at once.
    await suite.ns().node(UDP_SEND_SCRIPT, ['10.97.0.2', '4000', String(count), 'x'.repeat(100)]);
    c.command({ cmd: 'start', quiet: true });
    await c.next('started');
    let stats: Record<string, unknown> = {};
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      c.command({ cmd: 'stats' });
      const e = await c.next('stats');
      stats = e.stats as Record<string, unknown>;
      if ((stats.rxPackets as number) >= count) {
        expect(e.maxBatch).to.be.at.most(64).and.at.least(2);
        expect(e.firstBatch, 'the first packet of a drain is delivered on its own').to.equal(1);
        expect(e.nonIpv4).to.equal(0);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(stats.rxPackets).to.equal(count);
    expect(stats.rxBatches as number).to.be.at.least(Math.ceil(count / 64)).and.below(count);
    expect(suite.ns().read('/sys/class/net/tflood0/statistics/tx_dropped')).to.equal('0');
    c.command({ cmd: 'close' });
    await c.next('closed');
  });

  it('busy polling catches packets that follow within busyPollUs without waking the worker', async () => {
    // 10 ms gaps inside a 100 ms window: the first packet wakes the reader, polling catches the
    // rest. Without busy polling each packet needs its own wake-up. A packet after the window
    // has passed proves the reader handed the fd back to the worker.
    const stats = async (busyPollUs: number, name: string, third: string, gapMs: number): Promise<Record<string, number>> => {
      const c = child({ name, address: `10.${third}.0.1`, peer: `10.${third}.0.2`, busyPollUs });
      await c.next('open');
      c.command({ cmd: 'start' });
      await c.next('started');
      await suite.ns().node(UDP_PACED_SCRIPT, [`10.${third}.0.2`, '4000', '5', String(gapMs)]);
      await c.packets(5);
      await new Promise((r) => setTimeout(r, 600));
      await suite.ns().node(UDP_SEND_SCRIPT, [`10.${third}.0.2`, '4000', '1', 'late']);
      await c.packets(1);
      c.command({ cmd: 'stats' });
      const e = await c.next('stats');
      c.command({ cmd: 'close' });
      await c.next('closed');
      return e.stats as Record<string, number>;
    };
    const polled = await stats(100_000, 'tbusy0', '103', 10);
    expect(polled.rxPackets).to.equal(6);
    expect(polled.readinessWakeups, 'one wake-up per quiet period').to.equal(2);
    // Without polling every packet needs a wake-up of its own, unless the machine is so loaded
    // that the reader is still draining when the next one arrives (30 ms later): CI saw 4 of 6
    // under load. Two coalesced packets at most, and always more than the polled reader's two.
    const plain = await stats(0, 'tbusy1', '104', 30);
    expect(plain.rxPackets).to.equal(6);
    expect(plain.readinessWakeups, 'about one wake-up per packet').to.be.within((polled.readinessWakeups ?? 0) + 2, 6);
  });

  it('fails with ERR_TUN_BUSY when another process holds the device', async () => {
    const holder = child({ name: 'tbusy0', address: '10.98.0.1', peer: '10.98.0.2' });
    await holder.next('open');
    const other = child({ name: 'tbusy0' });
    const error = await other.next('error');
    expect(error).to.include({ code: 'ERR_TUN_BUSY', errno: 'EBUSY', syscall: 'ioctl(TUNSETIFF)' });
    // Same in one process: the device is bound to the first fd.
    holder.command({ cmd: 'open', options: { name: 'tbusy0' } });
    expect(await holder.next('error2')).to.include({ code: 'ERR_TUN_BUSY' });
    holder.command({ cmd: 'close' });
    await holder.next('closed');
  });

  it('attaches to an existing persistent TUN device', async () => {
    suite.ns().run(['ip', 'tuntap', 'add', 'dev', 'tpers0', 'mode', 'tun']);
    const c = child({ name: 'tpers0', address: '10.99.0.1', peer: '10.99.0.2', mtu: 1280 });
    expect(await c.next('open')).to.include({ name: 'tpers0' });
    expect(suite.ns().read('/sys/class/net/tpers0/mtu')).to.equal('1280');
    c.command({ cmd: 'start' });
    await c.next('started');
    await suite.ns().node(UDP_SEND_SCRIPT, ['10.99.0.2', '4000', '1', 'persist']);
    const [packet] = await c.packets(1);
    expect(readIpv4(packet!).dst).to.equal('10.99.0.2');
    c.command({ cmd: 'close' });
    await c.next('closed');
    // Persistent: it outlives our fd.
    expect(suite.ns().read('/sys/class/net/tpers0/mtu')).to.equal('1280');
    suite.ns().run(['ip', 'tuntap', 'del', 'dev', 'tpers0', 'mode', 'tun']);
  });

  it('fails with ERR_TUN_CONFIG when the name belongs to a TAP device', async () => {
    suite.ns().run(['ip', 'tuntap', 'add', 'dev', 'ttap0', 'mode', 'tap']);
    const c = child({ name: 'ttap0' });
    const error = await c.next('error');
    expect(error).to.include({ code: 'ERR_TUN_CONFIG', errno: 'EINVAL', syscall: 'ioctl(TUNSETIFF)' });
    suite.ns().run(['ip', 'tuntap', 'del', 'dev', 'ttap0', 'mode', 'tap']);
  });

  it("emits 'error' (ERR_TUN_IO) when the interface is deleted under it, and still closes", async () => {
    const c = child({ name: 'tgone0', address: '10.104.0.1', peer: '10.104.0.2' });
    await c.next('open');
    c.command({ cmd: 'start' });
    await c.next('started');
    suite.ns().run(['ip', 'link', 'del', 'tgone0']);
    const error = await c.next('device-error');
    expect(error).to.include({ code: 'ERR_TUN_IO', errno: 'EBADFD', syscall: 'read' });
    c.command({ cmd: 'close' });
    await c.next('closed');
    expect(await c.exited(5_000)).to.equal(0);
  });

  it('fails with ERR_TUN_PERMISSION without CAP_NET_ADMIN', async () => {
    const c = child({ name: 'tperm0', address: '10.103.0.1' }, { ...process.env, TUN_CHILD_DROP_PRIVILEGES: '1' });
    const error = await c.next('error');
    expect(error.code).to.equal('ERR_TUN_PERMISSION');
    expect(error.errno).to.be.oneOf(['EACCES', 'EPERM']);
    expect(error.message).to.contain('CAP_NET_ADMIN');
  });

  it('close() is idempotent, stops use, and lets the process exit', async () => {
    const c = child({ name: 'tclose0', address: '10.100.0.1', peer: '10.100.0.2' });
    await c.next('open');
    c.command({ cmd: 'start' });
    await c.next('started');
    c.command({ cmd: 'close' });
    const closed = await c.next('closed');
    expect(closed).to.include({ same: true, start: 'ERR_TUN_CLOSED' });
    expect(closed.send, 'send after close is a counted drop, not a throw').to.equal(undefined);
    expect(await c.exited(5_000), 'child exits within 5 s after close()').to.equal(0);
    // The non-persistent device went away with the fd.
    expect(suite.ns().run(['ip', '-o', 'link', 'show'])).not.to.contain('tclose0');
  });

  it('process.exit() without close() returns promptly while the reader is started', async () => {
    const c = child({ name: 'texit0', address: '10.101.0.1', peer: '10.101.0.2' });
    await c.next('open');
    c.command({ cmd: 'start' });
    await c.next('started');
    c.command({ cmd: 'exit' });
    expect(await c.exited(5_000), 'child exits within 5 s').to.equal(0);
  });

  it('an unref()ed device does not keep the process alive', async () => {
    const c = child({ name: 'tunref0', address: '10.102.0.1', peer: '10.102.0.2' });
    await c.next('open');
    c.command({ cmd: 'start' });
    await c.next('started');
    c.command({ cmd: 'unref' });
    await c.next('unrefed');
    expect(await c.exited(5_000), 'child exits within 5 s').to.equal(0);
  });
});
