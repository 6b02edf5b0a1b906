import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { createLinkPair, Stack } from '@tcp-tun/net';
import { DEFAULT_PORTS, patternByte, startService, type ServiceName } from './services.js';

// The services run over two in-memory stacks: the same code path as over a TUN, minus Linux.
describe('apps/echo services over an in-memory link', function () {
  this.timeout(60_000);
  let server: Stack;
  let client: Stack;

  beforeEach(async () => {
    const [a, b] = createLinkPair();
    server = new Stack({ link: a, address: '10.9.0.2' });
    client = new Stack({ link: b, address: '10.9.0.1' });
    for (const name of ['echo', 'discard', 'source', 'http'] as ServiceName[]) await startService(server, name, DEFAULT_PORTS[name]);
  });
  afterEach(async () => {
    await client.close();
    await server.close();
  });

  const connect = (port: number): Promise<Duplex> =>
    new Promise((resolve, reject) => {
      const s = client.net.connect({ host: '10.9.0.2', port }, () => resolve(s));
      s.once('error', reject);
    });

  it('echo returns every byte and closes after the client half-closes', async () => {
    const data = randomBytes(1 << 20);
    const s = await connect(7);
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => s.once('end', resolve));
    s.end(data);
    await ended;
    expect(Buffer.concat(chunks).equals(data)).to.equal(true);
  });

  it('discard reads everything and closes after the client does', async () => {
    const s = await connect(9);
    let got = 0;
    s.on('data', (c: Buffer) => (got += c.length));
    const ended = new Promise((resolve) => s.once('end', resolve));
    s.end(randomBytes(256 * 1024));
    await ended;
    expect(got).to.equal(0);
  });

  it('source streams until the client closes', async () => {
    const s = await connect(19);
    let got = 0;
    await new Promise<void>((resolve) => {
      s.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= 1 << 20) {
          s.removeAllListeners('data');
          resolve();
        }
      });
    });
    const closed = new Promise((resolve) => s.once('close', resolve));
    s.destroy();
    await closed;
    expect(got).to.be.at.least(1 << 20);
  });

  it('http serves /bytes/N with Content-Length and /chunked/N chunked, byte i = i % 251', async () => {
    const get = (path: string) =>
      new Promise<{ res: http.IncomingMessage; body: Buffer }>((resolve, reject) => {
        const req = http.get({ host: '10.9.0.2', port: 80, path, createConnection: () => client.net.createConnection({ host: '10.9.0.2', port: 80 }) }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
      });
    const want = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => patternByte(i)));
    const bytes = await get('/bytes/100000');
    expect(bytes.res.headers['content-length']).to.equal('100000');
    expect(createHash('sha256').update(bytes.body).digest('hex')).to.equal(createHash('sha256').update(want(100000)).digest('hex'));
    const chunked = await get('/chunked/70000');
    expect(chunked.res.headers['transfer-encoding']).to.equal('chunked');
    expect(chunked.body.equals(want(70000))).to.equal(true);
    const redirect = await get('/redirect?to=/bytes/3');
    expect(redirect.res.statusCode).to.equal(302);
    expect(redirect.res.headers.location).to.equal('/bytes/3');
    const open = await get('/redirect?to=http://elsewhere.test/');
    expect(open.res.headers.location).to.equal('/');
    const index = await get('/');
    expect(index.body.toString()).to.contain('tcp-tun');
    expect((await get('/nope')).res.statusCode).to.equal(404);
  });
});
