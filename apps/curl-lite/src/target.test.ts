import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { CurlError, EXIT } from './errors.js';
import { parseCurlOptions } from './options.js';
import { parseTarget, resolveHost } from './target.js';
import { transfer, type Connector, type TransferOptions } from './transfer.js';
import { usageExitCodes } from '../../../testing/cli-tests.js';

const parse = (...args: string[]) => parseCurlOptions(['node', 'curl-lite', ...args]);

/** The curl exit code `f` throws with, or undefined when it does not throw. */
function exitOf(f: () => unknown): number | undefined {
  try {
    f();
  } catch (err) {
    expect(err).to.be.instanceOf(CurlError);
    return (err as CurlError).exitCode;
  }
  return undefined;
}

describe('curl-lite hosts and families', () => {
  describe('parseTarget', () => {
    it('takes IPv4, bracketed IPv6 literals and localhost', () => {
      expect(parseTarget('http://10.0.0.1:8080/a').hostname).to.equal('10.0.0.1');
      const v6 = parseTarget('http://[FD00:0::1]:8080/x?y');
      expect(v6.hostname).to.equal('[fd00::1]');
      expect(v6.port).to.equal('8080');
      expect(v6.host, 'the Host header').to.equal('[fd00::1]:8080');
      expect(parseTarget('[fd00::1]/').hostname, 'no scheme: http').to.equal('[fd00::1]');
      expect(parseTarget('http://LocalHost/').hostname).to.equal('localhost');
      expect(parseTarget('https://[::1]/').port).to.equal('');
    });

    it('refuses zone ids with exit 3 and says why', () => {
      for (const url of ['http://[fe80::1%25eth0]:8080/', 'http://[fe80::1%eth0]/', 'http://user@[fe80::1%25tun0]/']) {
        let error: unknown;
        try {
          parseTarget(url);
        } catch (e) {
          error = e;
        }
        expect(error, url).to.be.instanceOf(CurlError);
        expect((error as CurlError).exitCode).to.equal(EXIT.URL_MALFORMAT);
        expect((error as CurlError).message).to.contain('zone ids are not supported');
      }
    });

    it('malformed brackets are exit 3 as in curl; names other than localhost exit 6', () => {
      expect(exitOf(() => parseTarget('http://[fd00::1/'))).to.equal(EXIT.URL_MALFORMAT);
      expect(exitOf(() => parseTarget('http://[zz::1]:1/'))).to.equal(EXIT.URL_MALFORMAT);
      expect(exitOf(() => parseTarget('http://[fd00::1]x/'))).to.equal(EXIT.URL_MALFORMAT);
      expect(exitOf(() => parseTarget('http://example.com/'))).to.equal(EXIT.COULDNT_RESOLVE_HOST);
    });
  });

  describe('resolveHost', () => {
    const url = (u: string): URL => parseTarget(u);

    it('literals keep their family; localhost goes by -4/-6, else by the stack', () => {
      expect(resolveHost(url('http://10.0.0.1/'), undefined)).to.deep.equal({ address: '10.0.0.1', family: 4 });
      expect(resolveHost(url('http://[fd00::1]/'), undefined)).to.deep.equal({ address: 'fd00::1', family: 6 });
      expect(resolveHost(url('http://[fd00::1]/'), 6)).to.deep.equal({ address: 'fd00::1', family: 6 });
      expect(resolveHost(url('http://localhost/'), 4)).to.deep.equal({ address: '127.0.0.1', family: 4 });
      expect(resolveHost(url('http://localhost/'), 6)).to.deep.equal({ address: '::1', family: 6 });
      expect(resolveHost(url('http://localhost/'), undefined)).to.deep.equal({ address: '127.0.0.1', family: 4 });
      expect(resolveHost(url('http://localhost/'), undefined, [4, 6]).family).to.equal(4);
      expect(resolveHost(url('http://localhost/'), undefined, [6])).to.deep.equal({ address: '::1', family: 6 });
    });

    it('-4 with an IPv6 literal and -6 with an IPv4 literal are curl\'s exit 7', () => {
      expect(exitOf(() => resolveHost(url('http://[fd00::1]/'), 4))).to.equal(EXIT.COULDNT_CONNECT);
      expect(exitOf(() => resolveHost(url('http://10.0.0.1/'), 6))).to.equal(EXIT.COULDNT_CONNECT);
      expect(exitOf(() => resolveHost(url('http://[::ffff:127.0.0.1]/'), 4))).to.equal(EXIT.COULDNT_CONNECT);
    });

    it('a family the stack has no address of is exit 7 naming the flags', () => {
      let error: unknown;
      try {
        resolveHost(url('http://[fd00::1]/'), undefined, [4]);
      } catch (e) {
        error = e;
      }
      expect((error as CurlError).exitCode).to.equal(EXIT.COULDNT_CONNECT);
      expect((error as CurlError).message).to.contain('Network is unreachable').and.to.contain('--addr6 and --peer6');
      expect(exitOf(() => resolveHost(url('http://10.0.0.1/'), undefined, [6]))).to.equal(EXIT.COULDNT_CONNECT);
      expect(exitOf(() => resolveHost(url('http://localhost/'), 6, [4]))).to.equal(EXIT.COULDNT_CONNECT);
    });
  });

  describe('flags', () => {
    it('-4/-6 (--ipv4/--ipv6): the last one wins, as in curl', () => {
      expect(parse('http://10.0.0.1/').family).to.equal(undefined);
      expect(parse('-4', 'http://10.0.0.1/').family).to.equal(4);
      expect(parse('--ipv6', 'http://[fd00::1]/').family).to.equal(6);
      expect(parse('-4', '-6', 'http://[fd00::1]/').family).to.equal(6);
      expect(parse('-6', '-4', 'http://[fd00::1]/').family).to.equal(4);
      expect(parse('-s4', 'http://10.0.0.1/')).to.include({ silent: true, family: 4 });
    });

    it('the stack families follow the address flags', () => {
      expect(parse('http://10.0.0.1/').stackFamilies).to.deep.equal([4]);
      expect(parse('--addr6', 'fd00::2', '--peer6', 'fd00::1', 'http://[fd00::1]/')).to.deep.include({ stackFamilies: [6], addr: undefined, addr6: 'fd00::2' });
      expect(parse('--addr', '10.0.0.2', '--addr6', 'fd00::2', '--peer6', 'fd00::1', 'http://[fd00::1]/').stackFamilies).to.deep.equal([4, 6]);
    });

    it('bad IPv6 flags are usage errors with curl\'s exit 2', () => {
      const exits = usageExitCodes([
        ['--addr6', 'fd00::2', 'http://[fd00::1]/'],
        ['--addr6', 'fd00::2', '--peer6', 'fd00::2', 'http://[fd00::1]/'],
        ['--addr6', 'fd00::2%tun0', '--peer6', 'fd00::1', 'http://[fd00::1]/'],
      ], (bad) => parseCurlOptions(['node', 'curl-lite', ...bad]));
      expect(exits).to.deep.equal([EXIT.FAILED_INIT, EXIT.FAILED_INIT, EXIT.FAILED_INIT]);
    });
  });

  describe('transfer over Node\'s loopback ::1 (no device)', () => {
    let server: http.Server;
    let port = 0;
    const hosts: string[] = [];
    // Records where each connection went, then lets Node's own TCP carry it.
    const recording: Connector = (o, cb) => {
      hosts.push(o.host);
      return net.createConnection({ host: o.host, port: o.port }, cb);
    };
    const base: TransferOptions = {
      url: '', headers: [], include: false, head: false, followRedirects: false, maxRedirects: 20, failOnError: false, verbose: false,
    };
    const run = async (options: Partial<TransferOptions>): Promise<{ status: number; body: string }> => {
      const body = new PassThrough();
      const chunks: Buffer[] = [];
      body.on('data', (c: Buffer) => chunks.push(c));
      const result = await transfer(recording, { ...base, ...options }, { body, log: new PassThrough() });
      return { status: result.statusCode, body: Buffer.concat(chunks).toString() };
    };

    before(async () => {
      server = http.createServer((req, res) => res.end(`host=${req.headers.host}`));
      await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
      port = (server.address() as net.AddressInfo).port;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('fetches http://[::1]:PORT/ with the bracketed Host header', async () => {
      hosts.length = 0;
      const r = await run({ url: `http://[::1]:${port}/`, family: 6 });
      expect(r).to.deep.equal({ status: 200, body: `host=[::1]:${port}` });
      expect(hosts).to.deep.equal(['::1']);
    });

    it('-6 localhost connects to ::1 and says Host: localhost; -4 localhost goes to 127.0.0.1', async () => {
      hosts.length = 0;
      expect(await run({ url: `http://localhost:${port}/`, family: 6 })).to.deep.equal({ status: 200, body: `host=localhost:${port}` });
      expect(hosts).to.deep.equal(['::1']);
      let error: unknown;
      try {
        await run({ url: `http://localhost:${port}/`, family: 4 });
      } catch (e) {
        error = e;
      }
      expect(hosts[1]).to.equal('127.0.0.1');
      expect((error as CurlError).exitCode, 'nothing listens on 127.0.0.1').to.equal(EXIT.COULDNT_CONNECT);
    });

    it('-4 with an IPv6 literal fails with exit 7 before connecting', async () => {
      hosts.length = 0;
      let error: unknown;
      try {
        await run({ url: `http://[::1]:${port}/`, family: 4 });
      } catch (e) {
        error = e;
      }
      expect((error as CurlError).exitCode).to.equal(EXIT.COULDNT_CONNECT);
      expect((error as CurlError).message).to.equal("Couldn't connect to server");
      expect(hosts).to.deep.equal([]);
    });
  });
});
