/**
 * Writes: after end(), after close, after the peer's FIN or reset, before connect, with
 * callbacks (issue 9 behaviour 5); byte counters, cork, bufferSize, large and binary writes.
 * Ported from Node v20's test-net-write-after-close, -write-after-end-nt,
 * -socket-write-after-close, -write-cb-on-destroy-before-connect, -write-arguments,
 * -socket-byteswritten, -bytes-read, -bytes-stats, -sync-cork, -buffersize, -large-string,
 * -binary, -write-connect-write, -pingpong.
 */
import { accept, connectClient, has, inOrder, lacks, pattern, scenario } from './common.js';
import type { Scenario } from './harness.js';

const COUNTERS = ['bytesRead', 'bytesWritten'] as const;

export const WRITE_SCENARIOS: Scenario[] = [
  scenario({
    id: 'write-after-end',
    covers: [5],
    from: 'test-net-write-after-end-nt',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await ctx.connected(client);
      client.end();
      ctx.attempt('client', 'write() after end()', () => client.write('late', ctx.cb('client', 'write')));
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(
        t['client'],
        'write() after end() -> false',
        'cb write(Error[ERR_STREAM_WRITE_AFTER_END]: write after end)',
        'error Error[ERR_STREAM_WRITE_AFTER_END]: write after end',
        'close hadError=true',
      );
    },
  }),
  scenario({
    id: 'write-after-destroy',
    covers: [5],
    from: 'test-net-socket-write-after-close',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await ctx.connected(client);
      client.destroy();
      ctx.attempt('client', 'write() after destroy()', () => client.write('late', ctx.cb('client', 'write')));
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      ctx.attempt('client', 'write() after close', () => client.write('later', ctx.cb('client', 'write2')));
      await ctx.turns(3);
    },
    expect(t) {
      inOrder(
        t['client'],
        'write() after destroy() -> false',
        'cb write(Error[ERR_STREAM_DESTROYED]: Cannot call write after a stream was destroyed)',
        'close hadError=false',
        'write() after close -> false',
        'cb write2(Error[ERR_STREAM_DESTROYED]: Cannot call write after a stream was destroyed)',
      );
      lacks(t['client'], 'error');
    },
  }),
  scenario({
    id: 'write-after-peer-closed',
    covers: [5],
    from: 'test-net-write-after-close',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.destroy();
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port, 'client', { allowHalfOpen: true });
      await ctx.next(client, 'end');
      await accepted.then((s) => ctx.closed(s));
      client.write('to a closed peer', ctx.cb('client', 'write1'));
      await ctx.turns(10);
      // The peer answered the first write with a RST: the next write fails with EPIPE.
      client.write('again', ctx.cb('client', 'write2'));
      await ctx.closed(client);
      ctx.attempt('client', 'write() after close', () => client.write('x', ctx.cb('client', 'write3')));
      await ctx.turns(3);
    },
    expect(t) {
      inOrder(
        t['client'],
        'end',
        'cb write1(null)',
        'cb write2(Error[EPIPE]: write EPIPE {syscall=write errno=-32})',
        'error Error[EPIPE]: write EPIPE {syscall=write errno=-32}',
        'close hadError=true',
        'write() after close -> false',
        'cb write3(Error[ERR_STREAM_DESTROYED]',
      );
    },
  }),
  scenario({
    id: 'write-after-peer-reset',
    covers: [5],
    from: 'test-net-socket-write-error',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await ctx.connected(client);
      const s = await accepted;
      s.resetAndDestroy();
      await Promise.all([ctx.closed(client), ctx.closed(s)]);
      ctx.attempt('client', 'write() after reset', () => client.write('into a reset', ctx.cb('client', 'write')));
      await ctx.turns(3);
    },
    expect(t) {
      inOrder(
        t['client'],
        'connect',
        'error Error[ECONNRESET]: read ECONNRESET {syscall=read errno=-104}',
        'close hadError=true',
        'write() after reset -> false',
        'cb write(Error[ERR_STREAM_DESTROYED]: Cannot call write after a stream was destroyed)',
      );
    },
  }),
  scenario({
    id: 'write-callback-when-destroyed-before-connect',
    covers: [5],
    from: 'test-net-write-cb-on-destroy-before-connect',
    async run(ctx) {
      const { port } = await ctx.server('server');
      const client = ctx.watch(new ctx.clientNet.Socket(), 'client');
      client.connect({ port, host: ctx.host });
      ctx.state(client, 'client', 'connecting', ['connecting']);
      client.write('foo', ctx.cb('client', 'write'));
      client.destroy();
      await ctx.closed(client);
    },
    expect(t) {
      inOrder(t['client'], 'state@connecting connecting=true', 'close hadError=false', 'cb write(Error[ERR_SOCKET_CLOSED_BEFORE_CONNECTION]: Socket closed before the connection was established)');
      lacks(t['client'], 'connect');
    },
  }),
  scenario({
    id: 'write-before-connect-is-queued',
    covers: [5, 6],
    from: 'test-net-write-connect-write, test-net-socket-byteswritten',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.write('first ', ctx.cb('client', 'write1'));
      ctx.state(client, 'client', 'queued', ['bytesWritten', 'pending', 'writableLength' as never]);
      client.once('connect', () => client.end('second', ctx.cb('client', 'end')));
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      ctx.state(client, 'client', 'closed', COUNTERS);
    },
    expect(t) {
      has(t['client'], 'state@queued bytesWritten=6 pending=true', 'state@closed bytesRead=0 bytesWritten=12');
      inOrder(t['client'], 'connect', 'cb write1(null)', 'cb end(null)', 'finish');
      has(t['server'], 'data "first second"');
    },
  }),
  scenario({
    id: 'write-argument-validation',
    covers: [5, 6],
    from: 'test-net-write-arguments',
    async run(ctx) {
      const socket = ctx.watch(new ctx.clientNet.Socket(), 'client');
      ctx.attempt('client', 'write(null)', () => socket.write(null as unknown as string));
      ctx.attempt('client', 'write(1)', () => socket.write(1 as unknown as string));
      ctx.attempt('client', 'write(true)', () => socket.write(true as unknown as string));
      ctx.attempt('client', 'write({})', () => socket.write({} as unknown as string));
      ctx.attempt('client', 'write("x", "bogus-encoding")', () => socket.write('x', 'bogus-encoding' as BufferEncoding));
      socket.destroy();
      await ctx.closed(socket);
    },
    expect(t) {
      has(
        t['client'],
        'write(null) throws TypeError[ERR_STREAM_NULL_VALUES]: May not write null values to stream',
        'write(1) throws TypeError[ERR_INVALID_ARG_TYPE]: The "chunk" argument must be of type string or an instance of Buffer',
      );
    },
  }),
  scenario({
    id: 'bytes-read-and-written',
    covers: [6],
    from: 'test-net-bytes-stats, test-net-bytes-read, test-net-access-byteswritten',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.pipe(s);
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      ctx.state(client, 'client', 'connecting', COUNTERS);
      client.write('12345');
      client.write(Buffer.from('67890'));
      client.end('abc');
      const s = await accepted;
      await Promise.all([ctx.closed(client), ctx.closed(s)]);
      ctx.state(client, 'client', 'closed', COUNTERS);
      ctx.state(s, 'server', 'closed', COUNTERS);
    },
    expect(t) {
      has(t['client'], 'state@connecting bytesRead=0 bytesWritten=0', 'state@closed bytesRead=13 bytesWritten=13');
      has(t['server'], 'state@closed bytesRead=13 bytesWritten=13');
    },
  }),
  scenario({
    id: 'bytes-written-counts-strings-by-encoding',
    covers: [6],
    from: 'test-net-socket-byteswritten',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.cork();
      client.write('héllo');
      client.write('ff00', 'hex');
      ctx.state(client, 'client', 'corked', ['bytesWritten', 'writableCorked' as never]);
      client.uncork();
      client.end();
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      ctx.state(client, 'client', 'closed', ['bytesWritten']);
    },
    expect(t) {
      has(t['client'], 'state@corked bytesWritten=8 writableCorked=1', 'state@closed bytesWritten=8');
    },
  }),
  scenario({
    id: 'cork-before-connect',
    covers: [6],
    from: 'test-net-sync-cork',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.cork();
      for (let i = 0; i < 5; i++) client.write(`${i}`, ctx.cb('client', `write${i}`));
      ctx.rec('client', `writableCorked=${client.writableCorked} writableLength=${client.writableLength}`);
      client.once('connect', () => {
        ctx.rec('client', `at connect writableCorked=${client.writableCorked}`);
        client.uncork();
        client.end();
      });
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'writableCorked=1 writableLength=5', 'connect', 'at connect writableCorked=1', 'cb write0(null)', 'cb write4(null)', 'finish');
      has(t['server'], 'data "01234"');
    },
  }),
  scenario({
    id: 'buffer-size',
    covers: [6],
    from: 'test-net-buffersize',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => ctx.watch(s, 'server'));
      const accepted = accept(ctx, server);
      const client = ctx.clientNet.connect(port, ctx.host);
      ctx.watch(client, 'client');
      ctx.rec('client', `bufferSize connecting=${String(client.bufferSize)}`);
      client.write('12345');
      ctx.rec('client', `bufferSize after write while connecting=${String(client.bufferSize)}`);
      await ctx.connected(client);
      client.end();
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      ctx.rec('client', `bufferSize closed=${String(client.bufferSize)}`);
    },
    expect(t) {
      has(t['client'], 'bufferSize connecting=0', 'bufferSize after write while connecting=5');
    },
  }),
  scenario({
    id: 'large-string-write',
    covers: [6],
    from: 'test-net-large-string',
    boundMs: 5000,
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.setEncoding('utf8');
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.end('cafébabe'.repeat(100_000), 'utf8');
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      ctx.state(client, 'client', 'closed', ['bytesWritten']);
    },
    expect(t) {
      has(t['client'], 'state@closed bytesWritten=900000');
      has(t['server'], 'data(string) 900000B sha256=');
    },
  }),
  scenario({
    id: 'binary-all-byte-values',
    covers: [6],
    from: 'test-net-binary',
    async run(ctx) {
      const all = Buffer.alloc(256 * 4);
      for (let i = 0; i < all.length; i++) all[i] = i & 0xff;
      const { server, port } = await ctx.server('server', (s) => {
        ctx.watch(s, 'server');
        s.pipe(s);
      });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      client.end(all);
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      has(t['client'], 'data 1024B sha256=');
    },
  }),
  scenario({
    id: 'ping-pong-rounds',
    covers: [6],
    from: 'test-net-pingpong',
    async run(ctx) {
      const { server, port } = await ctx.server('server', (s) => {
        s.setEncoding('utf8');
        let n = 0;
        s.on('data', (d: string) => {
          // Each PING is answered before the next is sent, so no two arrive together.
          ctx.rec('server', `got ${d}`);
          n++;
          if (n < 5) s.write('PONG');
          else s.end('PONG');
        });
        s.on('close', (e: boolean) => ctx.rec('server', `close hadError=${String(e)}`));
      });
      const accepted = accept(ctx, server);
      const client = ctx.clientNet.connect(port, ctx.host);
      ctx.track(client);
      client.setEncoding('utf8');
      client.on('connect', () => client.write('PING'));
      let pongs = 0;
      client.on('data', (d: string) => {
        ctx.rec('client', `got ${d}`);
        if (++pongs < 5) client.write('PING');
      });
      client.on('end', () => {
        ctx.rec('client', 'end');
        client.end();
      });
      client.on('close', (e: boolean) => ctx.rec('client', `close hadError=${String(e)}`));
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
    },
    expect(t) {
      inOrder(t['client'], 'got PONG', 'got PONG', 'got PONG', 'got PONG', 'got PONG', 'end', 'close hadError=false');
      inOrder(t['server'], 'got PING', 'got PING', 'got PING', 'got PING', 'got PING', 'close hadError=false');
    },
  }),
  scenario({
    id: 'drain-after-full-buffer',
    covers: [6],
    from: 'test-net-write-slow, test-net-throttle',
    boundMs: 5000,
    async run(ctx) {
      const { server, port } = await ctx.server('server', undefined, { pauseOnConnect: true });
      const accepted = accept(ctx, server);
      const client = connectClient(ctx, port);
      await ctx.connected(client);
      const s = ctx.watch(await accepted, 'server', { data: false });
      let writes = 0;
      while (client.write(pattern(64 * 1024)) && writes < 1000) writes++;
      ctx.rec('client', `write returned false (within 1000 writes: ${String(writes < 1000)})`);
      const drained = ctx.next(client, 'drain').then(() => ctx.rec('client', 'drain'));
      s.resume();
      await drained;
      client.end();
      await Promise.all([ctx.closed(client), ctx.closed(s)]);
    },
    expect(t) {
      inOrder(t['client'], 'write returned false (within 1000 writes: true)', 'drain', 'close hadError=false');
    },
  }),
];
