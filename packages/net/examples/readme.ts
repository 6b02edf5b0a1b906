import http from 'node:http';
import net from 'node:net';
import { Stack, createLinkPair } from '@tcp-tun/net';

const [linkA, linkB] = createLinkPair(); // in memory, no real network
const client = new Stack({ link: linkA, address: '10.0.0.1' });
const server = new Stack({ link: linkB, address: '10.0.0.2' });

// An echo server; the client's socket is a real net.Socket (a subclass driven by the stack).
server.net.createServer((socket) => socket.pipe(socket)).listen(7);
const socket: net.Socket = client.net.connect(7, '10.0.0.2', () => socket.end('hello'));
for await (const chunk of socket) console.log(`echoed: ${chunk}`);

// Node's own http, unchanged. The awaited response keeps the process alive, as with node:net.
const web = http.createServer((req, res) => res.end(`you asked for ${req.url}`));
server.net.createServer((s) => web.emit('connection', s)).listen(80);
const body = await new Promise<string>((resolve, reject) => {
  const createConnection = (): net.Socket => client.net.connect(80, '10.0.0.2');
  http
    .get({ path: '/hi', createConnection }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
    })
    .on('error', reject);
});
console.log(body);

await Promise.all([client.close(), server.close()]);
