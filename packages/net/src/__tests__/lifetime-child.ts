/**
 * Run as a child process by fidelity.test.ts: one case of process lifetime over an in-memory
 * link pair. Prints `armed` when the case is set up; the parent checks whether the process
 * then exits by itself (it must exactly when Node's would).
 *   lifetime-child.ts CASE
 */
import { once } from 'node:events';
import { makePair, ADDR_B } from './harness.js';

const which = process.argv[2];
const pair = makePair();
const server = pair.b.net.createServer((s) => {
  s.resume();
  // Both ends let go of the process in this case (the accepted socket holds it too).
  if (which === 'unref-socket') s.unref();
});
server.listen(7);
await once(server, 'listening');
const say = (line: string): void => void process.stdout.write(`${line}\n`);

switch (which) {
  case 'listening': // a ref'd listening server holds the process
    say('armed');
    break;
  case 'unref-server': // an unref'd one does not
    server.unref();
    say('armed');
    break;
  case 'open-socket': {
    // an open, ref'd connection holds it (the server is unref'd)
    server.unref();
    const c = pair.a.net.connect(7, ADDR_B);
    await once(c, 'connect');
    say('armed');
    break;
  }
  case 'unref-socket': {
    server.unref();
    const c = pair.a.net.connect(7, ADDR_B);
    await once(c, 'connect');
    c.unref();
    say('armed');
    break;
  }
  case 'awaited-echo': {
    // the awaited answer keeps the process alive until it arrives; then nothing does
    server.close();
    const echo = pair.b.net.createServer((s) => s.pipe(s)).listen(8);
    await once(echo, 'listening');
    echo.unref();
    const c = pair.a.net.connect(8, ADDR_B);
    c.end('ping');
    say('armed');
    let got = '';
    for await (const chunk of c) got += String(chunk);
    say(`got ${got}`);
    break;
  }
  default:
    throw new Error(`unknown case ${String(which)}`);
}
