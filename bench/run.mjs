#!/usr/bin/env node
// `pnpm bench`: issue 11's workloads against tcp-tun (apps/echo as shipped, offload on where the
// device takes it, and with --no-offload), lwIP 2.1.3 over a TUN (../shared/anchors/lwip, built
// here; skipped loudly when absent) and the Linux kernel ⇄ kernel over a veth pair (offloads
// on), all on this machine in one run. Every stack's server is a fresh process at the start of
// each rep and the first workload of a rep is `conn`, so the cold start counts.
// Prints a table, saves JSON and an SVG chart (ratio to the kernel per workload) to OUT.
// Everything runs in namespaces made here and deleted at the end; every client is bounded in
// count and time. Needs root. Knobs (environment):
//   REPS=3 ONLY=conn,rr,http1m  MTU=1500  SIZE=268435456 (stream bytes)  CONN=2000  RR=20000
//   FAIR_N=8 FAIR_S=3  HTTP_S=5 (wrk seconds)  HTTP=0 (skip HTTP)  LWIP=0 (skip lwIP)
//   HTTP_ROUNDS=1 (each HTTP row this many times per rep, twins paired in every round)
//   NOOFFLOAD=0 (skip the --no-offload configuration)  IDLE=10000 (0 skips)  KOFFLOAD=off
//   ANCHORS=/path/to/shared/anchors  OUT=bench/results  ECHO_FLAGS="--no-warm-up" (more apps/echo flags)
//   FAMILY=4,6 (every workload over IPv4 and over IPv6 against IPv6 twins of tcp-tun and the
//   kernel; 4 or 6 picks one; lwIP is IPv4 only: bench/lib/family.mjs). Each IPv6 stack runs
//   right next to its IPv4 twin in every rep and workload, the pair's order alternating between
//   reps, and IPv6 is judged on the median of the per-rep ratios (bench/lib/paired.mjs;
//   REPS=5 or more for family ratios).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { abArgs, CLIENT_PACKAGES, h2loadArgs, parseAb, parseH2load, parseWrk, wrkArgs } from './lib/http-clients.mjs';
import { barChart } from './lib/svg.mjs';
import { echoAddressFlags, IPV6_NAMESPACE_SYSCTLS, ipv6Stacks, parseFamilies, urlHost, V6 } from './lib/family.mjs';
import { judgeRatio, pairedOrder, pairedRatios, summarizeRatios } from './lib/paired.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const KBENCH = fileURLToPath(new URL('./kbench.py', import.meta.url));
const KHTTP = fileURLToPath(new URL('./khttp.mjs', import.meta.url));
const ECHO = `${root}apps/echo/dist/main.js`;
const env = process.env;
const num = (k, d) => (env[k] ? Number(env[k]) : d);
const REPS = num('REPS', 3);
const ONLY = env.ONLY?.split(',');
const MTU = num('MTU', 1500);
const SIZE = num('SIZE', 256 << 20);
const CONN = num('CONN', 2000);
const RR = num('RR', 20000);
const FAIR_N = num('FAIR_N', 8);
const FAIR_S = num('FAIR_S', 3);
const HTTP_S = num('HTTP_S', 5);
// HTTP rows run HTTP_ROUNDS times per rep on the same servers, each round in the paired order of
// its own (twins adjacent, the order alternating round by round): more IPv6/IPv4 pairs per rep,
// each pair a few seconds apart, for rows whose single run is short or noisy (bench/lib/paired.mjs).
const HTTP_ROUNDS = num('HTTP_ROUNDS', 1);
const IDLE = num('IDLE', 10000);
const TXQLEN = 10000; // packages/tun DEFAULT_TX_QUEUE_LEN, for lwIP's device too
const ANCHORS = resolve(env.ANCHORS ?? `${root}../shared/anchors`);
const OUT = resolve(env.OUT ?? `${root}bench/results`);
const tag = `${process.pid}`;
const FAMILIES = parseFamilies(env.FAMILY);
const children = new Set();

if (process.getuid?.() !== 0) {
  console.error('bench: needs root (network namespaces, TUN, veth)');
  process.exit(1);
}

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
const inNs = (ns, cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loud = (msg) => console.error(`\n${'!'.repeat(72)}\n!! ${msg}\n${'!'.repeat(72)}\n`);

// ---- the stacks under test -------------------------------------------------------------------
const STACKS = [
  { id: 'ours', label: 'tcp-tun', ns: `tcptun-bench-o-${tag}`, host: '10.0.0.2', flags: [], http: true },
  { id: 'plain', label: 'tcp-tun --no-offload', ns: `tcptun-bench-p-${tag}`, host: '10.0.0.2', flags: ['--no-offload'], http: true, on: env.NOOFFLOAD !== '0' },
  { id: 'lwip', label: 'lwIP 2.1.3', ns: `tcptun-bench-l-${tag}`, host: '10.77.0.2', http: false },
  { id: 'kernel', label: 'kernel/veth', ns: `tcptun-bench-kc-${tag}`, server: `tcptun-bench-ks-${tag}`, host: '10.78.0.2', http: true },
]
  .map((s) => ({ ...s, family: 4 }))
  .filter((s) => FAMILIES.includes(4))
  .concat(FAMILIES.includes(6) ? ipv6Stacks(tag, { noOffload: env.NOOFFLOAD !== '0' }) : [])
  .filter((s) => s.on !== false);
const byId = Object.fromEntries(STACKS.map((s) => [s.id, s]));

function start(ns, cmd, args, name = cmd) {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.lines = [];
  child.out = '';
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    child.out += d;
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    for (const line of parts) {
      child.lines.push(line);
      child.emit('line', line);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d) => process.stderr.write(`  [${name}] ${d}`));
  return child;
}

function waitLine(child, re, ms = 20000) {
  return new Promise((resolve, reject) => {
    const hit = child.lines.find((l) => re.test(l));
    if (hit) return resolve(hit);
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}`)), ms);
    const on = (line) => {
      if (re.test(line)) {
        clearTimeout(t);
        child.off('line', on);
        resolve(line);
      }
    };
    child.on('line', on);
  });
}

/** Runs `cmd` in `ns` to completion (killed after `ms`); resolves with its stdout and exit code. */
function runTo(ns, cmd, args, ms) {
  return new Promise((resolve) => {
    const child = start(ns, cmd, args, args[0] === KBENCH || args.includes(KBENCH) ? 'kbench' : cmd);
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: child.out, lines: child.lines });
    });
  });
}

async function kbench(ns, args, ms = 300000) {
  const r = await runTo(ns, 'sh', ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec python3 "$@"', 'kbench', KBENCH, ...args.map(String)], ms);
  const json = r.lines.filter((l) => l.startsWith('{')).at(-1);
  if (r.code !== 0 || !json) throw new Error(`kbench ${args.join(' ')} failed (${r.code})`);
  return JSON.parse(json);
}

async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([gone, sleep(3000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.race([gone, sleep(2000)]);
}

function cleanup() {
  for (const c of children) c.kill('SIGKILL');
  for (const s of STACKS) {
    for (const ns of [s.ns, s.server]) {
      if (!ns) continue;
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        // not created
      }
    }
  }
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

// ---- preparation ---------------------------------------------------------------------------------
function aptInstall(packages) {
  console.error(`bench: installing ${packages.join(' ')} (apt-get)`);
  sh('apt-get', ['install', '-y', '-qq', ...packages], { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'ignore', 'inherit'] });
}
const has = (cmd) => {
  try {
    sh('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
};

/** Builds lwip_tun with the anchors' own Makefile (outside our tree), or says why not. */
function prepareLwip() {
  if (env.LWIP === '0') return 'LWIP=0';
  const dir = `${ANCHORS}/lwip`;
  if (!existsSync(`${dir}/Makefile`)) return `no lwIP anchor at ${dir} (set ANCHORS=/path/to/shared/anchors)`;
  try {
    if (!existsSync('/usr/include/lwip/lwip/tcp.h')) aptInstall(['liblwip-dev']);
    const build = `/tmp/tcptun-bench-lwip`;
    sh('make', ['-s', '-C', dir, `BUILD=${build}`]);
    byId.lwip.bin = `${build}/lwip_tun`;
    return undefined;
  } catch (err) {
    return `lwIP build failed: ${err.message.split('\n')[0]}`;
  }
}

function prepareHttpClients() {
  if (env.HTTP === '0') return 'HTTP=0';
  const missing = Object.keys(CLIENT_PACKAGES).filter((c) => !has(c));
  if (missing.length === 0) return undefined;
  try {
    aptInstall(missing.map((c) => CLIENT_PACKAGES[c]));
    return undefined;
  } catch (err) {
    return `could not install ${missing.join(', ')}: ${err.message.split('\n')[0]}`;
  }
}

function setupNamespaces() {
  for (const s of STACKS) {
    for (const ns of [s.ns, s.server]) {
      if (!ns) continue;
      sh('ip', ['netns', 'add', ns]);
      inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
      if (s.family === 6) inNs(ns, 'sysctl', ['-qw', ...IPV6_NAMESPACE_SYSCTLS]);
      else inNs(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      // Many short connections per run (conn, idle, HTTP): TIME-WAIT would use up the default range.
      inNs(ns, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65535']);
    }
  }
  // The kernel baselines: a veth pair each, IPv4 and (FAMILY) IPv6, same MTU and offloads.
  const baselines = [
    { k: byId.kernel, prefix: 'tbk', client: '10.78.0.1/24', server: `${byId.kernel?.host}/24`, ip: [] },
    { k: byId.kernel6, prefix: 'tb6k', client: `${V6.kernelClient}/64`, server: `${V6.kernelServer}/64`, ip: ['-6'], nodad: ['nodad'] },
  ];
  for (const { k, prefix, client, server, ip, nodad = [] } of baselines.filter((x) => x.k)) {
    const [a, b] = [`${prefix}0-${tag}`.slice(0, 15), `${prefix}1-${tag}`.slice(0, 15)];
    sh('ip', ['link', 'add', a, 'netns', k.ns, 'type', 'veth', 'peer', 'name', b, 'netns', k.server]);
    inNs(k.ns, 'ip', [...ip, 'addr', 'add', client, 'dev', a, ...nodad]);
    inNs(k.server, 'ip', [...ip, 'addr', 'add', server, 'dev', b, ...nodad]);
    for (const [ns, dev] of [[k.ns, a], [k.server, b]]) {
      inNs(ns, 'ip', ['link', 'set', dev, 'mtu', String(MTU), 'up']);
      if (env.KOFFLOAD === 'off') inNs(ns, 'ethtool', ['-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    }
  }
  if (byId.lwip) {
    const ns = byId.lwip.ns;
    inNs(ns, 'ip', ['tuntap', 'add', 'dev', 'tun0', 'mode', 'tun']);
    inNs(ns, 'ip', ['addr', 'add', '10.77.0.1', 'peer', byId.lwip.host, 'dev', 'tun0']);
    inNs(ns, 'ip', ['link', 'set', 'tun0', 'mtu', String(MTU), 'txqueuelen', String(TXQLEN), 'up']);
  }
}

/** Starts a fresh server process (or two) for stack `s`; resolves once it answers. */
async function startServer(s) {
  if (s.flags) {
    const p = start(s.ns, 'node', ['--expose-gc', ECHO, '--services', 'echo,discard,source,http', '--mtu', String(MTU), ...echoAddressFlags(s), ...s.flags, ...(env.ECHO_FLAGS ?? '').split(' ').filter(Boolean)], s.id);
    await waitLine(p, /listening on/);
    return { procs: [p], main: p };
  }
  if (s.id === 'lwip') {
    const p = start(s.ns, s.bin, ['-i', 'tun0', '-a', s.host, '-g', '10.77.0.1', '-m', String(MTU), '-n', String(SIZE), '-t', '3000'], 'lwip');
    for (let i = 0; i < 40; i++) {
      try {
        if ((await kbench(s.ns, ['conn', s.host, 7, 1], 5000)).ok === 1) return { procs: [p], main: p };
      } catch {
        // not yet
      }
      await sleep(250);
    }
    throw new Error('lwip_tun did not answer');
  }
  const serve = start(s.server, 'python3', [KBENCH, 'serve', ...(s.family === 6 ? ['-6'] : [])], 'kserve');
  const web = start(s.server, 'node', [KHTTP, '80', s.family === 6 ? '::' : '0.0.0.0'], 'khttp');
  await waitLine(serve, /ready/);
  await waitLine(web, /listening/);
  return { procs: [serve, web], main: web };
}

/** Resident set of `pid` in KiB (ip netns exec execs the command: the child's pid is the server's). */
function rssKiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

// ---- workloads -----------------------------------------------------------------------------------
// target: issue 11's goals. vsLwip: a floor on ours / lwIP (shipped, --no-offload); abs: a floor.
const KWORKLOADS = [
  { name: 'conn', what: `${CONN} sequential connect + 1 B echo + close, first in a fresh process`, args: (h) => ['conn', h, 7, CONN], metric: 'per_s', unit: '/s', higher: true, vsLwip: [1.0, 1.0] },
  { name: 'conn-cold', what: 'rate of the first 500 connections of a fresh process', from: 'conn', metric: 'cold_per_s', unit: '/s', higher: true },
  { name: 'conn-warm', what: 'rate of the last 500', from: 'conn', metric: 'warm_per_s', unit: '/s', higher: true },
  { name: 'cold/warm', what: 'first 500 over last 500 (≥ 0.8)', from: 'conn', metric: 'cold_ratio', unit: '×', higher: true, abs: 0.8 },
  { name: 'discard', what: `kernel sends ${SIZE >> 20} MiB (one stream in)`, args: (h) => ['send', h, 9, SIZE], metric: 'MBps', unit: 'MB/s', higher: true, vsLwip: [2.0, 1.0], abs: 1000 },
  { name: 'source', what: `stack sends ${SIZE >> 20} MiB (one stream out)`, args: (h) => ['recv', h, 19, SIZE], metric: 'MBps', unit: 'MB/s', higher: true, vsLwip: [2.0, 1.0], abs: 1000 },
  { name: 'rr', what: `${RR} round trips of 64 B`, args: (h) => ['rr', h, 7, RR, 64], metric: 'per_s', unit: '/s', higher: true, vsLwip: [1.2, 1.0] },
  { name: 'fair', what: `${FAIR_N} concurrent downloads for ${FAIR_S} s: total`, args: (h) => ['fair', h, 19, FAIR_N, FAIR_S], metric: 'MBps', unit: 'MB/s', higher: true },
  { name: 'fair-spread', what: 'fastest over slowest connection (≤ 2)', from: 'fair', metric: 'spread', unit: '×', higher: false, absMax: 2 },
];

const URL_1M = (h) => `http://${urlHost(h)}/bytes/1048576`;
const URL_SMALL = (h) => `http://${urlHost(h)}/bytes/128`;
const HWORKLOADS = [
  { name: 'http1m-wrk', what: `wrk, 100 connections, 1 MiB responses, ${HTTP_S} s`, cmd: (h) => wrkArgs(URL_1M(h), 100, HTTP_S), parse: parseWrk, ms: (HTTP_S + 30) * 1000, rss: true, vsKernel: 0.5 },
  { name: 'http1m-ab', what: 'ab, 10 at a time, 300 × 1 MiB', cmd: (h) => abArgs(URL_1M(h), 10, 300), parse: parseAb, ms: 120000, vsKernel: 0.5 },
  { name: 'small-wrk', what: `wrk, 100 connections, 128 B responses, ${HTTP_S} s`, cmd: (h) => wrkArgs(URL_SMALL(h), 100, HTTP_S), parse: parseWrk, ms: (HTTP_S + 30) * 1000, vsKernel: 0.9, slowest: 3 },
  { name: 'small-h2load', what: 'h2load --h1, 50 connections, 20,000 × 128 B', cmd: (h) => h2loadArgs(URL_SMALL(h), 50, 20000), parse: parseH2load, ms: 120000, vsKernel: 0.9, slowest: 3 },
];

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};
const fmt = (x) => (!Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const wanted = (name) => !ONLY || ONLY.some((o) => name === o || name.startsWith(`${o}-`) || name.startsWith(`${o}/`));

async function measureHttp(w, s, server) {
  const [cmd, args] = w.cmd(s.host);
  let peak = NaN;
  const sampler = w.rss ? setInterval(() => (peak = Math.max(Number.isFinite(peak) ? peak : 0, rssKiB(server.main.pid))), 100) : undefined;
  const r = await runTo(s.ns, cmd, args, w.ms);
  if (sampler) clearInterval(sampler);
  const parsed = w.parse(r.out);
  if (r.code !== 0 && !Number.isFinite(parsed.reqPerS)) throw new Error(`${cmd} exited ${r.code}: ${r.out.slice(-300)}`);
  return { ...parsed, ...(w.rss ? { rssKiB: peak } : {}) };
}

// ---- idle connections: heap per connection held by a fresh tcp-tun -----------------------------
async function measureIdle(s) {
  const server = await startServer(s);
  const echo = server.main;
  const report = async () => {
    echo.lines.length = 0;
    const line = waitLine(echo, /"memory"/, 10000);
    echo.kill('SIGUSR1');
    return JSON.parse(await line);
  };
  try {
    const before = await report();
    const client = start(s.ns, 'sh', ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec python3 "$@"', 'kbench', KBENCH, 'idle', s.host, '7', String(IDLE), '10'], 'idle');
    const opened = JSON.parse(await waitLine(client, /"phase": "open"/, 300000));
    let after = await report();
    for (let i = 0; i < 20 && after.connections.length < opened.connected; i++) {
      await sleep(500);
      const next = await report();
      const grew = next.connections.length > after.connections.length;
      after = next;
      if (!grew) break;
    }
    const held = Math.max(1, after.connections.length);
    await stop(client);
    return {
      opened: opened.connected,
      openSeconds: opened.seconds,
      held,
      heapPerConnKiB: (after.memory.heapUsed - before.memory.heapUsed) / held / 1024,
      rssPerConnKiB: (after.memory.rss - before.memory.rss) / held / 1024,
      offload: before.offload,
    };
  } finally {
    for (const p of server.procs) await stop(p);
  }
}

// ---- main ----------------------------------------------------------------------------------------
async function main() {
  const lwipWhy = byId.lwip ? prepareLwip() : FAMILIES.includes(4) ? 'off' : 'FAMILY=6 (lwIP is IPv4 only)';
  if (lwipWhy && byId.lwip) {
    loud(`lwIP SKIPPED: ${lwipWhy}`);
    STACKS.splice(STACKS.indexOf(byId.lwip), 1);
    delete byId.lwip;
  }
  const httpWhy = prepareHttpClients();
  if (httpWhy) loud(`HTTP workloads SKIPPED: ${httpWhy}`);
  setupNamespaces();
  const started = new Date();
  const load = loadavg();
  const results = { kbench: {}, http: {} };
  for (const w of KWORKLOADS) results.kbench[w.name] = Object.fromEntries(STACKS.map((s) => [s.id, []]));
  for (const w of HWORKLOADS) results.http[w.name] = Object.fromEntries(STACKS.filter((s) => s.http).map((s) => [s.id, []]));
  const offloadSeen = {};

  for (let rep = 0; rep < REPS; rep++) {
    // Rotate who goes first: the shared machine drifts during a run. Twins (ours/ours6,
    // plain/plain6, kernel/kernel6) run back to back, IPv4 first in even reps, IPv6 in odd ones.
    const order = pairedOrder(STACKS, rep).flat();
    const servers = {};
    for (const s of order) {
      // A server that does not start fails its stack's rows of this rep, not the whole run.
      servers[s.id] = await startServer(s).catch((err) => {
        loud(`${s.label}: server did not start (rep ${rep + 1}): ${err.message}`);
        return undefined;
      });
    }
    for (const id of ['ours', 'plain', 'ours6', 'plain6']) {
      if (!servers[id]) continue;
      const line = waitLine(servers[id].main, /"memory"/, 10000);
      servers[id].main.kill('SIGUSR1');
      offloadSeen[id] = JSON.parse(await line).offload;
    }
    for (const w of KWORKLOADS.filter((w) => !w.from && wanted(w.name))) {
      for (const s of order) {
        let r;
        try {
          if (!servers[s.id]) throw new Error('no server');
          r = await kbench(s.ns, w.args(s.host));
          if (r.ok === false) throw new Error('not every byte arrived');
        } catch (err) {
          process.stderr.write(`  ${w.name} ${s.id} #${rep + 1}: FAILED: ${err.message}\n`);
          r = undefined;
        }
        for (const d of KWORKLOADS.filter((d) => d === w || d.from === w.name)) results.kbench[d.name][s.id].push(r ? r[d.metric] ?? NaN : NaN);
        if (r) process.stderr.write(`  ${w.name} ${s.id} #${rep + 1}: ${fmt(r[w.metric])} ${w.unit}${w.name === 'conn' ? ` (first 500 ${fmt(r.cold_per_s)}/s, last 500 ${fmt(r.warm_per_s)}/s)` : ''}${w.name === 'fair' ? ` (slowest ${fmt(r.slowest_MBps)}, fastest ${fmt(r.fastest_MBps)} MB/s)` : ''}\n`);
      }
    }
    if (!httpWhy) {
      for (const w of HWORKLOADS.filter((w) => wanted(w.name))) {
        // Round r of rep uses the paired order of index rep × HTTP_ROUNDS + r (the rep's own when
        // HTTP_ROUNDS = 1): each twin pair's order alternates from round to round.
        for (let round = 0; round < HTTP_ROUNDS; round++) {
          const roundOrder = pairedOrder(STACKS, rep * HTTP_ROUNDS + round).flat();
          for (const s of roundOrder.filter((s) => s.http)) {
            try {
              if (!servers[s.id]) throw new Error('no server');
              const r = await measureHttp(w, s, servers[s.id]);
              results.http[w.name][s.id].push(r);
              process.stderr.write(`  ${w.name} ${s.id} #${rep + 1}${HTTP_ROUNDS > 1 ? `.${round + 1}` : ''}: ${fmt(r.reqPerS)} req/s, ${r.errors} errors, ${r.timeouts} timeouts, slowest ${fmt(r.slowestMs)} ms${r.rssKiB ? `, peak RSS ${fmt(r.rssKiB / 1024)} MiB` : ''}\n`);
            } catch (err) {
              results.http[w.name][s.id].push(undefined);
              process.stderr.write(`  ${w.name} ${s.id} #${rep + 1}${HTTP_ROUNDS > 1 ? `.${round + 1}` : ''}: FAILED: ${err.message}\n`);
            }
          }
        }
      }
    }
    for (const s of order) for (const p of servers[s.id]?.procs ?? []) await stop(p);
  }

  const idle = {};
  for (const id of ['ours', 'ours6'].filter((id) => byId[id] && IDLE > 0 && wanted('idle'))) {
    idle[id] = await measureIdle(byId[id]).catch((err) => ({ error: err.message }));
  }
  report({ started, load, results, idle, lwipWhy, httpWhy, offloadSeen });
}

// ---- report: table, JSON, SVG ----------------------------------------------------------------------
function report({ started, load, results, idle, lwipWhy, httpWhy, offloadSeen }) {
  const chart = [];
  const summary = { kbench: {}, http: {} };
  // The chart's 1.0: the kernel over IPv4, or over IPv6 when FAMILY=6.
  const base = byId.kernel ? 'kernel' : 'kernel6';
  const kbenchMedian = (w, id) => median(results.kbench[w.name][id] ?? []);
  for (const w of KWORKLOADS.filter((w) => wanted(w.from ?? w.name))) {
    const ids = STACKS.map((s) => s.id);
    const med = Object.fromEntries(ids.map((id) => [id, kbenchMedian(w, id)]));
    summary.kbench[w.name] = { what: w.what, unit: w.unit, higher: w.higher, median: med, runs: results.kbench[w.name] };
    if (!['conn-warm', 'cold/warm'].includes(w.name)) {
      chart.push({
        label: w.name,
        bars: ids.map((id) => ({ series: byId[id].label, ratio: w.higher ? med[id] / med[base] : med[base] / med[id], text: `${fmt(med[id])} ${w.unit}` })),
      });
    }
  }
  const hstacks = STACKS.filter((s) => s.http).map((s) => s.id);
  const httpMedian = (w, id) => {
    const runs = results.http[w.name][id] ?? [];
    const m = (k) => median(runs.filter(Boolean).map((r) => r[k]));
    const sum = (k) => runs.filter(Boolean).reduce((a, r) => a + (r[k] || 0), 0);
    return { reqPerS: m('reqPerS'), slowestMs: m('slowestMs'), errors: sum('errors'), timeouts: sum('timeouts'), rssKiB: m('rssKiB') };
  };
  for (const w of HWORKLOADS.filter((w) => !httpWhy && wanted(w.name))) {
    const med = Object.fromEntries(hstacks.map((id) => [id, httpMedian(w, id)]));
    summary.http[w.name] = { what: w.what, median: med, runs: results.http[w.name] };
    chart.push({ label: w.name, bars: hstacks.map((id) => ({ series: byId[id].label, ratio: med[id].reqPerS / med[base].reqPerS, text: `${fmt(med[id].reqPerS)} req/s` })) });
    if (w.rss) chart.push({ label: 'rss (inverse)', bars: hstacks.map((id) => ({ series: byId[id].label, ratio: med[base].rssKiB / med[id].rssKiB, text: `${fmt(med[id].rssKiB / 1024)} MiB` })) });
  }

  // Issue 13's figures: per workload and IPv6 stack, the per-rep ratios to its IPv4 twin (run
  // right next to it) and their median and min–max (bench/lib/paired.mjs).
  const paired = { kbench: {}, http: {} };
  const twins = STACKS.filter((s) => s.v4 && byId[s.v4]);
  const pairOf = (s, v4, v6) => {
    const ratios = pairedRatios(v4, v6);
    return { ipv4Twin: s.v4, ratios, ...summarizeRatios(ratios), runs: { [s.v4]: v4, [s.id]: v6 } };
  };
  for (const w of KWORKLOADS.filter((w) => twins.length && wanted(w.from ?? w.name))) {
    paired.kbench[w.name] = Object.fromEntries(twins.map((s) => [s.id, pairOf(s, results.kbench[w.name][s.v4], results.kbench[w.name][s.id])]));
  }
  for (const w of HWORKLOADS.filter((w) => twins.length && !httpWhy && wanted(w.name))) {
    const req = (id) => (results.http[w.name][id] ?? []).map((r) => r?.reqPerS ?? NaN);
    paired.http[w.name] = Object.fromEntries(twins.filter((s) => s.http).map((s) => [s.id, pairOf(s, req(s.v4), req(s.id))]));
  }

  const table = (header, body) => {
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
    const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
    return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
  };
  const when = started.toISOString().replace(/\.\d+Z$/, 'Z');
  const shipped = offloadSeen.ours ?? offloadSeen.ours6;
  const head = `tcp-tun bench ${when}: MTU ${MTU}, medians of ${REPS}; load before ${load.map((x) => x.toFixed(2)).join(' ')}; kernel over veth with offloads ${env.KOFFLOAD === 'off' ? 'off' : 'on'}; tcp-tun offload as shipped: ${JSON.stringify(shipped ?? '?')}; * = goal not met`;
  console.log(`\n${head}`);
  // One table per family, its stacks as columns; the goals of issue 11 over IPv4, and over IPv6
  // issue 13's: each IPv6 figure within 10 % of its IPv4 twin's (≥ 0.9×; ≤ 1.1× where lower is better).
  for (const family of FAMILIES) {
    const sfx = family === 6 ? '6' : '';
    const fam = STACKS.filter((s) => s.family === family);
    const ids = fam.map((s) => s.id);
    // The median paired ratio and its [min–max]; the kernel's own is shown for reference, with no goal.
    const twinNote = (s, p, higher) => {
      if (family !== 6 || !p) return undefined;
      const j = judgeRatio(p, higher);
      const mark = s.id === 'kernel6' ? '' : `${j.met ? '' : ` * (${higher ? '≥' : '≤'} ${j.line})`}${j.clear ? '' : ' ?'}`;
      return `${s.id === 'ours6' ? 'shipped' : s.id === 'plain6' ? 'no-offload' : 'kernel'} ${fmt(p.median)}× v4 [${fmt(p.min)}–${fmt(p.max)}]${mark}`;
    };
    const body = [];
    for (const w of KWORKLOADS.filter((w) => wanted(w.from ?? w.name))) {
      const med = summary.kbench[w.name].median;
      const notes = [];
      if (family === 4) {
        if (w.vsLwip && byId.lwip) {
          for (const [i, id] of ['ours', 'plain'].entries()) {
            if (!byId[id]) continue;
            const ratio = med[id] / med.lwip;
            notes.push(`${id === 'ours' ? 'shipped' : 'no-offload'} ${fmt(ratio)}× lwIP${ratio >= w.vsLwip[i] ? '' : ` * (≥ ${w.vsLwip[i]})`}`);
          }
        }
        if (w.abs !== undefined) notes.push(`${med.ours >= w.abs ? '' : '* '}goal ≥ ${w.abs}`);
        if (w.absMax !== undefined) notes.push(`${med.ours <= w.absMax ? '' : '* '}goal ≤ ${w.absMax}`);
      } else if (!['conn-cold', 'conn-warm', 'cold/warm'].includes(w.name)) {
        for (const s of fam) notes.push(twinNote(s, paired.kbench[w.name]?.[s.id], w.higher));
      }
      body.push([w.name, ...ids.map((id) => `${fmt(med[id])} ${w.unit}`), notes.filter(Boolean).join('; ')]);
    }
    const conf = summarizeRatios(Array(REPS).fill(1)).confidence;
    const v6Head = !twins.length ? '\nIPv6 (no IPv4 twins in this run, so no goal):\n' : `\nIPv6: medians of ${REPS} reps; goal (issue 13) judged on the MEDIAN PAIRED RATIO: in each rep every IPv6 stack ran right next to its IPv4 twin (order alternating between reps), ratio = IPv6 / IPv4 of that rep, ≥ 0.9× (≤ 1.1× for fair-spread); [min–max] of the ${REPS} ratios, which holds their median with ${(100 * conf).toFixed(1)} % confidence (sign test); ? = the interval straddles the line${HTTP_ROUNDS > 1 ? `; HTTP rows: ${HTTP_ROUNDS} rounds a rep, so medians and ratios of ${REPS * HTTP_ROUNDS}` : ''}\n`;
    console.log(`${family === 4 ? '' : v6Head}${table(['workload', ...fam.map((s) => s.label), 'goal'], body)}`);
    const hfam = fam.filter((s) => s.http).map((s) => s.id);
    const hbody = [];
    for (const w of HWORKLOADS.filter((w) => !httpWhy && wanted(w.name))) {
      const med = summary.http[w.name].median;
      const [ours, kernel] = [med[`ours${sfx}`], med[`kernel${sfx}`]];
      const notes = [];
      if (ours && kernel) {
        const ratio = ours.reqPerS / kernel.reqPerS;
        notes.push(`${fmt(ratio)}× kernel${ratio >= w.vsKernel ? '' : ` * (≥ ${w.vsKernel})`}`);
        if (ours.errors + ours.timeouts > 0) notes.push('* client errors/timeouts');
        if (w.slowest) {
          const sr = ours.slowestMs / kernel.slowestMs;
          notes.push(`slowest ${fmt(sr)}× kernel's${sr <= w.slowest ? '' : ` * (≤ ${w.slowest})`}`);
        }
        if (w.rss) {
          const rr = ours.rssKiB / kernel.rssKiB;
          notes.push(`RSS ${fmt(rr)}× kernel-side Node's${rr <= 1.5 ? '' : ' * (≤ 1.5)'}`);
        }
      }
      if (family === 6) for (const s of fam.filter((s) => s.http)) notes.push(twinNote(s, paired.http[w.name]?.[s.id], true));
      const cell = (id) => `${fmt(med[id].reqPerS)} req/s, ${med[id].errors}e/${med[id].timeouts}t, max ${fmt(med[id].slowestMs)} ms${w.rss ? `, RSS ${fmt(med[id].rssKiB / 1024)} MiB` : ''}`;
      hbody.push([w.name, ...hfam.map(cell), notes.filter(Boolean).join('; ')]);
    }
    if (hbody.length) console.log(`\n${table([family === 6 ? 'http (IPv6)' : 'http', ...hfam.map((id) => byId[id].label), 'goal'], hbody)}`);
  }
  if (lwipWhy) console.log(`\nlwIP: SKIPPED (${lwipWhy})`);
  if (httpWhy) console.log(`HTTP: SKIPPED (${httpWhy})`);
  for (const [id, one] of Object.entries(idle)) {
    const who = `tcp-tun as shipped${id === 'ours6' ? ', IPv6' : ''}`;
    console.log(one.error
      ? `\nidle (${who}): FAILED: ${one.error}`
      : `\nidle (${who}): ${one.opened}/${IDLE} open in ${one.openSeconds.toFixed(2)} s, ${one.held} held; heap ${one.heapPerConnKiB.toFixed(2)} KiB per connection (goal ≤ 4 KiB), RSS ${one.rssPerConnKiB.toFixed(2)} KiB`);
  }

  mkdirSync(OUT, { recursive: true });
  const stamp = when.replace(/[-:]/g, '');
  const json = {
    date: when,
    machine: { cpus: cpus().length, kernel: release(), node: process.version, loadBefore: load, loadAfter: loadavg() },
    settings: { REPS, MTU, SIZE, CONN, RR, FAIR_N, FAIR_S, HTTP_S, HTTP_ROUNDS, IDLE, FAMILY: FAMILIES.join(','), txqueuelen: TXQLEN, kernelOffloads: env.KOFFLOAD !== 'off' },
    stacks: STACKS.map((s) => ({ id: s.id, label: s.label, family: s.family, ...(s.v4 ? { ipv4Twin: s.v4 } : {}) })),
    // Each IPv6 stack over its IPv4 twin, per workload: the per-rep ratios (NaN → null when a run
    // failed), their median, min, max, count and the min–max interval's confidence, and both
    // twins' raw per-rep figures (req/s for HTTP); `ipv4FirstInRep` says which twin ran first.
    paired: { method: `back-to-back twins, order alternating per rep${HTTP_ROUNDS > 1 ? ` (HTTP rows: per round, ${HTTP_ROUNDS} rounds a rep)` : ''}; median and min-max of per-rep IPv6/IPv4 ratios`, ipv4FirstInRep: twins.length ? Array.from({ length: REPS }, (_, rep) => pairedOrder(STACKS, rep).find((u) => u.length === 2)?.[0].family === 4) : [], ...paired },
    offload: offloadSeen,
    skipped: { lwip: lwipWhy, http: httpWhy },
    results: summary,
    // As before for IPv4 (the object of tcp-tun as shipped); IPv6's beside it when measured.
    idle: idle.ours,
    ...(idle.ours6 ? { idle6: idle.ours6 } : {}),
  };
  writeFileSync(`${OUT}/bench-${stamp}.json`, `${JSON.stringify(json, null, 1)}\n`);
  const svg = barChart({
    title: `tcp-tun vs the kernel (veth) vs lwIP, ${when}`,
    subtitle: `ratio to the kernel${base === 'kernel6' ? ' over IPv6' : byId.kernel6 ? ' over IPv4' : ''} per workload (1.0 = kernel; higher is better); MTU ${MTU}, medians of ${REPS}, load ${load[0].toFixed(2)}`,
    series: STACKS.map((s) => s.label),
    groups: chart,
  });
  writeFileSync(`${OUT}/bench-${stamp}.svg`, svg);
  console.log(`\nsaved ${OUT}/bench-${stamp}.json and .svg`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench: ${err.stack ?? err}`);
    process.exit(1);
  },
);
