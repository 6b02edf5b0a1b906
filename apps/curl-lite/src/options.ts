/**
 * curl-lite's command line, parsed with commander. Flags follow curl's spelling and meaning;
 * the device flags are those of tcp-tun-echo.
 */
import { readFileSync } from 'node:fs';
import { addLinkOptions, intIn, readLinkOptionsOrExit, type LinkOptions } from '@tcp-tun/cli';
import { Command, InvalidArgumentError } from 'commander';
// The curl flags beyond the basics live in their own block (flags.ts).
import { addCurlFlags, withCurlFlags, type CurlExtraOptions } from './flags.js';
import { CurlError, EXIT } from './errors.js';
import { DEFAULT_KEEPALIVE_MS, type TransferOptions } from './transfer.js';
import type { IpFamily } from './target.js';

/** Everything the CLI was asked to do. */
export interface CurlOptions extends TransferOptions, LinkOptions, CurlExtraOptions {
  /** `-o FILE`: write the body there instead of stdout. */
  readonly output?: string | undefined;
  /** `-O`: write the body to a file named like the URL's last path segment. */
  readonly remoteName: boolean;
  /** `-s`: no progress meter and no error messages. */
  readonly silent: boolean;
  /** `--stats`: print the stack's statistics and connections as JSON on stderr when done. */
  readonly stats: boolean;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds.');
  return n;
}

/** curl's --keepalive-time: a whole number of seconds, at least 1. */
function wholeSeconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n * 1000 > 0x7fffffff) throw new InvalidArgumentError('expected a whole number of seconds from 1 to 2147483.');
  return n;
}

function header(value: string, previous: [string, string][]): [string, string][] {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new InvalidArgumentError(`expected "Name: value", got "${value}".`);
  return [...previous, [value.slice(0, colon).trim(), value.slice(colon + 1).trim()]];
}

function readData(value: string): Uint8Array {
  if (!value.startsWith('@')) return new TextEncoder().encode(value);
  try {
    return readFileSync(value.slice(1));
  } catch (err) {
    throw new CurlError(EXIT.READ_ERROR, `Failed to open/read local data from file ${value.slice(1)}: ${(err as Error).message}`);
  }
}

/** Parses `argv` (the whole process.argv). Usage errors exit with curl's code 2 and a hint. */
export function parseCurlOptions(argv: readonly string[]): CurlOptions {
  const program = addLinkOptions(new Command())
    .name('tcp-tun-curl-lite')
    .description(
      'Fetch an http:// URL with Node\'s HTTP client over the tcp-tun user-space TCP stack on a TUN device.\n' +
        'The stack answers for --addr (and --addr6); the kernel side of the TUN is\n' +
        '--peer (and --peer6). Needs CAP_NET_ADMIN, or a device made for this user, or\n' +
        'root with --user (see the README); run it inside a network namespace.',
    )
    .argument('<url>', 'http://HOST[:PORT]/PATH, HOST an IPv4 address, an IPv6 address in brackets ([fd00::1]) or localhost')
    .option('-4, --ipv4', 'connect over IPv4 only (an IPv6 literal fails with exit 7, localhost is 127.0.0.1)')
    .option('-6, --ipv6', 'connect over IPv6 only (an IPv4 literal fails with exit 7, localhost is ::1)')
    .option('-o, --output <file>', 'write the body to <file> instead of stdout')
    .option('-O, --remote-name', 'write the body to a file named like the remote file')
    .option('-i, --include', 'include the response status line and headers in the output')
    .option('-I, --head', 'send HEAD and show the response headers only')
    .option('-X, --request <method>', 'request method to use')
    .option('-H, --header <header>', 'extra request header "Name: value" (repeatable)', header, [] as [string, string][])
    .option('-d, --data <data>', 'send data in a POST request (@file reads a file)')
    .option('--data-binary <data>', 'send data exactly as given (@file reads a file)')
    .option('-L, --location', 'follow redirects')
    .option('--max-redirs <n>', 'maximum redirects with -L', intIn(0, 1000), 20)
    .option('-f, --fail', 'fail with exit code 22 on HTTP errors (status >= 400)')
    .option('-s, --silent', 'no progress bar, no error messages')
    .option('-v, --verbose', 'show the TCP connection and the request and response headers on stderr')
    .option('-m, --max-time <seconds>', 'maximum time for the whole operation', seconds)
    .option('--stats', 'print the stack statistics and connections as JSON on stderr when done')
    .option('--keepalive-time <seconds>', 'TCP keepalive: probe after <seconds> of silence, then every <seconds> (default 60, as curl)', wholeSeconds)
    .option('--no-keepalive', 'turn TCP keepalive off')
    .option('--connect-timeout <seconds>', 'maximum time for the TCP connect (fractions allowed); exit 28 when it passes', seconds)
    .showHelpAfterError()
    .exitOverride((err) => {
      if (err.exitCode === 0) process.exit(0);
      process.exit(EXIT.FAILED_INIT);
    });
  addCurlFlags(program);
  // As curl, the last of -4 and -6 wins: commander keeps both flags, so follow their order.
  let family: IpFamily | undefined;
  program.on('option:ipv4', () => (family = 4));
  program.on('option:ipv6', () => (family = 6));
  program.parse(argv as string[]);
  const o = program.opts<{
    output?: string;
    remoteName?: boolean;
    include?: boolean;
    head?: boolean;
    request?: string;
    header: [string, string][];
    data?: string;
    dataBinary?: string;
    location?: boolean;
    maxRedirs: number;
    fail?: boolean;
    silent?: boolean;
    verbose?: boolean;
    maxTime?: number;
    stats?: boolean;
    keepalive: boolean;
    keepaliveTime?: number;
    connectTimeout?: number;
  }>();
  const link = readLinkOptionsOrExit(program);
  const raw = o.dataBinary ?? o.data;
  const stackFamilies: IpFamily[] = [];
  if (link.addr !== undefined) stackFamilies.push(4);
  if (link.addr6 !== undefined) stackFamilies.push(6);
  return withCurlFlags(program, {
    url: program.args[0] ?? '',
    family,
    stackFamilies,
    method: o.request,
    headers: o.header,
    body: raw === undefined ? undefined : readData(raw),
    include: o.include === true,
    head: o.head === true,
    followRedirects: o.location === true,
    maxRedirects: o.maxRedirs,
    failOnError: o.fail === true,
    verbose: o.verbose === true,
    maxTimeMs: o.maxTime === undefined ? undefined : Math.round(o.maxTime * 1000),
    keepAliveMs: o.keepalive === false ? undefined : (o.keepaliveTime ?? DEFAULT_KEEPALIVE_MS / 1000) * 1000,
    connectTimeoutMs: o.connectTimeout === undefined ? undefined : Math.max(1, Math.round(o.connectTimeout * 1000)),
    output: o.output,
    remoteName: o.remoteName === true,
    silent: o.silent === true,
    ...link,
    stats: o.stats === true,
  });
}
