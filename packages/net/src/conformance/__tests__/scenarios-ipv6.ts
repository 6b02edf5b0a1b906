/**
 * The node:net surface over IPv6 (issue 13): IPv6 literals, `family`, `localAddress` of either
 * family, `lookup` answers of both families and autoSelectFamily, '::' listeners (dual-stack,
 * IPv4 peers as `::ffff:a.b.c.d`), `ipv6Only`, the default listen host and the port conflicts
 * between '::' and '0.0.0.0'. Ported from Node v20's test-net-connect-options-ipv6,
 * -server-listen-ipv6-only, -autoselectfamily, -better-error-messages-port-hostname,
 * -dns-lookup and -local-address-port, on node:net over ::1 and on tcp-tun over its fd00::/64
 * addresses (see harness.ts: every target is dual-stack).
 */
import type * as nodeNet from 'node:net';
import { expect } from 'chai';
import { accept, has, inOrder, scenario } from './common.js';
import { mapped, type Ctx, type Scenario } from './harness.js';

/** `⟨p:N⟩`: a port the harness names by role. */
function p(port: unknown): string {
  return typeof port === 'number' && port > 0 ? `⟨p:${port}⟩` : String(port);
}

/** Records both ends of `socket` with their families, keeping the v4-mapped prefix visible. */
function ends6(ctx: Ctx, socket: nodeNet.Socket, label: string, at: string): void {
  const a = socket.address() as Partial<nodeNet.AddressInfo>;
  ctx.rec(
    label,
    `ends6@${at} local=${mapped(socket.localAddress)}:${p(socket.localPort)}/${String(socket.localFamily)}` +
      ` remote=${mapped(socket.remoteAddress)}:${p(socket.remotePort)}/${String(socket.remoteFamily)}` +
      ` address()=${mapped(a.address)}/${String(a.family)}`,
  );
}

/** `server.address()` with the family as reported. */
function serverAddress(ctx: Ctx, server: nodeNet.Server, label: string): void {
  const a = server.address() as nodeNet.AddressInfo | null;
  ctx.rec(label, a === null ? 'address null' : `address ${mapped(a.address)}/${a.family} ${p(a.port)}`);
}

/**
 * An echo server listening with `listen(...args)`; each accepted socket is watched in
 * `label` and its ends recorded.
 */
async function echo6(ctx: Ctx, label: string, listen: (server: nodeNet.Server) => void): Promise<{ server: nodeNet.Server; port: number }> {
  const server = ctx.watchServer(ctx.serverNet.createServer(), label);
  server.on('connection', (s: nodeNet.Socket) => {
    ctx.watch(s, label);
    ends6(ctx, s, label, 'accepted');
    s.pipe(s);
  });
  listen(server);
  const port = await ctx.listening(server);
  serverAddress(ctx, server, label);
  return { server, port };
}

/** A client exchange: connect, record its ends, send `text`, wait for both closes. */
async function exchange6(ctx: Ctx, server: nodeNet.Server, label: string, options: nodeNet.TcpNetConnectOpts, text: string): Promise<void> {
  const accepted = accept(ctx, server);
  const client = ctx.watch(ctx.clientNet.connect(options), label, { client: true });
  await ctx.connected(client);
  ends6(ctx, client, label, 'connect');
  client.end(text);
  await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
}

/** A resolver answering `name` from a fixed table, recording each call's options in `label`. */
function tableLookup(ctx: Ctx, label: string, answers: (options: { family?: unknown; all?: boolean }) => Array<{ address: string; family: number }>): nodeNet.LookupFunction {
  const lookup = (host: string, options: { family?: unknown; all?: boolean }, callback: (...args: unknown[]) => void): void => {
    ctx.rec(label, `lookup called host=${host} options=${JSON.stringify(options)}`);
    const list = answers(options);
    if (options.all === true) setImmediate(() => callback(null, list));
    else setImmediate(() => callback(null, list[0]?.address, list[0]?.family));
  };
  return lookup as unknown as nodeNet.LookupFunction;
}

export const IPV6_SCENARIOS: Scenario[] = [
  scenario({
    id: 'ipv6-connect-literal',
    covers: [6],
    from: 'test-net-connect-options-ipv6, test-net-remote-address-port',
    async run(ctx) {
      const { server, port } = await echo6(ctx, 'server', (s) => s.listen(0, ctx.host6));
      await exchange6(ctx, server, 'client', { port, host: ctx.host6 }, 'six');
    },
    expect(t) {
      inOrder(t['server'], 'listening', 'address ADDR6/IPv6 SERVER_PORT', 'connection', 'ends6@accepted local=ADDR6:SERVER_PORT/IPv6 remote=ADDR6:CLIENT_PORT/IPv6 address()=ADDR6/IPv6', 'data "six"', 'end');
      inOrder(t['client'], 'connect', 'ends6@connect local=ADDR6:CLIENT_PORT/IPv6 remote=ADDR6:SERVER_PORT/IPv6 address()=ADDR6/IPv6', 'data "six"', 'end', 'close hadError=false');
    },
  }),
  scenario({
    id: 'ipv6-dual-listener-ipv4-peers',
    covers: [6, 8],
    from: 'test-net-server-listen-ipv6 (dual stack), test-net-connect-options-ipv6',
    async run(ctx) {
      // Listening on '::' takes both families; an IPv4 peer reads as ::ffff:a.b.c.d, family
      // IPv6, on the server's side (Linux's dual-stack socket), as IPv4 on its own.
      const { server, port } = await echo6(ctx, 'server', (s) => s.listen(0, '::'));
      await exchange6(ctx, server, 'client-v4', { port, host: ctx.host }, 'four');
      await exchange6(ctx, server, 'client-v6', { port, host: ctx.host6 }, 'six');
      // A v4-mapped literal: an IPv6 socket that reaches the IPv4 address.
      await exchange6(ctx, server, 'client-mapped', { port, host: `::ffff:${ctx.host}` }, 'mapped');
    },
    expect(t) {
      has(t['server'], 'address ::/IPv6 SERVER_PORT');
      has(t['server'], 'ends6@accepted local=v4mapped/ADDR:SERVER_PORT/IPv6 remote=v4mapped/ADDR:CLIENT_PORT/IPv6 address()=v4mapped/ADDR/IPv6');
      has(t['server'], 'ends6@accepted local=ADDR6:SERVER_PORT/IPv6 remote=ADDR6:CLIENT_PORT_2/IPv6');
      has(t['client-v4'], 'ends6@connect local=ADDR:CLIENT_PORT/IPv4 remote=ADDR:SERVER_PORT/IPv4 address()=ADDR/IPv4');
      has(t['client-mapped'], 'ends6@connect local=v4mapped/ADDR:CLIENT_PORT_3/IPv6 remote=v4mapped/ADDR:SERVER_PORT/IPv6');
      inOrder(t['client-v6'], 'connect', 'ends6@connect', 'data "six"', 'close hadError=false');
    },
  }),
  scenario({
    id: 'ipv6-default-listen-host',
    covers: [6],
    from: 'test-net-server-listen-remove-callback, test-net-listen-ipv6only (listen() without a host)',
    async run(ctx) {
      // Node listens on '::' when the host has IPv6: both families reach it.
      const { server, port } = await echo6(ctx, 'server', (s) => s.listen(0));
      await exchange6(ctx, server, 'client-v6', { port, host: ctx.host6 }, 'six');
      await exchange6(ctx, server, 'client-v4', { port, host: ctx.host }, 'four');
    },
    expect(t) {
      has(t['server'], 'address ::/IPv6 SERVER_PORT', 'ends6@accepted local=v4mapped/ADDR:SERVER_PORT/IPv6');
      inOrder(t['client-v4'], 'connect', 'ends6@connect local=ADDR:CLIENT_PORT_2/IPv4', 'data "four"', 'close hadError=false');
    },
  }),
  scenario({
    id: 'ipv6-only-listener',
    covers: [6],
    from: 'test-net-server-listen-ipv6-only, test-cluster-net-listen-ipv6only-none',
    async run(ctx) {
      const { server, port } = await echo6(ctx, 'server', (s) => s.listen({ port: 0, host: '::', ipv6Only: true }));
      // IPv4 is not taken: refused.
      const refused = ctx.watch(ctx.clientNet.connect({ port, host: ctx.host }), 'client-v4', { client: true });
      await ctx.closed(refused);
      await exchange6(ctx, server, 'client-v6', { port, host: ctx.host6 }, 'six');
      // The port's IPv4 side is free for another listener.
      const { server: other } = await echo6(ctx, 'server-4', (s) => s.listen(port, '0.0.0.0'));
      await exchange6(ctx, other, 'client-v4-again', { port, host: ctx.host }, 'four');
    },
    expect(t) {
      inOrder(t['client-v4'], 'error Error[ECONNREFUSED]: connect ECONNREFUSED ADDR:SERVER_PORT', 'close hadError=true');
      has(t['server-4'], 'address 0.0.0.0/IPv4 SERVER_PORT', 'ends6@accepted local=ADDR:SERVER_PORT/IPv4 remote=ADDR:');
      has(t['client-v6'], 'ends6@connect local=ADDR6:');
    },
  }),
  scenario({
    id: 'ipv6-listen-conflicts',
    covers: [6],
    from: 'test-net-listen-ipv6only, test-net-server-listen-ipv6-only (EADDRINUSE between families)',
    async run(ctx) {
      const listen = async (label: string, options: nodeNet.ListenOptions): Promise<nodeNet.Server> => {
        const s = ctx.watchServer(ctx.serverNet.createServer(), label);
        s.listen(options);
        await Promise.race([ctx.next(s, 'listening'), ctx.next(s, 'error')]);
        if (s.listening) serverAddress(ctx, s, label);
        return s;
      };
      // '::' (dual) holds the port for both families and every address of either.
      const any6 = await listen('any6', { port: 0, host: '::' });
      const port = await ctx.listening(any6);
      await listen('any4-after-any6', { port, host: '0.0.0.0' });
      await listen('any6-after-any6', { port, host: '::' });
      await listen('addr6-after-any6', { port, host: ctx.host6 });
      await listen('addr4-after-any6', { port, host: ctx.host });
      await new Promise<void>((resolve) => any6.close(() => resolve()));
      // '0.0.0.0' holds the IPv4 side only: a dual '::' conflicts, an IPv6-only one does not.
      await listen('any4', { port, host: '0.0.0.0' });
      await listen('any6-after-any4', { port, host: '::' });
      await listen('v6only-after-any4', { port, host: '::', ipv6Only: true });
      // ... and the IPv6-only wildcard then holds the port's IPv6 addresses.
      await listen('addr6-after-v6only', { port, host: ctx.host6 });
    },
    expect(t) {
      has(t['any4-after-any6'], 'server-error Error[EADDRINUSE]: listen EADDRINUSE: address already in use 0.0.0.0:SERVER_PORT');
      has(t['any6-after-any6'], 'server-error Error[EADDRINUSE]: listen EADDRINUSE: address already in use :::SERVER_PORT');
      has(t['addr6-after-any6'], 'server-error Error[EADDRINUSE]: listen EADDRINUSE: address already in use ADDR6:SERVER_PORT');
      has(t['addr4-after-any6'], 'server-error Error[EADDRINUSE]');
      has(t['any4'], 'listening', 'address 0.0.0.0/IPv4 SERVER_PORT');
      has(t['any6-after-any4'], 'server-error Error[EADDRINUSE]');
      has(t['v6only-after-any4'], 'listening', 'address ::/IPv6 SERVER_PORT');
      has(t['addr6-after-v6only'], 'server-error Error[EADDRINUSE]');
    },
  }),
  scenario({
    id: 'ipv6-family-option',
    covers: [6, 7],
    from: 'test-net-connect-options-ipv6, test-net-dns-lookup',
    async run(ctx) {
      const { server, port } = await echo6(ctx, 'server', (s) => s.listen(0, '::'));
      const lookup = tableLookup(ctx, 'lookups', (o) =>
        o.family === 6 ? [{ address: ctx.host6, family: 6 }] : o.family === 4 ? [{ address: ctx.host, family: 4 }] : [{ address: ctx.host6, family: 6 }, { address: ctx.host, family: 4 }],
      );
      await exchange6(ctx, server, 'client-family-6', { port, host: 'dual.example', family: 6, lookup }, 'six');
      await exchange6(ctx, server, 'client-family-IPv4', { port, host: 'dual.example', family: 'IPv4' as unknown as number, lookup }, 'four');
      // An IP literal is never looked up: `family` is not consulted.
      await exchange6(ctx, server, 'client-literal', { port, host: ctx.host, family: 6, lookup }, 'literal');
    },
    expect(t) {
      inOrder(t['lookups'], 'lookup called host=dual.example options={"family":6,"hints":0}', 'lookup called host=dual.example options={"family":4,"hints":0}');
      expect(t['lookups']).to.have.length(2);
      inOrder(t['client-family-6'], 'lookup null "ADDR6" 6 "dual.example"', 'connect', 'ends6@connect local=ADDR6:');
      inOrder(t['client-family-IPv4'], 'lookup null "ADDR" 4 "dual.example"', 'connect', 'ends6@connect local=ADDR:');
      inOrder(t['client-literal'], 'connect', 'ends6@connect local=ADDR:');
    },
  }),
  scenario({
    id: 'ipv6-family-validation',
    covers: [6],
    from: 'test-net-connect-options-invalid, test-dns-lookup (family validation)',
    async run(ctx) {
      for (const family of [5, '6', 'ipv6', -1]) {
        ctx.attempt('client', `connect({host: "localhost", family: ${JSON.stringify(family)}})`, () =>
          ctx.clientNet.connect({ port: 80, host: 'localhost', family } as unknown as nodeNet.NetConnectOpts),
        );
      }
      // Only dns.lookup checks it: an IP literal connects, a resolver of one's own is asked as is.
      const { server, port } = await echo6(ctx, 'server', (s) => s.listen(0, ctx.host6));
      await exchange6(ctx, server, 'client-literal', { port, host: ctx.host6, family: 5 } as unknown as nodeNet.TcpNetConnectOpts, 'five');
      const lookup = tableLookup(ctx, 'lookups', () => [{ address: ctx.host6, family: 6 }]);
      await exchange6(ctx, server, 'client-lookup', { port, host: 'odd.example', family: 5, lookup } as unknown as nodeNet.TcpNetConnectOpts, 'odd');
    },
    expect(t) {
      has(
        t['client'],
        `connect({host: "localhost", family: 5}) throws TypeError[ERR_INVALID_ARG_VALUE]: The property 'options.family' must be one of: 0, 4, 6. Received 5`,
        `connect({host: "localhost", family: "6"}) throws TypeError[ERR_INVALID_ARG_VALUE]: The property 'options.family' must be one of: 0, 4, 6. Received '6'`,
      );
      inOrder(t['client-literal'], 'connect', 'data "five"', 'close hadError=false');
      has(t['lookups'], 'lookup called host=odd.example options={"family":5,"hints":32,"all":true}');
    },
  }),
  scenario({
    id: 'ipv6-lookup-both-families',
    covers: [6, 7],
    from: 'test-net-autoselectfamily, test-net-autoselectfamily-default',
    async run(ctx) {
      // A dual listener: the first answer's family is tried first and wins.
      const { server, port } = await echo6(ctx, 'server', (s) => s.listen(0, '::'));
      const v4first = tableLookup(ctx, 'lookups', () => [{ address: ctx.host, family: 4 }, { address: ctx.host6, family: 6 }]);
      const v6first = tableLookup(ctx, 'lookups', () => [{ address: ctx.host6, family: 6 }, { address: ctx.host, family: 4 }]);
      for (const [label, lookup] of [['client-v4-first', v4first], ['client-v6-first', v6first]] as const) {
        const accepted = accept(ctx, server);
        const client = ctx.watch(ctx.clientNet.connect({ port, host: 'both.example', lookup }), label, { client: true });
        client.on('connectionAttempt', (ip: string, attemptPort: number, family: number) => ctx.rec(label, `attempt ${ip}:${p(attemptPort)} ${family}`));
        await ctx.connected(client);
        ctx.rec(label, `attempted ${JSON.stringify(client.autoSelectFamilyAttemptedAddresses)} remoteFamily=${String(client.remoteFamily)}`);
        client.end('x');
        await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      }
    },
    expect(t) {
      inOrder(t['client-v4-first'], 'lookup null "ADDR" 4 "both.example"', 'lookup null "ADDR6" 6 "both.example"', 'connect', 'attempted');
      has(t['client-v4-first'], 'attempted ["ADDR:SERVER_PORT"] remoteFamily=IPv4');
      has(t['client-v6-first'], 'attempted ["ADDR6:SERVER_PORT"] remoteFamily=IPv6');
      has(t['lookups'], 'lookup called host=both.example options={"hints":32,"all":true}');
    },
  }),
  scenario({
    id: 'ipv6-autoselect-fallback',
    covers: [6, 7],
    from: 'test-net-autoselectfamily (the first family refused, then every address refused)',
    async run(ctx) {
      // IPv6 only: the IPv4 answer is refused, the IPv6 one connects.
      const { server, port } = await echo6(ctx, 'server', (s) => s.listen({ port: 0, host: '::', ipv6Only: true }));
      const lookup = tableLookup(ctx, 'lookups', () => [{ address: ctx.host, family: 4 }, { address: ctx.host6, family: 6 }]);
      const watchAttempts = (s: nodeNet.Socket, label: string): void => {
        s.on('connectionAttempt', (ip: string, ap: number, family: number) => ctx.rec(label, `attempt ${ip}:${p(ap)} ${family}`));
        s.on('connectionAttemptFailed', (ip: string, ap: number, family: number, e: Error) =>
          ctx.rec(label, `attempt-failed ${ip}:${p(ap)} ${family} ${(e as { code?: string }).code}`),
        );
      };
      const accepted = accept(ctx, server);
      const client = ctx.watch(ctx.clientNet.connect({ port, host: 'both.example', lookup }), 'client', { client: true });
      watchAttempts(client, 'client');
      await ctx.connected(client);
      ctx.rec('client', `attempted ${JSON.stringify(client.autoSelectFamilyAttemptedAddresses)} remoteFamily=${String(client.remoteFamily)}`);
      client.end('fallback');
      await Promise.all([ctx.closed(client), accepted.then((s) => ctx.closed(s))]);
      // Nothing listens: every attempt is refused, and the error gathers them.
      const free = await ctx.freePort();
      const none = ctx.clientNet.connect({ port: free, host: 'both.example', lookup });
      ctx.track(none);
      watchAttempts(none, 'client-refused');
      none.on('error', (e: Error & { errors?: unknown[] }) =>
        ctx.rec('client-refused', `errors ${(e.errors ?? []).map((x) => String((x as Error).message)).join(' | ')}`),
      );
      ctx.watch(none, 'client-refused', { client: true });
      await ctx.closed(none);
    },
    expect(t) {
      inOrder(t['client'], 'attempt ADDR:SERVER_PORT 4', 'attempt-failed ADDR:SERVER_PORT 4 ECONNREFUSED', 'attempt ADDR6:SERVER_PORT 6', 'connect', 'attempted ["ADDR:SERVER_PORT","ADDR6:SERVER_PORT"] remoteFamily=IPv6');
      inOrder(t['client-refused'], 'attempt ADDR:', 'attempt-failed', 'attempt ADDR6:', 'attempt-failed', 'errors connect ECONNREFUSED ADDR:', 'error AggregateError[ECONNREFUSED]', 'close hadError=true');
    },
  }),
  scenario({
    id: 'ipv6-local-address',
    covers: [6],
    from: 'test-net-local-address-port, test-net-connect-options-ipv6, test-net-client-bind-twice (localAddress)',
    async run(ctx) {
      const { server, port } = await echo6(ctx, 'server', (s) => s.listen(0, '::'));
      await exchange6(ctx, server, 'client-local6', { port, host: ctx.host6, localAddress: ctx.clientHost6 }, 'local');
      // An IPv4 local address for an IPv6 peer: bind() refuses the other family.
      const mismatched = ctx.watch(ctx.clientNet.connect({ port, host: ctx.host6, localAddress: ctx.host }), 'client-mismatch', { client: true });
      await ctx.closed(mismatched);
      ctx.attempt('client-bracketed', 'connect({localAddress: "[…]"})', () => ctx.clientNet.connect({ port, host: ctx.host6, localAddress: `[${ctx.clientHost6}]` }));
      // Addresses that are not ours, of either family: bind() fails before anything is sent.
      for (const [label, host, localAddress] of [
        ['client-foreign4', ctx.host, '10.9.9.9'],
        ['client-foreign6', ctx.host6, 'fd00::9'],
      ] as const) {
        const foreign = ctx.watch(ctx.clientNet.connect({ port, host, localAddress }), label, { client: true });
        await ctx.closed(foreign);
      }
    },
    expect(t) {
      inOrder(t['client-local6'], 'connect', 'ends6@connect local=ADDR6:CLIENT_PORT/IPv6', 'data "local"', 'close hadError=false');
      inOrder(t['client-mismatch'], 'error Error[EINVAL]: bind EINVAL ADDR {syscall=bind errno=-22 address=ADDR}', 'close hadError=true');
      has(t['client-bracketed'], 'connect({localAddress: "[…]"}) throws TypeError[ERR_INVALID_IP_ADDRESS]: Invalid IP address: [ADDR6]');
      inOrder(t['client-foreign4'], 'error Error[EADDRNOTAVAIL]: bind EADDRNOTAVAIL 10.9.9.9 {syscall=bind errno=-99 address=10.9.9.9}', 'close hadError=true');
      inOrder(t['client-foreign6'], 'error Error[EADDRNOTAVAIL]: bind EADDRNOTAVAIL fd00::9 {syscall=bind errno=-99 address=fd00::9}', 'close hadError=true');
    },
  }),
  scenario({
    id: 'ipv6-bracketed-host',
    covers: [6, 7],
    from: 'test-net-better-error-messages-port-hostname (an IPv6 literal in brackets is a name)',
    async run(ctx) {
      const client = ctx.watch(ctx.clientNet.connect({ port: 80, host: `[${ctx.host6}]` }), 'client', { client: true });
      await ctx.closed(client);
    },
    expect(t) {
      inOrder(
        t['client'],
        'lookup Error[ENOTFOUND]: getaddrinfo ENOTFOUND [ADDR6] {syscall=getaddrinfo errno=-3008} undefined undefined "[ADDR6]"',
        'error Error[ENOTFOUND]: getaddrinfo ENOTFOUND [ADDR6]',
        'close hadError=true',
      );
    },
  }),
  scenario({
    id: 'ipv6-max-connections-drop',
    covers: [3, 6],
    from: 'test-net-server-max-connections, test-net-server-drop-connections (over a dual listener)',
    async run(ctx) {
      // The 'drop' event's addresses and families are the dual socket's: v4-mapped for IPv4.
      const server = ctx.watchServer(ctx.serverNet.createServer(), 'server', { connections: 'server' });
      server.maxConnections = 1;
      server.on('drop', (d?: Record<string, unknown>) =>
        ctx.rec(
          'server',
          `drop-data local=${mapped(d?.['localAddress'])}:${p(d?.['localPort'])}/${String(d?.['localFamily'])}` +
            ` remote=${mapped(d?.['remoteAddress'])}:${p(d?.['remotePort'])}/${String(d?.['remoteFamily'])}`,
        ),
      );
      server.listen(0, '::');
      const port = await ctx.listening(server);
      const accepted = accept(ctx, server);
      const first = ctx.watch(ctx.clientNet.connect({ port, host: ctx.host6 }), 'client-v6', { client: true });
      await ctx.connected(first);
      await accepted;
      const dropped = ctx.next(server, 'drop');
      const second = ctx.watch(ctx.clientNet.connect({ port, host: ctx.host }), 'client-v4', { client: true });
      await dropped;
      await ctx.closed(second);
      first.end();
      await ctx.closed(first);
    },
    expect(t) {
      has(t['server'], 'drop-data local=v4mapped/ADDR:SERVER_PORT/IPv6 remote=v4mapped/ADDR:CLIENT_PORT_2/IPv6');
      inOrder(t['client-v4'], 'connect', 'end', 'close hadError=false');
    },
  }),
];
