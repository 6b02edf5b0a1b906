/**
 * End-to-end: `--pcap` and `--trace` of a curl-lite interrupted by SIGINT keep what happened
 * before the signal (issue 12): the writers are flushed by the signal, not only on a clean exit
 * or by their one-second timer. The kernel serves /slow (headers and 5 bytes, then nothing), so
 * the transfer is still running when the signal comes.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTrace } from '@tcp-tun/net';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const KSERVER = fileURLToPath(new URL('../../../testing/kserver.mjs', import.meta.url));
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';

/** The TCP payloads of a LINKTYPE_RAW pcap (little-endian, as PcapWriter writes it). */
function tcpPayloads(pcap: Buffer): { count: number; payloads: Buffer[]; syns: number } {
  expect(pcap.length, 'the pcap holds its header and records').to.be.greaterThan(24);
  expect(pcap.readUInt32LE(0)).to.equal(0xa1b2c3d4);
  const payloads: Buffer[] = [];
  let count = 0;
  let syns = 0;
  for (let off = 24; off + 16 <= pcap.length; ) {
    const incl = pcap.readUInt32LE(off + 8);
    const p = pcap.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    expect(p.length, 'a whole record').to.equal(incl);
    count++;
    if (p[9] !== 6) continue;
    const ihl = (p[0]! & 0x0f) * 4;
    const doff = (p[ihl + 12]! >> 4) * 4;
    if (p[ihl + 13]! & 0x02) syns++;
    payloads.push(p.subarray(ihl + doff, p.readUInt16BE(2)));
  }
  return { count, payloads, syns };
}

describe('end-to-end: curl-lite --pcap/--trace survive SIGINT', function () {
  this.timeout(120_000);
  if (!requireNetns(this)) return;

  let ns: Namespace;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-capture-'));
    writeFileSync(join(dir, 'served.bin'), 'unused');
    ns = Namespace.create('capture');
    const server = ns.spawn('node', [KSERVER, '8000', join(dir, 'served.bin')]);
    await waitForLine(server, /ready/);
  });
  after(async () => {
    await ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the handshake, the request and the response received before the signal', async () => {
    const pcap = join(dir, 'slow.pcap');
    const trace = join(dir, 'slow.trace');
    const child = ns.spawn('node', [MAIN, '--addr', ADDR, '--peer', PEER, '-v', '--pcap', pcap, '--trace', trace, `http://${PEER}:8000/slow`]);
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response headers within 20 s: ${stderr}`)), 20_000);
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (/^< HTTP\/1\.1 200/m.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // At once: the writers' one-second timer has most likely not run since the response came.
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    child.kill('SIGINT');
    const [code, signal] = await exited;
    // As curl: the signal still ends the program (no clean exit pretending success).
    expect(signal ?? code, stderr).to.be.oneOf(['SIGINT', 130]);

    const { count, payloads, syns } = tcpPayloads(readFileSync(pcap));
    expect(syns, 'SYN and SYN-ACK').to.be.at.least(2);
    const all = Buffer.concat(payloads).toString('latin1');
    expect(all).to.include('GET /slow HTTP/1.1');
    expect(all).to.include('12345');
    expect(count).to.be.at.least(5);
    expect(statSync(pcap).mode & 0o777).to.equal(0o600);

    const records = parseTrace(readFileSync(trace, 'utf8'));
    expect(records[0]?.type).to.equal('trace');
    expect(records.filter((r) => r.type === 'conn')).to.have.length(1);
    const segs = records.filter((r) => r.type === 'seg');
    expect(segs.some((s) => s.type === 'seg' && s.dir === 'in' && s.len >= 5)).to.equal(true);
    expect(segs.filter((s) => s.type === 'seg' && s.flags.includes('S'))).to.have.length.at.least(2);
    expect(statSync(trace).mode & 0o777).to.equal(0o600);
  });
});
