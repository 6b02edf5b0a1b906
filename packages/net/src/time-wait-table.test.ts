/**
 * The TIME-WAIT table (time-wait-table.ts): records keyed like the connection table, bounded by
 * their own cap (tcp_max_tw_buckets), expired on one deadline, answering segments through the
 * record and deciding RFC 6191 reuse; and what it costs per record.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { TcpConnection, TimeWaitRecord, type Endpoint, type TcpRepr } from '@tcp-tun/tcp';
import { ipv4ToMapped, ipv6FromString } from '@tcp-tun/ip';
import { DEFAULT_MAX_TIME_WAIT, TimeWaitTable } from './time-wait-table.js';

const US = 0x0a000001;
const PEER = 0x0a000002;
const IRS = 9000;
const ISS = 1000;

/** A record as a connection from local port 80 to PEER:`remotePort` leaves it: RCV.NXT = IRS + 2, SND.NXT = ISS + 2. */
function rec(remotePort: number, now = 0, timeWaitMs = 60_000, localPort = 80): TimeWaitRecord {
  return new TimeWaitRecord({ localPort, remotePort, sndNxt: ISS + 2, rcvNxt: IRS + 2, windowField: 1000, windowShift: 0, timestamps: undefined, timeWaitMs, now });
}

/** A segment from PEER:`remotePort` to our port 80. */
function seg(remotePort: number, over: Partial<TcpRepr>): TcpRepr {
  return { srcPort: remotePort, dstPort: 80, control: 'none', seq: IRS + 2, ack: ISS + 2, window: 1000, ...over };
}

describe('TimeWaitTable over IPv6', () => {
  const PEER6 = ipv6FromString('2001:db8::2');

  it('holds IPv6 4-tuples apart from IPv4 ones with the same ports (and from the IPv4-mapped address); answers, expires and reuses them', () => {
    const t = new TimeWaitTable();
    const v4 = rec(40_000);
    const v6 = rec(40_000, 0, 60_000);
    const v6b = rec(40_000, 0, 30_000, 81);
    expect(t.add(PEER, v4)).to.equal(true);
    expect(t.add(PEER6, v6)).to.equal(true);
    expect(t.add(PEER6, v6b)).to.equal(true);
    expect(t.size).to.equal(3);
    expect(t.get(PEER, 40_000, 80)).to.equal(v4);
    expect(t.get(ipv6FromString('2001:db8:0::2'), 40_000, 80)).to.equal(v6);
    expect(t.get(PEER6, 40_000, 81)).to.equal(v6b);
    expect(t.has(ipv4ToMapped(PEER), 40_000, 80)).to.equal(false);
    expect(t.has(ipv6FromString('2001:db8::3'), 40_000, 80)).to.equal(false);
    // A retransmitted FIN over IPv6 gets the record's ACK.
    const a = t.handleSegment(10, PEER6, seg(40_000, { control: 'fin', seq: IRS + 1 }), 0, true);
    expect(a?.kind).to.equal('reply');
    // The earliest deadline is the IPv6 record on port 81; expiring it leaves the others.
    expect(t.nextDeadline()).to.equal(30_000);
    expect(t.expire(30_000)).to.equal(1);
    expect(t.has(PEER6, 40_000, 81)).to.equal(false);
    expect(t.get(PEER6, 40_000, 80)).to.equal(v6);
    // A SYN that may reopen the IPv6 4-tuple (RFC 6191): the record goes, the IPv4 one stays.
    expect(t.handleSegment(20, PEER6, seg(40_000, { control: 'syn', seq: IRS + 100_000, ack: undefined }), 0, true)).to.deep.equal({ kind: 'reuse' });
    expect(t.has(PEER6, 40_000, 80)).to.equal(false);
    expect(t.get(PEER, 40_000, 80)).to.equal(v4);
    expect(t.expire(60_010)).to.equal(1);
    expect(t.size).to.equal(0);
    expect(t.nextDeadline()).to.equal(undefined);
  });

  it('many IPv6 records: every one found by its own address, deleted and expired exactly once', () => {
    const t = new TimeWaitTable();
    const addr = (i: number): Uint8Array => ipv6FromString(`2001:db8:${(i >>> 8).toString(16)}::${(i & 0xff).toString(16)}`);
    for (let i = 0; i < 2000; i++) expect(t.add(addr(i), rec(1000 + (i % 7), i, 60_000))).to.equal(true);
    expect(t.size).to.equal(2000);
    for (let i = 0; i < 2000; i += 2) expect(t.delete(addr(i), 1000 + (i % 7), 80)).to.equal(true);
    for (let i = 0; i < 2000; i++) expect(t.has(addr(i), 1000 + (i % 7), 80), `record ${i}`).to.equal(i % 2 === 1);
    expect(t.expire(1_000_000)).to.equal(1000);
    expect(t.size).to.equal(0);
  });
});

describe('TimeWaitTable', () => {
  it('keys by (remote address, remote port, local port); a second local port for one remote endpoint works too', () => {
    const t = new TimeWaitTable();
    const a = rec(40_000);
    const b = rec(40_000, 0, 60_000, 81);
    expect(t.add(PEER, a)).to.equal(true);
    expect(t.add(PEER, b)).to.equal(true);
    expect(t.add(PEER + 1, rec(40_000))).to.equal(true);
    expect(t.size).to.equal(3);
    expect(t.get(PEER, 40_000, 80)).to.equal(a);
    expect(t.get(PEER, 40_000, 81)).to.equal(b);
    expect(t.has(PEER, 40_001, 80)).to.equal(false);
    expect(t.delete(PEER, 40_000, 80)).to.equal(true);
    expect(t.get(PEER, 40_000, 81)).to.equal(b);
    expect(t.delete(PEER, 40_000, 80)).to.equal(false);
    expect(t.size).to.equal(2);
    expect(t.stats).to.deep.include({ held: 2, added: 3, max: DEFAULT_MAX_TIME_WAIT });
  });

  it('its own cap (tcp_max_tw_buckets): beyond it a connection closes without TIME-WAIT and `overflows` counts it', () => {
    const t = new TimeWaitTable(2);
    expect(t.add(PEER, rec(1))).to.equal(true);
    expect(t.add(PEER, rec(2))).to.equal(true);
    expect(t.add(PEER, rec(3))).to.equal(false);
    expect(t.add(PEER, rec(1, 10))).to.equal(true); // the same 4-tuple again replaces
    expect(t.stats).to.deep.include({ held: 2, overflows: 1, added: 3 });
    const none = new TimeWaitTable(0);
    expect(none.add(PEER, rec(1))).to.equal(false);
    expect(none.size).to.equal(0);
    expect(() => new TimeWaitTable(-1)).to.throw(RangeError);
    expect(() => new TimeWaitTable(1.5)).to.throw(RangeError);
  });

  it('one deadline for the stack\'s timer: nextDeadline() is the earliest 2·MSL end, expire(now) forgets what is over', () => {
    const t = new TimeWaitTable();
    expect(t.nextDeadline()).to.equal(undefined);
    t.add(PEER, rec(1, 300, 1000)); // ends 1300
    t.add(PEER, rec(2, 100, 1000)); // ends 1100
    t.add(PEER, rec(3, 200, 5000)); // ends 5200 (another timeWaitMs)
    expect(t.nextDeadline()).to.equal(1100);
    expect(t.expire(1099)).to.equal(0);
    expect(t.expire(1300)).to.equal(2);
    expect(t.has(PEER, 2, 80) || t.has(PEER, 1, 80)).to.equal(false);
    expect(t.nextDeadline()).to.equal(5200);
    expect(t.stats.expired).to.equal(2);
  });

  it('a retransmitted FIN restarts a record\'s wait: its deadline moves; a record removed early leaves no deadline behind', () => {
    const t = new TimeWaitTable();
    t.add(PEER, rec(1, 0, 1000));
    t.add(PEER, rec(2, 100, 1000));
    const a = t.handleSegment(500, PEER, seg(1, { control: 'fin', seq: IRS + 1 }), 0, true);
    expect(a?.kind).to.equal('reply');
    expect(t.nextDeadline()).to.equal(1100); // record 1 now ends at 1500
    expect(t.handleSegment(600, PEER, seg(2, { control: 'rst', ack: undefined }), 0, true)?.kind).to.equal('closed');
    expect(t.nextDeadline()).to.equal(1500);
    expect(t.expire(1499)).to.equal(0);
    expect(t.expire(1500)).to.equal(1);
    expect(t.size).to.equal(0);
    expect(t.nextDeadline()).to.equal(undefined);
  });

  it('answers through the record: a retransmitted FIN gets the ACK, a bare ACK nothing, an exact RST ends it; no record → undefined', () => {
    const t = new TimeWaitTable();
    t.add(PEER, rec(1));
    const fin = t.handleSegment(10, PEER, seg(1, { control: 'fin', seq: IRS + 1 }), 0, true);
    expect(fin).to.deep.equal({
      kind: 'reply',
      transmit: { repr: { srcPort: 80, dstPort: 1, control: 'none', seq: ISS + 2, ack: IRS + 2, window: 1000, timestamp: undefined }, payload: new Uint8Array(0), ecn: 'not-ect' },
    });
    expect(t.handleSegment(20, PEER, seg(1, {}), 0, true)).to.deep.equal({ kind: 'drop' });
    expect(t.handleSegment(30, PEER, seg(2, {}), 0, true)).to.equal(undefined);
    expect(t.handleSegment(40, PEER + 1, seg(1, {}), 0, true)).to.equal(undefined);
    expect(t.handleSegment(50, PEER, seg(1, { control: 'rst', seq: IRS + 2, ack: undefined }), 0, true)).to.deep.equal({ kind: 'closed' });
    expect(t.size).to.equal(0);
    expect(t.stats).to.deep.include({ acks: 1, resets: 1 });
  });

  it('RFC 6191: a new SYN reopens the 4-tuple when a listener can take it (record gone); without one it gets an ACK and the record stays', () => {
    const t = new TimeWaitTable();
    t.add(PEER, rec(1));
    const syn = seg(1, { control: 'syn', seq: IRS + 100_000, ack: undefined });
    expect(t.reusableBy(PEER, syn)).to.equal(true);
    expect(t.reusableBy(PEER, { ...syn, seq: IRS })).to.equal(false);
    expect(t.reusableBy(PEER, { ...syn, srcPort: 2 })).to.equal(false);
    expect(t.handleSegment(10, PEER, syn, 0, false)?.kind).to.equal('reply');
    expect(t.size).to.equal(1);
    expect(t.handleSegment(20, PEER, syn, 0, true)).to.deep.equal({ kind: 'reuse' });
    expect(t.size).to.equal(0);
    expect(t.stats.reused).to.equal(1);
  });

  it('a record whose wait ran out is forgotten on the next segment even before expire()', () => {
    const t = new TimeWaitTable();
    t.add(PEER, rec(1, 0, 1000));
    expect(t.handleSegment(1000, PEER, seg(1, { control: 'fin', seq: IRS + 1 }), 0, true)).to.equal(undefined);
    expect(t.size).to.equal(0);
    expect(t.nextDeadline()).to.equal(undefined);
  });

  it('takes over from an engine: the record of a connection in TIME-WAIT answers as the connection did', () => {
    const local: Endpoint = { addr: US, port: 80 };
    const remote: Endpoint = { addr: PEER, port: 40_000 };
    const conn = TcpConnection.connect(0, { local, remote, iss: ISS, config: { timeWaitMs: 2000 } });
    conn.pollTransmit(0);
    const base = { srcPort: 40_000, dstPort: 80, window: 8000 } as const;
    conn.handleSegment(10, { ...base, control: 'syn', seq: IRS, ack: ISS + 1, mss: 1460 }, new Uint8Array(0));
    conn.close();
    while (conn.pollTransmit(20) !== undefined);
    conn.handleSegment(30, { ...base, control: 'fin', seq: IRS + 1, ack: ISS + 2 }, new Uint8Array(0));
    while (conn.pollTransmit(30) !== undefined);
    expect(conn.state).to.equal('TIME-WAIT');
    const t = new TimeWaitTable();
    expect(t.add(PEER, conn.toTimeWait()!)).to.equal(true);
    expect(conn.state).to.equal('CLOSED');
    const answer = t.handleSegment(500, PEER, { ...base, control: 'fin', seq: IRS + 1, ack: ISS + 2 }, 0, true);
    expect(answer?.kind === 'reply' && answer.transmit.repr).to.deep.include({ srcPort: 80, dstPort: 40_000, seq: ISS + 2, ack: IRS + 2 });
    expect(t.nextDeadline()).to.equal(2500);
  });

  it('churn: records reopened early are skipped at their old deadlines and compacted away (100,000 adds, 90% reused at once)', () => {
    const t = new TimeWaitTable();
    for (let i = 0; i < 100_000; i++) {
      const port = 1024 + (i >>> 2);
      t.add(PEER + (i & 3), rec(port, i / 10));
      if (i % 10 !== 0) t.handleSegment(i / 10, PEER + (i & 3), seg(port, { control: 'syn', seq: IRS + 100_000, ack: undefined }), 0, true);
    }
    expect(t.size).to.equal(10_000);
    expect(t.stats.reused).to.equal(90_000);
    expect(t.nextDeadline()).to.equal(60_000);
    expect(t.expire(70_000)).to.equal(10_000);
    expect(t.size).to.equal(0);
    expect(t.nextDeadline()).to.equal(undefined);
  });

  it('costs about 200 octets per held TIME-WAIT (record, map entry, heap slot), 100,000 held from 4 client addresses', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = (): number => {
      for (let i = 0; i < 3; i++) gc();
      return process.memoryUsage().heapUsed;
    };
    const N = 100_000;
    const t = new TimeWaitTable();
    const before = heap();
    for (let i = 0; i < N; i++) t.add(PEER + (i & 3), rec(1024 + (i >>> 2), 1000.5 + i / 7));
    const per = (heap() - before) / N;
    console.log(`      heap per held TIME-WAIT: ${per.toFixed(0)} B`);
    expect(t.size).to.equal(N);
    expect(per).to.be.below(320);
  });
});
