import { expect } from 'chai';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { CurlError, EXIT } from './errors.js';
import { transfer, type Connector, type TransferOptions } from './transfer.js';

/** Byte i of every test body is i % 251, as apps/echo's http service serves it. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

function collect(): { stream: PassThrough; bytes: () => Buffer } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, bytes: () => Buffer.concat(chunks) };
}

const base: TransferOptions = {
  url: '',
  headers: [],
  include: false,
  head: false,
  followRedirects: false,
  maxRedirects: 20,
  failOnError: false,
  verbose: false,
};

// The transfer logic is independent of the TCP underneath; here Node's own loopback TCP
// carries it (the end-to-end suite runs the same code over tcp-tun and a kernel server).
const loopback: Connector = (o, cb) => net.createConnection({ host: o.host, port: o.port }, cb);

describe('curl-lite transfer', () => {
  let server: http.Server;
  let port = 0;
  const connections = new Set<net.Socket>();
  before(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const bytes = /^\/bytes\/(\d+)$/.exec(url.pathname);
      const chunked = /^\/chunked\/(\d+)$/.exec(url.pathname);
      if (bytes) {
        const body = pattern(Number(bytes[1]));
        res.writeHead(200, { 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      } else if (chunked) {
        const body = pattern(Number(chunked[1]));
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        for (let i = 0; i < body.length; i += 1000) res.write(body.subarray(i, i + 1000));
        res.end();
      } else if (url.pathname === '/redirect') {
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
        res.end();
      } else if (url.pathname === '/loop') {
        res.writeHead(302, { location: '/loop' });
        res.end();
      } else if (url.pathname === '/echo') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => res.end(`${req.method} ${Buffer.concat(chunks).toString()} ${req.headers['x-test'] ?? ''}`));
      } else if (url.pathname === '/slow') {
        res.writeHead(200, { 'content-length': 10 });
        res.write('12345'); // and never the rest
      } else if (url.pathname === '/close-delimited') {
        res.shouldKeepAlive = false;
        res.useChunkedEncodingByDefault = false;
        res.removeHeader('transfer-encoding');
        res.writeHead(200, { connection: 'close' });
        res.end('until the connection closes');
      } else {
        res.writeHead(404);
        res.end('not found');
      }
    });
    server.on('connection', (s: net.Socket) => {
      connections.add(s);
      s.on('close', () => connections.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => {
    for (const s of connections) s.destroy();
    server.close();
  });

  const url = (path: string): string => `http://127.0.0.1:${port}${path}`;

  it('downloads a Content-Length body exactly', async () => {
    const out = collect();
    const r = await transfer(loopback, { ...base, url: url('/bytes/1000000') }, { body: out.stream, log: new PassThrough() });
    expect(r.statusCode).to.equal(200);
    expect(r.bodyBytes).to.equal(1_000_000);
    expect(createHash('sha256').update(out.bytes()).digest('hex')).to.equal(createHash('sha256').update(pattern(1_000_000)).digest('hex'));
  });

  it('decodes a chunked body', async () => {
    const out = collect();
    await transfer(loopback, { ...base, url: url('/chunked/12345') }, { body: out.stream, log: new PassThrough() });
    expect(out.bytes().equals(pattern(12345))).to.equal(true);
  });

  it('reads a close-delimited body', async () => {
    const out = collect();
    await transfer(loopback, { ...base, url: url('/close-delimited') }, { body: out.stream, log: new PassThrough() });
    expect(out.bytes().toString()).to.equal('until the connection closes');
  });

  it('follows redirects with -L on one kept-alive connection, and not without it', async () => {
    const before = new Set<net.Socket>();
    server.on('connection', (s: net.Socket) => before.add(s));
    const out = collect();
    const r = await transfer(loopback, { ...base, url: url('/redirect?to=/bytes/10'), followRedirects: true }, { body: out.stream, log: new PassThrough() });
    expect(r.redirects).to.equal(1);
    expect(out.bytes().equals(pattern(10))).to.equal(true);
    expect(before.size).to.equal(1);
    const plain = await transfer(loopback, { ...base, url: url('/redirect?to=/bytes/10') }, { body: collect().stream, log: new PassThrough() });
    expect(plain.statusCode).to.equal(302);
  });

  it('stops at the redirect limit with exit code 47', async () => {
    const err = await transfer(loopback, { ...base, url: url('/loop'), followRedirects: true, maxRedirects: 3 }, { body: collect().stream, log: new PassThrough() }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CurlError);
    expect((err as CurlError).exitCode).to.equal(EXIT.TOO_MANY_REDIRECTS);
  });

  it('sends HEAD with -I and prints only the headers', async () => {
    const out = collect();
    const r = await transfer(loopback, { ...base, url: url('/bytes/5000'), head: true }, { body: out.stream, log: new PassThrough() });
    expect(r.bodyBytes).to.equal(0);
    expect(out.bytes().toString()).to.match(/^HTTP\/1\.1 200 OK\r\n/).and.to.match(/content-length: 5000\r\n/i).and.to.match(/\r\n\r\n$/);
  });

  it('sends -X, -H and -d', async () => {
    const out = collect();
    await transfer(loopback, { ...base, url: url('/echo'), method: 'PUT', headers: [['X-Test', 'yes']], body: new TextEncoder().encode('payload') }, { body: out.stream, log: new PassThrough() });
    expect(out.bytes().toString()).to.equal('PUT payload yes');
  });

  it('fails with 22 on an HTTP error with -f', async () => {
    const err = await transfer(loopback, { ...base, url: url('/missing'), failOnError: true }, { body: collect().stream, log: new PassThrough() }).catch((e: unknown) => e);
    expect((err as CurlError).exitCode).to.equal(EXIT.HTTP_RETURNED_ERROR);
  });

  it('gives up with 28 when --max-time expires', async () => {
    const t = performance.now();
    const err = await transfer(loopback, { ...base, url: url('/slow'), maxTimeMs: 300 }, { body: collect().stream, log: new PassThrough() }).catch((e: unknown) => e);
    expect((err as CurlError).exitCode).to.equal(EXIT.OPERATION_TIMEDOUT);
    expect(performance.now() - t).to.be.below(3000);
  });

  it('reports a refused connection with 7', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await transfer(loopback, { ...base, url: `http://127.0.0.1:${deadPort}/` }, { body: collect().stream, log: new PassThrough() }).catch((e: unknown) => e);
    expect((err as CurlError).exitCode).to.equal(EXIT.COULDNT_CONNECT);
    expect((err as CurlError).message).to.match(/Connection refused/);
  });

  it('rejects bad URLs before connecting', async () => {
    const calls: string[] = [];
    const spy: Connector = (o, cb) => {
      calls.push(o.host);
      return loopback(o, cb);
    };
    for (const [u, code] of [
      ['ftp://127.0.0.1/', EXIT.UNSUPPORTED_PROTOCOL],
      ['http://example.test/', EXIT.COULDNT_RESOLVE_HOST],
      ['http://[::1', EXIT.URL_MALFORMAT],
    ] as const) {
      const err = await transfer(spy, { ...base, url: u }, { body: collect().stream, log: new PassThrough() }).catch((e: unknown) => e);
      expect((err as CurlError).exitCode, u).to.equal(code);
    }
    expect(calls).to.deep.equal([]);
  });

  it('shows the connection and headers with -v', async () => {
    const log = collect();
    await transfer(loopback, { ...base, url: url('/bytes/3'), verbose: true }, { body: collect().stream, log: log.stream });
    const text = log.bytes().toString();
    expect(text).to.contain(`* Connected to 127.0.0.1 (127.0.0.1) port ${port} (#0)`);
    expect(text).to.contain('> GET /bytes/3 HTTP/1.1');
    expect(text).to.contain('< HTTP/1.1 200 OK');
  });
});
