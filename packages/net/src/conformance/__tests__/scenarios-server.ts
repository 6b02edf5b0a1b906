/**
 * Servers: close, getConnections, maxConnections, 'drop', listen errors (issue 9 behaviours
 * 3 and 6). Ported from Node v20's test-net-server-max-connections, -server-drop-connections,
 * -server-max-connections-close-makes-more-available, -server-close, -listen-twice,
 * -eaddrinuse, -server-call-listen-multiple-times, -listening, -server-unref.
 */
import { EventEmitter } from 'node:events';
import type * as nodeNet from 'node:net';
import { expect } from 'chai';
import { accept, connectClient, has, inOrder, lacks, scenario } from './common.js';
import type { Scenario } from './harness.js';

export const SERVER_SCENARIOS: Scenario[] = [
  scenario({
    id: 'max-connections-closes-the-excess',
    covers: [3],
    from: 'test-net-server-max-connections, test-net-server-drop-connections',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      server.maxConnections = 1;
      const accepted = accept(ctx, server);
      const first = connectClient(ctx, port, 'client1');
      await ctx.connected(first);
      await accepted;
      const dropped = ctx.next(server, 'drop');
      const second = connectClient(ctx, port, 'client2');
      await dropped;
      await ctx.closed(second);
      first.end();
      await ctx.closed(first);
    },
    expect(t) {
      inOrder(t['client2'], 'connect', 'end', 'close hadError=false');
      lacks(t['client2'], 'error');
      inOrder(t['server'], 'connection', 'drop keys=localAddress,localFamily,localPort,remoteAddress,remoteFamily,remotePort');
    },
  }),
  scenario({
    id: 'max-connections-zero-is-no-limit',
    covers: [3],
    from: 'test-net-server-drop-connections (in Node 20, maxConnections 0 means no limit)',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.end('served');
      });
      server.maxConnections = 0;
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.end('anyone?');
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'data "served"', 'end', 'close hadError=false');
      inOrder(t['server'], 'connection', 'data "anyone?"', 'end', 'close hadError=false');
      lacks(t['server'], 'drop');
    },
  }),
  scenario({
    id: 'max-connections-close-makes-room',
    covers: [3],
    from: 'test-net-server-max-connections-close-makes-more-available',
    async run(ctx) {
      let n = 0;
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, `server-c${++n}`);
        s.end('welcome');
      });
      server.maxConnections = 1;
      const first = accept(ctx, server);
      const a = connectClient(ctx, port, 'client1');
      await Promise.all([ctx.closed(a), first.then((s) => ctx.closed(s))]);
      const second = accept(ctx, server);
      const b = connectClient(ctx, port, 'client2');
      await Promise.all([ctx.closed(b), second.then((s) => ctx.closed(s))]);
      server.close();
      await ctx.closed(server);
    },
    expect(t) {
      inOrder(t['client1'], 'connect', 'data "welcome"', 'close hadError=false');
      inOrder(t['client2'], 'connect', 'data "welcome"', 'close hadError=false');
      lacks(t['server'], 'drop');
    },
  }),
  scenario({
    id: 'get-connections-counts',
    covers: [3],
    from: 'test-net-server-close',
    async run(ctx) {
      const { server, port } = await ctx.server('server');
      server.getConnections(ctx.cb('server', 'getConnections@0'));
      const sockets: nodeNet.Socket[] = [];
      for (let i = 1; i <= 2; i++) {
        const acc = accept(ctx, server);
        sockets.push(connectClient(ctx, port, `client${i}`));
        const s = ctx.watch(await acc, `server-s${i}`);
        sockets.push(s);
        await ctx.connected(sockets[sockets.length - 2]!);
        await new Promise<void>((resolve) => server.getConnections((err, n) => (ctx.rec('server', `getConnections@${i} ${String(err)} ${n}`), resolve())));
      }
      for (const s of sockets) s.end();
      await Promise.all(sockets.map((s) => ctx.closed(s)));
      await new Promise<void>((resolve) => server.getConnections((err, n) => (ctx.rec('server', `getConnections@end ${String(err)} ${n}`), resolve())));
    },
    boundMs: 2000,
    expect(t) {
      has(t['server'], 'getConnections@1 null 1', 'getConnections@2 null 2', 'getConnections@end null 0');
    },
  }),
  scenario({
    id: 'server-close-waits-for-connections',
    covers: [3],
    from: 'test-net-server-close',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await ctx.connected(client);
      const s = await accepted;
      server.close(ctx.cb('server', 'close'));
      ctx.rec('server', `listening=${String(server.listening)}`);
      await ctx.turns(5);
      ctx.rec('server', 'client ends');
      client.end();
      await Promise.all([ctx.closed(client), ctx.closed(s), ctx.closed(server)]);
      await ctx.turns(2);
    },
    expect(t) {
      inOrder(t['server'], 'connection', 'listening=false', 'client ends', 'end', 'finish', 'server-close', 'cb close()', 'close hadError=false');
    },
  }),
  scenario({
    id: 'server-close-refuses-new-connections',
    covers: [3],
    from: 'test-net-server-close',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const first = connectClient(ctx, port, 'client1');
      await ctx.connected(first);
      const s = await accepted;
      server.close();
      const second = connectClient(ctx, port, 'client2');
      await ctx.closed(second);
      first.end();
      await Promise.all([ctx.closed(first), ctx.closed(s), ctx.closed(server)]);
    },
    expect(t) {
      expect(t['client2']).to.deep.equal([
        'error Error[ECONNREFUSED]: connect ECONNREFUSED ADDR:SERVER_PORT {syscall=connect errno=-111 address=ADDR port=SERVER_PORT}',
        'close hadError=true',
      ]);
    },
  }),
  scenario({
    id: 'server-close-not-running',
    covers: [3, 6],
    from: 'test-net-server-close (ERR_SERVER_NOT_RUNNING)',
    async run(ctx) {
      const server = ctx.watchServer(ctx.serverNet.createServer(), 'server');
      ctx.attempt('server', 'close(cb) before listen', () => server.close(ctx.cb('server', 'close1')), server);
      await ctx.turns(2);
      server.listen(0, ctx.host);
      await ctx.listening(server);
      const closing = ctx.next(server, 'close');
      server.close(ctx.cb('server', 'close2'));
      await closing;
      ctx.attempt('server', 'close(cb) again', () => server.close(ctx.cb('server', 'close3')), server);
      await ctx.turns(2);
    },
    expect(t) {
      inOrder(
        t['server'],
        'close(cb) before listen -> this',
        'server-close',
        'cb close1(Error[ERR_SERVER_NOT_RUNNING]: Server is not running.)',
        'listening',
        'server-close',
        'cb close2()',
        'close(cb) again -> this',
        'server-close',
        'cb close3(Error[ERR_SERVER_NOT_RUNNING]: Server is not running.)',
      );
    },
  }),
  scenario({
    id: 'listen-twice',
    covers: [6],
    from: 'test-net-listen-twice, test-net-server-call-listen-multiple-times',
    async run(ctx) {
      const server = ctx.watchServer(ctx.serverNet.createServer(), 'server');
      server.listen(0, ctx.host);
      await ctx.listening(server);
      ctx.attempt('server', 'listen() again', () => server.listen(0, ctx.host), server);
      server.close();
      await ctx.closed(server);
    },
    expect(t) {
      has(t['server'], 'listen() again throws Error[ERR_SERVER_ALREADY_LISTEN]: Listen method has been called more than once without closing.');
    },
  }),
  scenario({
    id: 'listen-again-after-close',
    covers: [6],
    from: 'test-net-server-call-listen-multiple-times',
    async run(ctx) {
      const server = ctx.watchServer(ctx.serverNet.createServer((s) => s.end('again')), 'server');
      server.listen(0, ctx.host);
      const port = await ctx.listening(server);
      server.close();
      await ctx.closed(server);
      server.listen(port, ctx.host);
      await ctx.next(server, 'listening');
      const client = connectClient(ctx, port);
      await ctx.closed(client);
      server.close();
      await ctx.next(server, 'close');
    },
    expect(t) {
      inOrder(t['server'], 'listening', 'server-close', 'listening', 'connection', 'server-close');
      inOrder(t['client'], 'connect', 'data "again"', 'close hadError=false');
    },
  }),
  scenario({
    id: 'listen-address-in-use',
    covers: [6],
    from: 'test-net-eaddrinuse, test-net-better-error-messages-listen',
    async run(ctx) {
      const { port } = await ctx.server('server');
      const second = ctx.watchServer(ctx.serverNet.createServer(), 'server2');
      second.listen(port, ctx.host);
      await ctx.next(second, 'error');
      ctx.rec('server2', `listening=${String(second.listening)}`);
    },
    expect(t) {
      expect(t['server2']).to.deep.equal([
        'server-error Error[EADDRINUSE]: listen EADDRINUSE: address already in use ADDR:SERVER_PORT {syscall=listen errno=-98 address=ADDR port=SERVER_PORT}',
        'listening=false',
      ]);
    },
  }),
  scenario({
    id: 'server-ref-unref-return-this',
    covers: [4, 6],
    from: 'test-net-server-unref, test-net-server-unref-persistent',
    async run(ctx) {
      const server = ctx.watchServer(ctx.serverNet.createServer(), 'server');
      ctx.attempt('server', 'unref() before listen', () => server.unref(), server);
      server.listen(0, ctx.host);
      await ctx.listening(server);
      ctx.attempt('server', 'ref()', () => server.ref(), server);
      ctx.attempt('server', 'unref()', () => server.unref(), server);
      server.close();
      await ctx.closed(server);
      ctx.attempt('server', 'ref() after close', () => server.ref(), server);
    },
    expect(t) {
      has(t['server'], 'unref() before listen -> this', 'ref() -> this', 'unref() -> this', 'ref() after close -> this');
    },
  }),
  scenario({
    id: 'max-connections-validation',
    covers: [3, 6],
    from: 'test-net-server-max-connections',
    async run(ctx) {
      const server = ctx.watchServer(ctx.serverNet.createServer(), 'server');
      ctx.rec('server', `default maxConnections=${String(server.maxConnections)}`);
      server.maxConnections = 3;
      ctx.rec('server', `maxConnections=${String(server.maxConnections)}`);
    },
    expect(t) {
      has(t['server'], 'default maxConnections=undefined', 'maxConnections=3');
    },
  }),
  scenario({
    id: 'pause-on-connect-socket-state',
    covers: [6],
    from: 'test-net-server-pause-on-connect',
    async run(ctx) {
      const { server, port } = await ctx.server('server', undefined, { pauseOnConnect: true });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      const s = ctx.watch(await accepted, 'server', { data: false });
      ctx.rec('server', `isPaused=${String(s.isPaused())} readableFlowing=${String(s.readableFlowing)}`);
      client.end('x');
      await ctx.next(client, 'finish');
      await ctx.turns(5);
      ctx.state(s, 'server', 'peer-finished', ['readableEnded', 'readableLength' as never, 'readyState']);
      s.destroy();
      await Promise.all([ctx.closed(client), ctx.closed(s)]);
    },
    expect(t) {
      has(t['server'], 'isPaused=true readableFlowing=false', 'state@peer-finished readableEnded=false readableLength=0 readyState="open"');
    },
  }),
  scenario({
    id: 'server-listen-signal-abort',
    covers: [6],
    from: 'test-net-server-listen-options-signal',
    async run(ctx) {
      const ac = new AbortController();
      const server = ctx.watchServer(ctx.serverNet.createServer(), 'server');
      server.listen({ port: 0, host: ctx.host, signal: ac.signal });
      await ctx.listening(server);
      ac.abort();
      await ctx.closed(server);
      ctx.rec('server', `listening=${String(server.listening)}`);
      const aborted = AbortSignal.abort();
      const s2 = ctx.watchServer(ctx.serverNet.createServer(), 'server2');
      s2.listen({ port: 0, host: ctx.host, signal: aborted });
      await ctx.turns(3);
      ctx.rec('server2', `listening=${String(s2.listening)}`);
      ctx.attempt('server3', 'listen({signal: "x"})', () => ctx.serverNet.createServer().listen({ port: 0, signal: 'x' } as unknown as nodeNet.ListenOptions));
    },
    expect(t) {
      inOrder(t['server'], 'listening', 'server-close', 'listening=false');
      has(t['server3'], 'listen({signal: "x"}) throws TypeError[ERR_INVALID_ARG_TYPE]');
    },
  }),
  scenario({
    id: 'capture-rejections-destroys-the-socket',
    covers: [6],
    from: 'test-net-server-capture-rejection',
    async run(ctx) {
      // As Node's test: the global default, read by each emitter when it is constructed.
      EventEmitter.captureRejections = true;
      let created: nodeNet.Server;
      try {
        created = ctx.serverNet.createServer(async (s) => {
          ctx.watch(s, 'server');
          await Promise.resolve();
          throw Object.assign(new Error('handler failed'), { code: 'EHANDLER' });
        });
      } finally {
        EventEmitter.captureRejections = false;
      }
      const server = ctx.watchServer(created, 'server');
      server.listen(0, ctx.host);
      const port = await ctx.listening(server);
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['server'], 'connection', 'error Error[EHANDLER]: handler failed', 'close hadError=true');
      inOrder(t['client'], 'connect', 'end', 'close hadError=false');
    },
  }),
];
