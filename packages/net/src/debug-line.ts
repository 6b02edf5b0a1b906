/**
 * One `NODE_DEBUG=tcp-tun` line per packet, either direction, in tcpdump's shape with the
 * stack's time in front: `1234.567 in  10.0.0.1:80 > 10.0.0.2:49152 Flags [S.], seq 1, ack 2,
 * win 65535, options [mss 1460,sackOK,wscale 7], length 0`. Built from the raw packet bytes, so
 * it shows what crossed the link even when the stack then drops it. The stack
 * calls it (in and out) only when its debug log is enabled, so it costs nothing otherwise.
 */

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
 * The debug line of one IPv4 packet: `timeMs` on the stack's clock (3 decimals), `in` or `out`,
 * then addresses and, for TCP, tcpdump's fields with raw (absolute) sequence numbers. Never
 * throws: a packet too short or malformed to read says so.
 */
export function debugPacketLine(timeMs: number, direction: 'in' | 'out', packet: Uint8Array): string {
  const head = `${timeMs.toFixed(3)} ${direction === 'in' ? 'in ' : 'out'}`;
  if (packet.length < 20 || packet[0]! >> 4 !== 4) return `${head} non-IPv4 packet, length ${packet.length}`;
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const ihl = (packet[0]! & 0x0f) * 4;
  const total = Math.min(v.getUint16(2), packet.length);
  const protocol = v.getUint8(9);
  const src = dotted(v, 12);
  const dst = dotted(v, 16);
  const fragment = v.getUint16(6) & 0x1fff;
  if (protocol !== 6 || fragment !== 0 || ihl < 20 || total < ihl + 20) {
    const what = protocol === 1 ? 'ICMP' : protocol === 6 ? 'TCP' : `proto ${protocol}`;
    return `${head} ${src} > ${dst} ${what}${fragment !== 0 ? ` fragment offset ${fragment * 8}` : ''}, length ${total}`;
  }
  const doff = (v.getUint8(ihl + 12) >> 4) * 4;
  if (doff < 20 || ihl + doff > total) return `${head} ${src} > ${dst} TCP bad header length ${doff}, length ${total}`;
  const f = v.getUint8(ihl + 13);
  const parts = [`Flags [${flags(f)}]`, `seq ${v.getUint32(ihl + 4)}`];
  if (f & 0x10) parts.push(`ack ${v.getUint32(ihl + 8)}`);
  parts.push(`win ${v.getUint16(ihl + 14)}`);
  const opts = options(v, ihl + 20, ihl + doff);
  if (opts.length > 0) parts.push(`options [${opts.join(',')}]`);
  parts.push(`length ${total - ihl - doff}`);
  return `${head} ${src}:${v.getUint16(ihl)} > ${dst}:${v.getUint16(ihl + 2)} ${parts.join(', ')}`;
}
