import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, deflateSync, deflateRawSync, brotliCompressSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { bodyDecoder, decodersFor } from './decode.js';
import { CurlError, EXIT } from './errors.js';
import { addCurlFlags, withCurlFlags } from './flags.js';
import { parseCurlOptions } from './options.js';
import { basicAuthorization, requestHeaders } from './request-headers.js';
import { RetryPlan, retryReason, wrapMessage } from './retry.js';

const parse = (...args: string[]) => parseCurlOptions(['node', 'curl-lite', ...args]);

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('curl-lite flags', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-flags-'));
    writeFileSync(join(dir, 'up.txt'), 'upload me\n');
    writeFileSync(join(dir, 'data.json'), '{"a":1}');
    writeFileSync(join(dir, 'ca.pem'), 'not really a certificate');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('parsing', () => {
    it('reads -sS and other combined short flags', () => {
      const o = parse('-sSfL', 'http://10.0.0.1/');
      expect(o).to.include({ silent: true, showError: true, failOnError: true, followRedirects: true });
      expect(parse('-s', 'http://10.0.0.1/')).to.include({ silent: true, showError: false });
    });

    it('reads -w, -u, -A, -e, --compressed, -k and --cacert', () => {
      const o = parse('-w', '%{http_code}\\n', '-u', 'ann:secret', '-A', 'agent/1', '-e', 'http://from/', '--compressed', '-k', '--cacert', join(dir, 'ca.pem'), 'https://10.0.0.1/');
      expect(o).to.include({ writeOut: '%{http_code}\\n', credentials: 'ann:secret', userAgent: 'agent/1', referer: 'http://from/', compressed: true, insecure: true });
      expect(Buffer.from(o.caCert ?? '').toString()).to.equal('not really a certificate');
      // curl-lite's --user is the device flags' privilege drop; -u alone means credentials.
      expect(parse('-u', 'bob:pw', '--user', 'nobody', 'http://10.0.0.1/')).to.include({ credentials: 'bob:pw', user: 'nobody' });
    });

    it('keeps -u for credentials when the device flags already own --user (privilege drop)', () => {
      const command = new Command().option('--user <name>', 'drop root to this user').argument('<url>');
      addCurlFlags(command);
      command.parse(['node', 'x', '-u', 'ann:pw', '--user', 'nobody', 'http://10.0.0.1/']);
      const o = withCurlFlags(command, { url: 'http://10.0.0.1/', headers: [], head: false });
      expect(o.credentials).to.equal('ann:pw');
      expect(command.opts()).to.include({ user: 'nobody' });
    });

    it('fails with curl\'s 77 for a --cacert file that cannot be read', () => {
      const err = thrown(() => parse('--cacert', join(dir, 'missing.pem'), 'https://10.0.0.1/'));
      expect((err as CurlError).exitCode).to.equal(EXIT.SSL_CACERT_BADFILE);
    });

    it('-T reads the file, uploads it with PUT and names the URL after it when the URL ends in /', () => {
      const o = parse('-T', join(dir, 'up.txt'), 'http://10.0.0.1:8000/dir/');
      expect(o.upload).to.equal(true);
      expect(o.url).to.equal('http://10.0.0.1:8000/dir/up.txt');
      expect(Buffer.from(o.body ?? []).toString()).to.equal('upload me\n');
      expect(parse('-T', join(dir, 'up.txt'), 'http://10.0.0.1:8000/named').url).to.equal('http://10.0.0.1:8000/named');
      expect(parse('-T', join(dir, 'up.txt'), 'http://10.0.0.1:8000').url).to.equal('http://10.0.0.1:8000/up.txt');
    });

    it('-T with -d or -I is curl\'s exit 2, a missing -T file 26', () => {
      expect((thrown(() => parse('-T', join(dir, 'up.txt'), '-d', 'x', 'http://10.0.0.1/')) as CurlError).exitCode).to.equal(EXIT.FAILED_INIT);
      expect((thrown(() => parse('-T', join(dir, 'up.txt'), '-I', 'http://10.0.0.1/')) as CurlError).exitCode).to.equal(EXIT.FAILED_INIT);
      expect((thrown(() => parse('-T', join(dir, 'nope'), 'http://10.0.0.1/')) as CurlError).exitCode).to.equal(EXIT.READ_ERROR);
    });

    it('--json posts the data (joined, @file read) with JSON Content-Type and Accept after the -H headers', () => {
      const o = parse('-H', 'X-A: 1', '--json', '[1', '--json', `@${join(dir, 'data.json')}`, 'http://10.0.0.1/');
      expect(Buffer.from(o.body ?? []).toString()).to.equal('[1{"a":1}');
      expect(o.headers).to.deep.equal([
        ['X-A', '1'],
        ['Content-Type', 'application/json'],
        ['Accept', 'application/json'],
      ]);
      expect(parse('-H', 'Accept: text/x', '--json', '{}', 'http://10.0.0.1/').headers).to.deep.equal([
        ['Accept', 'text/x'],
        ['Content-Type', 'application/json'],
      ]);
    });

    it('reads --retry and its companions; --retry-delay 0 means the doubling wait, as curl', () => {
      expect(parse('--retry', '3', '--retry-delay', '2', '--retry-max-time', '30', '--retry-connrefused', '--retry-all-errors', 'http://10.0.0.1/').retry).to.deep.equal({
        retries: 3,
        delayMs: 2000,
        maxTimeMs: 30000,
        connRefused: true,
        allErrors: true,
      });
      expect(parse('--retry', '1', '--retry-delay', '0', 'http://10.0.0.1/').retry.delayMs).to.equal(undefined);
      expect(parse('http://10.0.0.1/').retry.retries).to.equal(0);
    });
  });

  describe('request headers', () => {
    const url = new URL('http://10.0.0.1:8000/x');
    it('come in curl\'s order', () => {
      const h = requestHeaders({
        url,
        credentials: 'a:b',
        userAgent: 'UA',
        referer: 'ref',
        compressed: true,
        custom: [['X-A', '1']],
        bodyLength: 3,
        bodyType: 'application/x-www-form-urlencoded',
      });
      expect(h).to.deep.equal([
        ['Host', '10.0.0.1:8000'],
        ['Authorization', 'Basic YTpi'],
        ['User-Agent', 'UA'],
        ['Accept', '*/*'],
        ['Accept-Encoding', 'deflate, gzip, br'],
        ['Referer', 'ref'],
        ['X-A', '1'],
        ['Content-Length', '3'],
        ['Content-Type', 'application/x-www-form-urlencoded'],
      ]);
    });

    it('let -H replace a built-in header in its own place, remove one with "Name:", and keep Host first', () => {
      const h = requestHeaders({ url, custom: [['Accept', 'x/y'], ['User-Agent', ''], ['Host', 'h'], ['X-B', '2']], bodyLength: 4, expectContinue: true });
      expect(h).to.deep.equal([
        ['Host', 'h'],
        ['Accept', 'x/y'],
        ['X-B', '2'],
        ['Content-Length', '4'],
        ['Expect', '100-continue'],
      ]);
      expect(requestHeaders({ url, userAgent: '', custom: [] }).map(([n]) => n)).to.deep.equal(['Host', 'Accept']);
    });

    it('encode Basic credentials as RFC 7617 says', () => {
      expect(basicAuthorization('Aladdin:open sesame')).to.equal('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    });
  });

  describe('--retry', () => {
    const timeout = new CurlError(EXIT.OPERATION_TIMEDOUT, 'timed out');
    const refused = new CurlError(EXIT.COULDNT_CONNECT, 'Failed to connect to 10.0.0.1:1: Connection refused');
    const unreachable = new CurlError(EXIT.COULDNT_CONNECT, 'Failed to connect to 10.0.0.1:1: EHOSTUNREACH');
    const http22 = new CurlError(EXIT.HTTP_RETURNED_ERROR, 'error: 503');
    const recv = new CurlError(EXIT.RECV_ERROR, 'reset');
    const s = { retries: 1 };

    it('retries what curl calls transient, and nothing else', () => {
      expect(retryReason({ error: timeout, status: 0 }, s)).to.equal('timeout');
      expect(retryReason({ error: new CurlError(EXIT.COULDNT_RESOLVE_HOST, 'x'), status: 0 }, s)).to.equal('timeout');
      for (const status of [408, 429, 500, 502, 503, 504]) expect(retryReason({ status }, s), String(status)).to.equal('HTTP error');
      for (const status of [200, 404, 501, 505]) expect(retryReason({ status }, s), String(status)).to.equal(undefined);
      expect(retryReason({ error: http22, status: 503 }, s)).to.equal('HTTP error');
      expect(retryReason({ error: refused, status: 0 }, s)).to.equal(undefined);
      expect(retryReason({ error: refused, status: 0 }, { ...s, connRefused: true })).to.equal('connection refused');
      expect(retryReason({ error: unreachable, status: 0 }, { ...s, connRefused: true })).to.equal(undefined);
      expect(retryReason({ error: recv, status: 0 }, s)).to.equal(undefined);
      expect(retryReason({ error: recv, status: 0 }, { ...s, allErrors: true })).to.equal('all errors');
      expect(retryReason({ status: 200 }, { ...s, allErrors: true })).to.equal(undefined);
    });

    it('waits 1 s then doubles up to 10 minutes, or the fixed --retry-delay, or Retry-After', () => {
      const plan = new RetryPlan({ retries: 12 }, 0);
      const waits: number[] = [];
      for (let i = 0; i < 12; i++) waits.push(plan.next({ error: timeout, status: 0 }, undefined, 0)?.sleepMs ?? -1);
      expect(waits).to.deep.equal([1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 512000, 600000, 600000]);
      expect(plan.next({ error: timeout, status: 0 }, undefined, 0)).to.equal(undefined);
      const fixed = new RetryPlan({ retries: 2, delayMs: 3000 }, 0);
      expect([fixed.next({ status: 503 }, undefined, 0)?.sleepMs, fixed.next({ status: 503 }, undefined, 0)?.sleepMs]).to.deep.equal([3000, 3000]);
      expect(new RetryPlan({ retries: 1 }, 0).next({ status: 503 }, 7, 0)?.sleepMs).to.equal(7000);
      expect(new RetryPlan({ retries: 1, maxTimeMs: 5000 }, 0).next({ status: 503 }, 60, 1000)?.sleepMs).to.equal(4000);
      expect(new RetryPlan({ retries: 1, maxTimeMs: 5000 }, 0).next({ status: 503 }, undefined, 5000)).to.equal(undefined);
    });

    it('warns in curl\'s words, wrapped at 79 columns', () => {
      const plan = new RetryPlan({ retries: 3 }, 0);
      expect(plan.next({ status: 503 }, undefined, 0)?.warning).to.equal('Problem : HTTP error. Will retry in 1 seconds. 3 retries left.');
      expect(new RetryPlan({ retries: 1 }, 0).next({ error: recv, status: 0 }, undefined, 0)).to.equal(undefined);
      expect(new RetryPlan({ retries: 1, allErrors: true }, 0).next({ error: recv, status: 0 }, undefined, 0)?.warning).to.equal(
        'Problem (retrying all errors). Will retry in 1 seconds. 1 retries left.',
      );
      // Exactly what curl 7.88 printed for --retry 1 --retry-connrefused against a closed port.
      expect(wrapMessage('Warning: ', 'Problem : connection refused. Will retry in 1 seconds. 1 retries left.')).to.equal(
        'Warning: Problem : connection refused. Will retry in 1 seconds. 1 retries \nWarning: left.\n',
      );
    });
  });

  describe('--compressed decoding', () => {
    const plain = Buffer.from('hello, '.repeat(1000));
    const decode = async (encoding: string | undefined, bytes: Buffer): Promise<Buffer> => {
      let stream: NodeJS.ReadableStream = Readable.from([bytes.subarray(0, 1), bytes.subarray(1)]);
      for (const d of decodersFor(encoding)) stream = stream.pipe(d);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    };

    it('undoes gzip, deflate (zlib or raw, split after one byte), br and stacked codings', async () => {
      expect((await decode('gzip', gzipSync(plain))).equals(plain)).to.equal(true);
      expect((await decode('deflate', deflateSync(plain))).equals(plain)).to.equal(true);
      expect((await decode('deflate', deflateRawSync(plain))).equals(plain)).to.equal(true);
      expect((await decode('br', brotliCompressSync(plain))).equals(plain)).to.equal(true);
      expect((await decode('gzip, br', brotliCompressSync(gzipSync(plain)))).equals(plain)).to.equal(true);
      expect((await decode('identity', plain)).equals(plain)).to.equal(true);
    });

    it('passes an empty body through (HEAD, 204), where zlib alone would call it truncated', async () => {
      const decoder = bodyDecoder('gzip');
      expect(decoder).to.not.equal(undefined);
      const chunks: Buffer[] = [];
      for await (const c of Readable.from([]).pipe(decoder as NodeJS.ReadWriteStream)) chunks.push(c as Buffer);
      expect(chunks).to.deep.equal([]);
      expect(bodyDecoder('identity')).to.equal(undefined);
      expect(bodyDecoder(undefined)).to.equal(undefined);
      const stacked = bodyDecoder('gzip, br') as NodeJS.ReadWriteStream;
      const out: Buffer[] = [];
      for await (const c of Readable.from([brotliCompressSync(gzipSync(plain))]).pipe(stacked)) out.push(c as Buffer);
      expect(Buffer.concat(out).equals(plain)).to.equal(true);
    });

    it('fails a corrupt stream with curl\'s 61', async () => {
      const bad = gzipSync(plain);
      bad.fill(0x55, 10, 40);
      const decoder = bodyDecoder('gzip') as NodeJS.ReadWriteStream;
      const err = await (async () => {
        for await (const _ of Readable.from([bad]).pipe(decoder)) void _;
      })().catch((e: unknown) => e);
      expect((err as CurlError).exitCode).to.equal(EXIT.BAD_CONTENT_ENCODING);
      expect((err as CurlError).message).to.match(/^Error while processing content unencoding: /);
    });

    it('refuses an unknown coding with curl\'s 61', () => {
      expect((thrown(() => decodersFor('gzip, snappy')) as CurlError).exitCode).to.equal(EXIT.BAD_CONTENT_ENCODING);
      expect((thrown(() => bodyDecoder('snappy')) as CurlError).exitCode).to.equal(EXIT.BAD_CONTENT_ENCODING);
    });
  });
});
