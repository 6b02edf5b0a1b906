/**
 * Heap cost of idle connections at the socket level (issue 11: ≤ 4 KiB each): two stacks over an
 * in-memory link, a server that accepts and keeps its sockets, N client sockets handshaken and
 * left idle, as `bench` idle holds them against apps/echo. Each connection costs two halves here
 * (a client `Socket` and an accepted one, each with its engine and stack record); the figure is
 * per half, which is what one side of a real connection holds.
 *
 * The engine alone has its own bound (packages/tcp memory.test.ts). Measured (Node 20) in
 * bench/PROFILE.md rounds 5 and 6; the bound leaves room for V8's variation and the random ISNs (a
 * sequence number ≥ 2^31 costs a heap number), so an object or a boxed field added to every
 * connection shows up here.
 */
import { expect } from 'chai';
import { Socket as NodeSocket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ADDR_A, ADDR_B } from './__tests__/harness.js';
import { createLinkPair } from './link-pair.js';
import type { Server } from './server.js';
import type { Socket } from './socket.js';
import { Stack } from './stack.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Heap per idle half connection (client or accepted side), octets. Measured (Node 20, N=2000)
 * 3,849-3,896 B over IPv4 and 4,051-4,104 B over IPv6 after round 5; 3,285-3,356 B over both
 * after round 6 (runs varied by ±150 B before the engine's sequence numbers became Smis, less
 * since). The bound leaves ~350 B above the highest so the test does not flake on a loaded
 * machine.
 */
const BUDGET: Record<4 | 6, number> = { 4: 3712, 6: 3712 };
const N = Number(process.env.IDLE_N ?? 2000);
const WARM = 200;
const BATCH = 50;

async function measure(family: 4 | 6): Promise<number> {
  const [la, lb] = createLinkPair({ mtu: 1500 });
  let now = 1000;
  const clock = (): number => now;
  const a = new Stack({ link: la, address: ADDR_A, address6: 'fd00::1', clock });
  const b = new Stack({ link: lb, address: ADDR_B, address6: 'fd00::2', clock });
  const host = family === 4 ? ADDR_B : 'fd00::2';
  const accepted: Socket[] = [];
  const server: Server = b.net.createServer();
  server.on('connection', (s: Socket) => accepted.push(s));
  await new Promise<void>((resolve) => server.listen(7, host, resolve));
  const clients: Socket[] = [];
  /** Opens `n` connections, `BATCH` at a time (within the listener's backlog), each accepted. */
  const open = async (n: number): Promise<void> => {
    for (let done = 0; done < n; done += BATCH) {
      const k = Math.min(BATCH, n - done);
      const target = accepted.length + k;
      await new Promise<void>((resolve) => {
        let connected = 0;
        const check = (): void => {
          if (connected === k && accepted.length >= target) resolve();
        };
        server.on('connection', check);
        for (let i = 0; i < k; i++) {
          const s = a.net.connect({ port: 7, host }, () => {
            connected++;
            check();
          });
          clients.push(s);
        }
      });
      server.removeAllListeners('connection');
      server.on('connection', (s: Socket) => accepted.push(s));
      now += 1;
    }
  };
  try {
    await open(WARM);
    const before = heapUsed();
    await open(N);
    const per = (heapUsed() - before) / (2 * N);
    expect(clients.length).to.equal(WARM + N);
    expect(accepted.length).to.equal(WARM + N);
    for (const s of accepted) expect(s.remoteAddress).to.be.a('string');
    // No listener per connection from the socket layer (a once('close') of the server was ~250 B
    // each): what an accepted socket listens to is what Node's own Socket does ('end').
    const nodeOwn = new NodeSocket();
    for (const event of ['close', 'end', 'error', 'data', 'finish']) expect(accepted[0]!.listenerCount(event), event).to.equal(nodeOwn.listenerCount(event));
    nodeOwn.destroy();
    return per;
  } finally {
    for (const s of clients) s.destroy();
    for (const s of accepted) s.destroy();
    server.close();
    await Promise.all([a.close(), b.close()]);
  }
}

describe('socket-level heap per idle connection', function () {
  this.timeout(120_000);

  for (const family of [4, 6] as const) {
    it(`IPv${family}: ${N} idle connections (both sides) stay within ${BUDGET[family]} B per side`, async () => {
      const per = await measure(family);
      // Reported so a regression is visible in the test output.
      console.log(`      IPv${family}: heap per idle connection side ${per.toFixed(0)} B`);
      expect(per).to.be.below(BUDGET[family]);
    });
  }
});
