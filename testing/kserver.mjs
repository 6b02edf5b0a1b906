// A kernel-side HTTP server for curl-lite's end-to-end tests (Node's own http on Linux TCP).
// Runs inside the test's namespace:  node kserver.mjs PORT FILE
//   /file          FILE with Content-Length      /chunked/N   N bytes (i % 251), chunked
//   /redirect?to=P 302 to P                      /slow        headers, 5 bytes, then nothing
// It prints "ready" once listening and exits by itself after 10 minutes at most.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';

const [port, file] = [Number(process.argv[2]), process.argv[3]];
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
  } else {
    res.writeHead(404);
    res.end('not found\n');
  }
});
server.listen(port, '0.0.0.0', () => console.log('ready'));
setTimeout(() => process.exit(0), 600_000).unref();
process.on('SIGTERM', () => process.exit(0));
