import http from 'node:http';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { expect } from 'chai';
import type { NetConnectOpts } from './socket.js';
import { ADDR_B, makePair, seededBytes, type Pair } from './__tests__/harness.js';

describe("Node's http over two stacks", () => {
  let pair: Pair;
  let httpServer: http.Server;
  const big = seededBytes(1024 * 1024, 3);

  beforeEach(async () => {
    pair = makePair();
    httpServer = http.createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': big.length });
        res.end(big);
        return;
      }
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`${req.method} ${req.url} ${body}`);
      });
    });
    const server = pair.b.net.createServer({ allowHalfOpen: true }, (socket) => httpServer.emit('connection', socket));
    server.listen(80);
    await once(server, 'listening');
  });

  afterEach(async () => {
    httpServer.close();
    await pair.close();
  });

  function get(path: string, agent?: http.Agent): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = http.get(
        {
          host: ADDR_B,
          port: 80,
          path,
          // http's own options object goes straight through, as with node:net.
          ...(agent ? { agent } : { createConnection: (opts: NetConnectOpts, cb: () => void) => pair.a.net.createConnection(opts, cb) }),
        } as http.RequestOptions,
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
    });
  }

  it('serves a GET through http.get with createConnection', async () => {
    const res = await get('/hello');
    expect(res.status).to.equal(200);
    expect(res.body.toString()).to.equal('GET /hello ');
  });

  it('carries a 1 MiB response body intact', async () => {
    const res = await get('/big');
    expect(Buffer.compare(res.body, big)).to.equal(0);
  });

  it('POSTs a body and reuses a keep-alive connection through an Agent', async () => {
    class StackAgent extends http.Agent {
      // The agent takes the returned socket (as with node:net, whose callback is a connect listener).
      override createConnection(options: http.ClientRequestArgs): Duplex {
        return pair.a.net.createConnection({ host: options.host ?? ADDR_B, port: Number(options.port ?? 80) });
      }
    }
    const agent = new StackAgent({ keepAlive: true, maxSockets: 1 });
    const post = (text: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: ADDR_B, port: 80, method: 'POST', path: '/echo', agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end(text);
      });
    expect(await post('one')).to.equal('POST /echo one');
    expect(await post('two')).to.equal('POST /echo two');
    expect(pair.a.stats().connectionsOpened).to.equal(1);
    agent.destroy();
  });
});
