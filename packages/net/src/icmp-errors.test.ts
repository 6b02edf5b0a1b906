/**
 * ICMP errors to connections (RFC 1122 §4.2.3.9, RFC 5927, RFC 1191): matched by the quoted
 * 4-tuple, believed only with a quoted sequence number in the window, never answered.
 */
import { expect } from 'chai';
import { IpProtocol, icmpv4Quote, ipv4FromString, parseIpv4, type Icmpv4Repr } from '@tcp-tun/ip';
import { ADDR_A, ADDR_B, RawLink, nextError, sleep } from './__tests__/harness.js';
import { connectByHand, icmpPacket, sentTcp, sentTcpPackets, tcpPacket } from './__tests__/packets.js';
import { Stack } from './stack.js';

const ROUTER = ipv4FromString('10.0.0.254');

function unreachable(code: number, quotedPacket: Uint8Array, nextHopMtu = 0): Icmpv4Repr {
  return { type: 'dest-unreachable', code, nextHopMtu, quoted: icmpv4Quote(quotedPacket) };
}

/** A copy of `packet` whose quoted TCP sequence number is `seq` (the quote is all a router sends back). */
function withSeq(packet: Uint8Array, seq: number): Uint8Array {
  const copy = packet.slice();
  new DataView(copy.buffer).setUint32(20 + 4, seq >>> 0);
  return copy;
}

function icmpSent(link: RawLink): number {
  return link.sent.filter((p) => {
    const ip = parseIpv4(p);
    return ip.ok && ip.repr.protocol === IpProtocol.Icmp;
  }).length;
}

describe('ICMP errors to connections', () => {
  let stack: Stack;
  let link: RawLink;
  beforeEach(() => {
    link = new RawLink();
    stack = new Stack({ link, address: ADDR_A });
  });
  afterEach(async () => {
    await stack.close();
  });

  async function synSent(): Promise<{ socket: ReturnType<Stack['net']['connect']>; syn: Uint8Array }> {
    const socket = stack.net.connect(80, ADDR_B);
    await sleep(1);
    const syn = link.sent[0];
    if (syn === undefined) throw new Error('no SYN');
    return { socket, syn };
  }

  it('port unreachable during connect fails it at once with ECONNREFUSED', async () => {
    const { socket, syn } = await synSent();
    const failed = nextError(socket);
    await link.inject(icmpPacket(unreachable(3, syn)));
    const err = await failed;
    expect(err).to.include({ code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: ADDR_B, port: 80 });
    expect(err.message).to.equal('connect ECONNREFUSED 10.0.0.2:80');
    expect(stack.stats().icmpErrors).to.equal(1);
    expect(icmpSent(link), 'an ICMP error is never answered').to.equal(0);
    expect([...stack._connectionEntries()]).to.have.length(0);
  });

  it('host and net unreachable during connect give EHOSTUNREACH and ENETUNREACH, from a router', async () => {
    const first = await synSent();
    const hostErr = nextError(first.socket);
    await link.inject(icmpPacket(unreachable(1, first.syn), ROUTER));
    const e1 = await hostErr;
    expect(e1).to.include({ code: 'EHOSTUNREACH', errno: -113, syscall: 'connect' });
    expect(e1.message).to.equal('connect EHOSTUNREACH 10.0.0.2:80');
    link.sent.length = 0;
    const second = await synSent();
    const netErr = nextError(second.socket);
    await link.inject(icmpPacket(unreachable(0, second.syn), ROUTER));
    const e2 = await netErr;
    expect(e2).to.include({ code: 'ENETUNREACH', errno: -101, syscall: 'connect' });
    expect(e2.message).to.equal('connect ENETUNREACH 10.0.0.2:80');
  });

  it('ignores an ICMP error whose quoted sequence number is outside the window (a blind spoof)', async () => {
    const { socket, peer, ours } = await connectByHand(stack, link);
    socket.write('request');
    await sleep(1);
    const data = sentTcpPackets(link).find((p) => p.payloadLength > 0);
    expect(data).to.not.equal(undefined);
    const bytes = data?.bytes as Uint8Array;
    await link.inject(icmpPacket(unreachable(3, withSeq(bytes, ours + 100_000))));
    await link.inject(icmpPacket(unreachable(1, withSeq(bytes, ours - 1))));
    await link.inject(icmpPacket({ type: 'time-exceeded', code: 0, quoted: icmpv4Quote(withSeq(bytes, ours + 7)) }, ROUTER));
    expect(stack._dropCount('icmp-rejected')).to.equal(3);
    // A quote naming no connection of ours.
    const other = bytes.slice();
    other[20] = 0x12;
    await link.inject(icmpPacket(unreachable(3, other)));
    expect(stack._dropCount('icmp-no-connection')).to.equal(1);
    expect(socket.tcpState).to.equal('ESTABLISHED');
    expect(icmpSent(link)).to.equal(0);
    // The connection still carries data both ways.
    let got = '';
    socket.on('data', (b: Buffer) => (got += String(b)));
    await link.inject(tcpPacket({ ...peer, control: 'psh', seq: 7001, ack: (ours + 7) >>> 0 }, Buffer.from('reply')));
    await sleep(5);
    expect(got).to.equal('reply');
    // An in-window error while established is soft (RFC 1122 §4.2.3.9): remembered, not fatal.
    socket.write('more');
    await sleep(1);
    const more = sentTcpPackets(link).find((p) => p.payloadLength === 4);
    await link.inject(icmpPacket(unreachable(1, more?.bytes as Uint8Array)));
    expect(stack.connections()[0]).to.include({ state: 'ESTABLISHED', icmpErrors: 1, softError: 'EHOSTUNREACH' });
  });

  it('frag-needed lowers the MSS: what is resent and sent after fits the next-hop MTU', async () => {
    const { socket } = await connectByHand(stack, link, { noDelay: true });
    socket.write(Buffer.alloc(6000, 1));
    await sleep(1);
    const first = sentTcpPackets(link).filter((p) => p.payloadLength > 0);
    expect(first[0]?.payloadLength).to.equal(1460);
    link.sent.length = 0;
    await link.inject(icmpPacket(unreachable(4, first[0]?.bytes as Uint8Array, 576), ROUTER));
    socket.write(Buffer.alloc(3000, 2));
    await sleep(1);
    const after = sentTcpPackets(link).filter((p) => p.payloadLength > 0);
    expect(after.length).to.be.above(0);
    for (const p of after) expect(p.bytes.length, 'IPv4 datagram fits 576').to.be.at.most(576);
    expect(stack.connections()[0]?.sendMss).to.be.at.most(536);
    expect(icmpSent(link)).to.equal(0);
    // Frag-needed without a next-hop MTU (a pre-RFC 1191 router) is counted and not acted on.
    await link.inject(icmpPacket(unreachable(4, after[0]?.bytes as Uint8Array, 0)));
    expect(stack._dropCount('icmp-dest-unreachable-code-4')).to.equal(1);
  });

  it('drops ICMP errors about datagrams that were not ours or not TCP', async () => {
    const { socket } = await connectByHand(stack, link);
    socket.write('x');
    await sleep(1);
    const bytes = sentTcpPackets(link)[0]?.bytes as Uint8Array;
    const notOurs = bytes.slice();
    notOurs[12] = 10;
    notOurs[15] = 77; // source 10.0.0.77
    await link.inject(icmpPacket(unreachable(3, notOurs)));
    expect(stack._dropCount('icmp-not-ours')).to.equal(1);
    await link.inject(icmpPacket({ type: 'dest-unreachable', code: 3, nextHopMtu: 0, quoted: bytes.subarray(0, 24) }));
    expect(stack._dropCount('icmp-bad-quote')).to.equal(1);
    expect(socket.tcpState).to.equal('ESTABLISHED');
    expect(sentTcp(link).filter((r) => r.control === 'rst')).to.have.length(0);
  });
});
