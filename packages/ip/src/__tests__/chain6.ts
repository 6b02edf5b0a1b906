/** Builders of IPv6 packets with extension-header chains, for the walk, reassembly and fuzz tests. */
import { emitIpv6, makeIpv6Repr } from '../ipv6.js';
import { ipv6FromString } from '../address6.js';

/** One extension header to build: its type and the octets after Next Header and Hdr Ext Len. */
export interface ExtSpec {
  readonly type: number;
  /** Octets after the first two (for a Fragment header: its 6 octets after Next Header and Reserved). */
  readonly body: readonly number[];
}

/**
 * An IPv6 packet fd01::1 → `dst` whose chain is `headers` then upper-layer `upper` with
 * `payload`. Option bodies are padded with zeros (Pad1) to a multiple of 8 octets.
 */
export function chainPacket(headers: readonly ExtSpec[], upper: number, payload: Uint8Array = new Uint8Array(8), dst = 'fd02::1'): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const next = i + 1 < headers.length ? headers[i + 1]!.type : upper;
    if (h.type === 44) {
      parts.push(Uint8Array.from([next, 0, ...h.body]));
      continue;
    }
    const length = Math.ceil((2 + h.body.length) / 8) * 8;
    const bytes = new Uint8Array(length);
    bytes[0] = next;
    bytes[1] = length / 8 - 1;
    bytes.set(h.body, 2);
    parts.push(bytes);
  }
  parts.push(payload);
  const payloadLength = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(40 + payloadLength);
  const first = headers.length > 0 ? headers[0]!.type : upper;
  emitIpv6(makeIpv6Repr({ src: ipv6FromString('fd01::1'), dst: ipv6FromString(dst), nextHeader: first, payloadLength }), out);
  let at = 40;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The 6 octets of a Fragment header after Next Header and Reserved. */
export function fragmentBody(offset: number, more: boolean, identification: number): number[] {
  const word = offset | (more ? 1 : 0);
  return [word >>> 8, word & 0xff, identification >>> 24, (identification >>> 16) & 0xff, (identification >>> 8) & 0xff, identification & 0xff];
}
