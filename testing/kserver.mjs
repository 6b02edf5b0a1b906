// A kernel-side HTTP server for curl-lite's end-to-end tests (Node's own http on Linux TCP).
// Runs inside the test's namespace:  node kserver.mjs [-4|-6] PORT FILE
//   -4 (the default) listens on 0.0.0.0; -6 on :: (IPv4 peers too, as ::ffff:a.b.c.d)
//   /file          FILE with Content-Length      /chunked/N   N bytes (i % 251), chunked
//   /redirect?to=P 302 to P                      /slow        headers, 5 bytes, then nothing
//   /upload        (PUT or POST) reads the body, answers {"bytes":N,"sha256":HEX} and the
//                  peer's address, so an upload can be checked end to end
// It prints "ready" once listening and exits by itself after 10 minutes at most.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';

const args = process.argv.slice(2);
let host = '0.0.0.0';
while (args[0] === '-4' || args[0] === '-6') host = args.shift() === '-6' ? '::' : '0.0.0.0';
const [port, file] = [Number(args[0]), args[1]];
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node kserver.mjs [-4|-6] PORT FILE');
  process.exit(2);
}
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const chunked = /^\/chunked\/(\d+)$/.exec(url.pathname);
  if (url.pathname === '/file') {
    res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  } else if (chunked) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const n = Number(chunked[1]);
    const body = Buffer.alloc(n);
    for (let i = 0; i < n; i++) body[i] = i % 251;
    for (let i = 0; i < n; i += 4096) res.write(body.subarray(i, i + 4096));
    res.end();
  } else if (url.pathname === '/redirect') {
    res.writeHead(302, { location: url.searchParams.get('to') ?? '/file', 'content-length': 0 });
    res.end();
  } else if (url.pathname === '/slow') {
    res.writeHead(200, { 'content-length': 100 });
    res.write('12345');
  } else if (url.pathname === '/upload' && (req.method === 'PUT' || req.method === 'POST')) {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const answer = JSON.stringify({ bytes, sha256: hash.digest('hex'), peer: req.socket.remoteAddress, family: req.socket.remoteFamily });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  } else {
    res.writeHead(404);
    res.end('not found\n');
  }
});
// With '::' Node leaves IPV6_V6ONLY off: one socket for both families.
server.listen(port, host, () => console.log('ready'));
setTimeout(() => process.exit(0), 600_000).unref();
process.on('SIGTERM', () => process.exit(0));
