/**
 * Issue 9's nine behaviours, one group each, over two stacks (or one, for loopback). The
 * differential suite (conformance/) compares whole traces with node:net; these tests pin the
 * behaviours down where a trace cannot (the wire, the stack's tables, the process).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ADDR_A, ADDR_B, makePair, nextError, readAll, sleep, type Pair } from './__tests__/harness.js';
import { createLinkPair } from './link-pair.js';
import type { Socket } from './socket.js';
import { Stack } from './stack.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

function listen(pair: Pair, port: number, onConnection: (s: Socket) => void, options: { allowHalfOpen?: boolean } = {}): Promise<void> {
  const server = pair.b.net.createServer(options, onConnection);
  server.listen(port);
  return once(server, 'listening').then(() => undefined);
}

describe('fidelity (issue 9)', () => {
  let pair: Pair;
  beforeEach(() => {
    pair = makePair();
  });
  afterEach(async () => {
    await pair.close();
  });

  describe('1. the handle boundary', () => {
    it('socket.ts and server.ts import no stack code and no connection records', () => {
      for (const file of ['socket.ts', 'server.ts', 'net-api.ts']) {
        const source = readFileSync(here(`./${file}`), 'utf8');
        const imports = [...source.matchAll(/from '(\.[^']+)'/g)].map((m) => m[1]);
        expect(imports, file).to.not.include('./stack.js');
        expect(imports, file).to.not.include('./internal.js');
        expect(source, file).to.not.match(/\.conn\b|\bentry\.|\._schedule|\._release|removed/);
      }
    });
  });

  describe('2. a node:net Socket and Server', () => {
    it('sockets and servers are instances of node:net classes; the constructors are callable as Node\'s', async () => {
      const server = pair.b.net.Server((s) => s.end());
      expect(server).to.be.instanceOf(net.Server);
      server.listen(9);
      await once(server, 'listening');
      const socket: net.Socket = pair.a.net.connect(9, ADDR_B);
      expect(socket).to.be.instanceOf(net.Socket);
      expect(pair.a.net.Socket()).to.be.instanceOf(net.Socket);
      expect(new pair.a.net.Socket()).to.be.instanceOf(pair.a.net.Socket);
      socket.resume();
      await once(socket, 'close');
    });
  });

  describe('3. end of stream, destroy(), maxConnections', () => {
    it("emits 'end' and 'close' after the peer's FIN without a reader when nothing is buffered", async () => {
      await listen(pair, 10, (s) => s.end());
      const client = pair.a.net.connect(10, ADDR_B);
      // No 'data' listener, no read(): the end of stream still arrives and, with
      // allowHalfOpen false, ends our side too.
      await once(client, 'end');
      await once(client, 'close');
      expect(client.writableFinished).to.equal(true);
    });

    it('write(1 MiB) then destroy() in the callback delivers every byte, then a FIN (no reset)', async () => {
      const mib = Buffer.alloc(1024 * 1024, 7);
      await listen(pair, 11, (s) => s.write(mib, () => s.destroy()));
      const client = pair.a.net.connect(11, ADDR_B);
      const errors: Error[] = [];
      client.on('error', (e: Error) => errors.push(e));
      const got = await readAll(client);
      expect(got.length).to.equal(mib.length);
      expect(errors).to.deep.equal([]);
    });

    it('over maxConnections the server closes the connection (a FIN) and emits drop', async () => {
      const server = pair.b.net.createServer((s) => s.resume());
      server.maxConnections = 1;
      server.listen(12);
      await once(server, 'listening');
      const first = pair.a.net.connect(12, ADDR_B);
      await once(first, 'connect');
      const dropped = once(server, 'drop');
      const second = pair.a.net.connect(12, ADDR_B);
      const errors: Error[] = [];
      second.on('error', (e: Error) => errors.push(e));
      second.resume();
      await dropped;
      await once(second, 'end');
      expect(errors).to.deep.equal([]);
      first.destroy();
    });

    it('an orphan in FIN-WAIT-2 is bounded by tcp.finWait2TimeoutMs on the stack clock', async () => {
      let now = 0;
      const [la, lb] = createLinkPair();
      const a = new Stack({ link: la, address: ADDR_A, clock: () => now, tcp: { finWait2TimeoutMs: 1000 } });
      const b = new Stack({ link: lb, address: ADDR_B, clock: () => now });
      try {
        // The peer keeps its side open (allowHalfOpen) and never ends it.
        const server = b.net.createServer({ allowHalfOpen: true }, (s) => s.resume()).listen(13);
        await once(server, 'listening');
        const client = a.net.connect(13, ADDR_B);
        await once(client, 'connect');
        client.end();
        await sleep(20);
        client.destroy();
        await once(client, 'close');
        expect(a.connections().map((r) => [r.state, r.owned])).to.deep.equal([['FIN-WAIT-2', false]]);
        now += 999;
        a.runTimers();
        expect(a.connections()).to.have.length(1);
        now += 2;
        a.runTimers();
        expect(a.connections()).to.have.length(0);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });

  describe('4. process lifetime (child processes over the in-memory link)', function () {
    this.timeout(60_000);
    const child = (which: string): Promise<{ exited: boolean; out: string }> =>
      new Promise((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', here('./__tests__/lifetime-child.ts'), which], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        let grace: NodeJS.Timeout | undefined;
        p.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          if (grace === undefined && out.includes('armed\n')) {
            grace = setTimeout(() => {
              p.kill('SIGKILL');
            }, 1500);
          }
        });
        p.on('exit', (code, signal) => {
          clearTimeout(grace);
          resolve({ exited: signal === null && code === 0, out });
        });
      });
    it('a listening server holds the process; an unref\'d one does not', async () => {
      const [held, free] = await Promise.all([child('listening'), child('unref-server')]);
      expect(held.exited).to.equal(false);
      expect(free.exited).to.equal(true);
    });
    it("an open socket holds the process; an unref'd one does not", async () => {
      const [held, free] = await Promise.all([child('open-socket'), child('unref-socket')]);
      expect(held.exited).to.equal(false);
      expect(free.exited).to.equal(true);
    });
    it('an awaited answer keeps the process alive until it arrives, then it exits', async () => {
      const r = await child('awaited-echo');
      expect(r.out).to.include('got ping');
      expect(r.exited).to.equal(true);
    });
  });

  describe('5. writes after end, close and the peer\'s FIN', () => {
    it("gives Node's errors, each callback once", async () => {
      await listen(pair, 14, (s) => s.resume());
      const client = pair.a.net.connect(14, ADDR_B);
      await once(client, 'connect');
      const calls: string[] = [];
      const errors: string[] = [];
      client.on('error', (e: Error & { code?: string }) => errors.push(String(e.code)));
      const closed = new Promise((resolve) => client.once('close', resolve));
      client.end();
      client.write('late', (e) => calls.push(`after end: ${(e as { code?: string } | null)?.code}`));
      await closed;
      // Ended and closed: still "after end" (Writable checks that first, as in Node).
      client.write('later', (e) => calls.push(`after close: ${(e as { code?: string } | null)?.code}`));
      const other = new pair.a.net.Socket();
      other.destroy();
      other.write('never', (e) => calls.push(`destroyed: ${(e as { code?: string } | null)?.code}`));
      await sleep(5);
      expect(calls).to.deep.equal(['after end: ERR_STREAM_WRITE_AFTER_END', 'after close: ERR_STREAM_WRITE_AFTER_END', 'destroyed: ERR_STREAM_DESTROYED']);
      expect(errors).to.deep.equal(['ERR_STREAM_WRITE_AFTER_END']);
    });
  });

  describe('6. constructors and arguments', () => {
    it("validates as Node's", async () => {
      expect(() => pair.a.net.connect({ port: 70000, host: ADDR_B })).to.throw(RangeError).with.property('code', 'ERR_SOCKET_BAD_PORT');
      expect(() => pair.a.net.connect({ port: 1, host: ADDR_B, lookup: 42 as never })).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
      const s = pair.b.net.createServer().listen(15);
      expect(() => s.listen(16)).to.throw().with.property('code', 'ERR_SERVER_ALREADY_LISTEN');
      s.close();
      const fresh = new pair.a.net.Socket();
      fresh.resetAndDestroy();
      expect((await nextError(fresh)).code).to.equal('ERR_SOCKET_CLOSED');
    });
    it('connect(server.address()) and reconnect after close', async () => {
      const server = pair.a.net.createServer((s) => s.end('x')).listen(17);
      await once(server, 'listening');
      const address = server.address();
      expect(address).to.include({ family: 'IPv4', port: 17 });
      const client = pair.a.net.connect(address as net.AddressInfo);
      client.resume();
      await once(client, 'close');
      client.connect(17, ADDR_A);
      await once(client, 'connect');
      client.resume();
      await once(client, 'close');
    });
  });

  describe('6b. cork, bufferSize, onread, captureRejections', () => {
    it('cork() before connect, bufferSize, and the onread option', async () => {
      await listen(pair, 21, (s) => s.end('abcdefgh'));
      const chunks: string[] = [];
      const buffer = Buffer.alloc(3);
      const client = new pair.a.net.Socket({ onread: { buffer, callback: (n, buf) => chunks.push(buf.subarray(0, n).toString()) > 0 } });
      client.cork();
      client.write('12');
      client.write('34');
      expect(client.bufferSize).to.equal(undefined);
      client.connect(21, ADDR_B);
      client.uncork();
      await once(client, 'close');
      expect(chunks.join('')).to.equal('abcdefgh');
      expect(chunks.every((c) => c.length <= 3)).to.equal(true);
      expect(client.bytesWritten).to.equal(4);
    });
    it('captureRejections turns a rejected async listener into an error event', async () => {
      await listen(pair, 22, (s) => s.end('x'));
      const client = pair.a.net.connect({ port: 22, host: ADDR_B, captureRejections: true });
      client.on('data', async () => {
        throw new Error('from an async listener');
      });
      const err = await nextError(client);
      expect(err.message).to.equal('from an async listener');
    });
  });

  describe('7. names', () => {
    it("honours the lookup option (Node's signature) and emits 'lookup'; a stack takes a default", async () => {
      await listen(pair, 18, (s) => s.end('named'));
      const lookups: unknown[] = [];
      const client = pair.a.net.connect({
        port: 18,
        host: 'server.test',
        lookup: (host, _opts, cb) => {
          lookups.push(host);
          // Asynchronously, as dns.lookup: a synchronous answer emits 'lookup' inside connect().
          setImmediate(() => (cb as (e: null, a: string, f: number) => void)(null, ADDR_B, 4));
        },
      });
      const events: unknown[] = [];
      client.on('lookup', (err, address, family, host) => events.push([err, address, family, host]));
      expect(String(await readAll(client))).to.equal('named');
      expect(lookups).to.deep.equal(['server.test']);
      expect(events).to.deep.equal([[null, ADDR_B, 4, 'server.test']]);

      const [la, lb] = createLinkPair();
      const named = new Stack({ link: la, address: '10.1.0.1', lookup: (_h, _o, cb) => (cb as (e: null, a: string, f: number) => void)(null, '10.1.0.2', 4) });
      const peer = new Stack({ link: lb, address: '10.1.0.2' });
      try {
        peer.net.createServer((s) => s.end('default')).listen(19);
        expect(String(await readAll(named.net.connect(19, 'anything.test')))).to.equal('default');
        const bad = pair.a.net.connect(18, 'no-such-host.invalid');
        expect((await nextError(bad)).code).to.equal('ENOTFOUND');
      } finally {
        await Promise.all([named.close(), peer.close()]);
      }
    });
  });

  describe('8. loopback', () => {
    it('a stack connects to its own address and to 127.0.0.1 without the link, counted in stats()', async () => {
      const server = pair.a.net.createServer((s) => s.pipe(s)).listen(20);
      await once(server, 'listening');
      const before = pair.a.stats();
      for (const host of [ADDR_A, '127.0.0.1', 'localhost']) {
        const c = pair.a.net.connect(20, host);
        c.end(`to ${host}`);
        expect(String(await readAll(c))).to.equal(`to ${host}`);
      }
      const after = pair.a.stats();
      expect(after.packetsOut, 'nothing crossed the link').to.equal(before.packetsOut);
      expect(after.loopbackPackets).to.be.greaterThan(before.loopbackPackets);
    });
  });
});
