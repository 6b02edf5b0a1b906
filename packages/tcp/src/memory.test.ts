/**
 * Heap cost of idle connections (not timed): 10,000 established TcpConnection objects, before
 * and after each moved a little data both ways, must stay below 4 KiB each. Buffers are
 * allocated lazily and released when empty, so an idle connection holds no ring or scoreboard.
 */
import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TcpConnection } from './connection.js';
import { FROM_PEER, IRS, ISS, LOCAL, REMOTE, bytes, drain } from './__tests__/trace.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const N = 10_000;
const DATA = bytes(100);

function open(i: number): TcpConnection {
  const remote = { addr: REMOTE.addr + (i >>> 14), port: 1024 + (i & 0x3fff) };
  const conn = TcpConnection.connect(0, { local: LOCAL, remote, iss: ISS + i, tsOffset: i });
  drain(conn, 0);
  conn.handleSegment(10, {
    ...FROM_PEER, srcPort: remote.port, control: 'syn', seq: IRS, ack: ISS + i + 1, window: 65535, mss: 1460,
    windowScale: 7, sackPermitted: true, timestamp: { tsVal: 1, tsEcr: 0 },
  }, new Uint8Array(0));
  drain(conn, 10);
  while (conn.pollEvent() !== undefined);
  return conn;
}

/** One request/response: we send 100 octets, the peer acknowledges them and answers 100 octets, we read them. */
function exchange(conn: TcpConnection, i: number): void {
  conn.send(DATA);
  drain(conn, 20);
  conn.handleSegment(30, {
    ...FROM_PEER, srcPort: conn.remote.port, control: 'psh', seq: IRS + 1, ack: ISS + i + 101, window: 512,
    timestamp: { tsVal: 2, tsEcr: 20 + i },
  }, DATA);
  conn.recv();
  drain(conn, 30);
  while (conn.pollEvent() !== undefined);
}

describe('memory per idle connection', function () {
  this.timeout(60_000);

  it(`${N} idle established connections stay below 4 KiB of heap each, also after exchanging data`, () => {
    const before = heapUsed();
    const conns: TcpConnection[] = [];
    for (let i = 0; i < N; i++) conns.push(open(i));
    const established = (heapUsed() - before) / N;
    conns.forEach((c, i) => exchange(c, i));
    const afterData = (heapUsed() - before) / N;
    for (const c of conns) {
      expect(c.state).to.equal('ESTABLISHED');
      expect(c.bufferedMemory).to.equal(0);
    }
    // Reported so a regression is visible in the test output.
    console.log(`      heap per idle connection: ${established.toFixed(0)} B after the handshake, ${afterData.toFixed(0)} B after a request/response`);
    expect(established).to.be.below(4096);
    expect(afterData).to.be.below(4096);
    expect(conns.length).to.equal(N);
  });
});
