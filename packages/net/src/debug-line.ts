/**
 * One `NODE_DEBUG=tcp-tun` line per packet, either direction, in tcpdump's shape with the
 * stack's time in front: `1234.567 in  10.0.0.1:80 > 10.0.0.2:49152 Flags [S.], seq 1, ack 2,
 * win 65535, options [mss 1460,sackOK,wscale 7], length 0`. Built from the raw packet bytes, so
 * it shows what crossed the link even when the stack then drops it. The stack
 * calls it (in and out) only when its debug log is enabled, so it costs nothing otherwise.
 */
import { tcpBounds } from './packet-shape.js';

/** tcpdump's flag letters, in its order. */
function flags(f: number): string {
  let s = '';
  if (f & 0x01) s += 'F';
  if (f & 0x02) s += 'S';
  if (f & 0x04) s += 'R';
  if (f & 0x08) s += 'P';
  if (f & 0x20) s += 'U';
  if (f & 0x40) s += 'E';
  if (f & 0x80) s += 'W';
  if (f & 0x10) s += '.';
  return s === '' ? 'none' : s;
}

function options(v: DataView, from: number, to: number): string[] {
  const out: string[] = [];
  for (let at = from; at < to; ) {
    const kind = v.getUint8(at);
    if (kind === 0) {
      out.push('eol');
      break;
    }
    if (kind === 1) {
      out.push('nop');
      at++;
      continue;
    }
    if (at + 1 >= to) break;
    const len = v.getUint8(at + 1);
    if (len < 2 || at + len > to) {
      out.push(`bad opt ${kind}`);
      break;
    }
    if (kind === 2 && len === 4) out.push(`mss ${v.getUint16(at + 2)}`);
    else if (kind === 3 && len === 3) out.push(`wscale ${v.getUint8(at + 2)}`);
    else if (kind === 4 && len === 2) out.push('sackOK');
    else if (kind === 5 && (len - 2) % 8 === 0) {
      const blocks: string[] = [];
      for (let b = at + 2; b + 8 <= at + len; b += 8) blocks.push(`{${v.getUint32(b)}:${v.getUint32(b + 4)}}`);
      out.push(`sack ${blocks.length} ${blocks.join('')}`);
    } else if (kind === 8 && len === 10) out.push(`TS val ${v.getUint32(at + 2)} ecr ${v.getUint32(at + 6)}`);
    else out.push(`opt-${kind}:${len}`);
    at += len;
  }
  return out;
}

const dotted = (v: DataView, at: number): string => `${v.getUint8(at)}.${v.getUint8(at + 1)}.${v.getUint8(at + 2)}.${v.getUint8(at + 3)}`;

/**
 * The debug line of one IPv4 or IPv6 packet: `timeMs` on the stack's clock (3 decimals), `in` or `out`,
 * then addresses and, for TCP, tcpdump's fields with raw (absolute) sequence numbers. Never
 * throws: a packet too short or malformed to read says so.
 */
export function debugPacketLine(timeMs: number, direction: 'in' | 'out', packet: Uint8Array): string {
  const head = `${timeMs.toFixed(3)} ${direction === 'in' ? 'in ' : 'out'}`;
  const version = packet.length > 0 ? packet[0]! >> 4 : 0;
  if (version === 6 && packet.length >= 40) return debugPacketLine6(head, packet);
  if (packet.length < 20 || version !== 4) return `${head} non-IPv4 packet, length ${packet.length}`;
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const ihl = (packet[0]! & 0x0f) * 4;
  // Total Length 0 on a GSO super-packet over 64 KiB (packet-shape.ts): the packet's own length.
  const total = tcpBounds(packet)?.total ?? Math.min(v.getUint16(2), packet.length);
  const protocol = v.getUint8(9);
  const src = dotted(v, 12);
  const dst = dotted(v, 16);
  const fragment = v.getUint16(6) & 0x1fff;
  if (protocol !== 6 || fragment !== 0 || ihl < 20 || total < ihl + 20) {
    const what = protocol === 1 ? 'ICMP' : protocol === 6 ? 'TCP' : `proto ${protocol}`;
    return `${head} ${src} > ${dst} ${what}${fragment !== 0 ? ` fragment offset ${fragment * 8}` : ''}, length ${total}`;
  }
  return `${head} ${src}:${v.getUint16(ihl)} > ${dst}:${v.getUint16(ihl + 2)} ${tcpFields(v, ihl, total)}`;
}

/**
 * An IPv6 packet's line: tcpdump's `addr.port` form for IPv6 endpoints (RFC 5952 text, the
 * port after a dot), TCP fields when TCP follows the fixed header, else the next header's name.
 */
function debugPacketLine6(head: string, packet: Uint8Array): string {
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  // A jumbogram super-packet (packet-shape.ts): TCP after its 8-octet Hop-by-Hop header.
  const bounds = tcpBounds(packet);
  if (bounds !== undefined && bounds.offset === 48) {
    return `${head} ${text6(packet, 8)}.${v.getUint16(48)} > ${text6(packet, 24)}.${v.getUint16(50)} ${tcpFields(v, 48, bounds.total)} (jumbogram)`;
  }
  const total = Math.min(40 + v.getUint16(4), packet.length);
  const next = v.getUint8(6);
  const src = text6(packet, 8);
  const dst = text6(packet, 24);
  if (next !== 6 || total < 60) {
    const what = next === 58 ? `ICMP6 type ${total > 40 ? packet[40] : '?'}` : next === 44 ? 'fragment' : next === 6 ? 'TCP' : `next header ${next}`;
    return `${head} ${src} > ${dst} ${what}, length ${total}`;
  }
  return `${head} ${src}.${v.getUint16(40)} > ${dst}.${v.getUint16(42)} ${tcpFields(v, 40, total)}`;
}

/** RFC 5952 text of the 16 octets at `packet[at]` (longest run of ≥ 2 zero groups as `::`). */
function text6(packet: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((packet[at + 2 * i]! << 8) | packet[at + 2 * i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** tcpdump's TCP fields of the segment at `v[at]`, in a packet of `total` octets. */
function tcpFields(v: DataView, ihl: number, total: number): string {
  const doff = (v.getUint8(ihl + 12) >> 4) * 4;
  if (doff < 20 || ihl + doff > total) return `TCP bad header length ${doff}, length ${total}`;
  const f = v.getUint8(ihl + 13);
  const parts = [`Flags [${flags(f)}]`, `seq ${v.getUint32(ihl + 4)}`];
  if (f & 0x10) parts.push(`ack ${v.getUint32(ihl + 8)}`);
  parts.push(`win ${v.getUint16(ihl + 14)}`);
  const opts = options(v, ihl + 20, ihl + doff);
  if (opts.length > 0) parts.push(`options [${opts.join(',')}]`);
  parts.push(`length ${total - ihl - doff}`);
  return parts.join(', ');
}
