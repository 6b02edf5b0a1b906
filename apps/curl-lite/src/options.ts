/**
 * curl-lite's command line, parsed with commander. Flags follow curl's spelling and meaning;
 * the device flags are those of tcp-tun-echo.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { CurlError, EXIT } from './errors.js';
import type { TransferOptions } from './transfer.js';

/** Everything the CLI was asked to do. */
export interface CurlOptions extends TransferOptions {
  readonly output?: string | undefined;
  readonly remoteName: boolean;
  readonly silent: boolean;
  readonly dev: string;
  readonly addr: string;
  readonly peer: string;
  readonly mtu: number;
  readonly pcap?: string | undefined;
  readonly stats: boolean;
}

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function ipv4(value: string): string {
  if (!DOTTED_QUAD.test(value)) throw new InvalidArgumentError('expected an IPv4 address such as 10.0.0.2.');
  return value;
}

function intIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    return n;
  };
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds.');
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
  const program = new Command()
    .name('tcp-tun-curl-lite')
    .description(
      'Fetch an http:// URL with Node\'s HTTP client over the tcp-tun user-space TCP stack on a TUN device.\n' +
        'The stack answers for --addr; the kernel side of the TUN is --peer. Needs CAP_NET_ADMIN;\n' +
        'run it inside a network namespace.',
    )
    .argument('<url>', 'http://IPV4[:PORT]/PATH')
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
    .option('--dev <name>', 'TUN device name', 'tun0')
    .option('--addr <ipv4>', "the stack's own IPv4 address", ipv4, '10.0.0.2')
    .option('--peer <ipv4>', "the kernel's address on the TUN", ipv4, '10.0.0.1')
    .option('--mtu <n>', 'link MTU in octets', intIn(576, 65535), 1500)
    .option('--pcap <file>', 'capture every packet to <file> (pcap, LINKTYPE_RAW)')
    .option('--stats', 'print the stack statistics and connections as JSON on stderr when done')
    .showHelpAfterError()
    .exitOverride((err) => {
      if (err.exitCode === 0) process.exit(0);
      process.exit(EXIT.FAILED_INIT);
    });
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
    dev: string;
    addr: string;
    peer: string;
    mtu: number;
    pcap?: string;
    stats?: boolean;
  }>();
  const raw = o.dataBinary ?? o.data;
  return {
    url: program.args[0] ?? '',
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
    output: o.output,
    remoteName: o.remoteName === true,
    silent: o.silent === true,
    dev: o.dev,
    addr: o.addr,
    peer: o.peer,
    mtu: o.mtu,
    pcap: o.pcap,
    stats: o.stats === true,
  };
}
