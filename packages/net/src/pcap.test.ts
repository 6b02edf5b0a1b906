import { expect } from 'chai';
import { readFileSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, LINKTYPE_RAW, PcapWriter } from './pcap.js';
import type { Link, LinkReceiver } from './link.js';

function fakeLink(): Link & { deliver: (p: Uint8Array[]) => void; sent: Uint8Array[]; closed: boolean } {
  let receiver: LinkReceiver | undefined;
  const link = {
    mtu: 1500,
    sent: [] as Uint8Array[],
    closed: false,
    start(r: LinkReceiver) {
      receiver = r;
    },
    send(p: Uint8Array) {
      link.sent.push(p);
    },
    async close() {
      link.closed = true;
    },
    deliver(p: Uint8Array[]) {
      receiver?.(p);
    },
  };
  return link;
}

describe('pcap capture', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tcptun-pcap-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a classic pcap header and one record per packet, both directions, in order', async () => {
    const file = join(dir, 'a.pcap');
    let now = 1_700_000_000_123.456;
    const inner = fakeLink();
    const link = capture(inner, file, { clock: () => now });
    const received: Uint8Array[] = [];
    link.start((ps) => received.push(...ps));
    link.send(Uint8Array.of(0x45, 1, 2, 3));
    now += 1.5;
    inner.deliver([Uint8Array.of(0x45, 9), Uint8Array.of(0x45, 8, 7)]);
    await link.close();

    expect(inner.sent).to.have.length(1);
    expect(received).to.have.length(2);
    expect(inner.closed).to.equal(true);
    const b = readFileSync(file);
    expect(b.readUInt32LE(0)).to.equal(0xa1b2c3d4);
    expect([b.readUInt16LE(4), b.readUInt16LE(6)]).to.deep.equal([2, 4]);
    expect(b.readUInt32LE(16), 'snaplen: the default of tcpdump').to.equal(262144);
    expect(b.readUInt32LE(20)).to.equal(LINKTYPE_RAW);
    let off = 24;
    const records: { sec: number; usec: number; data: number[] }[] = [];
    while (off < b.length) {
      const incl = b.readUInt32LE(off + 8);
      expect(b.readUInt32LE(off + 12)).to.equal(incl);
      records.push({ sec: b.readUInt32LE(off), usec: b.readUInt32LE(off + 4), data: [...b.subarray(off + 16, off + 16 + incl)] });
      off += 16 + incl;
    }
    expect(off).to.equal(b.length);
    expect(records.map((r) => r.data)).to.deep.equal([[0x45, 1, 2, 3], [0x45, 9], [0x45, 8, 7]]);
    expect(records[0]).to.include({ sec: 1_700_000_000, usec: 123_456 });
    expect(records[1]).to.include({ sec: 1_700_000_000, usec: 124_956 });
  });

  it('truncates to the snap length but keeps the original length', () => {
    const file = join(dir, 'b.pcap');
    const w = new PcapWriter(file, { snapLength: 20, clock: () => 0 });
    w.write(new Uint8Array(100).fill(7));
    w.close();
    w.close();
    const b = readFileSync(file);
    expect(b.readUInt32LE(24 + 8)).to.equal(20);
    expect(b.readUInt32LE(24 + 12)).to.equal(100);
    expect(b.length).to.equal(24 + 16 + 20);
  });

  it('flushes across its buffer boundary without losing records', () => {
    const file = join(dir, 'c.pcap');
    const w = new PcapWriter(file, { clock: () => 0 });
    const packet = new Uint8Array(1500).fill(1);
    for (let i = 0; i < 2000; i++) w.write(packet);
    w.close();
    expect(readFileSync(file).length).to.equal(24 + 2000 * (16 + 1500));
    expect(w.packets).to.equal(2000);
  });

  it('rejects a bad snap length with a code', () => {
    expect(() => new PcapWriter(join(dir, 'd.pcap'), { snapLength: 5 })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
  });

  it('writes to a descriptor it is given, and flushes on its timer without close()', async () => {
    const file = join(dir, 'e.pcap');
    const fd = openSync(file, 'w', 0o600);
    const w = new PcapWriter(fd, { clock: () => 0, flushIntervalMs: 20 });
    w.write(new Uint8Array(40).fill(0x45));
    expect(statSync(file).size).to.equal(0);
    await new Promise((r) => setTimeout(r, 70));
    expect(statSync(file).size).to.equal(24 + 16 + 40);
    w.close();
    expect(() => new PcapWriter(-1)).to.throw(TypeError).with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => new PcapWriter(join(dir, 'f.pcap'), { flushIntervalMs: -1 })).to.throw(RangeError).with.property('code', 'ERR_INVALID_ARG_VALUE');
  });
});
