/**
 * Argument validation and socket options (issue 9 behaviour 6, ref/unref of behaviour 4):
 * Node's error classes, codes and messages; setTimeout/'timeout'; setKeepAlive/setNoDelay
 * return values; ref/unref; the onread option; AbortSignal. Ported from Node v20's
 * test-net-connect-options-invalid, -connect-no-arg, -listen-invalid-port,
 * -server-listen-options, -socket-timeout, -settimeout, -can-reset-timeout, -timeout-no-handle,
 * -socket-setnodelay, -persistent-*, -keepalive, -onread-static-buffer,
 * -connect-abort-controller, -socket-connecting, -normalize-args.
 *
 * Timeouts: node:net and tcp-tun's socket layer both run the idle timer on Node's timers, so
 * these scenarios use short real durations (20–60 ms) and wait on the 'timeout' event.
 */
import type * as nodeNet from 'node:net';
import { expect } from 'chai';
import { accept, connectClient, has, inOrder, lacks, scenario } from './common.js';
import type { Ctx, Scenario } from './harness.js';

/** A connected client and its accepted socket, both watched. */
async function connected(ctx: Ctx, options: Partial<nodeNet.TcpNetConnectOpts> = {}): Promise<{ client: nodeNet.Socket; s: nodeNet.Socket }> {
  const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
  const accepted = accept(ctx, server);
  const client = connectClient(ctx, port, 'client', options);
  await ctx.connected(client);
  return { client, s: await accepted };
}

async function finish(ctx: Ctx, client: nodeNet.Socket, s: nodeNet.Socket): Promise<void> {
  client.end();
  await Promise.all([ctx.closed(client), ctx.closed(s)]);
}

const BAD_PORTS: unknown[] = [-1, 65536, 1.5, 'abc', NaN, Infinity, true, {}];

export const OPTION_SCENARIOS: Scenario[] = [
  scenario({
    id: 'connect-without-arguments',
    covers: [6],
    from: 'test-net-connect-no-arg',
    async run(ctx) {
      ctx.attempt('client', 'connect()', () => (ctx.clientNet.connect as unknown as () => void)());
      ctx.attempt('client', 'createConnection()', () => (ctx.clientNet.createConnection as unknown as () => void)());
      ctx.attempt('client', 'connect({})', () => ctx.clientNet.connect({} as nodeNet.NetConnectOpts));
      const s = ctx.track(new ctx.clientNet.Socket());
      ctx.attempt('client', 'new Socket().connect()', () => (s.connect as unknown as () => void)());
      s.destroy();
    },
    expect(t) {
      has(t['client'], 'connect() throws TypeError[ERR_MISSING_ARGS]: The "options" or "port" or "path" argument must be specified');
    },
  }),
  scenario({
    id: 'connect-bad-ports',
    covers: [6],
    from: 'test-net-connect-options-port',
    async run(ctx) {
      for (const port of BAD_PORTS) {
        ctx.attempt('client', `connect({port: ${String(port)}})`, () => ctx.clientNet.connect({ port, host: ctx.host } as nodeNet.NetConnectOpts));
      }
    },
    expect(t) {
      has(t['client'], 'connect({port: -1}) throws RangeError[ERR_SOCKET_BAD_PORT]: Port should be >= 0 and < 65536. Received type number (-1).');
    },
  }),
  scenario({
    id: 'connect-bad-port-positional',
    covers: [6],
    from: 'test-net-connect-options-port',
    async run(ctx) {
      for (const port of [-1, 65536, '99999']) {
        ctx.attempt('client', `connect(${JSON.stringify(port)}, host)`, () => ctx.clientNet.connect(port as number, ctx.host));
      }
    },
    expect(t) {
      has(t['client'], 'connect(65536, host) throws RangeError[ERR_SOCKET_BAD_PORT]');
    },
  }),
  scenario({
    id: 'connect-invalid-host-and-family',
    covers: [6],
    from: 'test-net-connect-options-invalid, test-net-connect-options-ipv6',
    async run(ctx) {
      ctx.attempt('client', 'connect({host: 42})', () => ctx.clientNet.connect({ port: 80, host: 42 } as unknown as nodeNet.NetConnectOpts));
      ctx.attempt('client', 'connect({localAddress: "not-an-ip"})', () => ctx.clientNet.connect({ port: 80, host: ctx.host, localAddress: 'not-an-ip' }));
      ctx.attempt('client', 'connect({localPort: "x"})', () => ctx.clientNet.connect({ port: 80, host: ctx.host, localPort: 'x' } as unknown as nodeNet.NetConnectOpts));
      ctx.attempt('client', 'connect({objectMode: true})', () => ctx.clientNet.connect({ port: 80, host: ctx.host, objectMode: true } as unknown as nodeNet.NetConnectOpts));
    },
    expect(t) {
      has(
        t['client'],
        'connect({host: 42}) throws TypeError[ERR_INVALID_ARG_TYPE]: The "hostname" argument must be of type string. Received type number (42)',
        'connect({localAddress: "not-an-ip"}) throws TypeError[ERR_INVALID_IP_ADDRESS]: Invalid IP address: not-an-ip',
        'connect({objectMode: true}) throws TypeError[ERR_INVALID_ARG_VALUE]',
      );
    },
  }),
  scenario({
    id: 'listen-bad-ports',
    covers: [6],
    from: 'test-net-listen-invalid-port, test-net-server-listen-options',
    async run(ctx) {
      // (A string port that is not a number is a pipe path for listen(): left out.)
      for (const port of [-1, 65536, 1.5, true]) {
        const server = ctx.track(ctx.serverNet.createServer());
        ctx.attempt('server', `listen(${JSON.stringify(port)})`, () => server.listen(port as number));
        ctx.attempt('server', `listen({port: ${JSON.stringify(port)}})`, () => server.listen({ port } as nodeNet.ListenOptions));
      }
      const server = ctx.track(ctx.serverNet.createServer());
      ctx.attempt('server', 'listen({})', () => server.listen({}));
      ctx.attempt('server', 'listen({host: 42, port: 0})', () => server.listen({ host: 42, port: 0 } as unknown as nodeNet.ListenOptions));
    },
    expect(t) {
      has(t['server'], 'listen(-1) throws RangeError[ERR_SOCKET_BAD_PORT]', 'listen({}) throws TypeError[ERR_INVALID_ARG_VALUE]');
    },
  }),
  scenario({
    id: 'set-timeout-validation',
    covers: [6],
    from: 'test-net-socket-timeout',
    async run(ctx) {
      const s = ctx.track(new ctx.clientNet.Socket());
      for (const v of [-1, Infinity, 'x', {}, [], true]) {
        ctx.attempt('client', `setTimeout(${typeof v === 'number' ? String(v) : JSON.stringify(v)})`, () => s.setTimeout(v as number), s);
      }
      ctx.attempt('client', 'setTimeout(1, "not a function")', () => s.setTimeout(1, 'x' as unknown as () => void), s);
      ctx.attempt('client', 'setTimeout(0)', () => s.setTimeout(0), s);
      ctx.rec('client', `timeout=${String(s.timeout)}`);
      s.destroy();
    },
    expect(t) {
      has(t['client'], 'setTimeout(-1) throws RangeError[ERR_OUT_OF_RANGE]', 'setTimeout("x") throws TypeError[ERR_INVALID_ARG_TYPE]', 'setTimeout(1, "not a function") throws TypeError[ERR_INVALID_ARG_TYPE]');
    },
  }),
  scenario({
    id: 'timeout-fires-and-socket-stays-open',
    covers: [6],
    from: 'test-net-settimeout, test-net-socket-timeout',
    async run(ctx) {
      const { client, s } = await connected(ctx);
      ctx.attempt('client', 'setTimeout(30, cb)', () => client.setTimeout(30, ctx.cb('client', 'timeoutCallback')), client);
      ctx.rec('client', `timeout=${String(client.timeout)}`);
      await ctx.next(client, 'timeout');
      ctx.state(client, 'client', 'timed-out', ['destroyed', 'readyState']);
      client.setTimeout(0);
      await finish(ctx, client, s);
    },
    expect(t) {
      inOrder(t['client'], 'setTimeout(30, cb) -> this', 'timeout=30', 'timeout', 'cb timeoutCallback()', 'state@timed-out destroyed=false readyState="open"', 'close hadError=false');
    },
  }),
  scenario({
    id: 'timeout-option-on-connect',
    covers: [6],
    from: 'test-net-socket-timeout (connect option)',
    async run(ctx) {
      const { client, s } = await connected(ctx, { timeout: 80 });
      ctx.rec('client', `timeout=${String(client.timeout)}`);
      await ctx.next(client, 'timeout');
      client.destroy();
      await Promise.all([ctx.closed(client), ctx.closed(s)]);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'timeout=80', 'timeout', 'close hadError=false');
    },
  }),
  scenario({
    id: 'timeout-disabled-before-firing',
    covers: [6],
    from: 'test-net-can-reset-timeout',
    async run(ctx) {
      const { client, s } = await connected(ctx);
      client.setTimeout(20);
      client.setTimeout(0);
      ctx.rec('client', `timeout=${String(client.timeout)}`);
      await new Promise((resolve) => setTimeout(resolve, 60));
      await finish(ctx, client, s);
    },
    expect(t) {
      lacks(t['client'], 'timeout ');
      expect(t['client']!.filter((e) => e === 'timeout')).to.deep.equal([]);
    },
  }),
  scenario({
    id: 'timeout-before-connect',
    covers: [6],
    from: 'test-net-timeout-no-handle',
    async run(ctx) {
      const s = ctx.watch(new ctx.clientNet.Socket(), 'client');
      s.setTimeout(20, ctx.cb('client', 'timeoutCallback'));
      await ctx.next(s, 'timeout');
      s.destroy();
      await ctx.closed(s);
    },
    expect(t) {
      inOrder(t['client'], 'timeout', 'cb timeoutCallback()', 'close hadError=undefined');
    },
  }),
  scenario({
    id: 'server-side-timeout-then-end',
    covers: [1, 6],
    from: 'test-net-socket-timeout',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.setTimeout(25, () => {
          ctx.rec('server', 'idle: end()');
          s.end('idle');
        });
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['server'], 'connection', 'timeout', 'idle: end()', 'finish', 'end', 'close hadError=false');
      inOrder(t['client'], 'connect', 'data "idle"', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'keepalive-and-nodelay-return-this',
    covers: [6],
    from: 'test-net-persistent-keepalive, test-net-persistent-nodelay, test-net-socket-setnodelay',
    async run(ctx) {
      const pre = ctx.track(new ctx.clientNet.Socket());
      ctx.attempt('client', 'setNoDelay() before connect', () => pre.setNoDelay(), pre);
      ctx.attempt('client', 'setKeepAlive(true, 100) before connect', () => pre.setKeepAlive(true, 100), pre);
      pre.destroy();
      const { client, s } = await connected(ctx);
      ctx.attempt('client', 'setNoDelay(true)', () => client.setNoDelay(true), client);
      ctx.attempt('client', 'setNoDelay(false)', () => client.setNoDelay(false), client);
      ctx.attempt('client', 'setNoDelay("yes")', () => client.setNoDelay('yes' as unknown as boolean), client);
      ctx.attempt('client', 'setKeepAlive(true, 1000)', () => client.setKeepAlive(true, 1000), client);
      ctx.attempt('client', 'setKeepAlive(false)', () => client.setKeepAlive(false), client);
      ctx.attempt('client', 'setKeepAlive(true, -5)', () => client.setKeepAlive(true, -5), client);
      await finish(ctx, client, s);
      ctx.attempt('client', 'setNoDelay() after close', () => client.setNoDelay(), client);
      ctx.attempt('client', 'setKeepAlive(true) after close', () => client.setKeepAlive(true), client);
    },
    expect(t) {
      has(t['client'], 'setNoDelay() before connect -> this', 'setKeepAlive(true, 100) before connect -> this', 'setNoDelay(true) -> this', 'setKeepAlive(true, 1000) -> this', 'setNoDelay() after close -> this');
    },
  }),
  scenario({
    id: 'keepalive-nodelay-connect-options',
    covers: [6],
    from: 'test-net-connect-keepalive, test-net-connect-nodelay, test-net-server-keepalive',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'), { keepAlive: true, keepAliveInitialDelay: 1000, noDelay: true });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port, 'client', { keepAlive: true, keepAliveInitialDelay: 1000, noDelay: true });
      client.end('opts');
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['server'], 'connection', 'data "opts"', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'socket-ref-unref-return-this',
    covers: [4, 6],
    from: 'test-net-persistent-ref-unref',
    async run(ctx) {
      const pre = ctx.track(new ctx.clientNet.Socket());
      ctx.attempt('client', 'unref() before connect', () => pre.unref(), pre);
      ctx.attempt('client', 'ref() before connect', () => pre.ref(), pre);
      pre.destroy();
      const { client, s } = await connected(ctx);
      ctx.attempt('client', 'unref()', () => client.unref(), client);
      ctx.attempt('client', 'ref()', () => client.ref(), client);
      await finish(ctx, client, s);
      ctx.attempt('client', 'unref() after close', () => client.unref(), client);
    },
    expect(t) {
      has(t['client'], 'unref() before connect -> this', 'unref() -> this', 'ref() -> this', 'unref() after close -> this');
    },
  }),
  scenario({
    id: 'onread-static-buffer',
    covers: [6],
    from: 'test-net-onread-static-buffer',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.end('onread!');
      });
      const accepted = accept(ctx, server);
      const buffer = Buffer.alloc(64);
      let total = '';
      const client = ctx.clientNet.connect({
        port,
        host: ctx.host,
        onread: {
          buffer,
          callback(n: number, buf: Uint8Array): boolean {
            total += Buffer.from(buf.subarray(0, n)).toString();
            if (buf !== buffer) ctx.rec('client', 'onread got another buffer');
            return true;
          },
        },
      } as nodeNet.NetConnectOpts);
      ctx.watch(client, 'client', { data: false });
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      ctx.rec('client', `onread total ${JSON.stringify(total)}`);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'end', 'close hadError=false', 'onread total "onread!"');
    },
  }),
  scenario({
    id: 'onread-returns-false-pauses',
    covers: [6],
    from: 'test-net-onread-static-buffer',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.end('pause me');
      });
      const accepted = accept(ctx, server);
      let calls = 0;
      const client = ctx.clientNet.connect({
        port,
        host: ctx.host,
        onread: {
          buffer: () => Buffer.alloc(1024),
          callback(n: number) {
            calls++;
            ctx.rec('client', `onread ${n}`);
            return false;
          },
        },
      } as nodeNet.NetConnectOpts);
      ctx.watch(client, 'client', { data: false });
      await accepted.then((s) => ctx.next(s, 'finish'));
      await ctx.turns(5);
      ctx.rec('client', `calls=${calls} isPaused=${String(client.isPaused())}`);
      client.resume();
      await ctx.closed(client);
    },
    expect(t) {
      // Returning false stops reading from the handle; isPaused() is about the stream, not it.
      inOrder(t['client'], 'onread 8', 'calls=1 isPaused=false', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'connect-signal-already-aborted',
    covers: [6],
    from: 'test-net-connect-abort-controller',
    async run(ctx) {
      const { port } = await ctx.server('server');
      const client = connectClient(ctx, port, 'client', { signal: AbortSignal.abort() } as Partial<nodeNet.TcpSocketConnectOpts>);
      await ctx.closed(client);
    },
    expect(t) {
      // Node 20 destroys the socket on the already-aborted signal but lets the connect proceed.
      expect(t['client']).to.deep.equal(['error AbortError[ABORT_ERR]: The operation was aborted', 'close hadError=undefined', 'connect', 'ready']);
    },
  }),
  scenario({
    id: 'connect-signal-aborted-while-connecting',
    covers: [6],
    from: 'test-net-connect-abort-controller',
    async run(ctx) {
      const { port } = await ctx.server('server');
      const ac = new AbortController();
      const client = connectClient(ctx, port, 'client', { signal: ac.signal } as Partial<nodeNet.TcpSocketConnectOpts>);
      ac.abort();
      await ctx.closed(client);
    },
    expect(t) {
      inOrder(t['client'], 'error AbortError[ABORT_ERR]: The operation was aborted', 'close hadError=true');
    },
  }),
  scenario({
    id: 'connect-signal-aborted-after-connect',
    covers: [6],
    from: 'test-net-connect-abort-controller',
    async run(ctx) {
      const ac = new AbortController();
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port, 'client', { signal: ac.signal } as Partial<nodeNet.TcpSocketConnectOpts>);
      await ctx.connected(client);
      ac.abort();
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'error AbortError[ABORT_ERR]: The operation was aborted', 'close hadError=true');
      inOrder(t['server'], 'connection', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'connect-signal-invalid',
    covers: [6],
    from: 'issue 9 behaviour 6: AbortSignal validation',
    async run(ctx) {
      ctx.attempt('client', 'connect({signal: "x"})', () => ctx.clientNet.connect({ port: 80, host: ctx.host, signal: 'x' } as unknown as nodeNet.NetConnectOpts));
      ctx.attempt('client', 'new Socket({signal: {}})', () => new ctx.clientNet.Socket({ signal: {} } as unknown as nodeNet.SocketConstructorOpts));
    },
    expect(t) {
      has(
        t['client'],
        `connect({signal: "x"}) throws TypeError[ERR_INVALID_ARG_TYPE]: The "signal" argument must be an instance of AbortSignal. Received type string ('x')`,
        'new Socket({signal: {}}) throws TypeError[ERR_INVALID_ARG_TYPE]',
      );
    },
  }),
  scenario({
    id: 'connecting-and-pending-getters',
    covers: [6],
    from: 'test-net-socket-connecting',
    async run(ctx) {
      const { client, s } = await connected(ctx);
      ctx.state(client, 'client', 'connected', ['connecting', 'pending', 'readyState', 'timeout']);
      await finish(ctx, client, s);
      ctx.state(client, 'client', 'closed', ['connecting', 'pending', 'readyState', 'destroyed']);
    },
    expect(t) {
      has(t['client'], 'state@connected connecting=false pending=false readyState="open" timeout=undefined', 'state@closed connecting=false pending=true readyState="closed" destroyed=true');
    },
  }),
  scenario({
    id: 'connect-listener-once-and-ready',
    covers: [6],
    from: 'test-net-socket-ready-without-cb, test-net-socket-connect-without-cb',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = ctx.watch(new ctx.clientNet.Socket(), 'client', { client: true });
      client.connect(port, ctx.host, ctx.cb('client', 'connectListener'));
      await ctx.next(client, 'ready');
      await finish(ctx, client, await accepted);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'cb connectListener()', 'ready', 'finish', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'socket-constructor-allow-half-open',
    covers: [1, 6],
    from: 'test-net-socket-constructor',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.end('first');
      });
      const accepted = accept(ctx, server);
      const client = ctx.watch(new ctx.clientNet.Socket({ allowHalfOpen: true }), 'client', { client: true });
      ctx.rec('client', `allowHalfOpen=${String(client.allowHalfOpen)}`);
      client.connect(port, ctx.host);
      await ctx.next(client, 'end');
      ctx.state(client, 'client', 'peer-ended', ['readyState', 'writable']);
      client.end('then me');
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'allowHalfOpen=true', 'connect', 'data "first"', 'end', 'state@peer-ended readyState="writeOnly" writable=true', 'finish', 'close hadError=false');
      has(t['server'], 'data "then me"');
    },
  }),
  scenario({
    id: 'server-options-validation',
    covers: [6],
    from: 'test-net-server-options',
    async run(ctx) {
      const S = ctx.serverNet.createServer as unknown as (...a: unknown[]) => nodeNet.Server;
      ctx.attempt('server', 'createServer("x")', () => S('x'));
      ctx.attempt('server', 'createServer(null)', () => S(null));
      ctx.attempt('server', 'createServer({}, "x")', () => S({}, 'x'));
    },
    expect(t) {
      has(t['server'], 'createServer("x") throws TypeError[ERR_INVALID_ARG_TYPE]: The "options" argument must be of type object.');
    },
  }),
  scenario({
    id: 'normalize-connect-args',
    covers: [6],
    from: 'test-net-normalize-args',
    async run(ctx) {
      let n = 0;
      const accepted: Array<Promise<void>> = [];
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, `server-c${++n}`);
        accepted.push(ctx.closed(s));
        s.end('n');
      });
      const forms: Array<[string, () => nodeNet.Socket]> = [
        ['connect(port, host, cb)', () => ctx.clientNet.connect(port, ctx.host, ctx.cb('client', 'cb1'))],
        ['connect({port, host}, cb)', () => ctx.clientNet.connect({ port, host: ctx.host }, ctx.cb('client', 'cb2'))],
        ['connect([{port, host}, cb])', () => (ctx.clientNet.connect as unknown as (a: unknown) => nodeNet.Socket)([{ port, host: ctx.host }, ctx.cb('client', 'cb3')])],
      ];
      for (const [name, make] of forms) {
        const c = ctx.attempt('client', name, make);
        if (c === undefined) continue;
        ctx.watch(c, 'client', { data: false });
        c.resume();
        await ctx.closed(c);
      }
      await Promise.all(accepted);
      server.close();
      await ctx.closed(server);
    },
    expect(t) {
      inOrder(t['client'], 'connect(port, host, cb) -> Socket', 'cb cb1()', 'close hadError=false', 'connect({port, host}, cb) -> Socket', 'cb cb2()', 'close hadError=false');
    },
  }),
];
