/**
 * curl-lite's liveness flags (issue 10): `--keepalive-time` (on by default at 60 s, as curl),
 * `--no-keepalive` and `--connect-timeout`, parsed, and their behaviour over two in-memory
 * tcp-tun stacks whose link can be cut (a server that vanishes without a word).
 */
import { expect } from 'chai';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import { createLinkPair, Stack } from '@tcp-tun/net';
import { CuttableLink, usageExitCodes } from '../../../testing/cli-tests.js';
import { CurlError, EXIT } from './errors.js';
import { parseCurlOptions } from './options.js';
import { DEFAULT_KEEPALIVE_MS, transfer, type ConnectOptions, type TransferOptions } from './transfer.js';

const SERVER = '10.9.2.2';
const CLIENT = '10.9.2.1';
const argv = (...args: string[]): string[] => ['node', 'curl-lite', ...args, `http://${SERVER}/`];

const base: TransferOptions = {
  url: `http://${SERVER}/`,
  headers: [],
  include: false,
  head: false,
  followRedirects: false,
  maxRedirects: 20,
  failOnError: false,
  verbose: false,
};

async function failure(promise: Promise<unknown>): Promise<CurlError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(CurlError);
    return err as CurlError;
  }
  throw new Error('the transfer succeeded');
}

describe('curl-lite liveness flags', function () {
  this.timeout(20_000);

  describe('parsing', () => {
    it('keepalive is on by default at 60 s, as curl', () => {
      const o = parseCurlOptions(argv());
      expect(DEFAULT_KEEPALIVE_MS).to.equal(60_000);
      expect(o).to.include({ keepAliveMs: 60_000, connectTimeoutMs: undefined });
    });

    it('reads --keepalive-time, --no-keepalive and --connect-timeout', () => {
      expect(parseCurlOptions(argv('--keepalive-time', '2')).keepAliveMs).to.equal(2000);
      expect(parseCurlOptions(argv('--no-keepalive')).keepAliveMs).to.equal(undefined);
      expect(parseCurlOptions(argv('--connect-timeout', '1.5')).connectTimeoutMs).to.equal(1500);
    });

    it('rejects bad values with exit 2, as curl', () => {
      const exits = usageExitCodes(
        [['--keepalive-time', '0'], ['--keepalive-time', '1.5'], ['--keepalive-time', 'x'], ['--connect-timeout', '0'], ['--connect-timeout', '-1']],
        (bad) => parseCurlOptions(argv(...bad)),
      );
      expect(exits).to.deep.equal([2, 2, 2, 2, 2]);
    });
  });

  describe('behaviour over two in-memory stacks', () => {
    let server: Stack;
    let client: Stack;
    let cut: () => void;
    let requests: number;

    /** An http server on the server stack: /slow sends headers and 5 of 100 bytes, then nothing. */
    function pair(clientKeepAliveMs?: number): void {
      const [a, b] = createLinkPair();
      const ca = new CuttableLink(a);
      const cb = new CuttableLink(b);
      server = new Stack({ link: ca, address: SERVER });
      client = new Stack({
        link: cb,
        address: CLIENT,
        // As main.ts: idle time and interval alike; 3 probes keep the test short.
        ...(clientKeepAliveMs === undefined ? {} : { tcp: { keepAliveIdleMs: clientKeepAliveMs, keepAliveIntervalMs: clientKeepAliveMs, keepAliveProbes: 3 } }),
      });
      cut = () => {
        ca.cut = true;
        cb.cut = true;
      };
      requests = 0;
      const web = http.createServer((_req, res) => {
        requests++;
        res.writeHead(200, { 'content-length': 100 });
        res.write('12345');
      });
      server.net.createServer((socket) => web.emit('connection', socket)).listen(80);
    }

    /** Waits until the server's http handler has counted a request; fails after `ms` rather than hanging. */
    async function serverSawRequest(ms = 5000): Promise<void> {
      const deadline = performance.now() + ms;
      while (requests === 0) {
        if (performance.now() > deadline) throw new Error(`the server saw no request within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    afterEach(async () => {
      await client?.close();
      await server?.close();
    });

    it('asks the connector for keepalive with --keepalive-time, and for none with --no-keepalive', async () => {
      const seen: ConnectOptions[] = [];
      const recording = (o: ConnectOptions): PassThrough => {
        seen.push(o);
        const s = new PassThrough();
        setImmediate(() => s.destroy(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })));
        return s;
      };
      await failure(transfer(recording, { ...base, keepAliveMs: 2000 }, { body: new PassThrough(), log: new PassThrough() }));
      await failure(transfer(recording, { ...base }, { body: new PassThrough(), log: new PassThrough() }));
      expect(seen[0]).to.include({ keepAlive: true, keepAliveInitialDelay: 2000 });
      expect(seen[1]).not.to.have.property('keepAlive');
    });

    it('--keepalive-time: a download whose server vanishes silently fails once keepalive gives up', async () => {
      pair(200);
      const started = performance.now();
      const pending = transfer((o, cb) => client.net.createConnection(o, cb), { ...base, url: `http://${SERVER}/slow`, keepAliveMs: 200 }, { body: new PassThrough(), log: new PassThrough() });
      await serverSawRequest();
      cut();
      const error = await failure(pending);
      const took = performance.now() - started;
      expect(error.exitCode, error.message).to.not.equal(0);
      expect(error.exitCode).to.equal(EXIT.RECV_ERROR);
      // 200 ms idle + 3 probes 200 ms apart, plus scheduling.
      expect(took).to.be.below(5000);
    });

    it('--no-keepalive: the same download just waits (ended here by --max-time)', async () => {
      pair();
      const pending = transfer((o, cb) => client.net.createConnection(o, cb), { ...base, url: `http://${SERVER}/slow`, maxTimeMs: 1500 }, { body: new PassThrough(), log: new PassThrough() });
      await serverSawRequest();
      cut();
      const error = await failure(pending);
      expect(error.exitCode, 'only the max time ended it').to.equal(EXIT.OPERATION_TIMEDOUT);
      expect(error.message).to.contain('Operation timed out');
    });

    it('--connect-timeout: a connect that gets no answer ends with 28 and curl\'s message', async () => {
      pair();
      cut();
      const started = performance.now();
      const error = await failure(transfer((o, cb) => client.net.createConnection(o, cb), { ...base, connectTimeoutMs: 300 }, { body: new PassThrough(), log: new PassThrough() }));
      const took = performance.now() - started;
      expect(error.exitCode).to.equal(EXIT.OPERATION_TIMEDOUT);
      expect(error.message).to.match(/^Failed to connect to 10\.9\.2\.2 port 80 after \d+ ms: Timeout was reached$/);
      expect(took).to.be.within(250, 2000);
    });

    it('--connect-timeout does not limit the transfer after the connect', async () => {
      pair();
      let body = '';
      const out = new PassThrough();
      out.on('data', (d: Buffer) => (body += d.toString()));
      const pending = transfer((o, cb) => client.net.createConnection(o, cb), { ...base, url: `http://${SERVER}/slow`, connectTimeoutMs: 200, maxTimeMs: 800 }, { body: out, log: new PassThrough() });
      const error = await failure(pending);
      expect(error.exitCode, 'ended by --max-time, not by --connect-timeout').to.equal(EXIT.OPERATION_TIMEDOUT);
      expect(error.message).to.contain('Operation timed out after 800');
      expect(body).to.equal('12345');
    });
  });
});
