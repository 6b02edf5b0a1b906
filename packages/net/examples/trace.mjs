// A traced connection: the client's link is wrapped by traceLink(), which writes one JSON line
// per segment and per change of the engine's state; `tcp-tun-plot FILE` draws it.
//   node packages/net/examples/trace.mjs [FILE]      (after `pnpm build`)
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack, TraceWriter, createLinkPair, parseTrace, traceLink } from '@tcp-tun/net';

const file = process.argv[2] ?? join(mkdtempSync(join(tmpdir(), 'tcptun-trace-')), 'conn.trace');
const [linkA, linkB] = createLinkPair({ delayMs: 1 });
const writer = new TraceWriter(file);
const traced = traceLink(linkA, writer.write, { onClose: () => writer.close() });
const client = new Stack({ link: traced, address: '10.0.0.1' });
traced.attach(client);
const server = new Stack({ link: linkB, address: '10.0.0.2' });

server.net.createServer((socket) => socket.pipe(socket)).listen(7);
const socket = client.net.connect(7, '10.0.0.2', () => socket.end(Buffer.alloc(100_000, 'x')));
let echoed = 0;
for await (const chunk of socket) echoed += chunk.length;

await Promise.all([client.close(), server.close()]);
const records = parseTrace(readFileSync(file, 'utf8'));
const count = (type) => records.filter((r) => r.type === type).length;
console.log(`echoed ${echoed} octets; trace: ${count('conn')} connection, segments ${count('seg') > 100 ? 'over 100' : count('seg')}, engine samples ${count('info') > 0 ? 'yes' : 'no'}, ended ${count('end') === 1}`);
