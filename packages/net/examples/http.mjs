// Node's own http client and server, unchanged, carried by two tcp-tun stacks: the server gets
// its sockets through `emit('connection')`, the client through an `http.Agent` subclass (with
// keep-alive) and through `createConnection`; a connect is cancelled with an AbortSignal.
//   node packages/net/examples/http.mjs      (after `pnpm build`)
import http from 'node:http';
import { Stack, createLinkPair } from '@tcp-tun/net';

const [linkA, linkB] = createLinkPair();
const client = new Stack({ link: linkA, address: '10.0.0.1' });
const server = new Stack({ link: linkB, address: '10.0.0.2' });

const web = http.createServer((req, res) => res.end(`you asked for ${req.url}\n`));
server.net.createServer((socket) => web.emit('connection', socket)).listen(80);

/** An agent whose connections are tcp-tun sockets. */
class StackAgent extends http.Agent {
  createConnection(options, callback) {
    return client.net.createConnection({ host: options.host, port: options.port }, callback);
  }
}
const agent = new StackAgent({ keepAlive: true });

function get(path, extra = {}) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '10.0.0.2', port: 80, path, ...extra }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

process.stdout.write(await get('/through-an-agent', { agent }));
process.stdout.write(await get('/again-on-the-same-connection', { agent }));
process.stdout.write(await get('/with-createConnection', { createConnection: (o, cb) => client.net.createConnection(o, cb) }));

// Cancelling a connect: the socket is destroyed with an AbortError.
const controller = new AbortController();
const doomed = client.net.connect({ host: '10.0.0.2', port: 80, signal: controller.signal });
doomed.on('error', (err) => console.log(`connect aborted: ${err.code}`));
controller.abort();

agent.destroy();
await new Promise((resolve) => setImmediate(resolve));
await Promise.all([client.close(), server.close()]);
