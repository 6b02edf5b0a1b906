/**
 * Network namespaces for end-to-end tests. Every test that touches a real TUN device makes
 * its own namespace, runs every process that talks to the device inside it, and deletes it
 * afterwards, so nothing is ever configured or sent in the machine's own namespace.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

let seq = 0;

/** True when this process may create namespaces and TUN devices (root or CAP_NET_ADMIN). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = `tcptun-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers a loud skip (or, under CI, a failure) for suites that need namespaces, and
 * returns whether the suite may run.
 */
export function requireNetns(suite: Mocha.Suite): boolean {
  if (canUseNetns()) return true;
  const message = 'end-to-end tests need root/CAP_NET_ADMIN and iproute2 (ip netns)';
  if (process.env.CI) {
    suite.addTest(new (suite.constructor as unknown as { Test: typeof Mocha.Test }).Test(`${message}`, () => {
      throw new Error(`${message}: CI must run them`);
    }));
    return false;
  }
  process.stderr.write(`\n*** SKIPPED: ${message}. Run the tests as root to include them. ***\n\n`);
  return false;
}

/**
 * Shell text for `sh -c TEXT sh CMD...`: runs CMD with a /dev/net/tun of mode 0666, the mode
 * distributions give the clone device (opening it grants nothing; creating or attaching a device
 * is checked by the kernel: owner or CAP_NET_ADMIN). Machines that make it 0600 stop every
 * non-root user before those checks. `ip netns exec` gives each command a mount namespace of
 * its own, so this tmpfs over /dev/net is seen only by CMD and its children: the machine's
 * device node is left as it is.
 */
export const OPEN_TUN_NODE =
  'mount -t tmpfs -o mode=0755,size=64k tcptun-dev /dev/net && mknod -m 0666 /dev/net/tun c 10 200 && exec "$@"';

/** How {@link unprivileged} runs a command. */
export interface UnprivilegedOptions {
  /** Keep CAP_NET_ADMIN as an ambient capability (inherited through exec), nothing else. */
  readonly netAdmin?: boolean;
  /** Give it the tmpfs /dev/net/tun of mode 0666 ({@link OPEN_TUN_NODE}); default true. */
  readonly openTunNode?: boolean;
}

/**
 * `[cmd, args]` for `Namespace.spawn`/`run` that run `argv` as nobody:nogroup without root and
 * without capabilities (with `netAdmin`: with CAP_NET_ADMIN only, as
 * `setpriv --inh-caps +net_admin --ambient-caps +net_admin` grants it). setpriv execs, so the
 * spawned PID ends up being `argv`'s process.
 */
export function unprivileged(argv: readonly string[], options: UnprivilegedOptions = {}): [string, string[]] {
  const setpriv = ['setpriv', '--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups'];
  if (options.netAdmin === true) setpriv.push('--inh-caps', '+net_admin', '--ambient-caps', '+net_admin');
  if (options.openTunNode === false) return [setpriv[0]!, [...setpriv.slice(1), ...argv]];
  return ['sh', ['-c', OPEN_TUN_NODE, 'sh', ...setpriv, ...argv]];
}

/** The `Uid:`/`Gid:` (real, effective, saved, filesystem) and `CapEff:` of a process, from /proc. */
export function processIds(pid: number): { uid: number[]; gid: number[]; capEff: bigint } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => /^(\w+):\s*(.*)$/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2] ?? '';
  return {
    uid: field('Uid').split(/\s+/).map(Number),
    gid: field('Gid').split(/\s+/).map(Number),
    capEff: BigInt(`0x${field('CapEff') || '0'}`),
  };
}

/** Output of a finished command. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class Namespace {
  private readonly children = new Set<ChildProcess>();

  private constructor(readonly name: string) {}

  /** Creates a fresh namespace with loopback up. */
  static create(tag: string): Namespace {
    const name = `tcptun-${tag}-${process.pid}-${seq++}`;
    execFileSync('ip', ['netns', 'add', name]);
    const ns = new Namespace(name);
    ns.execSync('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  execSync(cmd: string, args: readonly string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8' });
  }

  /** Starts `cmd` inside the namespace; it is killed (by PID) when the namespace is deleted. */
  spawn(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs `cmd` to completion inside the namespace, killing it after `timeoutMs`. */
  run(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = this.spawn(cmd, args);
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Kills what this namespace's helpers started, then deletes the namespace. */
  async delete(): Promise<void> {
    const waits = [...this.children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
          }, 3000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(waits);
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // Already gone: nothing to clean.
    }
  }
}

/** Reads a child's stdout line by line until `pattern` matches, or fails after `timeoutMs`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    const onData = (d: string): void => {
      buffered += d;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (pattern.test(line)) {
          cleanup();
          resolve(line);
          return;
        }
      }
    };
    const onErr = (d: string): void => {
      stderr += d;
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`process exited (${code}) before printing ${pattern}: ${stderr}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${pattern}; stderr: ${stderr}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onErr);
    child.once('exit', onExit);
  });
}
