// Two tcp-tun stacks joined by an in-memory link (no TUN, no root, no real network): an echo
// server on one, a client on the other, read with `for await`.
//   node packages/net/examples/echo.mjs      (after `pnpm build`)
import { Stack, createLinkPair } from '@tcp-tun/net';

const [linkA, linkB] = createLinkPair();
const client = new Stack({ link: linkA, address: '10.0.0.1' });
const server = new Stack({ link: linkB, address: '10.0.0.2' });

server.net.createServer((socket) => socket.pipe(socket)).listen(7);

const socket = client.net.connect(7, '10.0.0.2', () => socket.end('hello over tcp-tun'));
let echoed = '';
for await (const chunk of socket) echoed += chunk;
console.log(`echoed: ${echoed}`);

await Promise.all([client.close(), server.close()]);
