// Recipe: Node's own `http` server and client, carried by tcp-tun.
// Two stacks joined by an in-memory link; swap `createLinkPair()` for a TUN device (see
// tun-stack.mjs) and nothing else changes.
//   pnpm build && node docs/recipes/http.mjs
import http from 'node:http';
import net from 'node:net';
import { Stack, createLinkPair } from '@tcp-tun/net';

const [linkA, linkB] = createLinkPair();
const client = new Stack({ link: linkA, address: '10.0.0.1' });
const server = new Stack({ link: linkB, address: '10.0.0.2' });

// Server side: an ordinary http.Server that never listens itself. The stack's server accepts
// TCP connections and hands each socket to it, as a kernel listener would.
const web = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${req.method} ${req.url} from ${req.socket.remoteAddress}:${req.socket.remotePort}, ${body.length} bytes\n`);
  });
});
const listener = server.net.createServer((socket) => web.emit('connection', socket));
listener.listen(80);

// Client side: an http.Agent whose connections are tcp-tun sockets (the agent calls
// createConnection for each new connection and uses what it returns). Keep-alive works as
// usual: the second request below reuses the first connection.
class TcpTunAgent extends http.Agent {
  /**
   * @param {http.ClientRequestArgs} options
   * @returns {net.Socket}
   */
  createConnection(options) {
    return client.net.createConnection({ host: options.host ?? '10.0.0.2', port: Number(options.port ?? 80) });
  }
}
const agent = new TcpTunAgent({ keepAlive: true });

/**
 * One request; resolves with the status, the body and whether the connection was reused.
 * @param {string} method @param {string} path @param {string} [body]
 * @returns {Promise<{ status: number | undefined, body: string, reused: boolean }>}
 */
function request(method, path, body = '') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '10.0.0.2', port: 80, method, path, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: text, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const first = await request('GET', '/hello');
const second = await request('POST', '/upload', 'x'.repeat(100_000));
process.stdout.write(`${first.status} ${first.body}`);
process.stdout.write(`${second.status} ${second.body}`);
console.log(`second request reused the connection: ${second.reused}`);

agent.destroy();
listener.close();
await Promise.all([client.close(), server.close()]);
