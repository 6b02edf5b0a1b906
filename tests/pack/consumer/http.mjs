// Issue 9 (process lifetime): Node's own http over two tcp-tun stacks, with nothing but the
// stacks' servers and sockets to keep the process alive while the response is awaited, as with
// node:net. The guard below is unref'd: it bounds the run without holding the event loop.
import http from 'node:http';
import { Stack, createLinkPair } from '@tcp-tun/net';

setTimeout(() => {
  console.error('http.mjs: no response after 20 s');
  process.exit(2);
}, 20_000).unref();

const [linkA, linkB] = createLinkPair();
const client = new Stack({ link: linkA, address: '10.0.0.1' });
const server = new Stack({ link: linkB, address: '10.0.0.2' });
const web = http.createServer((req, res) => res.end(`you asked for ${req.url}`));
server.net.createServer((socket) => web.emit('connection', socket)).listen(80);

const body = await new Promise((resolve, reject) => {
  http
    .get({ host: '10.0.0.2', port: 80, path: '/packed', createConnection: (options) => client.net.createConnection({ host: '10.0.0.2', port: 80 }) }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve(text));
    })
    .on('error', reject);
});
console.log(`body: ${body}`);
await Promise.all([client.close(), server.close()]);
