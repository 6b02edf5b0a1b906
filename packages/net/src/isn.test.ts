/**
 * Initial sequence numbers and timestamp offsets (isn.ts). Both are RFC 6528's shape, a clock
 * plus a keyed hash of the 4-tuple: so successive incarnations of one 4-tuple get increasing
 * ISNs and TSvals (RFC 9293 §3.4.1, RFC 7323 §5.4), which a peer holding the old one in
 * TIME-WAIT checks before it lets a new SYN reuse it (RFC 6191, Linux's PAWS on TIME-WAIT).
 */
import { expect } from 'chai';
import { seqDiff, type Endpoint } from '@tcp-tun/tcp';
import { ADDR_A, ADDR_B, RawLink, sleep } from './__tests__/harness.js';
import { sentTcp } from './__tests__/packets.js';
import { IsnGenerator } from './isn.js';
import { Stack } from './stack.js';

const SECRET = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
const A: Endpoint = { addr: 0x0a000001, port: 40000 };
const B: Endpoint = { addr: 0x0a000002, port: 80 };

describe('IsnGenerator', () => {
  it('ISN: a 4 µs clock plus a keyed hash of the 4-tuple (RFC 6528 §3)', () => {
    const g = new IsnGenerator(SECRET);
    expect(seqDiff(g.isn(1001, A, B), g.isn(1000, A, B))).to.equal(250);
    expect(g.isn(1000, A, B)).to.not.equal(g.isn(1000, { ...A, port: 40001 }, B));
    expect(new IsnGenerator(new Uint8Array(8)).isn(1000, A, B)).to.not.equal(g.isn(1000, A, B));
  });

  it('timestamp offset: a keyed hash of the 4-tuple, the same for every incarnation, unrelated to the ISN hash', () => {
    const g = new IsnGenerator(SECRET);
    const off = g.tsOffset(A, B);
    expect(g.tsOffset(A, B)).to.equal(off);
    expect(g.tsOffset({ ...A, port: 40001 }, B)).to.not.equal(off);
    expect(g.tsOffset(A, { ...B, addr: 0x0a000003 })).to.not.equal(off);
    expect(new IsnGenerator(new Uint8Array(8)).tsOffset(A, B)).to.not.equal(off);
    expect(off).to.not.equal(g.isn(0, A, B));
  });

  it('a stack reopening a 4-tuple sends TSvals that continue the previous incarnation\'s (RFC 7323 §5.4), so a peer in TIME-WAIT accepts its SYN (RFC 6191)', async () => {
    let now = 10_000;
    const link = new RawLink();
    const stack = new Stack({ link, address: ADDR_A, clock: () => now });
    try {
      // Sixteen 4-tuples, each opened twice 7 ms apart (random offsets pass each by chance half the time).
      for (let i = 0; i < 16; i++) {
        const localPort = 41000 + i;
        const tsvals: number[] = [];
        for (let incarnation = 0; incarnation < 2; incarnation++) {
          link.sent.length = 0;
          const socket = stack.net.connect({ port: 80, host: ADDR_B, localPort });
          socket.on('error', () => {});
          await sleep(1);
          const syn = sentTcp(link).find((r) => r.control === 'syn');
          expect(syn?.timestamp, 'SYN with timestamps').to.not.equal(undefined);
          tsvals.push(syn!.timestamp!.tsVal);
          socket.destroy();
          await sleep(1);
          now += 7;
        }
        expect(seqDiff(tsvals[1]!, tsvals[0]!), `4-tuple ${i}: second SYN's TSval minus the first's`).to.equal(7);
      }
    } finally {
      await stack.close();
    }
  });
});
