#!/usr/bin/env node
// The kernel-side twin of apps/echo's http service for `pnpm bench`: the same request handler
// (apps/echo/dist/services.js `httpHandler`) on Node's own `http` server over the kernel's TCP,
// so an HTTP workload compares the stacks and nothing else. Runs inside the bench's server
// namespace until killed (at most LIFE_S seconds).
//   node bench/khttp.mjs PORT [HOST]     HOST 0.0.0.0 (default) or :: (the IPv6 baseline, IPv6 only)
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const services = fileURLToPath(new URL('../apps/echo/dist/services.js', import.meta.url));
const { httpHandler } = await import(services);
const port = Number(process.argv[2] ?? 80);
const host = process.argv[3] ?? '0.0.0.0';
const LIFE_S = 3600;

const server = http.createServer(httpHandler);
// Node's defaults, as apps/echo's http service keeps them (listen backlog 511 on both sides;
// the runs recorded on 2026-12-07 passed 4096 here, which changes nothing at the bench's 100
// concurrent connections).
server.listen({ port, host, ipv6Only: host === '::' }, () => {
  process.stdout.write(`khttp: listening on ${port}\n`);
});
setTimeout(() => process.exit(0), LIFE_S * 1000).unref();
