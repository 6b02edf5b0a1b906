// Recipe: WebSockets (the `ws` package) over tcp-tun, both ends.
// Server: an http.Server fed by the stack's listener, its 'upgrade' handed to a
// WebSocketServer in noServer mode. Client: ws's `createConnection` option, which it calls
// instead of net.connect for the opening handshake.
//   pnpm build && node docs/recipes/ws.mjs
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { Stack, createLinkPair } from '@tcp-tun/net';

const [linkA, linkB] = createLinkPair();
const client = new Stack({ link: linkA, address: '10.0.0.1' });
const server = new Stack({ link: linkB, address: '10.0.0.2' });

const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo: ${data}`, { binary: isBinary }));
});
const web = http.createServer((req, res) => res.writeHead(426).end('WebSocket only\n'));
web.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
const listener = server.net.createServer((socket) => web.emit('connection', socket));
listener.listen(80);

const ws = new WebSocket('ws://10.0.0.2/chat', {
  /** @param {import('node:http').ClientRequestArgs} options @returns {import('node:net').Socket} */
  createConnection: (options) => client.net.createConnection({ host: options.host ?? '10.0.0.2', port: Number(options.port) || 80 }),
});
/** @type {string[]} */
const replies = [];
ws.on('message', (data, isBinary) => {
  // Binary frames arrive as a Buffer (ws's default binaryType, 'nodebuffer').
  replies.push(isBinary ? `${Buffer.byteLength(/** @type {Buffer} */ (data))} binary bytes` : String(data));
  if (replies.length === 2) ws.close(1000, 'done');
});
ws.on('open', () => {
  ws.send('hello over tcp-tun');
  ws.send(Buffer.alloc(70_000, 7)); // more than one segment, more than one window
});
await new Promise((resolve, reject) => {
  ws.once('close', resolve);
  ws.once('error', reject);
});
for (const reply of replies) console.log(reply);

wss.close();
listener.close();
await Promise.all([client.close(), server.close()]);
