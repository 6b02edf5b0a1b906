/**
 * End-to-end: curl-lite's curl flags on the tcp-tun stack over a TUN device, against a kernel
 * HTTP and HTTPS server (Node's http/https on Linux TCP, `__tests__/flags-server.mjs`) inside a
 * namespace the test creates. Where curl itself is the referee, the same command runs with the
 * real curl in the same namespace (to the server's loopback address, which only the host part
 * of the output tells apart) and the two must agree.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine, type RunResult } from '../../../testing/netns.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const ECHO_MAIN = fileURLToPath(new URL('../../echo/dist/main.js', import.meta.url));
const SERVER = fileURLToPath(new URL('./__tests__/flags-server.mjs', import.meta.url));
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';
const LITE = `http://${PEER}:8000`;
const REAL = 'http://127.0.0.1:8000';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));
const warnings = (stderr: string): string[] => stderr.match(/^(Warning: |Throwing away ).*$/gm) ?? [];

interface Dump {
  readonly method: string;
  readonly url: string;
  readonly headers: string[];
  readonly body: string;
}
/** The request as the server saw it, without what differs by design: Node's Connection header and the Host value. */
function seen(stdout: string): Dump & { pairs: string[] } {
  const d = JSON.parse(stdout) as Dump;
  const pairs: string[] = [];
  for (let i = 0; i < d.headers.length; i += 2) {
    const name = d.headers[i] as string;
    if (name === 'Connection') continue;
    pairs.push(name === 'Host' ? 'Host' : `${name}: ${d.headers[i + 1]}`);
  }
  return { ...d, pairs };
}

describe('end-to-end: curl-lite\'s curl flags ⇄ kernel HTTP/HTTPS server (and curl as referee)', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let dir: string;
  const lite = (args: string[]): Promise<RunResult> => ns.run('node', [MAIN, '--addr', ADDR, '--peer', PEER, ...args], 60_000);
  // The real curl, with curl-lite's User-Agent so the requests can be compared byte for byte.
  const curl = async (args: string[]): Promise<RunResult> => {
    const r = await ns.run('curl', ['-A', 'tcp-tun-curl-lite/0.1', ...args], 60_000);
    return { ...r, stdout: r.stdout.replaceAll('127.0.0.1', PEER), stderr: r.stderr.replaceAll('127.0.0.1', PEER) };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-flags-e2e-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=tcptun-test', '-addext', `subjectAltName=IP:${PEER},IP:127.0.0.1`],
      { stdio: 'ignore' },
    );
    writeFileSync(join(dir, 'up.txt'), 'uploaded through tcp-tun\n');
    writeFileSync(join(dir, 'format'), 'code %{http_code} from %{remote_ip}\\n');
    ns = Namespace.create('curlflags');
    const server = ns.spawn('node', [SERVER, '8000', '8443', join(dir, 'cert.pem'), join(dir, 'key.pem')]);
    await waitForLine(server, /ready/);
  });
  after(async () => {
    await ns?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('-s hides the error, -sS shows it, as curl', async () => {
    const silent = await lite(['-s', `http://${PEER}:8009/`]);
    expect([silent.code, silent.stderr]).to.deep.equal([7, '']);
    const shown = await lite(['-sS', `http://${PEER}:8009/`]);
    expect(shown.code).to.equal(7);
    expect(shown.stderr).to.match(/^curl-lite: \(7\) Failed to connect to 10\.0\.0\.1:8009: Connection refused\n$/);
    const real = await curl(['-s', 'http://127.0.0.1:8009/']);
    expect([real.code, real.stderr]).to.deep.equal([7, '']);
  });

  it('-f writes no body (and no -o file) and exits 22, as curl', async () => {
    const out = join(dir, 'f.out');
    const r = await lite(['-sf', '-o', out, `${LITE}/status/404`]);
    expect([r.code, r.stdout, r.stderr, existsSync(out)]).to.deep.equal([22, '', '', false]);
    const toStdout = await lite(['-f', `${LITE}/status/503`]);
    expect([toStdout.code, toStdout.stdout]).to.deep.equal([22, '']);
    expect(toStdout.stderr).to.contain('(22) The requested URL returned error: 503');
    const real = await curl(['-sf', `${REAL}/status/404`]);
    expect([real.code, real.stdout]).to.deep.equal([22, '']);
  });

  it('-w prints curl\'s variables as curl does, after a redirect and after a failure', async () => {
    const format = '%{http_code} %{size_download} %{url_effective} %{content_type} %{num_redirects} %{remote_ip} %{remote_port} %{size_upload} %{exitcode} %{method} %{scheme} %{response_code} %{num_headers} %{http_version}\\n';
    const args = ['-s', '-o', '/dev/null', '-L', '-d', 'abc', '-w', format];
    const r = await lite([...args, `${LITE}/redirect?to=/bytes/1000`]);
    const real = await curl([...args, `${REAL}/redirect?to=/bytes/1000`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(real.stdout);
    expect(r.stdout).to.equal(`200 1000 ${LITE}/bytes/1000 application/octet-stream 1 ${PEER} 8000 0 0 GET HTTP 200 5 1.1\n`);
    const local = await lite(['-s', '-o', '/dev/null', '-w', '%{local_ip} %{local_port} %{time_connect} %{time_total} %{speed_download}', `${LITE}/bytes/100000`]);
    expect(local.stdout).to.match(/^10\.0\.0\.2 \d+ \d+\.\d{6} \d+\.\d{6} \d+$/);
    const failed = await lite(['-s', '-w', '%{http_code} %{exitcode} %{remote_port} %{size_download}\\n', `http://${PEER}:8009/`]);
    const realFailed = await curl(['-s', '-w', '%{http_code} %{exitcode} %{remote_port} %{size_download}\\n', 'http://127.0.0.1:8009/']);
    expect([failed.code, failed.stdout]).to.deep.equal([7, '000 7 0 0\n']);
    expect(failed.stdout).to.equal(realFailed.stdout);
    const unfollowed = ['-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url} %{size_header} %{num_redirects}'];
    const r302 = await lite([...unfollowed, `${LITE}/redirect?to=/bytes/10`]);
    const real302 = await curl([...unfollowed, `${REAL}/redirect?to=/bytes/10`]);
    expect(r302.stdout).to.equal(real302.stdout).and.match(/^302 http:\/\/10\.0\.0\.1:8000\/bytes\/10 \d+ 0$/);
    const dash = await lite(['-s', '-o', '-', '-w', ' %{size_download}', `${LITE}/bytes/3`]);
    expect(dash.stdout).to.equal('\x00\x01\x02 3');
    const fromFile = await lite(['-s', '-o', '/dev/null', '-w', `@${join(dir, 'format')}`, `${LITE}/bytes/1`]);
    expect(fromFile.stdout).to.equal(`code 200 from ${PEER}\n`);
  });

  it('-T uploads a file with PUT, named after it, with the request curl sends', async () => {
    const r = await lite(['-s', '-T', join(dir, 'up.txt'), `${LITE}/dump/`]);
    const real = await curl(['-s', '-T', join(dir, 'up.txt'), `${REAL}/dump/`]);
    expect(r.code, r.stderr).to.equal(0);
    const got = seen(r.stdout);
    expect(got).to.include({ method: 'PUT', url: '/dump/up.txt', body: 'uploaded through tcp-tun\n' });
    expect(got.pairs).to.deep.equal(seen(real.stdout).pairs);
    // -v: the 100 Continue and the final response, each once, as curl shows them.
    const heads = (text: string): string[] => text.split('\n').filter((l) => /^< HTTP\//.test(l)).map((l) => l.trimEnd());
    const verbose = await lite(['-v', '-o', '/dev/null', '-T', join(dir, 'up.txt'), `${LITE}/dump/`]);
    const realVerbose = await curl(['-v', '-o', '/dev/null', '-T', join(dir, 'up.txt'), `${REAL}/dump/`]);
    expect(heads(verbose.stderr)).to.deep.equal(heads(realVerbose.stderr)).and.deep.equal(['< HTTP/1.1 100 Continue', '< HTTP/1.1 200 OK']);
    expect(verbose.stderr).to.contain('* We are completely uploaded and fine');
  });

  it('-u, -A, -e and -H send the headers curl sends, in curl\'s order', async () => {
    const args = ['-s', '-u', 'ann:s3cret', '-e', 'http://from.example/', '-H', 'X-Extra: 1', '-H', 'Accept: text/x'];
    const r = await lite([...args, '-A', 'tcp-tun-curl-lite/0.1', `${LITE}/dump`]);
    const real = await curl([...args, `${REAL}/dump`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(seen(r.stdout).pairs).to.deep.equal(seen(real.stdout).pairs);
    expect(seen(r.stdout).pairs).to.include('Authorization: Basic YW5uOnMzY3JldA==');
    const custom = await lite(['-s', '-A', 'agent/9', `${LITE}/dump`]);
    expect(seen(custom.stdout).pairs).to.include('User-Agent: agent/9');
    // -u without a password: curl's prompt, and an empty password from an empty stdin.
    const prompted = await lite(['-s', '-u', 'ann', `${LITE}/dump`]);
    const realPrompted = await curl(['-s', '-u', 'ann', `${REAL}/dump`]);
    expect(seen(prompted.stdout).pairs).to.include(`Authorization: Basic ${Buffer.from('ann:').toString('base64')}`);
    expect(seen(prompted.stdout).pairs).to.deep.equal(seen(realPrompted.stdout).pairs);
    expect(prompted.stderr).to.equal(realPrompted.stderr).and.equal("Enter host password for user 'ann':\n");
  });

  it('--json posts JSON with curl\'s headers', async () => {
    const r = await lite(['-s', '--json', '{"a":1}', `${LITE}/dump`]);
    const real = await curl(['-s', '--json', '{"a":1}', `${REAL}/dump`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(seen(r.stdout)).to.include({ method: 'POST', body: '{"a":1}' });
    expect(seen(r.stdout).pairs).to.deep.equal(seen(real.stdout).pairs);
  });

  it('--compressed decodes gzip, deflate (zlib and raw) and br; size_download counts the wire bytes, as curl', async () => {
    for (const coding of ['gzip', 'deflate', 'deflate-raw', 'br']) {
      const out = join(dir, `${coding}.out`);
      const r = await lite(['-s', '--compressed', '-o', out, '-w', '%{size_download}', `${LITE}/${coding}/200000`]);
      const real = await curl(['-s', '--compressed', '-o', '/dev/null', '-w', '%{size_download}', `${REAL}/${coding}/200000`]);
      expect(r.code, `${coding}: ${r.stderr}`).to.equal(0);
      expect(sha(readFileSync(out)), coding).to.equal(sha(pattern(200000)));
      expect(r.stdout, coding).to.equal(real.stdout);
      expect(Number(r.stdout), coding).to.be.below(200000);
    }
    const bad = await lite(['-s', '--compressed', `${LITE}/bad-gzip`]);
    const realBad = await curl(['-s', '--compressed', `${REAL}/bad-gzip`]);
    expect([bad.code, realBad.code]).to.deep.equal([61, 61]);
  });

  it('--retry retries a 503 and a timeout with curl\'s waits and warnings; --retry-connrefused a refused connection', async () => {
    const r = await lite(['--retry', '2', '--retry-delay', '1', `${LITE}/flaky?key=lite&fail=2`]);
    const real = await curl(['--no-progress-meter', '--retry', '2', '--retry-delay', '1', `${REAL}/flaky?key=curl&fail=2`]);
    expect([r.code, r.stdout]).to.deep.equal([0, 'attempt 1 failed\nattempt 2 failed\nattempt 3 ok\n']);
    expect(warnings(r.stderr)).to.deep.equal(warnings(real.stderr)).and.have.length(2);
    // With -o the file is emptied before each new attempt, with curl's note; /dev/null cannot be
    // truncated, which curl 7.88 reports as a write error (23).
    const out = join(dir, 'retry.out');
    const toFile = await lite(['--retry', '1', '--retry-delay', '1', '-o', out, `${LITE}/flaky?key=lite-file&fail=1`]);
    const realToFile = await curl(['--no-progress-meter', '--retry', '1', '--retry-delay', '1', '-o', join(dir, 'retry-curl.out'), `${REAL}/flaky?key=curl-file&fail=1`]);
    expect([toFile.code, readFileSync(out, 'utf8')]).to.deep.equal([0, 'attempt 2 ok\n']);
    expect(warnings(toFile.stderr)).to.deep.equal(warnings(realToFile.stderr)).and.include('Throwing away 17 bytes');
    const devNull = await lite(['-s', '--retry', '1', '--retry-delay', '1', '-o', '/dev/null', `${LITE}/flaky?key=lite-null&fail=1`]);
    const realDevNull = await curl(['-s', '--retry', '1', '--retry-delay', '1', '-o', '/dev/null', `${REAL}/flaky?key=curl-null&fail=1`]);
    expect([devNull.code, realDevNull.code]).to.deep.equal([23, 23]);
    const t = performance.now();
    const slow = await lite(['--retry', '1', '-m', '1', `${LITE}/slow`]);
    expect(slow.code).to.equal(28);
    expect(performance.now() - t).to.be.above(3000);
    const realSlow = await curl(['--no-progress-meter', '--retry', '1', '-m', '1', `${REAL}/slow`]);
    expect(warnings(slow.stderr)).to.deep.equal(warnings(realSlow.stderr)).and.deep.equal(['Warning: Problem : timeout. Will retry in 1 seconds. 1 retries left.']);
    const refused = await lite(['--retry', '1', '--retry-connrefused', `http://${PEER}:8009/`]);
    const realRefused = await curl(['--no-progress-meter', '--retry', '1', '--retry-connrefused', 'http://127.0.0.1:8009/']);
    expect([refused.code, realRefused.code]).to.deep.equal([7, 7]);
    expect(warnings(refused.stderr)).to.deep.equal(warnings(realRefused.stderr)).and.have.length(2);
  });

  it('https:// runs TLS over the tcp-tun socket: 60 for an untrusted certificate, 0 with -k or --cacert, 35 without TLS, as curl', async () => {
    const out = join(dir, 'tls.out');
    const insecure = await lite(['-sS', '-k', '-o', out, `https://${PEER}:8443/bytes/300000`]);
    expect(insecure.code, insecure.stderr).to.equal(0);
    expect(sha(readFileSync(out))).to.equal(sha(pattern(300000)));
    const cases: [string[], string, number][] = [
      [[], '/bytes/10', 60],
      [['--cacert', join(dir, 'cert.pem')], '/bytes/10', 0],
    ];
    for (const [flags, path, want] of cases) {
      const r = await lite(['-s', '-o', '/dev/null', ...flags, `https://${PEER}:8443${path}`]);
      const real = await curl(['-s', '-o', '/dev/null', ...flags, `https://127.0.0.1:8443${path}`]);
      expect([r.code, real.code], flags.join(' ')).to.deep.equal([want, want]);
    }
    const untrusted = await lite([`https://${PEER}:8443/`]);
    expect(untrusted.stderr).to.contain('curl-lite: (60) SSL certificate problem: self-signed certificate');
    const plain = await lite(['-sS', `https://${PEER}:8000/`]);
    const realPlain = await curl(['-sS', 'https://127.0.0.1:8000/']);
    expect([plain.code, realPlain.code]).to.deep.equal([35, 35]);
    expect(plain.stderr.replace('curl-lite:', 'curl:')).to.equal(realPlain.stderr);
  });

  it('-v prints each header once, in curl\'s order: * info, > request, < response', async () => {
    const r = await lite(['-v', '-u', 'a:b', '-o', '/dev/null', `${LITE}/bytes/10`]);
    const real = await curl(['-v', '-u', 'a:b', '-o', '/dev/null', `${REAL}/bytes/10`]);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.map((l) => l[0]).join('')).to.match(/^\*+>+<+\*$/);
    const sent = (text: string): string[] =>
      text
        .split('\n')
        .filter((l) => /^> [\w-]+: /.test(l) && !l.startsWith('> Connection:'))
        .map((l) => l.trimEnd());
    const received = (text: string): string[] => text.split('\n').filter((l) => /^< [\w-]+: /.test(l)).map((l) => l.slice(2, l.indexOf(':')));
    expect(sent(r.stderr)).to.deep.equal(sent(real.stderr));
    expect(received(r.stderr)).to.deep.equal(received(real.stderr));
    expect(lines).to.include(`* Connected to ${PEER} (${PEER}) port 8000 (#0)`);
    expect(lines).to.include("* Server auth using Basic with user 'a'");
    expect(lines[lines.length - 1]).to.equal(`* Connection #0 to host ${PEER} left intact`);
    const redirected = await lite(['-v', '-L', '-o', '/dev/null', `${LITE}/redirect?to=/bytes/10`]);
    expect(redirected.stderr).to.contain(`* Issue another request to this URL: '${LITE}/bytes/10'\n* Re-using existing connection #0 with host ${PEER}\n> GET /bytes/10 HTTP/1.1\n`);
  });

  it('--version on both CLIs', async () => {
    const r = await lite(['--version']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^tcp-tun-curl-lite \d+\.\d+\.\d+ .*OpenSSL\/.*\nProtocols: http https\nFeatures: /);
    const echo = await ns.run('node', [ECHO_MAIN, '--version'], 30_000);
    expect(echo.code).to.equal(0);
    expect(echo.stdout).to.match(/^tcp-tun-echo \d+\.\d+\.\d+ /);
  });
});
