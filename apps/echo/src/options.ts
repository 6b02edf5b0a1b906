/**
 * Command-line options of tcp-tun-echo, parsed with commander so that `--help`, defaults
 * and validation messages read like every other CLI.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { addLinkOptions, intIn, readLinkOptionsOrExit, type LinkOptions } from '@tcp-tun/cli';
import { DEFAULT_PORTS, SERVICE_NAMES, type ServiceName } from './services.js';

/** What the echo app was asked to do. */
export interface EchoOptions extends LinkOptions {
  /** Port of the echo service. */
  readonly port: number;
  /** `--http-port`: port of the http service (default 80). */
  readonly httpPort: number;
  /** Services to run, each at most once, in the order given. */
  readonly services: readonly ServiceName[];
  /** Print statistics and connections as JSON when exiting. */
  readonly stats: boolean;
  /** `--keepalive SECONDS` in ms: keepalive idle time and probe interval; undefined: off. */
  readonly keepAliveMs: number | undefined;
  /** `--user-timeout MS`; undefined: the stack's default (off). */
  readonly userTimeoutMs: number | undefined;
  /** `--idle-timeout SECONDS` in ms; undefined: connections may idle forever. */
  readonly idleTimeoutMs: number | undefined;
  /** `--max-connections N` per service; undefined: no limit but the stack's. */
  readonly maxConnections: number | undefined;
  /** `--time-wait-max N`: most connections in TIME-WAIT (the stack's `maxTimeWait`); undefined: its default. */
  readonly timeWaitMax: number | undefined;
  /** Warm the connection path on a private in-memory stack pair before serving (`--no-warm-up`: false). */
  readonly warmUp: boolean;
  /**
   * With the warm-up, also warm the device path over a socketpair device pair
   * (`--device-warm-up`: true; off by default, see apps/echo warm-up.ts).
   */
  readonly deviceWarmUp: boolean;
}

/** commander parser for a positive number of seconds (fractions allowed), returned in ms. */
function secondsToMs(value: string): number {
  const n = Number(value);
  // Node's timers take at most 2^31-1 ms.
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n * 1000 > 0x7fffffff) {
    throw new InvalidArgumentError('expected a positive number of seconds (at most 2147483).');
  }
  return Math.max(1, Math.round(n * 1000));
}

function serviceList(value: string): ServiceName[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !(SERVICE_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new InvalidArgumentError(`expected a comma-separated list of ${SERVICE_NAMES.join(', ')}.`);
  }
  return [...new Set(names as ServiceName[])];
}

/** The port each requested service listens on. */
export function servicePorts(options: EchoOptions): Map<ServiceName, number> {
  const ports = new Map<ServiceName, number>();
  for (const name of options.services) {
    ports.set(name, name === 'echo' ? options.port : name === 'http' ? options.httpPort : DEFAULT_PORTS[name]);
  }
  return ports;
}

/**
 * Where a service on `port` can be reached, for the ready line: `10.0.0.2:7`, `[fd00::2]:7`
 * (RFC 3986 brackets), IPv4 first.
 */
export function listeningOn(options: Pick<EchoOptions, 'addr' | 'addr6'>, port: number): string[] {
  const out: string[] = [];
  if (options.addr !== undefined) out.push(`${options.addr}:${port}`);
  if (options.addr6 !== undefined) out.push(`[${options.addr6}]:${port}`);
  return out;
}

/** Parses `argv` (the whole process.argv); exits with a usage message on bad input or --help. */
export function parseEchoOptions(argv: readonly string[]): EchoOptions {
  const program = addLinkOptions(
    new Command()
      .name('tcp-tun-echo')
      .description(
        'Serve echo, discard, source and http from the tcp-tun user-space stack over a TUN device.\n' +
          'The device is created and configured if it does not exist: the kernel side gets\n' +
          '--peer (and --peer6), the stack answers for --addr (and --addr6). Needs\n' +
          'CAP_NET_ADMIN, or a device made for this user, or root with --user (see the\n' +
          'README); run it inside a network namespace.'),
  )
    .option('--services <list>', `services to run: ${SERVICE_NAMES.map((n) => `${n} (port ${DEFAULT_PORTS[n]})`).join(', ')}`, serviceList, ['echo'] as ServiceName[])
    // package.json sits one level above both src/ and dist/.
    .version(
      `tcp-tun-echo ${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version} (node/${process.versions.node}) tcp-tun (user-space TCP/IPv4)`,
      '-V, --version',
      'show the version and quit',
    )
    .option('--port <n>', 'TCP port of the echo service', intIn(1, 65535), DEFAULT_PORTS.echo)
    .option('--http-port <n>', 'TCP port of the http service', intIn(1, 65535), DEFAULT_PORTS.http)
    .option('--stats', 'print the stack statistics and connection list as JSON on exit (also on SIGUSR1)')
    .option('--keepalive <seconds>', 'send keepalive probes after <seconds> of silence from the peer, one every <seconds>; a peer gone silently is dropped after 9 unanswered', secondsToMs)
    .option('--user-timeout <ms>', 'reset a connection whose sent data stays unacknowledged for <ms> (TCP_USER_TIMEOUT; 0: off)', intIn(0, 0x7fffffff))
    .option('--idle-timeout <seconds>', 'close connections that were idle (nothing read or written) this long', secondsToMs)
    .option('--max-connections <n>', 'most connections per service at once; more are closed at once (server.maxConnections)', intIn(0, 0x7fffffff))
    .option('--time-wait-max <n>', 'most connections held in TIME-WAIT (default 262144, as Linux\'s tcp_max_tw_buckets); beyond it a connection closes without TIME-WAIT, counted (0: none)', intIn(0, 0x7fffffff))
    .option('--no-warm-up', 'serve at once, without first running ~150 ms of private in-memory connections that warm up the connection path (the first connections then run slower)')
    .option('--device-warm-up', 'after the in-memory warm-up, also warm up over a socketpair device pair (experimental: no measured gain so far, and it leaves the idle process some background CPU work afterwards)')
    .showHelpAfterError()
    .allowExcessArguments(false);
  program.parse(argv as string[]);
  const o = program.opts<{
    port: number; httpPort: number; services: ServiceName[]; stats?: boolean;
    keepalive?: number; userTimeout?: number; idleTimeout?: number; maxConnections?: number; timeWaitMax?: number; warmUp: boolean; deviceWarmUp?: boolean;
  }>();
  const link = readLinkOptionsOrExit(program);
  return {
    ...link,
    port: o.port,
    httpPort: o.httpPort,
    services: o.services,
    stats: o.stats === true,
    keepAliveMs: o.keepalive,
    userTimeoutMs: o.userTimeout,
    idleTimeoutMs: o.idleTimeout,
    maxConnections: o.maxConnections,
    timeWaitMax: o.timeWaitMax,
    warmUp: o.warmUp,
    deviceWarmUp: o.deviceWarmUp === true,
  };
}
