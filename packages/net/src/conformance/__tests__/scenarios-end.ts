/**
 * End of stream and half-close, with and without readers, `allowHalfOpen` both ways
 * (issue 9 behaviour 1). Ported from Node v20's test-net-allow-half-open,
 * -connect-options-allowhalfopen, -end-close, -socket-close-after-end, -socket-end-callback,
 * -socket-end-before-connect, -end-without-connect, -socket-no-halfopen-enforcer.
 */
import { accept, connectClient, has, inOrder, lacks, scenario } from './common.js';
import type { Scenario } from './harness.js';

const HALF_STATE = ['readyState', 'readable', 'writable', 'readableEnded', 'writableEnded'] as const;

export const END_SCENARIOS: Scenario[] = [
  scenario({
    id: 'server-end-hi-client-reads',
    covers: [1],
    from: "issue 9 behaviour 1: createServer(c => c.end('hi'))",
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server', { data: false });
        s.end('hi');
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      server.close();
      await ctx.closed(server);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'data "hi"', 'end', 'finish', 'close hadError=false');
      inOrder(t['server'], 'connection', 'finish', 'end', 'close hadError=false', 'server-close');
    },
  }),
  scenario({
    id: 'server-end-hi-client-sends-then-ends',
    covers: [1],
    from: "issue 9 behaviour 1: the server's unread data and the peer's FIN",
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server', { data: false });
        s.end('hi');
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.end('some data nobody reads');
      const s = await accepted;
      await ctx.closed(client);
      await ctx.turns(5);
      // Unread data holds the end of the stream back (Node pushes EOF behind it).
      ctx.state(s, 'server', 'client-closed', ['readableEnded', 'readableLength' as never, 'readyState', 'destroyed']);
      ctx.rec('server', 'resume()');
      s.resume();
      await ctx.closed(s);
      server.close();
      await ctx.closed(server);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'data "hi"', 'end', 'close hadError=false');
      inOrder(t['server'], 'connection', 'finish', 'state@client-closed readableEnded=false readableLength=22 readyState="readOnly" destroyed=false', 'resume()', 'end', 'close hadError=false', 'server-close');
    },
  }),
  scenario({
    id: 'no-reader-on-either-side',
    covers: [1],
    from: 'test-net-end-close',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server', { data: false });
        s.end();
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port, 'client', {}, { data: false });
      client.end();
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      server.close();
      await ctx.closed(server);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'end', 'close hadError=false');
      inOrder(t['server'], 'connection', 'end', 'close hadError=false', 'server-close');
    },
  }),
  scenario({
    id: 'server-ends-client-has-no-reader',
    covers: [1],
    from: 'test-net-socket-close-after-end',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.end('unread by the client');
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port, 'client', {}, { data: false });
      const s = await accepted;
      await ctx.next(s, 'finish');
      await ctx.turns(5);
      // The client holds unread data: no 'end' yet, so it does not end its side either.
      ctx.state(client, 'client', 'unread', [...HALF_STATE, 'readableLength' as never]);
      ctx.rec('client', 'resume()');
      client.resume();
      await Promise.all([ctx.closed(client), ctx.closed(s)]);
      ctx.state(client, 'client', 'closed', HALF_STATE);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'state@unread readyState="open" readable=true writable=true readableEnded=false writableEnded=false readableLength=20', 'resume()', 'end', 'finish', 'close hadError=false');
      inOrder(t['server'], 'finish', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'allow-half-open-server-writes-after-peer-end',
    covers: [1],
    from: 'test-net-allow-half-open',
    async run(ctx) {
      const { server, port } = await ctx.server(
        'server',
        (s) => {
          ctx.watch(s, 'server');
          s.on('end', () => {
            ctx.state(s, 'server', 'peer-ended', HALF_STATE);
            s.end('late reply');
          });
        },
        { allowHalfOpen: true },
      );
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.end('request');
      client.on('finish', () => ctx.state(client, 'client', 'finished', HALF_STATE));
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['server'], 'data "request"', 'end', 'state@peer-ended readyState="writeOnly" readable=false writable=true', 'finish', 'close hadError=false');
      inOrder(t['client'], 'finish', 'data "late reply"', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'no-half-open-server-ends-with-peer',
    covers: [1],
    from: 'test-net-socket-no-halfopen-enforcer',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.end('bye');
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['server'], 'data "bye"', 'end', 'finish', 'close hadError=false');
      inOrder(t['client'], 'finish', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'client-allow-half-open-keeps-writing',
    covers: [1],
    from: 'test-net-connect-options-allowhalfopen',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.end('server done');
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port, 'client', { allowHalfOpen: true });
      client.on('end', () => {
        ctx.state(client, 'client', 'peer-ended', HALF_STATE);
        client.write('after the peer ended', ctx.cb('client', 'write'));
        client.end(ctx.cb('client', 'end'));
      });
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'data "server done"', 'end', 'state@peer-ended readyState="writeOnly"', 'cb write(null)', 'cb end(null)', 'finish', 'close hadError=false');
      has(t['server'], 'data "after the peer ended"');
    },
  }),
  scenario({
    id: 'ready-state-through-half-close',
    covers: [1],
    from: 'test-net-socket-close-after-end, test-net-writable',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'), { allowHalfOpen: true });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await ctx.connected(client);
      const s = await accepted;
      ctx.state(client, 'client', 'open', HALF_STATE);
      client.end();
      ctx.state(client, 'client', 'after-end()', HALF_STATE);
      await ctx.next(s, 'end');
      ctx.state(s, 'server', 'peer-ended', HALF_STATE);
      s.end('reply');
      await Promise.all([ctx.closed(client), ctx.closed(s)]);
      ctx.state(client, 'client', 'closed', HALF_STATE);
      ctx.state(s, 'server', 'closed', HALF_STATE);
    },
    expect(t) {
      has(t['client'], 'state@open readyState="open"', 'state@after-end() readyState="readOnly"', 'state@closed readyState="closed"');
      has(t['server'], 'state@peer-ended readyState="writeOnly"');
    },
  }),
  scenario({
    id: 'end-callback-called-once',
    covers: [1, 5],
    from: 'test-net-socket-end-callback',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await ctx.connected(client);
      ctx.attempt('client', 'end(data, cb)', () => client.end('x', ctx.cb('client', 'end1')), client);
      ctx.attempt('client', 'end(cb) again', () => client.end(ctx.cb('client', 'end2')), client);
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'end(data, cb) -> this', 'end(cb) again -> this', 'cb end1(null)', 'cb end2(null)', 'finish', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'end-before-connect',
    covers: [1, 6],
    from: 'test-net-socket-end-before-connect',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      ctx.attempt('client', 'end("early")', () => client.end('early'), client);
      ctx.state(client, 'client', 'ended-while-connecting', HALF_STATE);
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'end("early") -> this', 'connect', 'finish', 'end', 'close hadError=false');
      inOrder(t['server'], 'data "early"', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'end-without-connect',
    covers: [1, 6],
    from: 'test-net-end-without-connect',
    async run(ctx) {
      const socket = ctx.watch(new ctx.clientNet.Socket(), 'client');
      ctx.attempt('client', 'end(cb)', () => socket.end(ctx.cb('client', 'end')), socket);
      ctx.state(socket, 'client', 'after-end', HALF_STATE);
      await ctx.turns(3);
      ctx.state(socket, 'client', 'later', HALF_STATE);
      socket.destroy();
      await ctx.closed(socket);
    },
    expect(t) {
      // Ending a socket that never connected: its end callback sees the destroy.
      inOrder(t['client'], 'end(cb) -> this', 'state@after-end readyState="readOnly" readable=true writable=false', 'cb end(Error[ERR_STREAM_DESTROYED]: Cannot call end after a stream was destroyed)', 'close hadError=undefined');
    },
  }),
  scenario({
    id: 'destroy-soon-after-write',
    covers: [1, 2],
    from: 'test-net-connect-destroy (destroySoon)',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await ctx.connected(client);
      client.write('soon', ctx.cb('client', 'write'));
      ctx.attempt('client', 'destroySoon()', () => client.destroySoon());
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['server'], 'data "soon"', 'end', 'close hadError=false');
      inOrder(t['client'], 'destroySoon() -> undefined', 'cb write(null)', 'finish', 'close hadError=false');
    },
  }),
  scenario({
    id: 'pause-on-connect-then-end',
    covers: [1],
    from: 'test-net-server-pause-on-connect',
    async run(ctx) {
      const { server, port } = await ctx.server('server', undefined, { pauseOnConnect: true });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.end('held back');
      const s = ctx.watch(await accepted, 'server');
      await ctx.next(client, 'finish');
      await ctx.turns(5);
      ctx.rec('server', 'resume');
      s.resume();
      await Promise.all([ctx.closed(client), ctx.closed(s)]);
    },
    expect(t) {
      inOrder(t['server'], 'resume', 'data "held back"', 'end', 'close hadError=false');
      lacks(t['client'], 'error');
    },
  }),
  scenario({
    id: 'pause-and-resume-reader',
    covers: [1, 6],
    from: 'test-net-pause-resume-connecting',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.pause();
        ctx.rec('server', `isPaused=${String(s.isPaused())}`);
        setImmediate(() => {
          ctx.rec('server', 'resume');
          s.resume();
        });
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.pause();
      ctx.rec('client', `isPaused=${String(client.isPaused())}`);
      client.end('paused while connecting');
      client.resume();
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['server'], 'isPaused=true', 'resume', 'data "paused while connecting"', 'end');
    },
  }),
  scenario({
    id: 'async-iterator-reads-to-end',
    covers: [1],
    from: 'issue 9 behaviour 1 (for await over a socket)',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server', { data: false });
        s.end('iterated');
      });
      const accepted = accept(ctx, server);
      const client = ctx.watch(ctx.clientNet.connect(port, ctx.host), 'client', { data: false });
      const chunks: Buffer[] = [];
      for await (const c of client) chunks.push(c as Buffer);
      ctx.rec('client', `iterated ${JSON.stringify(Buffer.concat(chunks).toString())}`);
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'connect', 'end', 'iterated "iterated"');
    },
  }),
  scenario({
    id: 'set-encoding-utf8',
    covers: [6],
    from: 'test-net-stream, test-net-binary',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.end(Buffer.from('héllo wörld', 'utf8'));
      });
      const accepted = accept(ctx, server);
      const client = ctx.clientNet.connect(port, ctx.host);
      client.setEncoding('utf8');
      ctx.watch(client, 'client', { client: true });
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'data(string) 13B sha256=', 'end', 'close hadError=false');
    },
  }),
];
