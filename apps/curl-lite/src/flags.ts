/**
 * The curl flags people type beyond the basics, in one block that `parseCurlOptions` adds to
 * its command: `-S`, `-w`, `-T`, `-u`, `-A`, `-e`, `--compressed`, `--json`, `--retry` and its
 * companions, `-k`, `--cacert` and `-V`. Each reads as curl 7.88 reads it.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { CurlError, EXIT } from './errors.js';
import { askPassword } from './prompt.js';
import type { RetrySettings } from './retry.js';
import { parseTarget } from './target.js';
import { versionText } from './version.js';
import { readWriteOutArgument } from './write-out.js';

/** What the flags of this block ask for, beyond `TransferOptions`. */
export interface CurlExtraOptions {
  /** `-S`: print errors even with `-s`. */
  readonly showError: boolean;
  /** `-w`: the format (already read from a file for `@file`). */
  readonly writeOut?: string | undefined;
  /** `--retry`, `--retry-delay`, `--retry-max-time`, `--retry-connrefused`, `--retry-all-errors`. */
  readonly retry: RetrySettings;
}

function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer.');
  return Number(value);
}

function secondsAtLeastZero(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a non-negative number of seconds.');
  return n;
}

function collectString(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Reads `@file` (or `@-` for stdin) the way `-d` does, else the text itself. */
function readArgument(value: string, what: string): Buffer {
  if (!value.startsWith('@')) return Buffer.from(value);
  const file = value.slice(1);
  try {
    return readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    throw new CurlError(EXIT.READ_ERROR, `Failed to open/read local data from file ${file} (${what}): ${(err as Error).message}`);
  }
}

/**
 * Adds the block to `command`. `-u` is also `--user` unless the command already has a
 * `--user` flag (the device flags' privilege drop), in which case only `-u` means credentials.
 */
export function addCurlFlags(command: Command): Command {
  const userTaken = command.options.some((o) => o.long === '--user');
  return command
    .version(versionText(), '-V, --version', 'show the version and quit')
    .option('-S, --show-error', 'with -s, still print an error message when the transfer fails')
    .option('-w, --write-out <format>', 'print <format> when done: %{http_code}, %{time_total}, ... (@file reads it from a file)')
    .option('-T, --upload-file <file>', 'upload <file> with PUT (- reads stdin)')
    .option(userTaken ? '-u <user:password>' : '-u, --user <user:password>', 'server user and password (Basic authentication)')
    .option('-A, --user-agent <name>', 'User-Agent to send ("" sends none)')
    .option('-e, --referer <URL>', 'Referer to send (";auto" also sets it on redirects)')
    .option('--compressed', 'ask for a compressed response (deflate, gzip, br) and decode it')
    .option('--json <data>', 'POST <data> as JSON, with JSON Content-Type and Accept (@file reads a file; repeatable, joined)', collectString, [] as string[])
    .option('--retry <num>', 'retry transient failures (timeouts, HTTP 408/429/5xx) up to <num> times', count, 0)
    .option('--retry-delay <seconds>', 'wait this long between retries (default: 1 s, doubling)', secondsAtLeastZero)
    .option('--retry-max-time <seconds>', 'start no retry after this long', secondsAtLeastZero)
    .option('--retry-connrefused', 'with --retry, also retry a refused connection')
    .option('--retry-all-errors', 'with --retry, retry on any error')
    .option('-k, --insecure', 'accept any server certificate (https)')
    .option('--cacert <file>', 'trust the CA certificates in this PEM file (https)');
}

interface Parsed {
  showError?: boolean;
  writeOut?: string;
  uploadFile?: string;
  user?: string;
  u?: string;
  userAgent?: string;
  referer?: string;
  compressed?: boolean;
  json: string[];
  retry: number;
  retryDelay?: number;
  retryMaxTime?: number;
  retryConnrefused?: boolean;
  retryAllErrors?: boolean;
  insecure?: boolean;
  cacert?: string;
}

/** The fields the base options carry that this block may change. */
interface Base {
  readonly url: string;
  readonly method?: string | undefined;
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Uint8Array | undefined;
  readonly head: boolean;
}

/**
 * Folds this block's flags into the options parsed by the rest of the command: `-T` makes the
 * body a PUT upload (adding the file name to a URL ending in `/`), `--json` the body of a POST
 * with its two headers after the `-H` ones. Conflicting methods are curl's exit 2.
 */
export function withCurlFlags<T extends Base>(command: Command, base: T) {
  const o = command.opts<Parsed>();
  let credentials = command.options.some((opt) => opt.long === '--user' && opt.short !== '-u') ? o.u : o.user;
  if (credentials !== undefined && !credentials.includes(':')) credentials = `${credentials}:${askPassword(credentials)}`;
  let { url, body, headers } = base;
  let upload = false;
  if (o.uploadFile !== undefined) {
    if (body !== undefined || o.json.length > 0 || base.head) {
      throw new CurlError(EXIT.FAILED_INIT, 'You can only select one HTTP request method! You asked for both PUT (-T, --upload-file) and ' + (base.head ? 'HEAD (-I, --head).' : 'POST (-d, --data, --json).'));
    }
    body = readArgument(`@${o.uploadFile}`, '-T');
    upload = true;
    const target = parseTarget(url);
    // As curl: a URL without a file part gets the local file's name.
    if (target.pathname.endsWith('/') && o.uploadFile !== '-') {
      target.pathname += encodeURIComponent(basename(o.uploadFile));
      url = target.toString();
    }
  }
  if (o.json.length > 0) {
    const parts = o.json.map((j) => readArgument(j, '--json'));
    body = Buffer.concat(body === undefined ? parts : [body, ...parts]);
    const has = (name: string): boolean => headers.some(([n]) => n.toLowerCase() === name);
    headers = [...headers, ...(has('content-type') ? [] : [['Content-Type', 'application/json'] as const]), ...(has('accept') ? [] : [['Accept', 'application/json'] as const])];
  }
  let caCert: Buffer | undefined;
  if (o.cacert !== undefined) {
    try {
      caCert = readFileSync(o.cacert);
    } catch (err) {
      throw new CurlError(EXIT.SSL_CACERT_BADFILE, `error setting certificate file: ${o.cacert} (${(err as Error).message})`);
    }
  }
  return {
    ...base,
    url,
    body,
    headers,
    upload,
    credentials,
    userAgent: o.userAgent,
    referer: o.referer,
    compressed: o.compressed === true,
    insecure: o.insecure === true,
    caCert,
    showError: o.showError === true,
    writeOut: o.writeOut === undefined ? undefined : readWriteOutArgument(o.writeOut),
    retry: {
      retries: o.retry,
      // curl treats --retry-delay 0 as "not given": the doubling wait.
      delayMs: o.retryDelay ? Math.round(o.retryDelay * 1000) : undefined,
      maxTimeMs: o.retryMaxTime ? Math.round(o.retryMaxTime * 1000) : undefined,
      connRefused: o.retryConnrefused === true,
      allErrors: o.retryAllErrors === true,
    },
  };
}
