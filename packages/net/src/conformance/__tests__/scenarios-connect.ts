/**
 * Connect and listen forms, addresses, names, connect errors, constructors and types
 * (issue 9 behaviours 6, 7, 8, 9). Ported from Node v20's test-net-connect-options-port,
 * -server-listen-options, -local-address-port, -remote-address-port, -socket-constructor,
 * -dns-custom-lookup, -options-lookup, -connect-no-arg, -better-error-messages-port-hostname…
 */
import * as nodeNet from 'node:net';
import { expect } from 'chai';
import { accept, connectClient, has, inOrder, scenario } from './common.js';
import type { Ctx, Scenario } from './harness.js';

/** Echo server on ctx.host; accepted sockets recorded in 'server'. */
async function echo(ctx: Ctx): Promise<{ server: nodeNet.Server; port: number }> {
  return ctx.server('server', (s) => {
    ctx.watch(s, 'server');
    s.pipe(s);
  });
}

/** Client writes `text`, ends, and the exchange finishes on both ends. */
async function exchange(ctx: Ctx, accepted: Promise<nodeNet.Socket>, client: nodeNet.Socket, text = 'hello'): Promise<void> {
  client.end(text);
  await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
}

export const CONNECT_SCENARIOS: Scenario[] = [
  scenario({
    id: 'connect-port-host-callback',
    covers: [6],
    from: 'test-net-connect-options-port',
    async run(ctx) {
      const { server, port } = await echo(ctx);
      const accepted = accept(ctx, server);
      const client = ctx.watch(ctx.clientNet.connect(port, ctx.host, ctx.cb('client', 'connectListener')), 'client');
      await exchange(ctx, accepted, client);
    },
    expect(t) {
      inOrder(t['client'], 'cb connectListener()', 'connect', 'ready', 'data "hello"', 'end', 'close hadError=false');
      inOrder(t['server'], 'listening', 'connection', 'data "hello"', 'end', 'finish', 'close hadError=false');
    },
  }),
  scenario({
    id: 'connect-options-object',
    covers: [6],
    from: 'test-net-connect-options-port',
    async run(ctx) {
      const { server, port } = await echo(ctx);
      const accepted = accept(ctx, server);
      const client = ctx.watch(ctx.clientNet.createConnection({ port, host: ctx.host }, ctx.cb('client', 'connectListener')), 'client');
      await exchange(ctx, accepted, client, 'options');
    },
    expect(t) {
      inOrder(t['client'], 'cb connectListener()', 'connect', 'data "options"', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'connect-port-as-string',
    covers: [6],
    from: 'test-net-connect-options-port',
    async run(ctx) {
      const { server, port } = await echo(ctx);
      const accepted = accept(ctx, server);
      const client = ctx.watch(ctx.clientNet.connect(String(port) as unknown as number, ctx.host), 'client');
      await exchange(ctx, accepted, client);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'data "hello"', 'close hadError=false');
    },
  }),
  scenario({
    id: 'connect-with-server-address-object',
    covers: [6],
    from: 'issue 9 behaviour 6: connect(server.address()) with family "IPv4"',
    async run(ctx) {
      const { server } = await echo(ctx);
      const accepted = accept(ctx, server);
      const address = server.address() as nodeNet.AddressInfo;
      ctx.rec('client', `server.address() family=${address.family}`);
      const client = ctx.watch(ctx.clientNet.connect({ ...address, host: ctx.host } as unknown as nodeNet.NetConnectOpts), 'client');
      await exchange(ctx, accepted, client);
    },
    expect(t) {
      inOrder(t['client'], 'server.address() family=IPv4', 'connect', 'data "hello"', 'close hadError=false');
    },
  }),
  scenario({
    id: 'new-socket-then-connect',
    covers: [6],
    from: 'test-net-socket-constructor',
    async run(ctx) {
      const { server, port } = await echo(ctx);
      const accepted = accept(ctx, server);
      const client = ctx.watch(new ctx.clientNet.Socket(), 'client');
      ctx.state(client, 'client', 'new');
      ctx.attempt('client', 'connect()', () => client.connect(port, ctx.host), client);
      ctx.state(client, 'client', 'connecting');
      await ctx.connected(client);
      ctx.state(client, 'client', 'connected');
      await exchange(ctx, accepted, client);
      ctx.state(client, 'client', 'closed');
    },
    expect(t) {
      has(t['client'], 'state@new readyState="open" pending=true connecting=false', 'connect() -> this', 'state@connecting readyState="opening" pending=true connecting=true');
      has(t['client'], 'state@connected readyState="open" pending=false connecting=false');
    },
  }),
  scenario({
    id: 'socket-without-new',
    covers: [6, 9],
    from: 'test-net-socket-constructor',
    async run(ctx) {
      const Socket = ctx.clientNet.Socket as unknown as (options?: nodeNet.SocketConstructorOpts) => nodeNet.Socket;
      const s = ctx.attempt('client', 'Socket()', () => Socket());
      if (s !== undefined) {
        ctx.track(s);
        ctx.rec('client', `instanceof node:net Socket=${String(s instanceof nodeNet.Socket)}`);
        s.destroy();
      }
    },
    expect(t) {
      expect(t['client']).to.deep.equal(['Socket() -> Socket', 'instanceof node:net Socket=true']);
    },
  }),
  scenario({
    id: 'server-without-new',
    covers: [6, 9],
    from: 'test-net-server-options',
    async run(ctx) {
      const Server = ctx.serverNet.Server as unknown as (listener?: (s: nodeNet.Socket) => void) => nodeNet.Server;
      const s = ctx.attempt('server', 'Server()', () => Server());
      if (s !== undefined) {
        ctx.rec('server', `instanceof node:net Server=${String(s instanceof nodeNet.Server)} listening=${String(s.listening)}`);
      }
    },
    expect(t) {
      has(t['server'], 'Server() -> ', 'instanceof node:net Server=true listening=false');
    },
  }),
  scenario({
    id: 'sockets-are-net-sockets',
    covers: [9],
    from: 'issue 9 behaviour 9',
    async run(ctx) {
      const { server, port } = await echo(ctx);
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await ctx.connected(client);
      const s = await accepted;
      ctx.rec('client', `client instanceof net.Socket=${String(client instanceof nodeNet.Socket)} Duplex=${String(typeof client.pipe)}`);
      ctx.rec('server', `accepted instanceof net.Socket=${String(s instanceof nodeNet.Socket)} server instanceof net.Server=${String(server instanceof nodeNet.Server)}`);
      ctx.rec('server', `socket.server===server ${String((s as nodeNet.Socket & { server?: unknown }).server === server)}`);
      await exchange(ctx, accepted, client);
    },
    expect(t) {
      has(t['client'], 'client instanceof net.Socket=true');
      has(t['server'], 'accepted instanceof net.Socket=true server instanceof net.Server=true', 'socket.server===server true');
    },
  }),
  scenario({
    id: 'listen-port-host-callback',
    covers: [6],
    from: 'test-net-server-listen-options',
    async run(ctx) {
      const server = ctx.watchServer(ctx.serverNet.createServer(), 'server');
      ctx.attempt('server', 'address() before listen', () => server.address());
      ctx.rec('server', `listening=${String(server.listening)}`);
      ctx.attempt('server', 'listen(0, host, cb)', () => server.listen(0, ctx.host, ctx.cb('server', 'listenCallback')), server);
      ctx.rec('server', `listening=${String(server.listening)}`);
      await ctx.listening(server);
      ctx.rec('server', `listening=${String(server.listening)}`);
      ctx.attempt('server', 'address()', () => server.address());
      server.close(ctx.cb('server', 'closeCallback'));
      ctx.rec('server', `listening after close()=${String(server.listening)}`);
      await ctx.closed(server);
      ctx.attempt('server', 'address() after close', () => server.address());
    },
    expect(t) {
      inOrder(
        t['server'],
        'address() before listen -> null',
        'listening=false',
        'listen(0, host, cb) -> this',
        'listening=false',
        'listening',
        'cb listenCallback()',
        'listening=true',
        'address() -> {ADDR IPv4 SERVER_PORT keys=address,family,port}',
        'listening after close()=false',
        'server-close',
        'cb closeCallback()',
        'address() after close -> null',
      );
    },
  }),
  scenario({
    id: 'listen-options-object',
    covers: [6],
    from: 'test-net-server-listen-options',
    async run(ctx) {
      const server = ctx.watchServer(ctx.serverNet.createServer(), 'server');
      server.listen({ port: 0, host: ctx.host, backlog: 10 }, ctx.cb('server', 'listenCallback'));
      await ctx.listening(server);
      ctx.attempt('server', 'address()', () => server.address());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    expect(t) {
      inOrder(t['server'], 'listening', 'cb listenCallback()', 'address() -> {ADDR IPv4 SERVER_PORT keys=address,family,port}', 'server-close');
    },
  }),
  scenario({
    id: 'listen-any-address',
    covers: [6],
    from: 'test-net-server-listen-options (listen(0) without a host)',
    async run(ctx) {
      const server = ctx.watchServer(ctx.serverNet.createServer(), 'server');
      server.listen(0);
      await ctx.listening(server);
      ctx.attempt('server', 'address()', () => server.address());
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, (server.address() as nodeNet.AddressInfo).port);
      const s = ctx.watch(await accepted, 'server');
      s.end('any');
      await Promise.all([ctx.closed(client), ctx.closed(s)]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    expect(t) {
      inOrder(t['server'], 'listening', 'address() -> {ANY IPv4 SERVER_PORT keys=address,family,port}', 'connection', 'close hadError=false', 'server-close');
      inOrder(t['client'], 'connect', 'data "any"', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'address-and-ends-of-both-sockets',
    covers: [6],
    from: 'test-net-local-address-port, test-net-remote-address-port',
    async run(ctx) {
      const { server, port } = await echo(ctx);
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      ctx.attempt('client', 'address() while connecting', () => client.address());
      await ctx.connected(client);
      const s = await accepted;
      ctx.ends(client, 'client', 'connected');
      ctx.attempt('client', 'address()', () => client.address());
      ctx.ends(s, 'server', 'accepted');
      ctx.attempt('server', 'address()', () => s.address());
      await exchange(ctx, accepted, client);
    },
    expect(t) {
      has(t['client'], 'address() while connecting -> {}', 'ends@connected local=ADDR:CLIENT_PORT/IPv4 remote=ADDR:SERVER_PORT/IPv4', 'address() -> {ADDR IPv4 CLIENT_PORT keys=address,family,port}');
      has(t['server'], 'ends@accepted local=ADDR:SERVER_PORT/IPv4 remote=ADDR:CLIENT_PORT/IPv4');
    },
  }),
  scenario({
    id: 'connect-refused',
    covers: [6],
    from: 'test-net-better-error-messages-port-hostname, test-net-connect-immediate-finish',
    async run(ctx) {
      const port = await ctx.freePort();
      const client = ctx.watch(ctx.clientNet.connect(port, ctx.host, ctx.cb('client', 'connectListener')), 'client');
      await ctx.closed(client);
      ctx.state(client, 'client', 'closed');
    },
    expect(t) {
      expect(t['client']).to.deep.equal([
        'error Error[ECONNREFUSED]: connect ECONNREFUSED ADDR:PORT_1 {syscall=connect errno=-111 address=ADDR port=PORT_1}',
        'close hadError=true',
        'state@closed readyState="closed" pending=true connecting=false destroyed=true readable=false writable=false bytesRead=0 bytesWritten=0',
      ]);
    },
  }),
  scenario({
    id: 'connect-refused-with-write-queued',
    covers: [5, 6],
    from: 'test-net-connect-paused-connection, test-net-write-connect-write',
    async run(ctx) {
      const port = await ctx.freePort();
      const client = ctx.watch(ctx.clientNet.connect(port, ctx.host), 'client');
      client.write('queued', ctx.cb('client', 'writeCallback'));
      ctx.state(client, 'client', 'queued', ['bytesWritten', 'writableLength', 'pending'] as never);
      await ctx.closed(client);
    },
    expect(t) {
      has(t['client'], 'error Error[ECONNREFUSED]', 'close hadError=true');
    },
  }),
  scenario({
    id: 'connect-to-own-server-via-127.0.0.1',
    covers: [8],
    from: 'issue 9 behaviour 8 (a program connects to its own server)',
    async run(ctx) {
      const server = ctx.watchServer(ctx.clientNet.createServer((s) => {
        ctx.watch(s, 'server');
        s.end('self');
      }), 'server');
      server.listen(0, '127.0.0.1');
      const port = await ctx.listening(server);
      ctx.attempt('server', 'address()', () => server.address());
      const accepted = accept(ctx, server);
      const client = ctx.watch(ctx.clientNet.connect(port, '127.0.0.1'), 'client');
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      server.close();
      await ctx.closed(server);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'data "self"', 'end', 'close hadError=false');
      inOrder(t['server'], 'listening', 'address() -> {ADDR IPv4 SERVER_PORT keys=address,family,port}', 'connection', 'finish', 'end', 'close hadError=false', 'server-close');
    },
  }),
  scenario({
    id: 'lookup-option-and-event',
    covers: [7],
    from: 'test-net-dns-custom-lookup, test-net-options-lookup',
    async run(ctx) {
      const { server, port } = await echo(ctx);
      const accepted = accept(ctx, server);
      const lookup = (host: string, options: Record<string, unknown>, callback: (...args: unknown[]) => void): void => {
        ctx.rec('client', `lookup called host=${host} options=${JSON.stringify(options)}`);
        if (options['all'] === true) callback(null, [{ address: ctx.host, family: 4 }]);
        else callback(null, ctx.host, 4);
      };
      const client = ctx.watch(ctx.clientNet.connect({ port, host: 'service.example', lookup } as nodeNet.NetConnectOpts), 'client');
      await exchange(ctx, accepted, client);
    },
    expect(t) {
      // Node 20 (autoSelectFamily on by default) asks for every address and emits no 'lookup'.
      inOrder(t['client'], 'lookup called host=service.example options={"hints":32,"all":true}', 'connect', 'data "hello"', 'close hadError=false');
    },
  }),
  scenario({
    id: 'lookup-option-error',
    covers: [7],
    from: 'test-net-dns-error',
    async run(ctx) {
      const lookup = (_host: string, _options: unknown, callback: (...args: unknown[]) => void): void => {
        const err = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.example'), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'nowhere.example' });
        callback(err);
      };
      const client = ctx.watch(ctx.clientNet.connect({ port: 80, host: 'nowhere.example', lookup } as nodeNet.NetConnectOpts), 'client');
      await ctx.closed(client);
    },
    expect(t) {
      expect(t['client']).to.deep.equal(['error Error[ENOTFOUND]: getaddrinfo ENOTFOUND nowhere.example {syscall=getaddrinfo}', 'close hadError=true']);
    },
  }),
  scenario({
    id: 'lookup-option-invalid',
    covers: [6, 7],
    from: 'test-net-options-lookup',
    async run(ctx) {
      for (const bad of [false, 'foobar', 42, {}]) {
        ctx.attempt('client', `connect({lookup: ${JSON.stringify(bad)}})`, () => ctx.clientNet.connect({ port: 80, host: 'x.example', lookup: bad } as unknown as nodeNet.NetConnectOpts));
      }
    },
    expect(t) {
      has(t['client'], 'connect({lookup: false}) throws TypeError[ERR_INVALID_ARG_TYPE]: The "options.lookup" property must be of type function.');
    },
  }),
  scenario({
    id: 'connect-localhost-name',
    covers: [7, 8],
    from: 'issue 9 behaviour 7: localhost resolves without a lookup',
    async run(ctx) {
      const server = ctx.watchServer(ctx.clientNet.createServer((s) => s.end('local')), 'server');
      server.listen(0, '127.0.0.1');
      const port = await ctx.listening(server);
      const client = ctx.watch(ctx.clientNet.connect({ port, host: 'localhost', family: 4 }), 'client');
      await ctx.closed(client);
      server.close();
      await ctx.closed(server);
    },
    expect(t) {
      inOrder(t['client'], 'lookup null "ADDR" 4 "localhost"', 'connect', 'data "local"', 'end', 'close hadError=false');
    },
  }),
];
