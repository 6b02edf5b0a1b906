import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Link } from './link.js';
import { createLinkPair } from './link-pair.js';
import type { Socket } from './socket.js';
import { warmUp } from './warm-up.js';

describe('warmUp', () => {
  it('runs the asked number of connections to completion', async () => {
    const report = await warmUp({ connections: 24, budgetMs: 10_000, concurrency: 3 });
    expect(report.connections).to.equal(24);
    expect(report.failed).to.equal(0);
    expect(report.elapsedMs).to.be.greaterThan(0);
  });

  it('warms IPv6 alone, and both families in turn, to completion (with and without GSO send)', async () => {
    for (const segmentationOffload of [false, true]) {
      for (const families of [[6], [4, 6]] as const) {
        const report = await warmUp({ connections: 12, budgetMs: 10_000, concurrency: 3, families, segmentationOffload });
        expect(report, `families ${families.join(',')}, offload ${String(segmentationOffload)}`).to.include({ connections: 12, failed: 0 });
      }
    }
  });

  it('refuses a family list naming neither 4 nor 6', async () => {
    let caught: unknown;
    try {
      await warmUp({ families: [] });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(RangeError);
  });

  it('leaves nothing that keeps the process alive', function () {
    this.timeout(30_000);
    // A child that only warms up must exit by itself at once: no timer, immediate, link or
    // TIME-WAIT record (a 60 s timer) of the private stacks is left.
    const module = fileURLToPath(new URL('./warm-up.ts', import.meta.url));
    const code = `const { warmUp } = await import(${JSON.stringify(module)}); const r = await warmUp({ connections: 30, budgetMs: 10000 }); process.stdout.write(r.connections + ' ' + r.failed);`;
    const started = performance.now();
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).to.equal('');
    expect(result.stdout).to.equal('30 0');
    expect(result.status).to.equal(0);
    expect(performance.now() - started).to.be.lessThan(15_000);
  });

  it("completes its connections over links with the device's GSO send (checksums finished as the kernel does)", async () => {
    const report = await warmUp({ connections: 12, budgetMs: 10_000, concurrency: 3, segmentationOffload: true });
    expect(report).to.include({ connections: 12, failed: 0 });
  });

  it('starts no connection once the budget is spent', async () => {
    const report = await warmUp({ connections: 1000, budgetMs: 0 });
    expect(report).to.include({ connections: 0, failed: 0 });
  });

  it("hands accepted sockets to the application's handler", async () => {
    let accepted = 0;
    const onConnection = (socket: Socket): void => {
      accepted++;
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.on('end', () => socket.end());
    };
    const report = await warmUp({ connections: 6, budgetMs: 10_000, concurrency: 2, onConnection });
    expect(accepted).to.equal(6);
    expect(report.connections).to.equal(6);
  });

  it('counts a connection that does not complete as failed, without rejecting', async () => {
    // A handler that never answers: every client waits for its echo until the per-connection
    // bound and gives up.
    const report = await warmUp({ connections: 2, budgetMs: 10_000, concurrency: 2, onConnection: (s) => s.on('error', () => undefined) });
    expect(report).to.include({ connections: 0, failed: 2 });
  });

  it('runs over the links it is given, unwrapped, and closes them', async () => {
    // Links that count what passes, as a device pair would be given (apps/echo passes
    // @tcp-tun/tun's openWarmUpPair()).
    const counted = (link: Link): Link & { sent: number; closed: boolean } => {
      const out = {
        mtu: link.mtu,
        sent: 0,
        closed: false,
        start: (receiver: Parameters<Link['start']>[0]) => link.start(receiver),
        send: (packet: Uint8Array) => {
          out.sent++;
          link.send(packet);
        },
        close: async () => {
          out.closed = true;
          await link.close();
        },
      };
      return out;
    };
    const [a, b] = createLinkPair();
    const server = counted(a);
    const client = counted(b);
    const report = await warmUp({ connections: 8, budgetMs: 10_000, concurrency: 2, links: [server, client] });
    expect(report).to.include({ connections: 8, failed: 0 });
    // SYN, ACK, data and FINs each way: several packets per connection on each side.
    expect(server.sent).to.be.at.least(8 * 3);
    expect(client.sent).to.be.at.least(8 * 3);
    expect(server.closed && client.closed).to.equal(true);
  });
});
