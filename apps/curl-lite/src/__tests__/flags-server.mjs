// The kernel-side server of curl-lite's flag tests (Node's http and https on Linux TCP), run
// inside the test's namespace:  node flags-server.mjs HTTP_PORT HTTPS_PORT CERT KEY
//   /dump[/...]       JSON of the request: method, url, raw headers in order, body
//   /bytes/N          N bytes (i % 251) with Content-Length
//   /status/N         status N with a short text body
//   /flaky?key=K&fail=F&status=S[&after=A]   the first F requests of key K answer S (Retry-After A)
//   /gzip/N /deflate/N /deflate-raw/N /br/N   N pattern bytes, compressed; /bad-gzip a corrupt stream
//   /redirect?to=P    302 to P                /slow   headers, 5 of 100 bytes, then nothing
// It prints "ready" once both servers listen and exits by itself after 10 minutes at most.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';

const [httpPort, httpsPort, certFile, keyFile] = process.argv.slice(2);
const pattern = (n) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
};
const flaky = new Map();
const encoders = { gzip: zlib.gzipSync, deflate: zlib.deflateSync, 'deflate-raw': zlib.deflateRawSync, br: zlib.brotliCompressSync };

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] === 'dump') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.rawHeaders, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  } else if (parts[0] === 'bytes') {
    const body = pattern(Number(parts[1]));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  } else if (parts[0] === 'status') {
    res.writeHead(Number(parts[1]), { 'content-type': 'text/plain' });
    res.end(`status ${parts[1]}\n`);
  } else if (parts[0] === 'flaky') {
    const key = url.searchParams.get('key') ?? '';
    const seen = (flaky.get(key) ?? 0) + 1;
    flaky.set(key, seen);
    if (seen <= Number(url.searchParams.get('fail') ?? 0)) {
      const after = url.searchParams.get('after');
      res.writeHead(Number(url.searchParams.get('status') ?? 503), { 'content-type': 'text/plain', ...(after === null ? {} : { 'retry-after': after }) });
      res.end(`attempt ${seen} failed\n`);
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`attempt ${seen} ok\n`);
    }
  } else if (parts[0] in encoders) {
    const body = encoders[parts[0]](pattern(Number(parts[1])));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': parts[0] === 'deflate-raw' ? 'deflate' : parts[0], 'content-length': body.length });
    res.end(body);
  } else if (parts[0] === 'bad-gzip') {
    const body = Buffer.from(zlib.gzipSync(pattern(1000)));
    body.fill(0x55, 10, 40);
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length });
    res.end(body);
  } else if (parts[0] === 'redirect') {
    res.writeHead(302, { location: url.searchParams.get('to') ?? '/bytes/10', 'content-length': 0 });
    res.end();
  } else if (parts[0] === 'slow') {
    res.writeHead(200, { 'content-length': 100 });
    res.write('12345');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }
}

let listening = 0;
const ready = () => {
  if (++listening === 2) console.log('ready');
};
http.createServer(handler).listen(Number(httpPort), '0.0.0.0', ready);
https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler).listen(Number(httpsPort), '0.0.0.0', ready);
setTimeout(() => process.exit(0), 600_000).unref();
process.on('SIGTERM', () => process.exit(0));
