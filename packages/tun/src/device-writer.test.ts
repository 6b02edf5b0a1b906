/**
 * The writer thread (`writer: 'worker' | 'auto'`, write-worker.ts) through a real TUN device in
 * a network namespace the suite creates: a numbered run of UDP datagrams written by the device
 * reaches a kernel socket complete, in order and intact — one packet per write, with and without
 * the virtio-net header, and when the device is closed right after the last send. Needs
 * CAP_NET_ADMIN: skipped loudly without it, a failure when env CI is set.
 */
import { expect } from 'chai';
import { createInterface } from 'node:readline';
import { UDP_RECV_RUN_SCRIPT, useTunSuite } from './__tests__/netns.js';

const NS = `tcptun-tunw-${process.pid}`;

describe('TunDevice with a writer thread, in a network namespace', function () {
  this.timeout(30_000);
  const suite = useTunSuite(NS, 'TUN writer tests');

  /** Opens a device with `options`, sends `count` numbered datagrams to a kernel socket, returns what it got. */
  async function run(name: string, third: number, options: object, count: number, close: boolean): Promise<{ order: number[]; bad: number; stats: Record<string, number> }> {
    const c = suite.child({ name, address: `10.${third}.0.1`, peer: `10.${third}.0.2`, ...options });
    await c.next('open');
    const listener = suite.ns().spawn([process.execPath, '-e', UDP_RECV_RUN_SCRIPT, '--', `10.${third}.0.1`, '6000', String(count)]);
    const lines = createInterface({ input: listener.stdout! });
    const result = new Promise<{ order: number[]; bad: number }>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line === 'ready') {
          c.command({ cmd: 'sendUdp', udp: { src: `10.${third}.0.2`, dst: `10.${third}.0.1`, srcPort: 40000, dstPort: 6000, count, batch: 16, close } });
        } else {
          resolve(JSON.parse(line) as { order: number[]; bad: number });
        }
      });
      listener.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
    });
    const got = await result;
    const event = await c.next(close ? 'closed' : 'sent');
    if (!close) {
      c.command({ cmd: 'close' });
      await c.next('closed');
    }
    expect(await c.exited(5_000), 'the child exits after close()').to.equal(0);
    return { ...got, stats: event.stats as Record<string, number> };
  }

  const inOrder = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

  it("'worker': every packet arrives, in order and intact", async () => {
    const { order, bad, stats } = await run('twrk0', 111, { writer: 'worker' }, 300, false);
    expect(bad, 'datagrams with a wrong payload').to.equal(0);
    expect(order).to.deep.equal(inOrder(300));
    expect(stats).to.include({ txQueued: 300, txDropped: 0 });
  });

  it("'worker' with offload: the zeroed virtio-net header goes with each packet", async () => {
    const { order, bad, stats } = await run('twrk1', 112, { writer: 'worker', offload: true }, 300, false);
    expect(bad).to.equal(0);
    expect(order).to.deep.equal(inOrder(300));
    expect(stats).to.include({ txQueued: 300, txDropped: 0 });
  });

  it("'auto', closed right after the last send: inline and queued packets keep their order, close() writes the rest", async () => {
    const { order, bad, stats } = await run('twrk2', 113, { writer: 'auto' }, 300, true);
    expect(bad).to.equal(0);
    expect(order).to.deep.equal(inOrder(300));
    expect(stats.txQueued, 'the first packets of the first batch go inline').to.be.within(1, 298);
    expect(stats).to.include({ txPackets: 300, txDropped: 0 });
  });
});
