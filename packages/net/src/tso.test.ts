/**
 * GSO send ("TSO"): over a link with `tso`/`sendTso`, consecutive data segments of one
 * connection leave as one super-packet. The link here cuts them in software as Linux does
 * (__tests__/gso.ts), so the peer stack sees ordinary segments and checks every byte.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ADDR_A, ADDR_B, readAll, seededBytes } from './__tests__/harness.js';
import { expectedPartial, segmentSuperPacket, superPacketHeaderError, tcpFields, TsoLink } from './__tests__/gso.js';
import { withFaults, type FaultOptions, type FaultyLink } from './fault.js';
import { createLinkPair } from './link-pair.js';
import type { Link } from './link.js';
import { capture } from './pcap.js';
import type { Socket } from './socket.js';
import { Stack } from './stack.js';

const FIN = 0x01;
const PSH = 0x08;

interface Bed {
  readonly a: Stack;
  readonly b: Stack;
  readonly tso: TsoLink;
  /** B's side wrapped with faults, when asked for. */
  readonly peer?: FaultyLink;
  close(): Promise<void>;
}

/**
 * Stack A (10.0.0.1) sends over `wrap(TsoLink(pair side))` to stack B (10.0.0.2), which echoes
 * nothing and keeps every byte per connection. `peerFaults` wraps B's side of the pair.
 */
function makeBed(options: { maxPacket?: number; wrap?: (l: TsoLink) => Link; peerFaults?: FaultOptions } = {}): Bed {
  const [linkA, linkB] = createLinkPair();
  const tso = new TsoLink(linkA, options.maxPacket ?? 65535);
  const a = new Stack({ link: options.wrap?.(tso) ?? tso, address: ADDR_A });
  const peer = options.peerFaults ? withFaults(linkB, options.peerFaults) : undefined;
  const b = new Stack({ link: peer ?? linkB, address: ADDR_B });
  return {
    a,
    b,
    tso,
    ...(peer ? { peer } : {}),
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/** B's sink on `port`: resolves, per accepted connection, with every byte it read. */
function sink(b: Stack, port: number): { received: Promise<Buffer>[] } {
  const received: Promise<Buffer>[] = [];
  b.net.createServer((socket: Socket) => received.push(readAll(socket))).listen(port);
  return { received };
}

async function connect(a: Stack, port: number): Promise<Socket> {
  const socket = a.net.connect(port, ADDR_B);
  await once(socket, 'connect');
  return socket;
}

/** Sends `data` from A to B's sink and returns what B read. */
async function transfer(bed: Bed, data: Buffer, port = 9): Promise<Buffer> {
  const { received } = sink(bed.b, port);
  const socket = await connect(bed.a, port);
  socket.end(data);
  while (received.length === 0) await new Promise((r) => setImmediate(r));
  return received[0] as Promise<Buffer>;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Concatenated payloads of the data segments in `packets` (A → B, in order sent). */
/**
 * Checks every data segment sent towards B against `data` at its own sequence number (the first
 * one sent starts the stream) and returns how many octets of `data` they covered and how many
 * segments carried octets that differ. Placed by sequence number, not concatenated: a
 * retransmission (a tail loss probe when a loaded machine delays the ACK) is then one more
 * correct segment, not a different stream.
 */
function checkSegments(packets: readonly Uint8Array[], data: Uint8Array): { covered: number; wrong: number } {
  const segments = packets.filter((p) => p[16] === 10 && p[19] === 2).map((p) => tcpFields(p)).filter((f) => f.payload.length > 0);
  const base = segments[0]?.seq ?? 0;
  const seen = new Uint8Array(data.length);
  let wrong = 0;
  for (const { seq, payload } of segments) {
    const offset = (seq - base) >>> 0;
    const expected = data.subarray(offset, offset + payload.length);
    if (expected.length !== payload.length || Buffer.compare(expected, payload) !== 0) wrong++;
    seen.fill(1, offset, Math.min(data.length, offset + payload.length));
  }
  return { covered: seen.reduce((a, b) => a + b, 0), wrong };
}

describe('GSO send (Link.tso / sendTso)', function () {
  this.timeout(30_000);
  let bed: Bed | undefined;
  afterEach(async () => {
    await bed?.close();
    bed = undefined;
  });

  it('sends each flight as super-packets the link cuts into MSS segments; every byte arrives', async () => {
    bed = makeBed();
    const data = seededBytes(1 << 20, 11);
    const got = await transfer(bed, data);
    expect(sha(got)).to.equal(sha(data));
    const s = bed.a.stats();
    expect(s.superPacketsOut).to.be.above(0);
    expect(s.superPacketSegmentsOut / s.superPacketsOut, 'segments per super-packet').to.be.above(4);
    expect(bed.tso.bad, 'super-packets with a wrong partial checksum or too long').to.equal(0);
    const multi = bed.tso.superPackets.filter((sp) => tcpFields(sp.packet).payload.length > sp.segmentSize);
    expect(multi.length).to.equal(s.superPacketsOut);
    for (const sp of multi) {
      // MTU 1500 − 40 − 12 octets of timestamps (RFC 7323): the payload of a full segment.
      expect(sp.segmentSize, 'gso_size is the send MSS').to.equal(1448);
      expect(sp.packet.length).to.be.above(1500).and.at.most(65535);
    }
    // The biggest fill the link: 44 or 45 full segments of 1448 octets fit in 65535.
    expect(Math.max(...multi.map((sp) => sp.packet.length))).to.be.above(60000);
    expect(bed.b.stats().checksumFailures).to.equal(0);
    expect(bed.b.stats().drops).to.deep.equal({});
  });

  it('puts the pseudo-header sum in the checksum field, FIN and PSH on the super-packet, and cuts like Linux', async () => {
    bed = makeBed();
    const data = seededBytes(3000, 5);
    const got = await transfer(bed, data);
    expect(sha(got)).to.equal(sha(data));
    // 3000 octets after the handshake: 1448 + 1448 + 104 with FIN, in one super-packet.
    const [first] = bed.tso.superPackets.filter((sp) => tcpFields(sp.packet).payload.length > 0);
    expect(first, 'a super-packet').to.not.equal(undefined);
    const { packet, segmentSize } = first!;
    expect(segmentSize).to.equal(1448);
    expect(tcpFields(packet).payload.length).to.equal(3000);
    expect(tcpFields(packet).flags & (FIN | PSH)).to.equal(FIN | PSH);
    expect(new DataView(packet.buffer).getUint16(36), 'checksum field').to.equal(expectedPartial(packet));
    expect(new DataView(packet.buffer).getUint16(2), 'IPv4 total length').to.equal(packet.length);
    const segments = segmentSuperPacket(packet, segmentSize);
    expect(segments.map((p) => tcpFields(p).payload.length)).to.deep.equal([1448, 1448, 104]);
    expect(segments.map((p) => tcpFields(p).flags & (FIN | PSH))).to.deep.equal([0, 0, FIN | PSH]);
    const first16 = tcpFields(packet).ident;
    expect(segments.map((p) => tcpFields(p).ident)).to.deep.equal([first16, first16 + 1, first16 + 2]);
    expect(bed.a.stats()).to.include({ superPacketsOut: 1, superPacketSegmentsOut: 3 });
  });

  it('carries the same payload stream as a link without GSO send', async () => {
    const data = seededBytes(512 * 1024, 23);
    for (const withTso of [true, false]) {
      const [linkA, linkB] = createLinkPair();
      const recorder = new TsoLink(linkA);
      // Without GSO: the same recorder, seen through a plain Link that lacks tso/sendTso.
      const link: Link = withTso ? recorder : { mtu: 1500, start: (r) => recorder.start(r), send: (p) => recorder.send(p), close: () => recorder.close() };
      const a = new Stack({ link, address: ADDR_A });
      const b = new Stack({ link: linkB, address: ADDR_B });
      bed = { a, b, tso: recorder, close: async () => void (await Promise.all([a.close(), b.close()])) };
      const got = await transfer(bed, data);
      expect(sha(got)).to.equal(sha(data));
      expect(a.stats().superPacketsOut > 0, `super-packets with tso=${withTso}`).to.equal(withTso);
      // Every segment on the wire (cut from a super-packet, or sent alone) carries exactly the
      // octets of `data` at its sequence number, and together they cover all of it.
      expect(checkSegments(recorder.segments, data), `segments with tso=${withTso}`).to.deep.equal({ covered: data.length, wrong: 0 });
      await bed.close();
      bed = undefined;
    }
  });

  it('keeps connections apart: a super-packet holds one connection only', async () => {
    bed = makeBed();
    const { received } = sink(bed.b, 9);
    const sockets = await Promise.all([connect(bed.a, 9), connect(bed.a, 9), connect(bed.a, 9)]);
    const data = sockets.map((_, i) => seededBytes(200_000, 100 + i));
    // All written in one turn: the drains of the three connections follow each other.
    sockets.forEach((s, i) => s.end(data[i] as Buffer));
    while (received.length < 3) await new Promise((r) => setImmediate(r));
    const got = await Promise.all(received);
    expect(got.map(sha).sort()).to.deep.equal(data.map(sha).sort());
    const ports = new Set(bed.tso.superPackets.map((sp) => tcpFields(sp.packet).srcPort));
    expect(ports.size, 'every connection sent super-packets').to.equal(3);
    // Each super-packet is one connection's contiguous bytes: its segments reassemble in order.
    for (const sp of bed.tso.superPackets) {
      const segs = segmentSuperPacket(sp.packet, sp.segmentSize).map(tcpFields);
      for (let i = 1; i < segs.length; i++) {
        expect(segs[i]!.seq).to.equal((segs[i - 1]!.seq + segs[i - 1]!.payload.length) >>> 0);
        expect(segs[i]!.srcPort).to.equal(segs[0]!.srcPort);
      }
    }
  });

  it('never builds a super-packet larger than tso.maxPacket', async () => {
    bed = makeBed({ maxPacket: 6000 });
    const data = seededBytes(300_000, 3);
    expect(sha(await transfer(bed, data))).to.equal(sha(data));
    expect(bed.a.stats().superPacketsOut).to.be.above(0);
    expect(bed.tso.bad).to.equal(0);
    // 52 octets of headers + 4 × 1448 = 5844 fits, a fifth segment does not.
    const sizes = bed.tso.superPackets.map((sp) => sp.packet.length);
    expect(Math.max(...sizes)).to.equal(5844);
  });

  it('does not use GSO send when maxPacket is below two MTUs, or the link has no sendTso', async () => {
    bed = makeBed({ maxPacket: 2999 });
    const data = seededBytes(100_000, 4);
    expect(sha(await transfer(bed, data))).to.equal(sha(data));
    expect(bed.tso.superPackets.length).to.equal(0);
    expect(bed.a.stats().superPacketsOut).to.equal(0);
    await bed.close();
    const [linkA, linkB] = createLinkPair();
    const a = new Stack({ link: Object.assign(linkA, { tso: { maxPacket: 65535 } }), address: ADDR_A });
    const b = new Stack({ link: linkB, address: ADDR_B });
    bed = { a, b, tso: new TsoLink(linkA), close: async () => void (await Promise.all([a.close(), b.close()])) };
    expect(sha(await transfer(bed, data))).to.equal(sha(data));
    expect(a.stats().superPacketsOut).to.equal(0);
  });

  it('survives loss, reordering and duplication with every byte intact (seeded)', async () => {
    const seeds = process.env.SEED !== undefined ? [Number(process.env.SEED)] : [1, 2, 3];
    for (const seed of seeds) {
      bed = makeBed({ peerFaults: { seed, drop: 0.02, reorder: 0.02, duplicate: 0.01 } });
      const data = seededBytes(400_000, seed);
      const got = await transfer(bed, data);
      expect(sha(got), `seed ${seed} (replay with SEED=${seed})`).to.equal(sha(data));
      expect(bed.tso.bad, `seed ${seed}`).to.equal(0);
      expect(bed.a.stats().superPacketsOut, `seed ${seed}`).to.be.above(0);
      const c = bed.peer!.counters;
      expect(c.inbound.dropped + c.outbound.dropped, `seed ${seed}: segments were lost`).to.be.above(0);
      expect(c.inbound.reordered, `seed ${seed}: segments were reordered`).to.be.above(0);
      await bed.close();
      bed = undefined;
    }
  });

  it('capture() passes GSO send through and records each super-packet once; withFaults() does not offer it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-tso-'));
    try {
      const file = join(dir, 'tso.pcap');
      let captured: ReturnType<typeof capture> | undefined;
      bed = makeBed({ wrap: (l) => (captured = capture(l, file)) });
      expect(captured!.tso).to.deep.equal({ maxPacket: 65535 });
      const data = seededBytes(200_000, 9);
      expect(sha(await transfer(bed, data))).to.equal(sha(data));
      await bed.close();
      bed = undefined;
      const s = captured!.writer.packets;
      expect(s).to.be.above(0);
      // Records: what A received plus what A handed over (super-packets counted once).
      const file8 = readFileSync(file);
      let records = 0;
      let largest = 0;
      for (let i = 24; i + 16 <= file8.length; i += 16 + file8.readUInt32LE(i + 8)) {
        records++;
        largest = Math.max(largest, file8.readUInt32LE(i + 12));
      }
      expect(records).to.equal(s);
      expect(largest).to.be.above(1500);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const faulty = withFaults(new TsoLink(createLinkPair()[0]), { drop: 0 });
    expect(faulty.tso).to.equal(undefined);
    expect(faulty.sendTso).to.equal(undefined);
  });
});

describe('GSO send over a link that takes super-packets over 64 KiB (BIG TCP)', function () {
  this.timeout(30_000);
  const BIG = 131_072;
  let stacks: Stack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.map((s) => s.close()));
    stacks = [];
  });

  /** A sends `data` to B over a software-GSO link of maxPacket 128 KiB, in one family. */
  async function bigTransfer(family: 4 | 6, data: Buffer, peerFaults?: FaultOptions, sendQuantum = 0): Promise<{ got: Buffer; tso: TsoLink; a: Stack; b: Stack }> {
    const [linkA, linkB] = createLinkPair();
    const tso = new TsoLink(linkA, BIG);
    const peer = peerFaults ? withFaults(linkB, peerFaults) : linkB;
    const tcp = { sendQuantum };
    const a = new Stack(family === 4 ? { link: tso, address: ADDR_A, tcp } : { link: tso, address6: 'fd00::1', tcp });
    const b = new Stack(family === 4 ? { link: peer, address: ADDR_B } : { link: peer, address6: 'fd00::2' });
    stacks.push(a, b);
    const received: Promise<Buffer>[] = [];
    b.net.createServer((socket: Socket) => received.push(readAll(socket))).listen(9);
    const socket = a.net.connect({ port: 9, host: family === 4 ? ADDR_B : 'fd00::2' });
    await once(socket, 'connect');
    socket.end(data);
    while (received.length === 0) await new Promise((r) => setImmediate(r));
    return { got: await (received[0] as Promise<Buffer>), tso, a, b };
  }

  for (const family of [4, 6] as const) {
    it(`IPv${family}: trains grow past 64 KiB in the shape the kernel takes, and every byte arrives`, async () => {
      const data = seededBytes(4 << 20, 40 + family);
      const { got, tso, a } = await bigTransfer(family, data);
      expect(sha(got)).to.equal(sha(data));
      expect(tso.bad, 'a wrong partial checksum, header or length').to.equal(0);
      const big = tso.superPackets.filter((sp) => sp.packet.length > 0xffff);
      expect(big.length, 'super-packets over 64 KiB').to.be.above(0);
      for (const sp of big) {
        expect(superPacketHeaderError(sp.packet)).to.equal(undefined);
        expect(sp.packet.length).to.be.at.most(BIG);
        // IPv4 says Total Length 0; IPv6 is a jumbogram (Hop-by-Hop next header).
        expect(family === 4 ? (sp.packet[2] as number) | (sp.packet[3] as number) : sp.packet[6]).to.equal(0);
      }
      // The send quantum stays off unless asked for (stack.ts).
      expect(a.tcpConfig.sendQuantum).to.equal(0);
    });
  }

  it('survives loss, reordering and duplication with trains over 64 KiB, both families, with and without a send quantum (seeded)', async () => {
    const seeds = process.env.SEED !== undefined ? [Number(process.env.SEED)] : [5, 6];
    for (const seed of seeds) {
      for (const family of [4, 6] as const) {
        // With a quantum of what a 128 KiB train carries (90 segments), as a caller may ask for.
        const quantum = seed % 2 === 0 ? 130_000 : 0;
        const data = seededBytes(1 << 20, seed);
        const { got, tso, b, a } = await bigTransfer(family, data, { seed, drop: 0.02, reorder: 0.02, duplicate: 0.01 }, quantum);
        const what = `IPv${family}, seed ${seed}, sendQuantum ${quantum} (replay with SEED=${seed})`;
        expect(a.tcpConfig.sendQuantum, what).to.equal(quantum);
        expect(sha(got), what).to.equal(sha(data));
        expect(tso.bad, what).to.equal(0);
        expect(b.stats().checksumFailures, what).to.equal(0);
        await Promise.all(stacks.map((s) => s.close()));
        stacks = [];
      }
    }
  });
});
