/**
 * What the CLI runs for one URL: the transfer, again on a transient failure while `--retry`
 * allows, then the `-w` report of the last attempt (also when it failed, as curl).
 */
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CurlError, EXIT } from './errors.js';
import { FileOutput } from './file-output.js';
import type { CurlExtraOptions } from './flags.js';
import { newTransferInfo, type TransferInfo } from './info.js';
import { RetryPlan, wrapMessage } from './retry.js';
import { transfer, type Connector, type TransferOptions, type TransferResult } from './transfer.js';
import { versionText } from './version.js';
import { formatWriteOut } from './write-out.js';

/** The options `perform` reads: a transfer's, the extra flags', and `-s`. */
export interface PerformOptions extends TransferOptions, CurlExtraOptions {
  /** `-s`: no retry warnings or other messages on stderr. */
  readonly silent: boolean;
}

/** The streams of a run: the body's destination, and the program's stdout and stderr. */
export interface PerformIo {
  /** Destination of the response body: stdout or the `-o`/`-O` file. */
  readonly body: Writable;
  /** The program's stdout, for `-w` output. */
  readonly stdout: Writable;
  /** The program's stderr: `-v` lines, retry warnings, `-w %{stderr}` output. */
  readonly stderr: Writable;
  /** Called with the body octets received so far and the Content-Length, if any. */
  readonly progress?: ((received: number, total: number | undefined) => void) | undefined;
  /** The `-o` file name, for `%{filename_effective}`. */
  readonly filename?: string | undefined;
  /** Called with the facts of the last attempt, before `perform` settles. */
  readonly onInfo?: ((info: TransferInfo) => void) | undefined;
}

function retryAfterSeconds(info: TransferInfo): number | undefined {
  for (let i = 0; i + 1 < info.responseHeaders.length; i += 2) {
    if (info.responseHeaders[i]?.toLowerCase() !== 'retry-after') continue;
    const value = info.responseHeaders[i + 1] ?? '';
    if (/^\d+$/.test(value)) return Number(value);
    // An HTTP-date (RFC 9110 §10.2.3): the seconds from now until then.
    const at = Date.parse(value);
    if (Number.isFinite(at)) return Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }
  return undefined;
}

/** Runs the transfer with retries and `-w`; resolves with the result or rejects with the last error. */
export async function perform(connect: Connector, options: PerformOptions, io: PerformIo): Promise<TransferResult> {
  const plan = new RetryPlan(options.retry);
  for (;;) {
    const info = newTransferInfo(options.url);
    info.filenameEffective = io.filename;
    let result: TransferResult | undefined;
    let error: unknown;
    try {
      result = await transfer(connect, options, { body: io.body, log: io.stderr, progress: io.progress, info });
    } catch (err) {
      error = err;
    }
    const next = plan.next({ error, status: info.httpCode }, retryAfterSeconds(info));
    if (next !== undefined) {
      if (!options.silent) io.stderr.write(wrapMessage('Warning: ', next.warning));
      if (io.body instanceof FileOutput && io.body.bytes > 0) {
        // curl 7.88 prints this note without a prefix, and gives up with 23 when the output
        // cannot be truncated (`-o /dev/null` included).
        if (!options.silent) io.stderr.write(`Throwing away ${io.body.bytes} bytes\n`);
        try {
          io.body.truncate();
        } catch {
          const failed = new CurlError(EXIT.WRITE_ERROR, 'Failed to truncate file');
          io.body.abandon();
          throw failed;
        }
      }
      await sleep(next.sleepMs);
      continue;
    }
    info.exitCode = error === undefined ? 0 : error instanceof CurlError ? error.exitCode : 2;
    info.errorMessage = error === undefined ? undefined : error instanceof Error ? error.message : String(error);
    io.onInfo?.(info);
    if (options.writeOut !== undefined) {
      const pieces = formatWriteOut(options.writeOut, info, (m) => io.stderr.write(`curl-lite: ${m}\n`), versionText().split('\n')[0]);
      for (const piece of pieces) (piece.to === 'stdout' ? io.stdout : io.stderr).write(piece.text);
    }
    if (error !== undefined) {
      if (io.body instanceof FileOutput) io.body.abandon();
      throw error;
    }
    return result as TransferResult;
  }
}
