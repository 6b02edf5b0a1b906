// Recipe: undici and fetch over tcp-tun, through a custom connector.
// undici asks its `connect` function for a socket for each new connection; handing back a
// tcp-tun socket is all it takes. Plain http here; for https wrap the socket in
// tls.connect({ socket }) (see tls.mjs) before calling back.
//   pnpm build && node docs/recipes/undici.mjs
import http from 'node:http';
import { Agent, fetch, request } from 'undici';
import { Stack, createLinkPair } from '@tcp-tun/net';

const [linkA, linkB] = createLinkPair();
const client = new Stack({ link: linkA, address: '10.0.0.1' });
const server = new Stack({ link: linkB, address: '10.0.0.2' });

const web = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ path: req.url, via: `${req.socket.remoteAddress}` }));
});
const listener = server.net.createServer((socket) => web.emit('connection', socket));
listener.listen(80);

// The connector: undici passes the origin's hostname and port (a string, '' for the default).
const dispatcher = new Agent({
  connect(options, callback) {
    const socket = client.net.connect({ host: options.hostname, port: Number(options.port) || 80 });
    socket.once('connect', () => callback(null, socket));
    socket.once('error', (err) => callback(err, null));
  },
});

// undici's fetch, with the dispatcher per request ...
const res = await fetch('http://10.0.0.2/with-fetch', { dispatcher });
console.log('fetch:', res.status, await res.json());

// ... Node's global fetch (undici inside) takes the same dispatcher. Its types come from the
// undici-types that @types/node bundles, older than this undici, hence the cast ...
const res2 = await globalThis.fetch('http://10.0.0.2/with-global-fetch', { dispatcher: /** @type {any} */ (dispatcher) });
console.log('global fetch:', res2.status, await res2.json());

// ... and undici's own request API, on the same pool (the connection is kept alive).
const { statusCode, body } = await request('http://10.0.0.2/with-request', { dispatcher });
console.log('request:', statusCode, await body.json());

await dispatcher.close();
listener.close();
await Promise.all([client.close(), server.close()]);
