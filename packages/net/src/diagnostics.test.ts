import { expect } from 'chai';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createLinkPair } from './link-pair.js';
import type { Link, LinkReceiver } from './link.js';
import { Stack } from './stack.js';
import {
  CHANNEL_CONNECTION_CLOSE,
  CHANNEL_CONNECTION_OPEN,
  CHANNEL_CONNECTION_RETRANSMIT,
  CHANNEL_CONNECTION_RTO,
  CHANNEL_CONNECTION_STATE,
  CHANNEL_DROP,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type ConnectionRetransmitMessage,
  type ConnectionRtoMessage,
  type ConnectionStateMessage,
  type DropMessage,
} from './diagnostics.js';
import { ADDR_A, ADDR_B, readAll } from './__tests__/harness.js';

/** Wraps `inner`: the first packet sent is lost if `dropFirst`; `inject` hands a packet to the stack as if received. */
function lossyOnce(inner: Link, dropFirst: boolean): Link & { inject(p: Uint8Array): void } {
  let first = dropFirst;
  let receiver: LinkReceiver | undefined;
  return {
    mtu: inner.mtu,
    start(r: LinkReceiver) {
      receiver = r;
      inner.start(r);
    },
    send(p: Uint8Array) {
      if (first) {
        first = false;
        return;
      }
      inner.send(p);
    },
    close: () => inner.close(),
    inject(p: Uint8Array) {
      receiver?.([p]);
    },
  };
}

const NAMES = [CHANNEL_CONNECTION_OPEN, CHANNEL_CONNECTION_STATE, CHANNEL_CONNECTION_RETRANSMIT, CHANNEL_CONNECTION_RTO, CHANNEL_CONNECTION_CLOSE, CHANNEL_DROP];

describe('diagnostics_channel instrumentation', () => {
  it('names its channels tcp-tun:*', () => {
    expect(NAMES).to.deep.equal([
      'tcp-tun:connection:open',
      'tcp-tun:connection:state',
      'tcp-tun:connection:retransmit',
      'tcp-tun:connection:rto',
      'tcp-tun:connection:close',
      'tcp-tun:drop',
    ]);
  });

  it('publishes open, state, rto, retransmit, drop and close of a small two-stack run', async () => {
    const events: { name: string; m: unknown }[] = [];
    const handlers = NAMES.map((name) => {
      const fn = (m: unknown): void => {
        events.push({ name, m });
      };
      diagnosticsChannel.subscribe(name, fn);
      return { name, fn };
    });
    const [la, lb] = createLinkPair({ delayMs: 1 });
    // A's SYN is lost: its retransmission timer (rtoInitialMs) fires once and the SYN goes again.
    const linkA = lossyOnce(la, true);
    const linkB = lossyOnce(lb, false);
    const tcp = { rtoMinMs: 20, rtoInitialMs: 50 };
    const a = new Stack({ link: linkA, address: ADDR_A, tcp });
    const b = new Stack({ link: linkB, address: ADDR_B, tcp });
    try {
      const server = b.net.createServer((s) => {
        s.on('data', (d: Buffer) => s.write(d));
        s.on('end', () => s.end());
      });
      server.listen(7);
      await once(server, 'listening');
      const client = a.net.connect(7, ADDR_B);
      const reply = readAll(client);
      client.end('hello');
      expect((await reply).toString()).to.equal('hello');
      // One drop: a truncated packet arrives at B.
      linkB.inject(Uint8Array.of(0x45, 0, 0));
      await once(client, 'close');
      // Wait for B's side to leave its table (LAST-ACK → CLOSED).
      for (let i = 0; i < 200 && b.connections().length > 0; i++) await new Promise((r) => setTimeout(r, 5));
    } finally {
      await Promise.all([a.close(), b.close()]);
      for (const h of handlers) diagnosticsChannel.unsubscribe(h.name, h.fn);
    }

    const of = <T>(name: string, stack: Stack): T[] => events.filter((e) => e.name === name && (e.m as { stack: object }).stack === stack).map((e) => e.m as T);

    const openA = of<ConnectionOpenMessage>(CHANNEL_CONNECTION_OPEN, a);
    expect(openA).to.have.length(1);
    expect(openA[0]).to.include({ localAddress: ADDR_A, remoteAddress: ADDR_B, remotePort: 7, state: 'SYN-SENT', passive: false });
    const openB = of<ConnectionOpenMessage>(CHANNEL_CONNECTION_OPEN, b);
    expect(openB).to.have.length(1);
    expect(openB[0]).to.include({ localAddress: ADDR_B, localPort: 7, remoteAddress: ADDR_A, state: 'SYN-RECEIVED', passive: true });

    // The lost SYN: one RTO, then the SYN again (one retransmission, no payload).
    const rto = of<ConnectionRtoMessage>(CHANNEL_CONNECTION_RTO, a);
    expect(rto).to.have.length(1);
    expect(rto[0]).to.include({ rtoCount: 1, localPort: openA[0]?.localPort });
    expect(rto[0]?.rtoMs).to.be.at.least(100); // backed off from 50 ms (RFC 6298 §5.5)
    const rtx = of<ConnectionRetransmitMessage>(CHANNEL_CONNECTION_RETRANSMIT, a);
    expect(rtx).to.have.length(1);
    expect(rtx[0]).to.include({ length: 0, retransmits: 1 });
    expect(of(CHANNEL_CONNECTION_RTO, b)).to.have.length(0);
    expect(of(CHANNEL_CONNECTION_RETRANSMIT, b)).to.have.length(0);

    // State changes of both sides, in order: A closes first and ends in TIME-WAIT.
    const statesA = of<ConnectionStateMessage>(CHANNEL_CONNECTION_STATE, a).map((m) => `${m.from}>${m.to}`);
    // TIME-WAIT>CLOSED: the engine's connection closes when a compact TIME-WAIT record takes over.
    expect(statesA).to.deep.equal(['SYN-SENT>ESTABLISHED', 'ESTABLISHED>FIN-WAIT-1', 'FIN-WAIT-1>FIN-WAIT-2', 'FIN-WAIT-2>TIME-WAIT', 'TIME-WAIT>CLOSED']);
    const statesB = of<ConnectionStateMessage>(CHANNEL_CONNECTION_STATE, b).map((m) => `${m.from}>${m.to}`);
    expect(statesB).to.deep.equal(['SYN-RECEIVED>ESTABLISHED', 'ESTABLISHED>CLOSE-WAIT', 'CLOSE-WAIT>LAST-ACK', 'LAST-ACK>CLOSED']);

    // The drop, with the reason the stack counted it under.
    const drops = of<DropMessage>(CHANNEL_DROP, b);
    expect(drops).to.have.length(1);
    expect(drops[0]?.reason).to.match(/^ipv4-/);
    expect(of(CHANNEL_DROP, a)).to.have.length(0);

    // Close: each side once, with its final TcpInfo.
    const closeA = of<ConnectionCloseMessage>(CHANNEL_CONNECTION_CLOSE, a);
    expect(closeA).to.have.length(1);
    expect(closeA[0]).to.include({ state: 'CLOSED', timeWait: true });
    expect(closeA[0]?.info).to.include({ bytesAcked: 5, bytesReceived: 5, retransmits: 1, rtoCount: 1 });
    const closeB = of<ConnectionCloseMessage>(CHANNEL_CONNECTION_CLOSE, b);
    expect(closeB).to.have.length(1);
    expect(closeB[0]).to.include({ state: 'CLOSED', timeWait: false });
    expect(closeB[0]?.info).to.include({ bytesAcked: 5, bytesReceived: 5, retransmits: 0 });
  });

  it('publishes nothing when nobody subscribes', async () => {
    for (const name of NAMES) expect(diagnosticsChannel.hasSubscribers(name), name).to.equal(false);
    // The stack's channel objects are these (channel() returns one object per name).
    let published = 0;
    const channels = NAMES.map((name) => diagnosticsChannel.channel(name));
    const originals = channels.map((ch) => ch.publish);
    for (const ch of channels) {
      ch.publish = () => {
        published++;
      };
    }
    const [la, lb] = createLinkPair();
    const a = new Stack({ link: la, address: ADDR_A });
    const b = new Stack({ link: lb, address: ADDR_B });
    try {
      const server = b.net.createServer((s) => s.end('x'));
      server.listen(7);
      await once(server, 'listening');
      expect((await readAll(a.net.connect(7, ADDR_B))).toString()).to.equal('x');
    } finally {
      await Promise.all([a.close(), b.close()]);
      channels.forEach((ch, i) => {
        ch.publish = originals[i] as typeof ch.publish;
      });
    }
    expect(published).to.equal(0);
  });
});
