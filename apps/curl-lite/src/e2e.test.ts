/**
 * End-to-end: curl-lite on the tcp-tun stack against a kernel HTTP server (Node's http on Linux
 * TCP), inside a namespace the test creates. Each curl-lite run opens the TUN, fetches, exits.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const KSERVER = fileURLToPath(new URL('../../../testing/kserver.mjs', import.meta.url));
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('end-to-end: curl-lite ⇄ kernel HTTP server', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let dir: string;
  let file: Buffer;
  const curl = (args: string[]) => ns.run('node', [MAIN, '--addr', ADDR, '--peer', PEER, ...args], 120_000);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-curl-'));
    file = randomBytes(16 * 1024 * 1024);
    writeFileSync(join(dir, 'served.bin'), file);
    ns = Namespace.create('curl');
    const server = ns.spawn('node', [KSERVER, '8000', join(dir, 'served.bin')]);
    await waitForLine(server, /ready/);
  });
  after(async () => {
    await ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads 16 MiB with -o and the right sha256', async () => {
    const out = join(dir, 'got.bin');
    const r = await curl(['-s', '-o', out, `http://${PEER}:8000/file`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(sha(readFileSync(out))).to.equal(sha(file));
  });

  it('follows a redirect with -L', async () => {
    const out = join(dir, 'redirected.bin');
    const r = await curl(['-s', '-L', '-o', out, `http://${PEER}:8000/redirect?to=/file`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(sha(readFileSync(out))).to.equal(sha(file));
  });

  it('decodes a chunked response', async () => {
    const out = join(dir, 'chunked.bin');
    const r = await curl(['-s', '-i', '-o', out, `http://${PEER}:8000/chunked/100000`]);
    expect(r.code, r.stderr).to.equal(0);
    const got = readFileSync(out);
    const split = got.indexOf('\r\n\r\n');
    expect(got.subarray(0, split).toString()).to.match(/transfer-encoding: chunked/i);
    const want = Buffer.alloc(100000);
    for (let i = 0; i < want.length; i++) want[i] = i % 251;
    expect(sha(got.subarray(split + 4))).to.equal(sha(want));
  });

  it('sends HEAD with -I', async () => {
    const r = await curl(['-s', '-I', `http://${PEER}:8000/file`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^HTTP\/1\.1 200 OK\r\n/).and.match(new RegExp(`content-length: ${file.length}`, 'i'));
  });

  it('exits 7 with a clear message when the connection is refused', async () => {
    const r = await curl([`http://${PEER}:8009/`]);
    expect(r.code).to.equal(7);
    expect(r.stderr).to.match(/Failed to connect to 10\.0\.0\.1:8009: Connection refused/);
  });

  it('exits 28 with a clear message when --max-time expires', async () => {
    const r = await curl(['--max-time', '1', `http://${PEER}:8000/slow`]);
    expect(r.code).to.equal(28);
    expect(r.stderr).to.match(/timed out after 1000 milliseconds/);
  });
});
