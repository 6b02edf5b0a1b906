#!/usr/bin/env node
/**
 * tcp-tun-curl-lite: curl's shape, tcp-tun's TCP. Opens (or creates) the TUN device, runs a
 * Stack on it, and fetches one URL with Node's http client over the stack's sockets.
 */
import { createWriteStream } from './file-output.js';
import type { Writable } from 'node:stream';
import { WriteStream } from 'node:tty';
import { openLink, stackAddresses } from '@tcp-tun/cli';
import { Stack, type Link, type TracingLink } from '@tcp-tun/net';
import { CurlError, EXIT } from './errors.js';
import { parseCurlOptions, type CurlOptions } from './options.js';
import { progressBar } from './progress.js';
import { perform } from './perform.js';
import { parseTarget, resolveHost } from './target.js';

/** Set once the flags are read: `-s` without `-S` silences the error line. */
let quietErrors: boolean | undefined;

function outputFile(options: CurlOptions): string | undefined {
  // As curl, `-o -` is stdout.
  if (options.output !== undefined) return options.output === '-' ? undefined : options.output;
  if (!options.remoteName) return undefined;
  const name = parseTarget(options.url).pathname.split('/').pop() ?? '';
  if (name === '') throw new CurlError(EXIT.WRITE_ERROR, 'Remote file name has no length');
  return decodeURIComponent(name);
}

function finish(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream === process.stdout) return resolve();
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

async function main(): Promise<number> {
  const options = parseCurlOptions(process.argv);
  quietErrors = options.silent && !options.showError;
  // Fail on a bad URL, or one -4/-6 or the stack's families exclude, before touching any device.
  resolveHost(parseTarget(options.url), options.family, options.stackFamilies);
  const file = outputFile(options);
  let link: Link;
  let trace: TracingLink | undefined;
  try {
    // Opens the device, then (--user) drops root: the stack below never runs privileged.
    ({ link, trace } = await openLink(options, undefined, (message) => {
      if (!options.silent) process.stderr.write(`curl-lite: ${message}\n`);
    }));
  } catch (err) {
    const e = err as { message: string; code?: string };
    const what = e.code?.startsWith('ERR_TUN') === true ? `cannot open TUN device ${options.dev}: ` : '';
    throw new CurlError(EXIT.FAILED_INIT, `${what}${e.message}${e.code ? ` (${e.code})` : ''}`);
  }
  // curl sets TCP_KEEPIDLE and TCP_KEEPINTVL both to --keepalive-time: the interval is the stack's.
  const keepAlive = options.keepAliveMs;
  // { address } and/or { address6 }: IPv4, IPv6 or both, from --addr and --addr6.
  const stack = new Stack({
    link,
    ...stackAddresses(options),
    ...(keepAlive === undefined ? {} : { tcp: { keepAliveIdleMs: keepAlive, keepAliveIntervalMs: keepAlive } }),
  });
  // --trace: the tracer samples the stack's connections too (cwnd, RTT, in flight).
  trace?.attach(stack);
  const body: Writable = file === undefined ? process.stdout : createWriteStream(file);
  const bar =
    !options.silent && file !== undefined && process.stderr instanceof WriteStream && process.stderr.isTTY
      ? progressBar(process.stderr)
      : undefined;
  try {
    await perform((o, cb) => stack.net.createConnection(o, cb), options, {
      body,
      stdout: process.stdout,
      stderr: process.stderr,
      progress: bar?.update,
      filename: file,
    });
    bar?.finish();
    await finish(body);
    return 0;
  } catch (err) {
    bar?.finish();
    await finish(body).catch(() => undefined);
    throw err;
  } finally {
    if (options.stats) process.stderr.write(`${JSON.stringify({ stats: stack.stats(), connections: stack.connections() })}\n`);
    await stack.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const quiet = quietErrors ?? (process.argv.includes('-s') || process.argv.includes('--silent'));
    if (err instanceof CurlError) {
      if (!quiet) process.stderr.write(`curl-lite: (${err.exitCode}) ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`curl-lite: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT.FAILED_INIT);
  },
);
