/**
 * packet-shape.ts: where the TCP segment lies in what the stack sends and receives, including
 * the two shapes of a GSO super-packet over 64 KiB; and that the debug line reads them.
 */
import { expect } from 'chai';
import { internetChecksum } from '@tcp-tun/ip';
import { debugPacketLine } from './debug-line.js';
import { tcpBounds } from './packet-shape.js';

function ipv4(length: number, statedTotal: number, over: { protocol?: number; fragment?: number } = {}): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x45;
  p[2] = statedTotal >>> 8;
  p[3] = statedTotal & 0xff;
  p[6] = ((over.fragment ?? 0) >>> 8) & 0x1f;
  p[7] = (over.fragment ?? 0) & 0xff;
  p[8] = 64;
  p[9] = over.protocol ?? 6;
  p.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  const sum = internetChecksum(p, 0, 0, 20);
  p[10] = sum >>> 8;
  p[11] = sum & 0xff;
  p.set([0x30, 0x39, 0x00, 0x50], 20); // ports 12345 > 80
  p[32] = 0x50; // data offset 20
  p[33] = 0x10; // ACK
  return p;
}

function ipv6(length: number, jumbo: boolean, jumboLength = length - 40): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x60;
  const payload = jumbo ? 0 : length - 40;
  p[4] = payload >>> 8;
  p[5] = payload & 0xff;
  p[6] = jumbo ? 0 : 6;
  p[7] = 64;
  p[8] = 0xfd;
  p[23] = 1;
  p[24] = 0xfd;
  p[39] = 2;
  let tcp = 40;
  if (jumbo) {
    p.set([6, 0, 0xc2, 4, jumboLength >>> 24, (jumboLength >>> 16) & 0xff, (jumboLength >>> 8) & 0xff, jumboLength & 0xff], 40);
    tcp = 48;
  }
  p.set([0x30, 0x39, 0x00, 0x50], tcp);
  p[tcp + 12] = 0x50;
  p[tcp + 13] = 0x10;
  return p;
}

describe('tcpBounds', () => {
  it('reads plain IPv4 and IPv6 packets by their stated lengths', () => {
    expect(tcpBounds(ipv4(100, 80))).to.deep.equal({ offset: 20, total: 80 });
    expect(tcpBounds(ipv6(100, false))).to.deep.equal({ offset: 40, total: 100 });
  });

  it('reads a super-packet over 64 KiB: IPv4 with Total Length 0, IPv6 as a jumbogram', () => {
    expect(tcpBounds(ipv4(100_000, 0))).to.deep.equal({ offset: 20, total: 100_000 });
    expect(tcpBounds(ipv6(100_000, true))).to.deep.equal({ offset: 48, total: 100_000 });
    // A jumbogram stating less than the packet holds is read by its statement.
    expect(tcpBounds(ipv6(100_000, true, 90_000))).to.deep.equal({ offset: 48, total: 90_040 });
  });

  it('reads nothing else', () => {
    expect(tcpBounds(ipv4(100, 0)), 'Total Length 0 on a short packet').to.equal(undefined);
    expect(tcpBounds(ipv4(100, 80, { protocol: 17 })), 'UDP').to.equal(undefined);
    expect(tcpBounds(ipv4(100, 80, { fragment: 10 })), 'a later fragment').to.equal(undefined);
    const hbh = ipv6(100_000, true);
    hbh[42] = 0x05; // Router Alert, not Jumbo Payload
    expect(tcpBounds(hbh), 'another Hop-by-Hop option').to.equal(undefined);
    expect(tcpBounds(new Uint8Array(10)), 'too short').to.equal(undefined);
  });

  it('lets the debug line show a super-packet over 64 KiB with its ports and length', () => {
    expect(debugPacketLine(0, 'out', ipv4(100_000, 0))).to.match(/10\.0\.0\.1:12345 > 10\.0\.0\.2:80 .*length 99960/);
    expect(debugPacketLine(0, 'out', ipv6(100_000, true))).to.match(/fd00::1\.12345 > fd00::2\.80 .*length 99932.*jumbogram/);
  });
});
