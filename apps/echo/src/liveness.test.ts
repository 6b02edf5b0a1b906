/**
 * The echo app's liveness flags (issue 10): each parsed, and each one's behaviour over two
 * in-memory stacks, with short times so the tests take about a second each.
 */
import { expect } from 'chai';
import type { Duplex } from 'node:stream';
import { createLinkPair, Stack } from '@tcp-tun/net';
import { CuttableLink, usageExitCodes } from '../../../testing/cli-tests.js';
import { parseEchoOptions } from './options.js';
import { startService } from './services.js';

const argv = (...args: string[]): string[] => ['node', 'tcp-tun-echo', ...args];
const SERVER = '10.9.1.2';
const CLIENT = '10.9.1.1';

function usageErrors(args: string[][]): number[] {
  return usageExitCodes(args, (bad) => parseEchoOptions(argv(...bad)));
}

describe('tcp-tun-echo liveness flags', function () {
  this.timeout(20_000);

  describe('parsing', () => {
    it('are off by default', () => {
      expect(parseEchoOptions(argv())).to.include({ keepAliveMs: undefined, userTimeoutMs: undefined, idleTimeoutMs: undefined, maxConnections: undefined });
    });

    it('reads seconds as ms (fractions allowed), ms and counts', () => {
      const o = parseEchoOptions(argv('--keepalive', '2', '--user-timeout', '1500', '--idle-timeout', '0.5', '--max-connections', '100', '--time-wait-max', '5000'));
      expect(o).to.include({ keepAliveMs: 2000, userTimeoutMs: 1500, idleTimeoutMs: 500, maxConnections: 100, timeWaitMax: 5000 });
    });

    it('rejects bad values with a usage error', () => {
      const exits = usageErrors([
        ['--keepalive', '0'], ['--keepalive', 'x'], ['--keepalive', '-1'], ['--keepalive', '3000000'],
        ['--user-timeout', '-5'], ['--user-timeout', '1.5'], ['--idle-timeout', ''], ['--max-connections', '-1'], ['--time-wait-max', '-1'],
      ]);
      expect(exits).to.have.length(9);
      expect(exits.every((c) => c !== 0)).to.equal(true);
    });
  });

  describe('behaviour over two in-memory stacks', () => {
    let server: Stack;
    let client: Stack;
    let cut: () => void;

    function pair(serverTcp: ConstructorParameters<typeof Stack>[0]['tcp'] = {}): void {
      const [a, b] = createLinkPair();
      const ca = new CuttableLink(a);
      const cb = new CuttableLink(b);
      server = new Stack({ link: ca, address: SERVER, tcp: serverTcp });
      client = new Stack({ link: cb, address: CLIENT });
      cut = () => {
        ca.cut = true;
        cb.cut = true;
      };
    }

    afterEach(async () => {
      await client?.close();
      await server?.close();
    });

    const connect = (port = 7): Promise<Duplex> =>
      new Promise((resolve, reject) => {
        const s = client.net.connect({ host: SERVER, port }, () => resolve(s));
        s.once('error', reject);
      });

    const echoed = (s: Duplex, text: string): Promise<string> =>
      new Promise((resolve) => {
        s.once('data', (d: Buffer) => resolve(d.toString()));
        s.write(text);
      });

    it('--idle-timeout closes a connection idle that long, not one in use', async () => {
      pair();
      await startService(server, 'echo', 7, { idleTimeoutMs: 300 });
      const idle = await connect();
      const busy = await connect();
      const started = performance.now();
      const idleEnded = new Promise<number>((resolve) => idle.once('end', () => resolve(performance.now() - started)));
      idle.resume();
      // Keep the other one busy past the idle time.
      for (let i = 0; i < 6; i++) {
        expect(await echoed(busy, `ping ${i}`)).to.equal(`ping ${i}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const after = await idleEnded;
      expect(after, 'closed after ~300 ms idle').to.be.within(250, 2000);
      expect(await echoed(busy, 'still here')).to.equal('still here');
    });

    it('--max-connections closes connections past the limit at once and serves the others', async () => {
      pair();
      await startService(server, 'echo', 7, { maxConnections: 2 });
      const a = await connect();
      const b = await connect();
      const c = await connect();
      const closedAtOnce = new Promise<void>((resolve) => {
        c.once('close', () => resolve());
        c.once('error', () => undefined);
        c.resume();
      });
      await closedAtOnce;
      expect(await echoed(a, 'a')).to.equal('a');
      expect(await echoed(b, 'b')).to.equal('b');
    });

    it('--keepalive probes an idle peer every interval and drops it once it is gone silently', async () => {
      // The app sets idle time and interval alike (as curl's --keepalive-time).
      pair({ keepAliveIdleMs: 200, keepAliveIntervalMs: 200, keepAliveProbes: 3 });
      await startService(server, 'echo', 7, { keepAliveMs: 200 });
      const s = await connect();
      s.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 700));
      const probes = server.connections()[0]?.keepAliveProbes ?? 0;
      expect(probes, 'probes sent to a live, idle peer').to.be.at.least(2);
      expect(server.connections()[0]?.state).to.equal('ESTABLISHED');
      cut();
      // Gone without a word: 3 unanswered probes 200 ms apart end it.
      const deadline = performance.now() + 5000;
      while (server.connections().length > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(server.connections(), 'the dead connection is gone').to.deep.equal([]);
    });

    it('--user-timeout resets a connection whose data stays unacknowledged that long', async () => {
      pair();
      await startService(server, 'source', 19, { userTimeoutMs: 500 });
      const s = await connect(19);
      s.on('error', () => undefined);
      s.resume();
      await new Promise((r) => setTimeout(r, 100));
      cut();
      const started = performance.now();
      while (server.connections().length > 0 && performance.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
      const took = performance.now() - started;
      expect(server.connections()).to.deep.equal([]);
      // Without it the retransmission limit (15 RTOs, minutes) would decide.
      expect(took, 'ended by the user timeout').to.be.within(300, 3000);
    });
  });
});
