/**
 * `-u user` without a password: curl asks for it ("Enter host password for user 'user':") and
 * reads one line from stdin, without echo when stdin is a terminal. An empty stdin gives an
 * empty password, as curl.
 */
import { readSync } from 'node:fs';
import { ReadStream } from 'node:tty';

/** Reads one line from fd 0 synchronously, stopping at a newline (or carriage return) or EOF. */
function readLine(): string {
  const bytes: number[] = [];
  const one = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, one, 0, 1, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      break;
    }
    if (n === 0 || one[0] === 0x0a || one[0] === 0x0d) break;
    bytes.push(one[0] as number);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Prompts on `prompt` (stderr) and returns the password typed. */
export function askPassword(user: string, prompt: NodeJS.WritableStream = process.stderr): string {
  prompt.write(`Enter host password for user '${user}':`);
  const tty = process.stdin instanceof ReadStream && process.stdin.isTTY ? process.stdin : undefined;
  tty?.setRawMode(true);
  try {
    return readLine();
  } finally {
    tty?.setRawMode(false);
    prompt.write('\n');
  }
}
