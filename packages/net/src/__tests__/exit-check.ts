/**
 * Run as a child process by stack.test.ts: two stacks, one transfer, then close() both. The
 * process must exit by itself (no timer, immediate or link left behind), even though the
 * connections would otherwise sit in TIME-WAIT for a minute.
 */
import { once } from 'node:events';
import { makePair, readAll, ADDR_B } from './harness.js';

const pair = makePair();
const server = pair.b.net.createServer((s) => s.pipe(s));
server.listen(7);
await once(server, 'listening');
const client = pair.a.net.connect(7, ADDR_B);
const received = readAll(client);
client.end(Buffer.alloc(100_000, 1));
const body = await received;
await pair.close();
process.stdout.write(`transferred ${body.length}; closed\n`);
