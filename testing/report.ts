/**
 * What the end-to-end suites share besides namespaces: reading the one-JSON-line reports that
 * the kernel-side scripts print when they finish and that apps/echo prints on SIGUSR1.
 */
import type { ChildProcess } from 'node:child_process';
import { waitForLine, type Namespace } from './netns.js';

/** A parsed JSON object whose fields a test reads as it needs. */
export interface Json {
  [key: string]: unknown;
}

/** The last line of `stdout` that is a JSON object; throws when there is none. */
export function lastJson<T = Json>(stdout: string): T {
  const last = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .at(-1);
  if (last === undefined) throw new Error(`no JSON line in output: ${stdout}`);
  return JSON.parse(last) as T;
}

/** Runs a Python script inside `ns` and returns its last JSON line; a non-zero exit throws. */
export async function python<T = Json>(ns: Namespace, script: string, args: readonly string[], timeoutMs = 150_000): Promise<T> {
  const result = await ns.run('python3', [script, ...args], timeoutMs);
  if (result.code !== 0) throw new Error(`${script} ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return lastJson<T>(result.stdout);
}

/** apps/echo's SIGUSR1 report (stats, device counters, connections, memory), asked for and read. */
export async function appReport<T>(app: ChildProcess, timeoutMs = 5000): Promise<T> {
  const line = waitForLine(app, /^\{.*"connections"/, timeoutMs);
  app.kill('SIGUSR1');
  return JSON.parse(await line) as T;
}
