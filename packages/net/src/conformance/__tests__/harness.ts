/**
 * The differential harness of the conformance suite (issue 9, "How to prove it").
 *
 * A scenario is one async function written against `node:net`'s API. It runs on three
 * targets:
 * - `node:net`: the real module over the kernel's loopback (server and client on 127.0.0.1);
 * - `tcp-tun pair`: two `Stack`s over `createLinkPair()`, the server on 10.0.0.2, the client on
 *   10.0.0.1 (`stack.net` of each);
 * - `tcp-tun loopback`: ONE stack at 10.0.0.1 whose server and client are both on it (the
 *   client connects to the stack's own address, issue 9 behaviour 8).
 *
 * While it runs, the scenario records traces: one ordered list of entries per label (a label is
 * an endpoint such as 'client' or 'server', chosen by the scenario). `watch()` records a
 * socket's events ('connect', 'ready', 'lookup', 'data' with its bytes, 'end', 'finish',
 * 'close' with hadError, 'error' with name/code/message/syscall/errno, 'timeout', optionally
 * 'drain'); `watchServer()` a server's ('listening', 'connection', 'close', 'error', 'drop');
 * `cb()` makes a callback that records each call; `attempt()` records a call's result or the
 * error it throws (name, code, message); `state()` records getters at a chosen point.
 * The tcp-tun traces must equal the node:net trace label by label.
 *
 * IPv6 (issue 13): every target is dual-stack. node:net uses ::1 (`host6`, and the client's
 * own `clientHost6`); the tcp-tun stacks also hold fd00::1 (client, and the loopback stack) and
 * fd00::2 (server), so a scenario connects over IPv6 to `ctx.host6`.
 *
 * What is normalised, and only that (everything else must be equal):
 * - Addresses: 127.0.0.1, its v4-mapped form ::ffff:127.0.0.1, 10.0.0.1 and 10.0.0.2 all
 *   become `ADDR`. On node:net client and server share 127.0.0.1, so the two ends cannot be
 *   told apart by address on that side; ports tell them apart. The unspecified address '::'
 *   (what node:net binds on a dual-stack kernel for `listen(port)`) and '0.0.0.0' (an IPv4
 *   stack's) both become `ANY`, and `address()` of an `ANY` or v4-mapped address reports
 *   family 'IPv4' (so the IPv4 scenarios, written before IPv6, do not depend on
 *   whether a listener is dual-stack; the IPv6 scenarios record addresses and families through
 *   {@link mapped} and their own formatting, which this does not touch).
 * - IPv6 addresses: ::1, fd00::1 and fd00::2 all become `ADDR6`; `ADDR6:port` and `:::port`
 *   in messages get their port replaced as below. Scenarios that must see the v4-mapped prefix
 *   or the family record through {@link mapped} (`::ffff:` becomes `v4mapped/`, which survives).
 * - Ports: servers' ports become SERVER_PORT, SERVER_PORT_2… in the order `listen()` helpers
 *   were awaited; client sockets' local ports CLIENT_PORT, CLIENT_PORT_2… in the order the
 *   sockets were watched; any other port PORT_1, PORT_2… in order of first appearance.
 *   Ports inside messages (`connect ECONNREFUSED ADDR:SERVER_PORT`) are replaced the same way.
 * - Chunking: consecutive 'data' events of one socket merge into one entry (the kernel and
 *   tcp-tun cut a stream into different chunks; the bytes and their order must be equal).
 * Events of different labels are never compared by relative order (the two ends run
 * concurrently); a scenario that needs an order puts both in one label only where it
 * synchronises them itself.
 *
 * Time: traces are compared after the scenario's own promise settles (it awaits the events it
 * needs) and a few more event-loop turns. Each run is bounded (`Scenario.boundMs`, default
 * 800 ms; 150 ms on the loopback target while a probe finds loopback missing): a run that does
 * not finish in time gets a final `HANG` entry in every label, so a tcp-tun hang fails the
 * comparison instead of the test timing out. An 'error' event nobody listens for is recorded in
 * the label 'unhandled' rather than thrown. Idle timeouts
 * (`setTimeout()`) are Node timers in both node:net and tcp-tun's socket layer, so those
 * scenarios use short real durations (tens of ms) and wait on the 'timeout' event; the stacks'
 * own retransmission and TIME-WAIT timers never need to fire within a scenario.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as nodeNet from 'node:net';
import { createLinkPair } from '../../link-pair.js';
import { Stack } from '../../stack.js';

/** The nine numbered behaviours of issue 9 a scenario can cover. */
export type Behaviour = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
export const BEHAVIOURS: readonly Behaviour[] = [1, 2, 3, 4, 5, 6, 7, 8, 9];

/** The `node:net` surface a scenario uses (tcp-tun's `stack.net` is cast to it). */
export type NetLike = Pick<typeof nodeNet, 'createServer' | 'connect' | 'createConnection' | 'Socket' | 'Server'>;

export type TargetName = 'node:net' | 'tcp-tun pair' | 'tcp-tun loopback';
export const TARGETS: readonly TargetName[] = ['node:net', 'tcp-tun pair', 'tcp-tun loopback'];

/** Traces by label, normalised. */
export type Traces = Record<string, string[]>;

/** One differential scenario. */
export interface Scenario {
  /** Unique, kebab-case. */
  readonly id: string;
  /** Issue 9's behaviours it covers. */
  readonly covers: readonly Behaviour[];
  /** The Node test(s) it ports, for the reader. */
  readonly from?: string;
  /** Bound of one run in ms (default 800; see {@link loopbackWorks}). */
  readonly boundMs?: number;
  /** The node:net test runs the scenario twice to check it is deterministic (default true). */
  readonly rerun?: boolean;
  /** The scenario runs in a child process, not on the harness's stacks (default false). */
  readonly child?: boolean;
  run(ctx: Ctx): Promise<void>;
  /** The key expectations, asserted on the node:net trace (so no scenario passes vacuously). */
  expect(t: Traces): void;
}

interface Target {
  readonly serverNet: NetLike;
  readonly clientNet: NetLike;
  /** The address clients connect to. */
  readonly host: string;
  /** The IPv6 address clients connect to. */
  readonly host6: string;
  /** The client's own IPv6 address (for `localAddress`). */
  readonly clientHost6: string;
  readonly addresses: readonly string[];
  readonly stacks: readonly Stack[];
  close(): Promise<void>;
}

/** The tcp-tun stacks' IPv6 addresses (unique local, RFC 4193). */
const CLIENT6 = 'fd00::1';
const SERVER6 = 'fd00::2';
/** The IPv6 addresses every target uses, normalised to `ADDR6`. */
const IPV6_ADDRESSES: readonly string[] = ['::1', CLIENT6, SERVER6];

/** Stack options with `address6` (typed through the options the Stack takes). */
function dualStackOptions(o: { link: ConstructorParameters<typeof Stack>[0]['link']; address: string; address6: string }): ConstructorParameters<typeof Stack>[0] {
  return o as ConstructorParameters<typeof Stack>[0];
}

/**
 * A v4-mapped address (`::ffff:a.b.c.d`) as `v4mapped/a.b.c.d`: the address normalisation
 * swallows the prefix (node:net's and tcp-tun's IPv4 scenarios differ there only by the
 * kernel's dual-stack sockets), so a scenario that checks the mapping records it this way.
 */
export function mapped(text: unknown): string {
  return String(text).replace(/::ffff:/gi, 'v4mapped/');
}

function makeTarget(name: TargetName): Target {
  if (name === 'node:net') {
    return { serverNet: nodeNet, clientNet: nodeNet, host: '127.0.0.1', host6: '::1', clientHost6: '::1', addresses: ['127.0.0.1'], stacks: [], close: async () => {} };
  }
  const [linkA, linkB] = createLinkPair();
  const a = new Stack(dualStackOptions({ link: linkA, address: '10.0.0.1', address6: CLIENT6 }));
  if (name === 'tcp-tun loopback') {
    // The other end of the link is left unattached: anything the stack sends on it is lost, so
    // only delivery inside the stack (loopback) can make these scenarios pass.
    return {
      serverNet: a.net as unknown as NetLike,
      clientNet: a.net as unknown as NetLike,
      host: '10.0.0.1',
      host6: CLIENT6,
      clientHost6: CLIENT6,
      addresses: ['10.0.0.1'],
      stacks: [a],
      close: async () => {
        await a.close();
        await linkB.close();
      },
    };
  }
  const b = new Stack(dualStackOptions({ link: linkB, address: '10.0.0.2', address6: SERVER6 }));
  return {
    serverNet: b.net as unknown as NetLike,
    clientNet: a.net as unknown as NetLike,
    host: '10.0.0.2',
    host6: SERVER6,
    clientHost6: CLIENT6,
    addresses: ['10.0.0.1', '10.0.0.2'],
    stacks: [a, b],
    close: async () => {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

type Entry = string | { readonly tag: string; readonly chunks: Buffer[]; readonly text: boolean };

/** Options of {@link Ctx.watch}. */
export interface WatchOptions {
  /** Attach a 'data' listener (puts the socket in flowing mode; default true). */
  readonly data?: boolean;
  /** Record 'drain' (default false: how often it fires depends on buffer sizes). */
  readonly drain?: boolean;
  /** Prefix of this socket's entries when a label holds several sockets. */
  readonly tag?: string;
  /** This is a client socket: its local port is named CLIENT_PORT… (default: label 'client…'). */
  readonly client?: boolean;
}

/** What a scenario gets. */
export interface Ctx {
  readonly target: TargetName;
  /** `node:net` or the server stack's `stack.net`. */
  readonly serverNet: NetLike;
  /** `node:net` or the client stack's `stack.net`. */
  readonly clientNet: NetLike;
  /** The server's address (127.0.0.1, 10.0.0.2 or, for loopback, 10.0.0.1). */
  readonly host: string;
  /** The server's IPv6 address (::1, fd00::2 or, for loopback, fd00::1). */
  readonly host6: string;
  /** The client's own IPv6 address (::1 or fd00::1). */
  readonly clientHost6: string;
  /** Appends an entry to a label's trace. */
  rec(label: string, entry: string): void;
  watch<S extends nodeNet.Socket>(socket: S, label: string, options?: WatchOptions): S;
  watchServer<S extends nodeNet.Server>(server: S, label: string, options?: { connections?: string; tag?: string }): S;
  /** A callback recording `cb <name>(<args>)` on each call. */
  cb(label: string, name: string): (...args: unknown[]) => void;
  /** Calls `fn`; records `<name> -> <result>` or `<name> throws <error>`; returns the result. */
  attempt<T>(label: string, name: string, fn: () => T, self?: unknown): T | undefined;
  /** Records `socket`'s local and remote address, port and family. */
  ends(socket: nodeNet.Socket, label: string, at: string): void;
  /** Records the usual getters of `socket`. */
  state(socket: nodeNet.Socket, label: string, at: string, keys?: readonly StateKey[]): void;
  /** Creates a server on serverNet (tracked, its 'connection' sockets tracked), listening on port 0 at host. */
  server(label: string, handler?: (socket: nodeNet.Socket) => void, options?: nodeNet.ServerOpts): Promise<{ server: nodeNet.Server; port: number }>;
  /** Resolves with the port once `server` listens; names it SERVER_PORT…. */
  listening(server: nodeNet.Server): Promise<number>;
  /** Keeps a socket or server for teardown (helpers do this themselves). */
  track<T extends nodeNet.Socket | nodeNet.Server>(x: T): T;
  /**
   * Resolves when `socket` emitted 'connect' (now, if it already did: the order of the two
   * ends' events is not fixed, so never wait for a past event with `next()`).
   */
  connected(socket: nodeNet.Socket): Promise<void>;
  /** Resolves when `socket` emitted 'close' (now, if it already did). */
  closed(socket: nodeNet.Socket | nodeNet.Server): Promise<void>;
  /** Resolves on the next `event` of `emitter`. */
  next(emitter: NodeJS.EventEmitter, event: string): Promise<unknown[]>;
  /** A port on `host` with no listener (listened on, then closed). */
  freePort(): Promise<number>;
  /** Resolves after `n` event-loop turns (setImmediate), default 1. */
  turns(n?: number): Promise<void>;
}

export type StateKey =
  | 'readyState'
  | 'pending'
  | 'connecting'
  | 'destroyed'
  | 'readable'
  | 'writable'
  | 'bytesRead'
  | 'bytesWritten'
  | 'readableEnded'
  | 'writableEnded'
  | 'writableFinished'
  | 'allowHalfOpen'
  | 'timeout';

const DEFAULT_STATE: readonly StateKey[] = ['readyState', 'pending', 'connecting', 'destroyed', 'readable', 'writable', 'bytesRead', 'bytesWritten'];

/** Formats an error: `Name[CODE]: message {syscall,errno,address,port}`. */
export function fmtError(e: unknown): string {
  if (!(e instanceof Error)) return `non-error ${fmtValue(e)}`;
  const x = e as Error & { code?: unknown; syscall?: unknown; errno?: unknown; address?: unknown; port?: unknown };
  const extra: string[] = [];
  if (x.syscall !== undefined) extra.push(`syscall=${String(x.syscall)}`);
  if (x.errno !== undefined) extra.push(`errno=${String(x.errno)}`);
  if (x.address !== undefined) extra.push(`address=${String(x.address)}`);
  if (x.port !== undefined) extra.push(`port=${portToken(x.port)}`);
  const code = x.code === undefined ? '' : `[${String(x.code)}]`;
  return `${x.name}${code}: ${x.message}${extra.length ? ` {${extra.join(' ')}}` : ''}`;
}

function portToken(p: unknown): string {
  return typeof p === 'number' && p > 0 ? `⟨p:${p}⟩` : String(p);
}

/** A short, stable rendering of a value for traces. */
export function fmtValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'function') return `function`;
  if (v instanceof Error) return fmtError(v);
  if (Buffer.isBuffer(v)) return `Buffer(${v.length})`;
  if (typeof v === 'object') {
    if (v instanceof nodeNet.Socket || isStreamLike(v)) return `Socket`;
    if (typeof (v as { listen?: unknown }).listen === 'function') return 'Server';
    const o = v as Record<string, unknown>;
    if ('address' in o && 'port' in o && 'family' in o) return fmtAddress(o);
    try {
      return JSON.stringify(v);
    } catch {
      return Object.prototype.toString.call(v);
    }
  }
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

function isStreamLike(v: object): boolean {
  return typeof (v as { pipe?: unknown }).pipe === 'function' && typeof (v as { write?: unknown }).write === 'function';
}

/** `address()`-style objects, normalised (ANY, v4-mapped → IPv4). */
export function fmtAddress(o: Record<string, unknown>): string {
  let address = String(o['address']);
  let family = String(o['family']);
  if (address === '::' || address === '0.0.0.0') {
    address = 'ANY';
    family = 'IPv4';
  } else if (address.startsWith('::ffff:')) {
    address = address.slice(7);
    family = 'IPv4';
  }
  const keys = Object.keys(o).sort().join(',');
  return `{${address} ${family} ${portToken(o['port'])} keys=${keys}}`;
}

const DEFAULT_BOUND_MS = 800;
/**
 * While a stack cannot reach its own address (one probe connection per process says so), the
 * loopback runs still run and fail, but are bounded at this instead of their own bound, so the
 * suite does not spend a minute waiting on a hundred certain failures.
 */
const LOOPBACK_MISSING_BOUND_MS = 150;
let loopbackProbe: Promise<boolean> | undefined;

/** Whether a stack can connect to a server on its own address (memoised probe, ≤ 500 ms). */
export function loopbackWorks(): Promise<boolean> {
  loopbackProbe ??= (async () => {
    const target = makeTarget('tcp-tun loopback');
    try {
      const server = target.serverNet.createServer((s) => s.end());
      server.listen(0, target.host);
      await once(server, 'listening');
      const client = target.clientNet.connect((server.address() as nodeNet.AddressInfo).port, target.host);
      client.on('error', () => {});
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        once(client, 'connect').then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 500))),
      ]);
      clearTimeout(timer);
      client.destroy();
      return ok;
    } catch {
      return false;
    } finally {
      await target.close();
    }
  })();
  return loopbackProbe;
}

/** Runs a scenario once on one target; resolves with its normalised traces. */
export async function runScenario(scenario: Scenario, targetName: TargetName): Promise<Traces> {
  const target = makeTarget(targetName);
  const raw = new Map<string, Entry[]>();
  const serverPorts: number[] = [];
  const clientSlots: Array<{ port: number | undefined }> = [];
  const sockets = new Set<nodeNet.Socket>();
  const servers = new Set<nodeNet.Server>();
  let frozen = false;
  // 'close' and 'listening' seen so far: `socket.closed` and `server.listening` turn true a
  // tick before the event, and scenarios wait for the event.
  const closeSeen = new WeakSet<object>();
  const listeningSeen = new WeakSet<object>();
  const connectSeen = new WeakSet<object>();
  const observe = (x: nodeNet.Socket | nodeNet.Server): void => {
    x.once('close', () => closeSeen.add(x));
    if ('listen' in x) x.on('listening', () => listeningSeen.add(x));
    else x.on('connect', () => connectSeen.add(x));
    // An 'error' nobody listens for would throw out of the emitter and into mocha (on node:net
    // too): record it in the 'unhandled' label instead, so it shows as a difference.
    x.on('error', (e: unknown) => {
      if (x.listenerCount('error') === 1) rec('unhandled', `unhandled error ${fmtError(e)}`);
    });
  };

  const list = (label: string): Entry[] => {
    let l = raw.get(label);
    if (l === undefined) raw.set(label, (l = []));
    return l;
  };
  const rec = (label: string, entry: string): void => {
    if (!frozen) list(label).push(entry);
  };
  const recData = (label: string, tag: string, chunk: Buffer | string): void => {
    if (frozen) return;
    const l = list(label);
    const last = l[l.length - 1];
    const text = typeof chunk === 'string';
    const buf = Buffer.from(chunk);
    if (last !== undefined && typeof last !== 'string' && last.tag === tag && last.text === text) last.chunks.push(buf);
    else l.push({ tag, chunks: [buf], text });
  };
  const prefix = (tag: string): string => (tag === '' ? '' : `${tag} `);

  const ctx: Ctx = {
    target: targetName,
    serverNet: target.serverNet,
    clientNet: target.clientNet,
    host: target.host,
    host6: target.host6,
    clientHost6: target.clientHost6,
    rec,
    watch(socket, label, options = {}) {
      if (!sockets.has(socket)) observe(socket);
      sockets.add(socket);
      const p = prefix(options.tag ?? '');
      const isClient = options.client ?? label.startsWith('client');
      const slot = { port: undefined as number | undefined };
      if (isClient) clientSlots.push(slot);
      socket.on('connect', () => {
        if (isClient) slot.port = socket.localPort;
        rec(label, `${p}connect`);
      });
      socket.on('ready', () => rec(label, `${p}ready`));
      socket.on('lookup', (err: unknown, address: unknown, family: unknown, host: unknown) =>
        rec(label, `${p}lookup ${err ? fmtError(err) : 'null'} ${fmtValue(address)} ${fmtValue(family)} ${fmtValue(host)}`),
      );
      if (options.data ?? true) socket.on('data', (chunk: Buffer | string) => recData(label, options.tag ?? '', chunk));
      socket.on('end', () => rec(label, `${p}end`));
      socket.on('finish', () => rec(label, `${p}finish`));
      socket.on('close', (hadError: unknown) => rec(label, `${p}close hadError=${String(hadError)}`));
      socket.on('error', (err: unknown) => rec(label, `${p}error ${fmtError(err)}`));
      socket.on('timeout', () => rec(label, `${p}timeout`));
      if (options.drain === true) socket.on('drain', () => rec(label, `${p}drain`));
      return socket;
    },
    watchServer(server, label, options = {}) {
      if (!servers.has(server)) observe(server);
      servers.add(server);
      const p = prefix(options.tag ?? '');
      server.on('listening', () => rec(label, `${p}listening`));
      server.on('connection', (s: nodeNet.Socket) => {
        if (!sockets.has(s)) observe(s);
        sockets.add(s);
        rec(label, `${p}connection`);
        if (options.connections !== undefined) ctx.watch(s, options.connections);
      });
      server.on('close', () => rec(label, `${p}server-close`));
      server.on('error', (err: unknown) => rec(label, `${p}server-error ${fmtError(err)}`));
      server.on('drop', (data: unknown) => rec(label, `${p}drop ${data !== null && typeof data === 'object' ? `keys=${Object.keys(data).sort().join(',')}` : fmtValue(data)}`),
      );
      return server;
    },
    cb(label, name) {
      return (...args: unknown[]) => rec(label, `cb ${name}(${args.map(fmtValue).join(', ')})`);
    },
    attempt(label, name, fn, self) {
      try {
        const r = fn();
        rec(label, `${name} -> ${self !== undefined && r === self ? 'this' : fmtValue(r)}`);
        // A call expected to throw that returned a socket or server instead: keep it for
        // teardown and record (instead of throwing) what it emits as an error.
        if (r !== self && r !== null && typeof r === 'object' && typeof (r as { on?: unknown }).on === 'function') {
          const x = r as unknown as nodeNet.Socket;
          ctx.track(x);
          x.on('error', (e: unknown) => rec(label, `${name}: error ${fmtError(e)}`));
        }
        return r;
      } catch (e) {
        rec(label, `${name} throws ${fmtError(e)}`);
        return undefined;
      }
    },
    ends(socket, label, at) {
      const fam = (f: unknown, a: unknown): string => (typeof a === 'string' && a.startsWith('::ffff:') ? 'IPv4' : String(f));
      rec(
        label,
        `ends@${at} local=${String(socket.localAddress)}:${portToken(socket.localPort)}/${fam(socket.localFamily, socket.localAddress)}` +
          ` remote=${String(socket.remoteAddress)}:${portToken(socket.remotePort)}/${fam(socket.remoteFamily, socket.remoteAddress)}`,
      );
    },
    state(socket, label, at, keys = DEFAULT_STATE) {
      const s = socket as unknown as Record<string, unknown>;
      rec(label, `state@${at} ${keys.map((k) => `${k}=${fmtValue(s[k])}`).join(' ')}`);
    },
    async server(label, handler, options) {
      const server = options === undefined ? target.serverNet.createServer() : target.serverNet.createServer(options);
      ctx.watchServer(server, label);
      if (handler !== undefined) server.on('connection', handler);
      server.listen(0, target.host);
      const port = await ctx.listening(server);
      return { server, port };
    },
    async listening(server) {
      if (!servers.has(server)) throw new Error('ctx.listening(): watch or track the server before listen()');
      if (!listeningSeen.has(server)) await once(server, 'listening');
      const a = server.address() as nodeNet.AddressInfo;
      serverPorts.push(a.port);
      return a.port;
    },
    track(x) {
      if (!sockets.has(x as nodeNet.Socket) && !servers.has(x as unknown as nodeNet.Server)) observe(x);
      if (typeof (x as unknown as { listen?: unknown }).listen === 'function') servers.add(x as unknown as nodeNet.Server);
      else sockets.add(x as nodeNet.Socket);
      return x;
    },
    connected(socket) {
      if (!sockets.has(socket)) throw new Error('ctx.connected(): watch or track it first');
      if (connectSeen.has(socket)) return Promise.resolve();
      return new Promise((resolve) => socket.once('connect', () => resolve()));
    },
    closed(x) {
      if (!sockets.has(x as nodeNet.Socket) && !servers.has(x as unknown as nodeNet.Server)) throw new Error('ctx.closed(): watch or track it first');
      if (closeSeen.has(x)) return Promise.resolve();
      return new Promise((resolve) => x.once('close', () => resolve()));
    },
    next(emitter, event) {
      return new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args)));
    },
    async freePort() {
      const s = target.serverNet.createServer();
      s.listen(0, target.host);
      await once(s, 'listening');
      const port = (s.address() as nodeNet.AddressInfo).port;
      await new Promise<void>((resolve) => s.close(() => resolve()));
      return port;
    },
    async turns(n = 1) {
      for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
    },
  };

  let bound = scenario.boundMs ?? DEFAULT_BOUND_MS;
  if (targetName === 'tcp-tun loopback' && scenario.child !== true && !(await loopbackWorks())) bound = Math.min(bound, LOOPBACK_MISSING_BOUND_MS);
  let timer: NodeJS.Timeout | undefined;
  let hung = false;
  let threw: unknown;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      hung = true;
      resolve();
    }, bound);
  });
  try {
    await Promise.race([
      scenario.run(ctx).then(
        () => ctx.turns(5),
        (e: unknown) => {
          threw = e;
        },
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
  if (threw !== undefined) for (const l of raw.values()) l.push(`SCENARIO THREW ${fmtError(threw)}`);
  if (hung) {
    if (raw.size === 0) list('client');
    for (const l of raw.values()) l.push('HANG');
  }
  frozen = true;
  // Teardown: nothing of the scenario may outlive it.
  for (const s of sockets) s.destroy();
  for (const s of servers) {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
  // A stack whose close() does not settle must not hold the suite (the traces are final).
  let closeTimer: NodeJS.Timeout | undefined;
  await Promise.race([target.close(), new Promise<void>((resolve) => (closeTimer = setTimeout(resolve, 2000)))]);
  clearTimeout(closeTimer);
  if (threw !== undefined && raw.size === 0) throw threw;
  return normalise(raw, target.addresses, serverPorts, clientSlots);
}

function normalise(
  raw: Map<string, Entry[]>,
  addresses: readonly string[],
  serverPorts: readonly number[],
  clientSlots: ReadonlyArray<{ port: number | undefined }>,
): Traces {
  const names = new Map<number, string>();
  serverPorts.forEach((p, i) => {
    if (!names.has(p)) names.set(p, i === 0 ? 'SERVER_PORT' : `SERVER_PORT_${i + 1}`);
  });
  let c = 0;
  for (const slot of clientSlots) {
    if (slot.port === undefined || names.has(slot.port)) continue;
    c++;
    names.set(slot.port, c === 1 ? 'CLIENT_PORT' : `CLIENT_PORT_${c}`);
  }
  let other = 0;
  const portName = (p: number): string => {
    let n = names.get(p);
    if (n === undefined) names.set(p, (n = `PORT_${++other}`));
    return n;
  };
  const addrRe = new RegExp(
    `(?<![\\w.:])(?:::ffff:)?(?:${['127.0.0.1', ...addresses].map((a) => a.replace(/\./g, '\\.')).join('|')})(?![\\w.])`,
    'g',
  );
  // Longest first, so '::1' never eats the tail of 'fd00::1'; an address followed by ':port'
  // (Node's `connect ECONNREFUSED ::1:80`) still matches.
  const addr6Re = new RegExp(
    `(?<![\\w:.])(?:${[...IPV6_ADDRESSES].sort((x, y) => y.length - x.length).map((a) => a.replace(/\./g, '\\.')).join('|')})(?![\\w.])`,
    'g',
  );
  const out: Traces = {};
  for (const label of [...raw.keys()].sort()) {
    out[label] = raw.get(label)!.map((e) => {
      let s = typeof e === 'string' ? e : fmtData(e.tag, Buffer.concat(e.chunks), e.text);
      s = s.replace(addrRe, 'ADDR');
      s = s.replace(addr6Re, 'ADDR6');
      s = s.replace(/(ADDR6|(?<![\w:])::|0\.0\.0\.0):(\d+)/g, (_, a: string, p: string) => `${a}:${portName(Number(p))}`);
      s = s.replace(/⟨p:(\d+)⟩/g, (_, p: string) => portName(Number(p)));
      s = s.replace(/ADDR:(\d+)/g, (_, p: string) => `ADDR:${portName(Number(p))}`);
      return s;
    });
  }
  return out;
}

/** 'data' entries: strings (after setEncoding) are marked `data(string)`. */
function fmtData(tag: string, b: Buffer, text: boolean): string {
  const p = `${tag === '' ? '' : `${tag} `}${text ? 'data(string)' : 'data'}`;
  const printable = b.length <= 80 && /^[\x20-\x7e\n]*$/.test(b.toString('latin1'));
  if (printable) return `${p} ${JSON.stringify(b.toString('latin1'))}`;
  return `${p} ${b.length}B sha256=${createHash('sha256').update(b).digest('hex').slice(0, 16)}`;
}

/** Entries of `trace` that start with `prefix`. */
export function entries(trace: readonly string[] | undefined, prefix: string): string[] {
  return (trace ?? []).filter((e) => e.startsWith(prefix));
}
