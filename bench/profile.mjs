#!/usr/bin/env node
// Profiles one workload of `pnpm bench` against a fresh apps/echo (the cold start counts): V8's
// CPU profile (`--cpu-prof`) for where the JavaScript time goes, and, when `perf` is installed,
// a system-wide-free `perf record -p` of the process (`--perf-basic-prof` names the JIT frames)
// for the split between our user space, V8/Node's C++ and the kernel inside system calls.
// Runs in a namespace made here and deleted at the end. Needs root.
//   node bench/profile.mjs conn|discard|source|rr|fair|http1m|http1m-ab|small [--no-offload]
// Env: COUNT (conn connections, rr round trips, http1m-ab requests), SIZE (stream bytes), SECONDS (wrk), KEEP=1 keeps
// the profile directory (printed), PERF_HZ=999 perf's sampling rate, PRE=w1,w2 runs those workloads first (unmeasured), FAMILY=6 profiles the bench's IPv6 twin (apps/echo on an
// IPv6-only TUN with the addresses and sysctls of bench/lib/family.mjs; IPv4 otherwise). Prints
// the TUN's packet counts too, for CPU time per packet. PROFILERS=0 runs without either profiler.
// STATS=1 asks the server for its report (SIGUSR1) half a second before the client ends and prints
// the stack's non-zero counters and each connection's limit times, cwnd and retransmissions;
// DUMP=FILE writes the server's stdout there; NODE_FLAGS='--trace-gc ...' goes to its node.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoAddressFlags, IPV6_NAMESPACE_SYSCTLS, urlHost, V6 } from './lib/family.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const KBENCH = fileURLToPath(new URL('./kbench.py', import.meta.url));
const ECHO = `${root}apps/echo/dist/main.js`;
const [workload = 'conn', ...flags] = process.argv.slice(2);
const env = process.env;
const num = (k, d) => (env[k] ? Number(env[k]) : d);
const COUNT = num('COUNT', workload === 'rr' ? 20000 : workload === 'http1m-ab' ? 3000 : 2000);
const SIZE = num('SIZE', 256 << 20);
const SECONDS = num('SECONDS', 5);
const PERF_HZ = num('PERF_HZ', 999);
/** PROFILERS=0: no V8 profile and no perf, for timings and CPU counts undisturbed by them. */
const PROFILERS = env.PROFILERS !== '0';
const NS = `tcptun-prof-${process.pid}`;
const FAMILY = env.FAMILY === '6' ? 6 : 4;
const HOST = FAMILY === 6 ? V6.stack : '10.0.0.2';
const dir = mkdtempSync(join(tmpdir(), 'tcptun-prof-'));
const procs = new Set();

if (process.getuid?.() !== 0) {
  console.error('profile: needs root');
  process.exit(1);
}
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function spawnIn(cmd, args) {
  // cwd: the profile directory, where V8's logs (`--perf-basic-prof` writes isolate-*.log) go.
  const p = spawn('ip', ['netns', 'exec', NS, cmd, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  procs.add(p);
  p.once('exit', () => procs.delete(p));
  p.out = '';
  p.stdout.setEncoding('utf8').on('data', (d) => (p.out += d));
  return p;
}
const exited = (p, ms) => new Promise((r) => {
  const t = setTimeout(() => {
    p.kill('SIGKILL');
    r();
  }, ms);
  p.once('exit', () => {
    clearTimeout(t);
    r();
  });
});

process.on('exit', () => {
  for (const p of procs) p.kill('SIGKILL');
  try {
    sh('ip', ['netns', 'del', NS]);
  } catch {
    // not made
  }
  if (env.KEEP !== '1') rmSync(dir, { recursive: true, force: true });
});

const CLIENT = {
  conn: ['python3', [KBENCH, 'conn', HOST, 7, COUNT]],
  discard: ['python3', [KBENCH, 'send', HOST, 9, SIZE]],
  source: ['python3', [KBENCH, 'recv', HOST, 19, SIZE]],
  rr: ['python3', [KBENCH, 'rr', HOST, 7, COUNT, 64]],
  fair: ['python3', [KBENCH, 'fair', HOST, 19, 8, SECONDS]],
  http1m: ['wrk', ['-t2', '-c100', `-d${SECONDS}s`, '--timeout', '2s', `http://${urlHost(HOST)}/bytes/1048576`]],
  small: ['wrk', ['-t2', '-c100', `-d${SECONDS}s`, '--timeout', '2s', `http://${urlHost(HOST)}/bytes/128`]],
  // The bench's http1m-ab row (a new connection per 1 MiB request, 10 at a time), COUNT requests.
  'http1m-ab': ['ab', ['-q', '-s', '10', '-c10', `-n${COUNT}`, `http://${urlHost(HOST)}/bytes/1048576`]],
};

/** User and system CPU time of process `pid` so far, in ms (/proc/PID/stat fields 14 and 15, in clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return { user: Number(fields[11]) * TICK_MS, system: Number(fields[12]) * TICK_MS };
}

/** Milliseconds per clock tick, the unit of /proc/PID/stat and /proc/stat. */
const TICK_MS = 1000 / Number(sh('getconf', ['CLK_TCK']).trim());

/** Busy and total CPU time of the whole machine so far, in clock ticks (/proc/stat's first line). */
function machineTicks() {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Category of a CPU-profile node: where its self time is spent. */
function category(frame) {
  const { functionName: f, url } = frame;
  if (f === '(idle)' || f === '(program)' || f === '(garbage collector)') return f;
  if (url === '' && /^(readSync|read|writeSync|writeBuffer|writeBuffers|writeString)$/.test(f)) return 'syscalls: TUN read/write (incl. kernel work inside)';
  if (url === '') return `native: ${f || '(anonymous)'}`;
  if (url.includes('/packages/tcp/')) return 'ours: packages/tcp (engine)';
  if (url.includes('/packages/net/')) return 'ours: packages/net (stack, sockets)';
  if (url.includes('/packages/ip/')) return 'ours: packages/ip';
  if (url.includes('/packages/tun/')) return 'ours: packages/tun (device)';
  if (url.includes('/apps/')) return 'ours: apps/echo (services)';
  if (/node:internal\/streams|node:stream/.test(url)) return 'node: streams';
  if (/node:(_http|http|internal\/http)/.test(url)) return 'node: http';
  if (/node:net|node:internal\/net|stream_base/.test(url)) return 'node: net';
  if (/node:internal\/(process\/task_queues|timers)|node:timers/.test(url)) return 'node: ticks, microtasks, timers';
  if (url.startsWith('node:')) return 'node: other';
  return `other: ${url.split('/').slice(-2).join('/')}`;
}

function analyseCpuProfile(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // Timeline: busy time per window and its main categories, to tell a cold start from the rest.
  const WINDOW_MS = Number(env.WINDOW_MS ?? 250);
  const windows = [];
  let t = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i]);
    const ms = (prof.timeDeltas[i] ?? 0) / 1000;
    t += ms;
    self.set(n, (self.get(n) ?? 0) + ms);
    const w = (windows[Math.floor(t / WINDOW_MS)] ??= new Map());
    const c = category(n.callFrame);
    w.set(c, (w.get(c) ?? 0) + ms);
  }
  const total = (prof.endTime - prof.startTime) / 1000;
  const cats = new Map();
  const fns = new Map();
  for (const [n, ms] of self) {
    const c = category(n.callFrame);
    cats.set(c, (cats.get(c) ?? 0) + ms);
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(packages|apps)\//, '$1/').replace(/^file:\/\//, '')}:${n.callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + ms);
  }
  const busy = total - (cats.get('(idle)') ?? 0);
  console.log(`\nV8 CPU profile: ${total.toFixed(0)} ms of wall time, ${busy.toFixed(0)} ms not idle`);
  console.log('self ms  % busy  category');
  for (const [c, ms] of [...cats].sort((a, b) => b[1] - a[1])) console.log(`${ms.toFixed(0).padStart(7)}  ${c === '(idle)' ? '     ' : ((100 * ms) / busy).toFixed(1).padStart(5)}  ${c}`);
  console.log(`\ntimeline (${WINDOW_MS} ms windows): busy ms, then the largest categories`);
  windows.forEach((w, i) => {
    if (!w) return;
    const busyW = [...w].filter(([c]) => c !== '(idle)').reduce((a, [, ms]) => a + ms, 0);
    if (busyW < 5) return;
    const top = [...w].filter(([c]) => c !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 4).map(([c, ms]) => `${c.replace(/ \(.*\)$/, '')} ${ms.toFixed(0)}`).join(', ');
    console.log(`${String(i * WINDOW_MS).padStart(6)} ms: ${busyW.toFixed(0).padStart(4)} busy; ${top}`);
  });
  console.log('\ntop functions by self time (ms):');
  for (const [f, ms] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${ms.toFixed(1).padStart(7)}  ${f}`);
}

/**
 * On-CPU time of the main thread (its tid is the pid: not the readiness worker, not V8's helpers) by
 * bucket, in µs per TUN packet (`packets`, both directions): perf samples only what runs, so
 * these figures hold on a loaded machine where wall-clock profiles stretch. Kernel symbols of
 * one family's own code (IPv6: ip6_*, tcp_v6_*, ...; IPv4: ip_*, tcp_v4_*, ...) are shown apart.
 */
function perfPerPacket(data, packets, tid) {
  const lines = sh('perf', ['report', '-i', data, '--stdio', '--no-children', '-n', '--tid', String(tid), '--sort', 'dso,sym', '-g', 'none']).split('\n');
  const hz = PERF_HZ;
  const buckets = new Map();
  const add = (k, n) => buckets.set(k, (buckets.get(k) ?? 0) + n);
  let total = 0;
  for (const line of lines) {
    const m = /^\s*[\d.]+%\s+(\d+)\s+(\S.*?)\s+\[([k.])\]\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, n0, dso, , sym] = m;
    const n = Number(n0);
    total += n;
    if (dso.includes('kernel')) {
      add('kernel: all', n);
      if (/(^|_)(ip6|ipv6|inet6|tcp_v6|icmpv6|icmp6|ndisc|rt6|fib6|udp6|raw6|nf_.*ipv6)/.test(sym)) add('kernel: IPv6-only symbols', n);
      else if (/^(ip_|ipv4_|tcp_v4|inet_gro|inet_gso|inet_rcv|icmp_|fib_|rt_|__ip_|ip_local)/.test(sym)) add('kernel: IPv4-only symbols', n);
    } else if (/packages\/(tcp|net|ip|tun)\//.test(sym)) add('ours: JIT JavaScript of packages/*', n);
    else if (/^JS:|^LazyCompile|^Builtin|^Function|^Handler/.test(sym) || dso.startsWith('[JIT]')) add('JIT: other (node:*, V8 builtins)', n);
    else if (dso === 'node') add('node binary (V8, C++ runtime)', n);
    else add(`other: ${dso}`, n);
  }
  console.log(`\nperf, main thread only: ${total} samples at ${hz} Hz over ${packets} TUN packets`);
  console.log('samples  µs/packet  bucket');
  for (const [k, n] of [...buckets].sort((a, b) => b[1] - a[1])) console.log(`${String(n).padStart(7)}  ${((1e6 * n) / hz / Math.max(1, packets)).toFixed(3).padStart(9)}  ${k}`);
  console.log('top symbols of the main thread (samples, µs/packet):');
  for (const line of lines.filter((l) => /^\s*[\d.]+%\s+\d+\s/.test(l)).slice(0, Number(env.TOP ?? 30))) {
    const [, n, rest] = /^\s*[\d.]+%\s+(\d+)\s+(.*)$/.exec(line);
    console.log(`${n.padStart(7)}  ${((1e6 * Number(n)) / hz / Math.max(1, packets)).toFixed(3).padStart(9)}  ${rest.replace(/\s+/g, ' ').replace(/file:\/\/\S*?\/(packages|apps)\//, '$1/').slice(0, 110)}`);
  }
}

function analysePerf(data) {
  const report = (args) => sh('perf', ['report', '-i', data, '--stdio', '--no-children', ...args]).split('\n').filter((l) => l.trim() && !l.startsWith('#')).slice(0, 25).join('\n');
  console.log('\nperf: share of on-CPU samples by object (kernel = [kernel.kallsyms]; JIT = perf-PID.map)');
  console.log(report(['--sort', 'dso', '-g', 'none']));
  console.log('\nperf: top symbols');
  console.log(report(['--sort', 'dso,sym', '-g', 'none', '--percent-limit', '0.8']));
}

async function main() {
  if (!CLIENT[workload]) throw new Error(`unknown workload ${workload}: one of ${Object.keys(CLIENT).join(', ')}`);
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
  sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=1024 65535']);
  if (FAMILY === 6) sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', ...IPV6_NAMESPACE_SYSCTLS]);
  const app = spawnIn('node', [...(env.NODE_FLAGS ? env.NODE_FLAGS.split(' ') : []), ...(PROFILERS ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--perf-basic-prof'] : []), ECHO, '--services', 'echo,discard,source,http', ...echoAddressFlags({ family: FAMILY }), ...flags]);
  for (let i = 0; i < 100 && !app.out.includes('listening on'); i++) await sleep(100);
  if (!app.out.includes('listening on')) throw new Error('apps/echo did not start');
  // PRE=source,rr: run those workloads first, unmeasured, as the bench's rep does before this one.
  for (const pre of (env.PRE ?? '').split(',').filter(Boolean)) {
    if (!CLIENT[pre]) throw new Error(`PRE: unknown workload ${pre}`);
    await exited(spawnIn(CLIENT[pre][0], CLIENT[pre][1].map(String)), 300000);
  }
  let perf;
  try {
    if (!PROFILERS) throw new Error('PROFILERS=0');
    sh('sh', ['-c', 'command -v perf']);
    perf = spawn('perf', ['record', '-F', String(PERF_HZ), '-g', '-p', String(app.pid), '-o', join(dir, 'perf.data')], { stdio: 'ignore' });
    procs.add(perf);
    await sleep(300);
  } catch {
    if (PROFILERS) console.error('profile: perf not installed: only the V8 profile');
  }
  const [cmd, args] = CLIENT[workload];
  const cpu0 = cpuMs(app.pid);
  const machine0 = machineTicks();
  let tunPackets = 0;
  const started = performance.now();
  const client = spawnIn(cmd, args.map(String));
  if (env.STATS === '1') setTimeout(() => app.kill('SIGUSR1'), Math.max(0, SECONDS - 0.5) * 1000);
  await exited(client, 300000);
  const seconds = (performance.now() - started) / 1000;
  const cpu1 = cpuMs(app.pid);
  const machine1 = machineTicks();
  if (env.DUMP) writeFileSync(env.DUMP, app.out);
  const report = env.STATS === '1' ? app.out.split('\n').find((l) => l.startsWith('{"stats"')) : undefined;
  if (report !== undefined) {
    const { stats, connections } = JSON.parse(report);
    console.log(`stats ${JSON.stringify(Object.fromEntries(Object.entries(stats).filter(([, v]) => typeof v === 'number' && v !== 0)))}`);
    for (const c of connections) console.log(`conn ${JSON.stringify(Object.fromEntries(Object.entries(c).filter(([k]) => /tlp|Limited|cwnd|retrans|deferred/i.test(k))))}`);
  }
  console.log(`${workload} ${flags.join(' ')} IPv${FAMILY}: ${seconds.toFixed(2)} s\n${client.out.trim().split('\n').slice(-12).join('\n')}`);
  // The TUN's own counters (the kernel's side: its RX is what we wrote, its TX what we read).
  try {
    const link = JSON.parse(sh('ip', ['netns', 'exec', NS, 'ip', '-s', '-j', 'link', 'show', 'type', 'tun']))[0];
    const { rx, tx } = link.stats64;
    console.log(`TUN ${link.ifname}: we wrote ${rx.packets} packets (${rx.bytes} B), read ${tx.packets} (${tx.bytes} B); tx_dropped ${tx.dropped}`);
    // CPU time of the server process while the client ran (the client's own is not counted).
    const [user, system] = [cpu1.user - cpu0.user, cpu1.system - cpu0.system];
    const packets = rx.packets + tx.packets;
    tunPackets = packets;
    console.log(`server CPU during the run: ${user} ms user + ${system} ms system; ${((1000 * (user + system)) / packets).toFixed(2)} µs per packet (${((1000 * system) / packets).toFixed(2)} in the kernel), ${((1e6 * (user + system)) / Math.max(1, rx.bytes + tx.bytes)).toFixed(3)} ns per byte`);
    // The whole machine's busy CPU (client, kernel, server, anything else) per octet carried: what
    // bounds the rate when client and server share the cores.
    const busyMs = (machine1.busy - machine0.busy) * TICK_MS;
    const cores = (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total);
    console.log(`machine CPU during the run: ${busyMs.toFixed(0)} ms busy (${(cores * 100).toFixed(0)} % of all cores), ${((1e6 * busyMs) / Math.max(1, rx.bytes + tx.bytes)).toFixed(3)} ns per byte`);
  } catch (err) {
    console.error(`profile: no TUN counters: ${err.message.split('\n')[0]}`);
  }
  if (perf) {
    perf.kill('SIGINT');
    await exited(perf, 10000);
  }
  app.kill('SIGTERM');
  await exited(app, 10000);
  const profile = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (profile) analyseCpuProfile(join(dir, profile));
  else if (PROFILERS) console.error('profile: no .cpuprofile written');
  if (perf) analysePerf(join(dir, 'perf.data'));
  if (perf && tunPackets) perfPerPacket(join(dir, 'perf.data'), tunPackets, app.pid);
  // --perf-basic-prof's symbol map, read by perf report above.
  if (env.KEEP !== '1') rmSync(`/tmp/perf-${app.pid}.map`, { force: true });
  if (env.KEEP === '1') console.log(`\nkept ${dir}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`profile: ${err.stack ?? err}`);
    process.exit(1);
  },
);
