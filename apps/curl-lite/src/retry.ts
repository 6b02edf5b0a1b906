/**
 * `--retry`: which failures curl 7.88 calls transient, how long it waits, and the warning it
 * prints. Transient are a timeout (28) or an unresolvable host (6); a refused connection (7)
 * only with `--retry-connrefused`; HTTP 408, 429, 500, 502, 503 and 504 (also when `-f` turned
 * them into 22); anything at all with `--retry-all-errors`. The wait starts at one second and
 * doubles up to ten minutes, unless `--retry-delay` fixes it; a Retry-After on a retried HTTP
 * response sets it (RFC 9110 §10.2.3).
 */
import { CurlError, EXIT } from './errors.js';

/** The retry flags. */
export interface RetrySettings {
  /** `--retry N`: how many times to try again; 0 never. */
  readonly retries: number;
  /** `--retry-delay S` in milliseconds: a fixed wait instead of the doubling one. */
  readonly delayMs?: number | undefined;
  /** `--retry-max-time S` in milliseconds: no new attempt once this long has passed since the first. */
  readonly maxTimeMs?: number | undefined;
  /** `--retry-connrefused`: a refused connection counts as transient too. */
  readonly connRefused?: boolean | undefined;
  /** `--retry-all-errors`: retry after any failure, not only transient ones. */
  readonly allErrors?: boolean | undefined;
}

/** Why an attempt is retried, as curl names it in its warning. */
export type RetryReason = 'all errors' | 'timeout' | 'connection refused' | 'HTTP error';

const FIRST_SLEEP_MS = 1000;
const MAX_SLEEP_MS = 10 * 60 * 1000;
const TRANSIENT_HTTP = new Set([408, 429, 500, 502, 503, 504]);

/** The outcome of one attempt: the error it ended with, if any, and the last HTTP status. */
export interface AttemptOutcome {
  readonly error?: unknown;
  readonly status: number;
}

/** Whether an attempt should be retried, and why (curl's order of checks). */
export function retryReason(outcome: AttemptOutcome, settings: RetrySettings): RetryReason | undefined {
  const code = outcome.error instanceof CurlError ? outcome.error.exitCode : outcome.error === undefined ? 0 : -1;
  let reason: RetryReason | undefined;
  if (code === EXIT.OPERATION_TIMEDOUT || code === EXIT.COULDNT_RESOLVE_HOST) reason = 'timeout';
  else if (code === EXIT.COULDNT_CONNECT) {
    // curl asks the OS error: only ECONNREFUSED, not an unreachable host.
    if (settings.connRefused && /Connection refused/.test((outcome.error as CurlError).message)) reason = 'connection refused';
  } else if ((code === 0 || code === EXIT.HTTP_RETURNED_ERROR) && TRANSIENT_HTTP.has(outcome.status)) reason = 'HTTP error';
  if (reason === undefined && code !== 0 && settings.allErrors) reason = 'all errors';
  return reason;
}

/** curl's warning text (tool_operate.c), before line wrapping. */
export function retryWarning(reason: RetryReason, sleepMs: number, left: number): string {
  const what = reason === 'all errors' ? '(retrying all errors)' : `: ${reason}`;
  return `Problem ${what}. Will retry in ${Math.floor(sleepMs / 1000)} seconds. ${left} retries left.`;
}

/**
 * curl's message lines (tool_msgs.c): the prefix on every line, each at most 79 columns, broken
 * after the last blank that fits. curl's messages end in a newline, which counts towards the width.
 */
export function wrapMessage(prefix: string, message: string): string {
  const width = 79 - prefix.length;
  let out = '';
  let rest = `${message}\n`;
  while (rest.length > width) {
    let cut = width - 1;
    while (cut > 0 && rest[cut] !== ' ' && rest[cut] !== '\t') cut--;
    if (cut === 0) cut = width - 1;
    out += `${prefix}${rest.slice(0, cut + 1)}\n`;
    rest = rest.slice(cut + 1);
  }
  return `${out}${prefix}${rest}`;
}

/** The sleep schedule of one run of retries. */
export class RetryPlan {
  private sleepMs: number;
  private left: number;
  private readonly startedAt: number;

  constructor(
    private readonly settings: RetrySettings,
    now: number = performance.now(),
  ) {
    this.sleepMs = settings.delayMs ?? FIRST_SLEEP_MS;
    this.left = settings.retries;
    this.startedAt = now;
  }

  /**
   * Decides after an attempt: undefined to stop, or the wait and the warning to print before the
   * next attempt. `retryAfterSeconds` is the response's Retry-After, if any.
   */
  next(outcome: AttemptOutcome, retryAfterSeconds: number | undefined, now: number = performance.now()): { sleepMs: number; warning: string } | undefined {
    if (this.left <= 0) return undefined;
    if (this.settings.maxTimeMs !== undefined && now - this.startedAt >= this.settings.maxTimeMs) return undefined;
    const reason = retryReason(outcome, this.settings);
    if (reason === undefined) return undefined;
    let sleepMs = this.sleepMs;
    if (reason === 'HTTP error' && retryAfterSeconds !== undefined && retryAfterSeconds > 0) {
      sleepMs = retryAfterSeconds * 1000;
      // Never sleep past --retry-max-time.
      if (this.settings.maxTimeMs !== undefined) sleepMs = Math.min(sleepMs, Math.max(0, this.settings.maxTimeMs - (now - this.startedAt)));
    }
    const warning = retryWarning(reason, sleepMs, this.left);
    this.left--;
    if (this.settings.delayMs === undefined) this.sleepMs = Math.min(this.sleepMs * 2, MAX_SLEEP_MS);
    return { sleepMs, warning };
  }
}
