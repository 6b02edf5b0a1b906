/** Packet helpers for tests that play the peer by hand over a `RawLink` (we are 10.0.0.1, the peer 10.0.0.2). */
import { once } from 'node:events';
import {
  IpProtocol,
  emitIcmpv4,
  emitIpv4,
  icmpv4Length,
  ipv4FromString,
  makeIpv4Repr,
  parseIpv4,
  type Icmpv4Repr,
  type Ipv4Repr,
  type Ipv4ReprInit,
} from '@tcp-tun/ip';
import { emitTcp, parseTcp, type TcpRepr } from '@tcp-tun/tcp';
import type { Socket, TcpSocketConnectOpts } from '../socket.js';
import type { Stack } from '../stack.js';
import { ADDR_A, ADDR_B, type RawLink } from './harness.js';

export const US = ipv4FromString(ADDR_A);
export const PEER = ipv4FromString(ADDR_B);

/** An IPv4 packet from the peer to us around `payload`. */
export function ipPacket(init: Partial<Ipv4ReprInit> & { protocol: number }, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + payload.length);
  emitIpv4(makeIpv4Repr({ src: PEER, dst: US, payloadLength: payload.length, ...init }), out);
  out.set(payload, 20);
  return out;
}

/** A TCP segment from the peer to us. */
export function tcpPacket(repr: TcpRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const seg = new Uint8Array(60 + payload.length);
  const n = emitTcp(repr, payload, PEER, US, seg);
  return ipPacket({ protocol: IpProtocol.Tcp }, seg.subarray(0, n));
}

/** The TCP headers of what the link recorded as sent. */
export function sentTcp(link: RawLink): TcpRepr[] {
  return link.sent.flatMap((p) => {
    const ip = parseIpv4(p);
    if (!ip.ok || ip.repr.protocol !== IpProtocol.Tcp) return [];
    const tcp = parseTcp(ip.payload, ip.repr.src, ip.repr.dst);
    return tcp.ok ? [tcp.repr] : [];
  });
}

/** The sent packets that carry TCP, with their IPv4 header fields (e.g. `ecn`) and TCP header. */
export function sentTcpPackets(link: RawLink): Array<{ ip: Ipv4Repr; tcp: TcpRepr; payloadLength: number; bytes: Uint8Array }> {
  return link.sent.flatMap((bytes) => {
    const ip = parseIpv4(bytes);
    if (!ip.ok || ip.repr.protocol !== IpProtocol.Tcp) return [];
    const tcp = parseTcp(ip.payload, ip.repr.src, ip.repr.dst);
    return tcp.ok ? [{ ip: ip.repr, tcp: tcp.repr, payloadLength: tcp.payload.length, bytes }] : [];
  });
}

/** An ICMP message to us (from `src`, default the peer), e.g. an error quoting a packet we sent. */
export function icmpPacket(repr: Icmpv4Repr, src = PEER): Uint8Array {
  const body = new Uint8Array(icmpv4Length(repr));
  emitIcmpv4(repr, body);
  return ipPacket({ protocol: IpProtocol.Icmp, src }, body);
}

/** A client socket of `stack` connected to the peer (10.0.0.2:`port`) by a handshake played by hand. */
export async function connectByHand(
  stack: Stack,
  link: RawLink,
  options: Omit<TcpSocketConnectOpts, 'port' | 'host'> = {},
  synAck: Partial<TcpRepr> = {},
  port = 80,
): Promise<{ socket: Socket; peer: { srcPort: number; dstPort: number; window: number }; ours: number; theirs: number }> {
  const socket = stack.net.connect({ port, host: ADDR_B, ...options });
  await new Promise((resolve) => setImmediate(resolve));
  const syn = sentTcp(link).find((r) => r.control === 'syn');
  if (syn === undefined) throw new Error('no SYN sent');
  const ours = (syn.seq + 1) >>> 0;
  const peer = { srcPort: port, dstPort: syn.srcPort, window: 65535 };
  const connected = once(socket, 'connect');
  link.inject(tcpPacket({ ...peer, control: 'syn', seq: 7000, ack: ours, mss: 1460, ...synAck }));
  await connected;
  await new Promise((resolve) => setImmediate(resolve));
  link.sent.length = 0;
  return { socket, peer, ours, theirs: 7001 };
}
