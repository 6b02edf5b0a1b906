/** Packet helpers for tests that play the peer by hand over a `RawLink` (we are 10.0.0.1, the peer 10.0.0.2). */
import { IpProtocol, emitIpv4, ipv4FromString, makeIpv4Repr, parseIpv4, type Ipv4ReprInit } from '@tcp-tun/ip';
import { emitTcp, parseTcp, type TcpRepr } from '@tcp-tun/tcp';
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
