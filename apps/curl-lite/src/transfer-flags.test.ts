/**
 * The transfer behind curl's newer flags, over Node's loopback TCP against Node servers (the
 * flags' end-to-end suite runs the same over tcp-tun in a namespace).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { CurlError, EXIT } from './errors.js';
import { FileOutput } from './file-output.js';
import { newTransferInfo } from './info.js';
import { perform } from './perform.js';
import { transfer, type Connector, type TransferOptions } from './transfer.js';

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

const base: TransferOptions = { url: '', headers: [], include: false, head: false, followRedirects: false, maxRedirects: 20, failOnError: false, verbose: false };
const loopback: Connector = (o, cb) => net.createConnection({ host: o.host, port: o.port }, cb);
const listen = async (server: net.Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
};

describe('curl-lite transfer: curl\'s newer flags', function () {
  this.timeout(20_000);
  let server: http.Server;
  let port = 0;
  const sockets = new Set<net.Socket>();
  const flaky = new Map<string, number>();

  before(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.startsWith('/dump')) {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.rawHeaders, body: Buffer.concat(chunks).toString() })));
      } else if (url.pathname === '/missing') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('the error page');
      } else if (url.pathname === '/gzip') {
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'text/plain' });
        res.end(gzipSync('squeezed text'));
      } else if (url.pathname === '/flaky') {
        const seen = (flaky.get(url.search) ?? 0) + 1;
        flaky.set(url.search, seen);
        res.writeHead(seen <= Number(url.searchParams.get('fail')) ? 503 : 200);
        res.end(`attempt ${seen}\n`);
      } else if (url.pathname === '/redirect') {
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
        res.end();
      } else {
        res.end('ok');
      }
    });
    server.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    port = await listen(server);
  });
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const url = (path: string): string => `http://127.0.0.1:${port}${path}`;
  const dump = async (options: Partial<TransferOptions>): Promise<{ method: string; url: string; headers: string[]; body: string }> => {
    const out = collect();
    await transfer(loopback, { ...base, url: url('/dump'), ...options }, { body: out.stream, log: new PassThrough() });
    return JSON.parse(out.text()) as { method: string; url: string; headers: string[]; body: string };
  };

  it('-f writes no body on an HTTP error, -i still the headers', async () => {
    const out = collect();
    const err = await transfer(loopback, { ...base, url: url('/missing'), failOnError: true }, { body: out.stream, log: new PassThrough() }).catch((e: unknown) => e);
    expect((err as CurlError).exitCode).to.equal(EXIT.HTTP_RETURNED_ERROR);
    expect(out.text()).to.equal('');
    const withHead = collect();
    await transfer(loopback, { ...base, url: url('/missing'), failOnError: true, include: true }, { body: withHead.stream, log: new PassThrough() }).catch(() => undefined);
    expect(withHead.text()).to.match(/^HTTP\/1\.1 404 Not Found\r\n/).and.match(/\r\n\r\n$/).and.not.contain('the error page');
  });

  it('-u, -A and -e send curl\'s headers in curl\'s order; the URL\'s user info works too', async () => {
    const d = await dump({ credentials: 'ann:secret', userAgent: 'agent/1', referer: 'http://from/', headers: [['X-A', '1']] });
    const names = d.headers.filter((_, i) => i % 2 === 0);
    expect(names).to.deep.equal(['Host', 'Authorization', 'User-Agent', 'Accept', 'Referer', 'X-A', 'Connection']);
    expect(d.headers).to.include('Basic YW5uOnNlY3JldA==').and.include('agent/1').and.include('http://from/');
    const fromUrl = collect();
    await transfer(loopback, { ...base, url: `http://bob:p%40ss@127.0.0.1:${port}/dump` }, { body: fromUrl.stream, log: new PassThrough() });
    expect(fromUrl.text()).to.contain(`Basic ${Buffer.from('bob:p@ss').toString('base64')}`);
  });

  it('-u credentials and -H Authorization go to the same origin only, not after a redirect elsewhere', async () => {
    const other = http.createServer((req, res) => res.end(JSON.stringify({ headers: req.rawHeaders })));
    const otherPort = await listen(other);
    try {
      const out = collect();
      const target = encodeURIComponent(`http://127.0.0.1:${otherPort}/`);
      await transfer(loopback, { ...base, url: url(`/redirect?to=${target}`), followRedirects: true, credentials: 'a:b', headers: [['Authorization', 'Bearer t'], ['X-Kept', '1']] }, { body: out.stream, log: new PassThrough() });
      const headers = (JSON.parse(out.text()) as { headers: string[] }).headers;
      expect(headers).to.include('X-Kept').and.not.include('Authorization');
      const same = await dump({ credentials: 'a:b', followRedirects: true, url: url('/redirect?to=/dump') });
      expect(same.headers).to.include('Basic YTpi');
    } finally {
      other.closeAllConnections();
      other.close();
    }
  });

  it('-e ";auto" sets the Referer on a redirect', async () => {
    const out = collect();
    await transfer(loopback, { ...base, url: url('/redirect?to=/dump'), followRedirects: true, referer: ';auto' }, { body: out.stream, log: new PassThrough() });
    expect((JSON.parse(out.text()) as { headers: string[] }).headers).to.include(url('/redirect?to=/dump'));
  });

  it('-T uploads with PUT after the server\'s 100 Continue', async () => {
    const log = collect();
    const out = collect();
    await transfer(loopback, { ...base, url: url('/dump/up.txt'), body: Buffer.from('file body'), upload: true, verbose: true }, { body: out.stream, log: log.stream });
    const d = JSON.parse(out.text()) as { method: string; headers: string[]; body: string };
    expect(d.method).to.equal('PUT');
    expect(d.body).to.equal('file body');
    expect(d.headers).to.include('100-continue').and.not.include('application/x-www-form-urlencoded');
    expect(log.text()).to.contain('< HTTP/1.1 100 Continue').and.contain('* We are completely uploaded and fine');
  });

  it('-T sends the body after one second when the server never answers 100', async () => {
    let seen = '';
    const raw = net.createServer((s) => {
      s.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.endsWith('late body')) s.end('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
      });
    });
    const rawPort = await listen(raw);
    try {
      const t = performance.now();
      const r = await transfer(loopback, { ...base, url: `http://127.0.0.1:${rawPort}/x`, body: Buffer.from('late body'), upload: true }, { body: collect().stream, log: new PassThrough() });
      expect(r.statusCode).to.equal(201);
      expect(performance.now() - t).to.be.within(900, 5000);
      expect(seen).to.match(/^PUT \/x HTTP\/1\.1\r\n/).and.contain('Expect: 100-continue');
    } finally {
      raw.close();
    }
  });

  it('--json and --compressed', async () => {
    const d = await dump({ body: Buffer.from('{"a":1}'), headers: [['Content-Type', 'application/json'], ['Accept', 'application/json']] });
    expect(d.method).to.equal('POST');
    expect(d.body).to.equal('{"a":1}');
    expect(d.headers.filter((_, i) => i % 2 === 0)).to.deep.equal(['Host', 'User-Agent', 'Content-Type', 'Accept', 'Content-Length', 'Connection']);
    const out = collect();
    const info = newTransferInfo(url('/gzip'));
    await transfer(loopback, { ...base, url: url('/gzip'), compressed: true }, { body: out.stream, log: new PassThrough(), info });
    expect(out.text()).to.equal('squeezed text');
    expect(info.sizeDownload).to.equal(gzipSync('squeezed text').length);
    const undecoded = collect();
    await transfer(loopback, { ...base, url: url('/gzip') }, { body: undecoded.stream, log: new PassThrough() });
    expect(undecoded.text()).to.not.equal('squeezed text');
    // HEAD: a gzip Content-Encoding and no body is no error.
    const head = await transfer(loopback, { ...base, url: url('/gzip'), compressed: true, head: true }, { body: collect().stream, log: new PassThrough() });
    expect(head.statusCode).to.equal(200);
  });

  it('-v prints each request and response header once: * lines, then >, then <', async () => {
    const log = collect();
    await transfer(loopback, { ...base, url: url('/dump'), verbose: true, credentials: 'a:b' }, { body: collect().stream, log: log.stream });
    const lines = log.text().trimEnd().split('\n');
    const kinds = lines.map((l) => l[0]).join('');
    expect(kinds).to.match(/^\*+>+<+\*$/);
    const sent = lines.filter((l) => l.startsWith('> ') && l.includes(':')).map((l) => l.slice(2, l.indexOf(':')).toLowerCase());
    expect(new Set(sent).size).to.equal(sent.length);
    expect(sent.slice(0, 4)).to.deep.equal(['host', 'authorization', 'user-agent', 'accept']);
    expect(lines).to.include("* Server auth using Basic with user 'a'");
  });

  it('--retry runs the transfer again on a 503, warning as curl, then reports the last attempt with -w', async () => {
    const stdout = collect();
    const stderr = collect();
    const r = await perform(
      loopback,
      { ...base, url: url('/flaky?fail=1&k=1'), silent: false, showError: false, retry: { retries: 2, delayMs: 100 }, writeOut: '%{http_code} %{exitcode}\\n' },
      { body: stdout.stream, stdout: stdout.stream, stderr: stderr.stream },
    );
    expect(r.statusCode).to.equal(200);
    // As curl writing to stdout: the failed attempt's body stays in the output.
    expect(stdout.text()).to.equal('attempt 1\nattempt 2\n200 0\n');
    expect(stderr.text()).to.equal('Warning: Problem : HTTP error. Will retry in 0 seconds. 2 retries left.\n');
  });

  it('--retry with -o empties the file before the next attempt, and -f leaves no file at all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-retry-'));
    try {
      const file = new FileOutput(join(dir, 'out'));
      const stderr = collect();
      await perform(
        loopback,
        { ...base, url: url('/flaky?fail=1&k=2'), silent: false, showError: false, retry: { retries: 1, delayMs: 50 } },
        { body: file, stdout: new PassThrough(), stderr: stderr.stream },
      );
      await new Promise<void>((resolve) => file.end(resolve));
      expect(readFileSync(join(dir, 'out'), 'utf8')).to.equal('attempt 2\n');
      expect(stderr.text()).to.contain('\nThrowing away 10 bytes\n');
      const none = new FileOutput(join(dir, 'none'));
      const err = await perform(
        loopback,
        { ...base, url: url('/missing'), failOnError: true, silent: true, showError: false, retry: { retries: 0 }, writeOut: '%{http_code}' },
        { body: none, stdout: new PassThrough(), stderr: new PassThrough() },
      ).catch((e: unknown) => e);
      expect((err as CurlError).exitCode).to.equal(EXIT.HTTP_RETURNED_ERROR);
      await new Promise<void>((resolve) => none.end(resolve));
      expect(existsSync(join(dir, 'none'))).to.equal(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('https', () => {
    let dir: string;
    let tlsServer: https.Server;
    let tlsPort = 0;
    let otherServer: https.Server;
    let otherPort = 0;
    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'tcptun-tls-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=tcptun-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      tlsServer = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => res.end(`secure ${req.url}`));
      tlsPort = await listen(tlsServer);
      // A certificate for another address (192.0.2.1, TEST-NET-1), served on loopback.
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'other-key.pem'), '-out', join(dir, 'other.pem'), '-days', '2', '-subj', '/CN=other', '-addext', 'subjectAltName=IP:192.0.2.1'], { stdio: 'ignore' });
      otherServer = https.createServer({ key: readFileSync(join(dir, 'other-key.pem')), cert: readFileSync(join(dir, 'other.pem')) }, (_req, res) => res.end('other'));
      otherPort = await listen(otherServer);
    });
    after(() => {
      for (const s of [tlsServer, otherServer]) {
        s.closeAllConnections();
        s.close();
      }
      rmSync(dir, { recursive: true, force: true });
    });
    const get = async (options: Partial<TransferOptions>) => {
      const out = collect();
      const log = collect();
      const info = newTransferInfo('');
      const err = await transfer(loopback, { ...base, url: `https://127.0.0.1:${tlsPort}/x`, ...options }, { body: out.stream, log: log.stream, info }).then(
        () => undefined,
        (e: unknown) => e as CurlError,
      );
      return { err, body: out.text(), log: log.text(), info };
    };

    it('fails with 60 on an untrusted certificate, and succeeds with -k or --cacert', async () => {
      const untrusted = await get({});
      expect(untrusted.err?.exitCode).to.equal(EXIT.PEER_FAILED_VERIFICATION);
      expect(untrusted.err?.message).to.match(/^SSL certificate problem: self-signed certificate/);
      const insecure = await get({ insecure: true, verbose: true });
      expect(insecure.err).to.equal(undefined);
      expect(insecure.body).to.equal('secure /x');
      expect(insecure.log, insecure.log).to.match(/\* SSL connection using TLSv1\.[23] \//).and.contain('SSL certificate verify result: self-signed certificate (18), continuing anyway.');
      expect(insecure.info.sslVerifyResult).to.equal(18);
      expect(insecure.info.appConnectMs).to.be.above(0);
      const trusted = await get({ caCert: readFileSync(join(dir, 'cert.pem')) });
      expect(trusted.err).to.equal(undefined);
      expect(trusted.body).to.equal('secure /x');
      expect(trusted.info.sslVerifyResult).to.equal(0);
    });

    it('fails with 60 when the certificate names another address, and with 35 when the server speaks no TLS', async () => {
      const wrongName = await get({ url: `https://127.0.0.1:${otherPort}/x`, caCert: readFileSync(join(dir, 'other.pem')) });
      expect(wrongName.err?.exitCode).to.equal(EXIT.PEER_FAILED_VERIFICATION);
      expect(wrongName.err?.message).to.equal("SSL: no alternative certificate subject name matches target host name '127.0.0.1'");
      const plain = await get({ url: `https://127.0.0.1:${port}/` });
      expect(plain.err?.exitCode).to.equal(EXIT.SSL_CONNECT_ERROR);
      expect(plain.err?.message).to.match(/^OpenSSL\/[\d.]+: error:0A00010B:SSL routines::wrong version number$/);
    });

    it('fails with 35 when the server resets or closes the connection during the handshake', async () => {
      for (const how of ['reset', 'close'] as const) {
        const rude = net.createServer((s) => s.once('data', () => (how === 'reset' ? s.resetAndDestroy() : s.end())));
        const rudePort = await listen(rude);
        try {
          const r = await get({ url: `https://127.0.0.1:${rudePort}/` });
          expect(r.err?.exitCode, `${how}: ${r.err?.message}`).to.equal(EXIT.SSL_CONNECT_ERROR);
        } finally {
          rude.close();
        }
      }
    });
  });
});
