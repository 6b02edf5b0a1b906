/**
 * Seeded fuzzing of the whole IPv6 receive path: parse the fixed header → walk the extension
 * headers → reassemble fragments (then walk again) → parse ICMPv6 and the packet an error
 * quotes, and decide whether an error may be answered. The packets are the captured fixtures
 * mutated: bit flips, truncations, Payload Length lies, extension-header chains spliced in
 * (padding, unknown options of every action, routing headers, Fragment headers, No Next
 * Header, garbage lengths), long same-type chains, and fragment storms over a few
 * identifications so that overlaps, duplicates, timeouts and completions all happen. About
 * half get a correct ICMPv6 checksum after mutation so that the parsers behind it run too.
 *
 * Passing means: no exception escaped, every verdict is one of the documented ones, and the
 * reassembler never held more than its caps. Replay a failure with the SEED it prints.
 */
import { expect } from 'chai';
import { internetChecksum, pseudoHeaderSum6 } from './checksum.js';
import { mayAnswerWithIcmpv6Error, parseIcmpv6, parseQuotedPacket6 } from './icmpv6.js';
import { Ipv6HeaderChain, walkIpv6Headers } from './ipv6-ext.js';
import { Ipv6ParseTarget, parseIpv6Into } from './ipv6.js';
import { Ipv6Reassembler } from './reassembly6.js';
import * as F from './__tests__/fixtures6.js';
import { Prng, testSeed } from '../../../testing/random.js';

const COUNT = 1_000_000;

const FIXTURES = Object.values(F).filter((v): v is Uint8Array => v instanceof Uint8Array);

/** Extension headers to splice in: [type, bytes after Next Header] (lengths already in place). */
const EXT_POOL: readonly [number, readonly number[]][] = [
  [0, [0, 1, 4, 0, 0, 0, 0]], // hop-by-hop, PadN
  [0, [0, 5, 2, 0, 0, 1, 0]], // hop-by-hop, router alert + PadN
  [60, [0, 0x1e, 2, 0xab, 0xcd, 0, 0]], // unknown option, action 00
  [60, [0, 0x5e, 2, 0xab, 0xcd, 0, 0]], // action 01
  [60, [0, 0x9e, 2, 0xab, 0xcd, 1, 0]], // action 10
  [60, [0, 0xde, 2, 0xab, 0xcd, 1, 0]], // action 11
  [60, [0, 0x1e, 9, 0, 0, 0, 0]], // option past the header
  [60, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], // 16 octets of Pad1
  [43, [0, 0, 0, 0, 0, 0, 0]], // routing, segments left 0
  [43, [2, 0, 1, 0, 0, 0, 0, 0xfd, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]], // routing type 0, segments left 1
  [44, [0, 0, 1, 0, 0, 0, 7]], // fragment, offset 0, M = 1
  [44, [0, 0, 0, 0, 0, 0, 8]], // atomic fragment
  [59, []], // No Next Header (anything after it is ignored)
  [60, [255, 0, 0, 0, 0, 0, 0]], // claims 2048 octets
];

describe('IPv6 receive-path fuzzing', function () {
  this.timeout(120_000);

  it(`survives ${COUNT.toLocaleString('en-US')} mutated IPv6 packets with zero exceptions and bounded memory`, () => {
    const seed = testSeed();
    process.stdout.write(`      fuzz6 SEED=${seed}\n`);
    const rng = new Prng(seed);
    const buf = new Uint8Array(4096);
    const tmp = new Uint8Array(4096);
    const target = new Ipv6ParseTarget();
    const chain = new Ipv6HeaderChain();
    const again = new Ipv6HeaderChain();
    // A table big enough that datagrams live to time out (bit flips make many distinct keys).
    const reassembler = new Ipv6Reassembler({ maxTotalBytes: 256 * 1024, maxDatagrams: 2048 });
    const cap = reassembler.options.maxTotalBytes;
    const verdicts = { upper: 0, fragment: 0, drop: 0, parseDrop: 0, complete: 0, icmpOk: 0, quoted: 0 };
    const started = Date.now();
    let i = 0;
    try {
      for (; i < COUNT; i++) {
        if ((i & 1023) === 0) {
          const s = reassembler.stats;
          if (s.bytesHeld > cap || s.datagramsHeld > reassembler.options.maxDatagrams) throw new Error(`reassembler over its caps: ${JSON.stringify(s)}`);
          while (reassembler.pollTimeExceeded() !== undefined) { /* drained as the stack does */ }
        }
        const len = mutate(rng, buf, tmp);
        const packet = buf.subarray(0, len);
        if (parseIpv6Into(packet, target) !== undefined) {
          verdicts.parseDrop++;
          continue;
        }
        let kind = walkIpv6Headers(packet, chain);
        let whole: Uint8Array = packet;
        let walked = chain;
        if (kind === 'fragment') {
          verdicts.fragment++;
          // 40 ms a packet: a datagram outlives 1500 packets, so timeouts happen as well as evictions.
          const r = reassembler.add(i * 40, packet, chain);
          if (r.kind !== 'complete') continue;
          verdicts.complete++;
          whole = r.packet;
          walked = again;
          kind = walkIpv6Headers(whole, again);
        }
        if (kind === 'drop') {
          verdicts.drop++;
          if (walked.icmpCode >= 0) mayAnswerWithIcmpv6Error(whole, 4, walked.icmpCode, walked);
          continue;
        }
        if (kind !== 'upper') continue; // a fragment inside a reassembled packet
        verdicts.upper++;
        if (walked.protocol !== 58) continue;
        const icmp = parseIcmpv6(whole.subarray(walked.offset, walked.end), target.repr.src, target.repr.dst);
        if (!icmp.ok) continue;
        verdicts.icmpOk++;
        if ('quoted' in icmp.repr && parseQuotedPacket6(icmp.repr.quoted) !== undefined) verdicts.quoted++;
        mayAnswerWithIcmpv6Error(whole, 1, 0, walked);
      }
    } catch (err) {
      const message = `fuzz6 failed at packet ${i} with SEED=${seed} (replay: SEED=${seed} pnpm exec mocha -g fuzzing)`;
      process.stderr.write(`\n${message}\n`);
      if (err instanceof Error) err.message = `${message}: ${err.message}`;
      throw err;
    }
    const s = reassembler.stats;
    process.stdout.write(`      fuzz6: ${COUNT} packets in ${Date.now() - started} ms, ${JSON.stringify(verdicts)}, reassembler ${JSON.stringify(s)}\n`);
    expect(s.bytesHeld).to.be.at.most(cap);
    expect(s.timeExceededPending).to.be.at.most(reassembler.options.maxDatagrams);
    expect(s.datagramsTimedOut, 'timeouts').to.be.greaterThan(0);
    expect(s.datagramsDiscarded, 'overlaps').to.be.greaterThan(0);
    // Every stage was reached, so the count is not spent on the first check alone.
    for (const [name, n] of Object.entries(verdicts)) expect(n, name).to.be.greaterThan(0);
  });
});

/** Writes one mutated packet into `buf` and returns its length. */
function mutate(rng: Prng, buf: Uint8Array, tmp: Uint8Array): number {
  const base = FIXTURES[rng.int(FIXTURES.length)]!;
  buf.set(base);
  let len = base.length;
  const op = rng.int(100);
  if (op < 25) {
    len = splice(rng, buf, tmp, len, 1 + rng.int(6));
  } else if (op < 30) {
    // A long chain of one type: the walk's count cap, never a loop.
    len = splice(rng, buf, tmp, len, 10 + rng.int(30), rng.int(EXT_POOL.length));
  } else if (op < 55) {
    len = fragmentStorm(rng, buf, tmp, len);
  } else if (op < 65) {
    len = rng.int(len + 1); // truncation
  } else if (op < 72) {
    const lie = rng.int(0x10000);
    buf[4] = lie >>> 8; // Payload Length lies
    buf[5] = lie & 0xff;
  }
  // Bit flips on most packets, a few on each.
  if (rng.chance(0.6)) {
    for (let k = 1 + rng.int(4); k > 0 && len > 0; k--) {
      const at = rng.int(len);
      buf[at] = buf[at]! ^ (1 << rng.int(8));
    }
  }
  if (rng.chance(0.5)) fixIcmpChecksum(buf, len);
  return len;
}

/** Inserts `count` extension headers from the pool (all entry `only` when given) after the fixed header. */
function splice(rng: Prng, buf: Uint8Array, tmp: Uint8Array, len: number, count: number, only?: number): number {
  if (len < 40) return len;
  // Write the headers into tmp[40..at), chaining each Next Header field to the next header's
  // type; the last one names what the fixed header named, the fixed header the first one.
  const original = buf[6]!;
  let at = 40;
  let field = 6;
  for (let k = 0; k < count && at < 2048; k++) {
    const [type, body] = EXT_POOL[only ?? rng.int(EXT_POOL.length)]!;
    if (field === 6) buf[6] = type;
    else tmp[field] = type;
    field = at;
    tmp.set(body, at + 1);
    at += 1 + body.length;
  }
  if (field === 6) buf[6] = original;
  else tmp[field] = original;
  const rest = buf.subarray(40, len);
  if (at + rest.length > buf.length) return len;
  tmp.set(rest, at);
  buf.set(tmp.subarray(40, at + rest.length), 40);
  const total = at + rest.length;
  const payloadLength = Math.min(0xffff, total - 40);
  buf[4] = payloadLength >>> 8;
  buf[5] = payloadLength & 0xff;
  return total;
}

/**
 * Turns the packet into a fragment of one of a few datagrams: a Fragment header with a small
 * identification, a random offset and M flag, and a random (often multiple-of-8) slice.
 */
function fragmentStorm(rng: Prng, buf: Uint8Array, tmp: Uint8Array, len: number): number {
  if (len < 48) return len;
  const original = buf[6]!;
  const id = rng.int(4); // few datagrams: fewer keys than the table holds, so they live to time out
  const offset = rng.chance(0.3) ? 0 : 8 * rng.int(200);
  const more = rng.chance(0.7);
  let dataLength = Math.min(len - 40, 8 * (1 + rng.int(100)));
  if (rng.chance(0.1)) dataLength = rng.int(len - 40);
  tmp.set(buf.subarray(40, 40 + dataLength), 48);
  buf.set([original, 0, offset >>> 8, (offset & 0xf8) | (more ? 1 : 0), 0, 0, 0, id], 40);
  buf.set(tmp.subarray(48, 48 + dataLength), 48);
  buf[6] = 44;
  const payloadLength = 8 + dataLength;
  buf[4] = payloadLength >>> 8;
  buf[5] = payloadLength & 0xff;
  return 48 + dataLength;
}

/** When the packet's first header is ICMPv6 (directly), recomputes its checksum. */
function fixIcmpChecksum(buf: Uint8Array, len: number): void {
  if (len < 48 || buf[6] !== 58) return;
  const end = Math.min(len, 40 + ((buf[4]! << 8) | buf[5]!));
  if (end < 48) return;
  buf[42] = 0;
  buf[43] = 0;
  const sum = internetChecksum(buf, pseudoHeaderSum6(buf.subarray(8, 24), buf.subarray(24, 40), 58, end - 40), 40, end);
  buf[42] = sum >>> 8;
  buf[43] = sum & 0xff;
}
