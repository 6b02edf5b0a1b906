import { expect } from 'chai';
import { once } from 'node:events';
import type { TcpConfig } from '@tcp-tun/tcp';
import { createLinkPair } from './link-pair.js';
import { withFaults } from './fault.js';
import type { Link } from './link.js';
import type { Socket } from './socket.js';
import { Stack } from './stack.js';
import type { TcpInfo } from './tcp-info.js';
import { ADDR_A, ADDR_B, seededBytes } from './__tests__/harness.js';

const MIB = 1024 * 1024;

interface Transfer {
  client: TcpInfo;
  server: TcpInfo;
  elapsedMs: number;
  rows: ReturnType<Stack['connections']>;
}

/**
 * Sends 1 MiB from A to B over a link pair (1 ms each way); B answers "ok" once it has read
 * everything and A's FIN. The infos are taken when A sees the answer (its data and FIN
 * acknowledged by then, and TIME-WAIT: the FIN rides with the answer) and when B has read
 * the last octet (with B's `connections()`).
 */
async function transfer(linkA: Link, linkB: Link, tcp: Partial<TcpConfig>, seed: number): Promise<Transfer> {
  const a = new Stack({ link: linkA, address: ADDR_A, tcp });
  const b = new Stack({ link: linkB, address: ADDR_B, tcp });
  try {
    let server: TcpInfo | undefined;
    let rows: ReturnType<Stack['connections']> = [];
    const srv = b.net.createServer((s: Socket) => {
      let n = 0;
      s.on('data', (chunk: Buffer) => {
        n += chunk.length;
        if (n === MIB) {
          server = s.getTcpInfo();
          rows = b.connections();
        }
      });
      s.on('end', () => s.end('ok'));
    });
    srv.listen(9);
    await once(srv, 'listening');
    const started = performance.now();
    const socket = a.net.connect(9, ADDR_B);
    socket.end(seededBytes(MIB, seed));
    // Read synchronously in the 'data' listener: the peer's FIN rides with "ok", and the
    // socket is destroyed soon after 'end'.
    let client: TcpInfo | undefined;
    let elapsedMs = 0;
    socket.once('data', (chunk: Buffer) => {
      elapsedMs = performance.now() - started;
      expect(chunk.toString()).to.equal('ok');
      client = socket.getTcpInfo();
    });
    await once(socket, 'close');
    expect(socket.getTcpInfo(), 'after close').to.equal(undefined);
    expect(client, 'client').to.not.equal(undefined);
    expect(server, 'server').to.not.equal(undefined);
    if (client === undefined || server === undefined) throw new Error('no TcpInfo');
    return { client, server, elapsedMs, rows };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

describe('TcpInfo (socket.getTcpInfo, stack.connections)', function () {
  this.timeout(60_000);

  it('is undefined on a socket without a connection', async () => {
    const [la] = createLinkPair();
    const a = new Stack({ link: la, address: ADDR_A });
    try {
      const s = new a.net.Socket();
      expect(s.getTcpInfo()).to.equal(undefined);
    } finally {
      await a.close();
    }
  });

  it('matches a clean 1 MiB transfer: bytes, options, RTT, no retransmission, busy time', async () => {
    const [la, lb] = createLinkPair({ delayMs: 1 });
    const { client: c, server: s, elapsedMs, rows } = await transfer(la, lb, {}, 1);

    expect(c.state).to.equal('TIME-WAIT');
    // bytesAcked counts application octets only: SYN and FIN are not data (as Linux's tcpi_bytes_acked).
    expect(c.bytesAcked).to.equal(MIB);
    expect(c.bytesSent - c.bytesRetransmitted).to.equal(MIB);
    expect(c.bytesReceived).to.equal(2);
    expect(s.bytesReceived).to.equal(MIB);
    expect(s.bytesAcked).to.equal(0);
    expect(c.bytesInFlight).to.equal(0);
    expect(c.pipe).to.equal(0);
    expect(c.sackedBytes).to.equal(0);
    expect(c.lostBytes).to.equal(0);

    for (const info of [c, s]) {
      expect(info.windowScalingEnabled).to.equal(true);
      expect(info.sackEnabled).to.equal(true);
      expect(info.timestampsEnabled).to.equal(true);
      expect(info.ecnEnabled).to.equal(true);
      expect(info.sendWindowScale).to.be.at.least(0);
      expect(info.recvWindowScale).to.be.at.least(0);
      // 1500-octet MTU: 1460 less 12 octets of timestamps (RFC 6691 §2).
      expect(info.sendMss).to.equal(1448);
      expect(info.recvMss).to.equal(1460);
      expect(info.sendWindow).to.be.above(0);
    }
    expect(s.recvWindow).to.be.above(0);

    expect(c.rttSamples).to.be.above(0);
    expect(c.srttMs).to.be.above(0);
    expect(c.minRttMs).to.be.above(0);
    // Two sources, so no strict order: minRtt is RACK's, timed per segment on the stack's clock;
    // SRTT is fed by timestamp samples (RFC 7323), whose 1 ms TSval clock can make a sample up to
    // 1 ms short. (This failed once by 0.005 ms.)
    expect(c.minRttMs).to.be.at.most(c.srttMs + 1);
    expect(c.rtoMs).to.be.at.least(200);
    expect(c.cwnd).to.be.above(c.sendMss);
    expect(c.deliveryRateBps).to.be.above(0);

    // No loss: nothing resent (a spurious tail loss probe would show here too).
    expect(c.retransmits).to.equal(0);
    expect(c.bytesRetransmitted).to.equal(0);
    expect(c.rtoCount).to.equal(0);
    expect(c.lostSegments).to.equal(0);
    expect(c.segmentsOut).to.be.at.least(Math.ceil(MIB / c.sendMss));
    expect(s.segmentsIn).to.be.at.least(Math.ceil(MIB / c.sendMss));

    // The sender was busy for part of the transfer, never longer than it took, and the
    // three limits add up to the busy time.
    expect(c.busyTimeMs).to.be.above(0);
    expect(c.busyTimeMs).to.be.at.most(elapsedMs + 1);
    expect(c.appLimitedMs + c.rwndLimitedMs + c.cwndLimitedMs).to.be.closeTo(c.busyTimeMs, 1e-6);
    // A bulk sender waits for cwnd (or for the application to refill the buffer).
    expect(c.cwndLimitedMs + c.appLimitedMs).to.be.above(0);
    expect(s.busyTimeMs).to.be.at.most(elapsedMs + 1);

    // stack.connections() rows carry the same TcpInfo, with addresses.
    expect(rows).to.have.length(1);
    const row = rows[0];
    expect(row).to.include({ localAddress: ADDR_B, localPort: 9, remoteAddress: ADDR_A, bytesReceived: MIB, sackEnabled: true, retransmits: 0 });
    expect(row?.rttMs).to.equal(row?.srttMs);
  });

  it('counts retransmissions and lost bytes of a lossy transfer', async () => {
    const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`      seed ${seed} (SEED=${seed} to replay)`);
    const [la, lb] = createLinkPair({ delayMs: 1 });
    const faulty = withFaults(la, { seed, outbound: { drop: 0.03 } });
    const { client: c, server: s } = await transfer(faulty, lb, { rtoMinMs: 20, rtoInitialMs: 200 }, seed);
    const dropped = faulty.counters.outbound.dropped;
    expect(dropped, `seed ${seed}`).to.be.above(0);
    expect(c.bytesAcked, `seed ${seed}`).to.equal(MIB);
    expect(s.bytesReceived, `seed ${seed}`).to.equal(MIB);
    expect(c.retransmits, `seed ${seed}`).to.be.above(0);
    expect(c.bytesRetransmitted, `seed ${seed}`).to.be.above(0);
    expect(c.bytesSent - c.bytesRetransmitted, `seed ${seed}`).to.equal(MIB);
    expect(c.lostSegments, `seed ${seed}`).to.be.above(0);
    expect(c.ssthresh, `seed ${seed}`).to.be.below(0x7fffffff);
    // The peer saw holes: it received out-of-order segments.
    expect(s.outOfOrderSegments, `seed ${seed}`).to.be.above(0);
  });
});
