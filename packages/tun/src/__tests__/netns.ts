/**
 * Test harness: a network namespace owned by the test, the TUN child process run inside it, and
 * kernel-side helpers (a UDP sender and a UDP listener, also inside it). Nothing here sends
 * traffic in the machine's own namespace. Processes are stopped only by the PIDs we started.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));
const CHILD_SCRIPT = fileURLToPath(new URL('./tun-child.ts', import.meta.url));

/** Why the namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable(probeName: string): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root';
  const add = spawnSync('ip', ['netns', 'add', probeName], { encoding: 'utf8' });
  if (add.error !== undefined) return `cannot run ip: ${add.error.message}`;
  if (add.status !== 0) return `ip netns add failed: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'delete', probeName]);
  return undefined;
}

/** A network namespace created for one test suite. */
export class Netns {
  readonly name: string;
  readonly #children = new Set<ChildProcess>();

  constructor(name: string) {
    this.name = name;
    const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`ip netns add ${name} failed: ${add.stderr}`);
    // Loopback up, so kernel-side sockets behave normally.
    this.run(['ip', 'link', 'set', 'lo', 'up']);
  }

  /** Runs a short command in the namespace and returns its stdout; throws on failure. */
  run(argv: readonly string[]): string {
    const r = spawnSync('ip', ['netns', 'exec', this.name, ...argv], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** Reads a file as seen inside the namespace (/sys/class/net and /proc/sys are per-namespace). */
  read(path: string): string {
    return this.run(['cat', path]).trim();
  }

  /** Starts a process in the namespace; it is killed (by PID) in `destroy()` if still running. */
  spawn(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], { cwd: PACKAGE_DIR, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Runs a Node script in the namespace to completion, returning stdout. */
  node(script: string, args: readonly string[] = [], timeoutMs = 10_000): Promise<string> {
    const child = this.spawn([process.execPath, '-e', script, '--', ...args]);
    return collect(child, timeoutMs);
  }

  /** Kills our children still running, then deletes the namespace. */
  destroy(): void {
    for (const child of this.#children) {
      if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    }
    spawnSync('ip', ['netns', 'delete', this.name]);
  }
}

function collect(child: ChildProcess, timeoutMs: number): Promise<string> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`exit ${code}; stderr: ${err}`));
    });
  });
}

/**
 * Shell prefix (`sh -c OPEN_TUN_NODE sh CMD...`) that runs CMD with a /dev/net/tun of mode 0666,
 * the mode distributions give it (opening it grants nothing: creating or attaching a device is
 * checked by the kernel). This machine's node is 0600, which would stop every unprivileged user
 * before the checks under test. `ip netns exec` runs in a mount namespace of its own, so the tmpfs
 * over /dev/net is seen only by this process tree and the machine's node is left as it is.
 */
export const OPEN_TUN_NODE =
  'mount -t tmpfs -o mode=0755,size=64k tcptun-dev /dev/net && mknod -m 0666 /dev/net/tun c 10 200 && exec "$@"';

/** One JSON event line from the TUN child. */
export type ChildEvent = { event: string } & Record<string, unknown>;

/** The TUN child process (tun-child.ts) running in a namespace. */
export class TunChild {
  readonly process: ChildProcess;
  readonly #events: ChildEvent[] = [];
  #waiter: (() => void) | undefined;
  #stderr = '';
  readonly #exit: Promise<number | null>;

  constructor(ns: Netns, options: object, env: NodeJS.ProcessEnv = process.env) {
    const argv = [process.execPath, '--import', 'tsx', CHILD_SCRIPT, JSON.stringify(options)];
    // A child that drops to nobody gets a world-openable /dev/net/tun of its own (see OPEN_TUN_NODE).
    this.process = ns.spawn(env.TUN_CHILD_DROP_PRIVILEGES === '1' ? ['sh', '-c', OPEN_TUN_NODE, 'sh', ...argv] : argv, env);
    this.process.stderr?.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      try {
        this.#events.push(JSON.parse(line) as ChildEvent);
      } catch {
        this.#events.push({ event: 'garbage', line });
      }
      this.#waiter?.();
    });
    this.#exit = new Promise((resolve) => this.process.once('exit', (code) => {
      resolve(code);
      this.#waiter?.();
    }));
  }

  /** Sends one command line. */
  command(command: object): void {
    this.process.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  /** Waits for the next event named `name` (skipping others unless they are errors). */
  async next(name: string, timeoutMs = 10_000): Promise<ChildEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#events.findIndex((e) => e.event === name);
      if (i >= 0) return this.#events.splice(i, 1)[0]!;
      const unexpected = this.#events.find((e) => e.event === 'device-error' || e.event === 'garbage');
      if (unexpected !== undefined) throw new Error(`child reported ${JSON.stringify(unexpected)}`);
      if (this.process.exitCode !== null) {
        throw new Error(`child exited (${this.process.exitCode}) before '${name}'; stderr: ${this.#stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no '${name}' from child within ${timeoutMs} ms; stderr: ${this.#stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          this.#waiter = undefined;
          resolve();
        };
      });
    }
  }

  /** The events named `name` received and not yet taken (does not remove them). */
  events(name: string): ChildEvent[] {
    return this.#events.filter((e) => e.event === name);
  }

  /** Collects packets reported by the child until `count` arrived or the time is up. */
  async packets(count: number, timeoutMs = 5_000): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count) {
      const e = await this.next('packets', Math.max(1, deadline - Date.now()));
      for (const hex of e.hex as string[]) out.push(Buffer.from(hex, 'hex'));
    }
    return out;
  }

  /** Takes every packet reported so far (send a command and await its reply first to sync). */
  takePackets(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.#events.length;) {
      const e = this.#events[i]!;
      if (e.event !== 'packets') {
        i++;
        continue;
      }
      this.#events.splice(i, 1);
      for (const hex of e.hex as string[]) out.push(Buffer.from(hex, 'hex'));
    }
    return out;
  }

  /** Resolves with the exit code, or undefined if the child is still alive after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<number | null | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    const result = await Promise.race([this.#exit, timeout]);
    clearTimeout(timer);
    return result;
  }

  get stderr(): string {
    return this.#stderr;
  }
}

/** Kernel-side UDP sender: `count` datagrams of `payload` to `address:port`, then exits. */
export const UDP_SEND_SCRIPT = `
const dgram = require('node:dgram');
const [address, port, count, payload] = process.argv.slice(-4);
const s = dgram.createSocket('udp4');
let left = Number(count);
let pending = left;
const done = () => { if (--pending === 0) s.close(); };
for (let i = 0; i < left; i++) s.send(Buffer.from(payload + ':' + i), Number(port), address, done);
`;

/** Kernel-side UDP sender, paced: argv ADDRESS PORT COUNT GAP_MS; one datagram every GAP_MS. */
export const UDP_PACED_SCRIPT = `
const dgram = require('node:dgram');
const [address, port, count, gap] = process.argv.slice(-4).map((v, i) => (i === 0 ? v : Number(v)));
const s = dgram.createSocket('udp4');
let i = 0;
const next = () => {
  if (i === count) return s.close();
  s.send(Buffer.from('paced:' + i++), port, address, () => setTimeout(next, gap));
};
next();
`;

/** Kernel-side UDP listener: prints 'ready', then the first datagram as JSON, then exits. */
export const UDP_RECV_SCRIPT = `
const dgram = require('node:dgram');
const [address, port] = process.argv.slice(-2);
const s = dgram.createSocket('udp4');
s.on('message', (msg, rinfo) => {
  process.stdout.write(JSON.stringify({ from: rinfo.address, port: rinfo.port, data: msg.toString() }) + '\\n');
  s.close();
});
s.bind(Number(port), address, () => process.stdout.write('ready\\n'));
`;

/**
 * Kernel-side UDP listener for a numbered run (packets.ts udpPayload): argv ADDRESS PORT COUNT;
 * prints 'ready', then, once COUNT datagrams arrived or 10 s passed, one JSON line: the indexes
 * in arrival order and how many had a wrong payload.
 */
export const UDP_RECV_RUN_SCRIPT = `
const dgram = require('node:dgram');
const [address, port, count] = process.argv.slice(-3);
const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
const order = [];
let bad = 0;
const done = () => { process.stdout.write(JSON.stringify({ order, bad }) + '\\n'); s.close(); };
const timer = setTimeout(done, 10000);
s.on('message', (msg) => {
  const text = msg.toString();
  const i = Number(text.slice(0, text.indexOf(':')));
  const want = (String(i) + ':').padEnd(20 + ((i * 397) % 1381), String.fromCharCode(97 + (i % 26)));
  if (text !== want) bad++;
  order.push(i);
  if (order.length === Number(count)) { clearTimeout(timer); done(); }
});
s.bind(Number(port), address, () => process.stdout.write('ready\\n'));
`;

/** The namespace and child processes of one TUN test suite (see {@link useTunSuite}). */
export interface TunSuite {
  /** The suite's namespace (made before its first test). */
  readonly ns: () => Netns;
  /** Starts a TUN child in the namespace; it is killed after the test if still running. */
  child(options: object, env?: NodeJS.ProcessEnv): TunChild;
}

/**
 * Registers the mocha hooks every TUN suite needs, inside its `describe`: the namespace `name` is
 * made before the suite (where it cannot be, the suite is skipped with a loud banner naming
 * `what`, and fails under CI, where these tests must run); children a test leaves running are
 * stopped by PID after it; the namespace is deleted after the suite.
 */
export function useTunSuite(name: string, what: string): TunSuite {
  let ns: Netns | undefined;
  const children: TunChild[] = [];
  before(function () {
    const reason = netnsUnavailable(`${name}-probe`);
    if (reason !== undefined) {
      console.error(`\n${'!'.repeat(72)}\n!! SKIPPED: needs CAP_NET_ADMIN (${reason}): ${what} did not run\n${'!'.repeat(72)}\n`);
      if (process.env.CI) throw new Error(`TUN tests must run in CI but cannot: ${reason}`);
      this.skip();
    }
    ns = new Netns(name);
  });
  afterEach(() => {
    for (const c of children.splice(0)) {
      if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    }
  });
  after(() => ns?.destroy());
  const current = (): Netns => {
    if (ns === undefined) throw new Error('the TUN suite has no namespace (before() did not run)');
    return ns;
  };
  return {
    ns: current,
    child(options, env) {
      const c = new TunChild(current(), options, env);
      children.push(c);
      return c;
    },
  };
}
