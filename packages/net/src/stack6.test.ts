/**
 * IPv6 in the stack (issue 13), below the socket layer: two dual-stack stacks over
 * `createLinkPair` (fd00::1 and fd00::2, 10.0.0.1 and 10.0.0.2; nothing touches a real network)
 * driven through their `StackPort`, with a fake clock that only the tests advance. And one stack
 * on a `RawLink` for ICMPv6, fragments, NDP/MLD, mapped addresses and the error rate limit.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  IPV6_LOOPBACK,
  emitIpv6,
  ipv4FromString,
  ipv6FromString,
  ipv6ToString,
  makeIpv6Repr,
  parseIcmpv6,
  parseIpv6,
  type Icmpv6Repr,
} from '@tcp-tun/ip';
import { ADDR_A, ADDR_B, RawLink, seededBytes } from './__tests__/harness.js';
import { TsoLink } from './__tests__/gso.js';
import { Conn, connect, fragment6, icmpv6Packet, listen, turn, until } from './__tests__/raw6.js';
import { createLinkPair } from './link-pair.js';
import type { Link, LinkReceiver } from './link.js';
import { capture } from './pcap.js';
import { Stack } from './stack.js';

const A6 = 'fd00::1';
const B6 = 'fd00::2';
const PEER6 = 'fd00::99';

interface Pair6 {
  a: Stack;
  b: Stack;
  advance(ms: number): void;
  close(): Promise<void>;
}

/** Two dual-stack stacks on one fake clock; `wrapA` may put something between A and its link. */
function pair6(opts: { gso?: boolean; wrapA?: (l: Link) => Link; mtu?: number; tcp?: Record<string, unknown> } = {}): Pair6 {
  const [la, lb] = createLinkPair({ mtu: opts.mtu ?? 1500 });
  let now = 1000;
  const clock = (): number => now;
  let linkA: Link = opts.gso === true ? new TsoLink(la, 65535, false) : la;
  if (opts.wrapA !== undefined) linkA = opts.wrapA(linkA);
  const a = new Stack({ link: linkA, address: ADDR_A, address6: A6, clock, ...(opts.tcp ? { tcp: opts.tcp } : {}) });
  const b = new Stack({ link: lb, address: ADDR_B, address6: B6, clock, ...(opts.tcp ? { tcp: opts.tcp } : {}) });
  return {
    a,
    b,
    advance(ms: number) {
      now += ms;
      a.runTimers();
      b.runTimers();
    },
    close: () => Promise.all([a.close(), b.close()]).then(() => undefined),
  };
}

describe('Stack over IPv6', function () {
  this.timeout(60_000);

  describe('options', () => {
    it('needs an address of at least one family', () => {
      const [l] = createLinkPair();
      expect(() => new Stack({ link: l })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    });
    it('refuses an IPv6 address that is not one unicast address, and an MTU below 1280', () => {
      for (const bad of ['::', '::1', 'ff02::1', '::ffff:10.0.0.1']) {
        const [l] = createLinkPair();
        expect(() => new Stack({ link: l, address6: bad }), bad).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
      }
      const [l] = createLinkPair();
      expect(() => new Stack({ link: l, address6: 'not-an-address' })).to.throw().with.property('code', 'ERR_INVALID_IP_ADDRESS');
      const [small] = createLinkPair({ mtu: 1000 });
      expect(() => new Stack({ link: small, address6: A6 })).to.throw().with.property('code', 'ERR_INVALID_ARG_VALUE');
    });
    it('reports its addresses (RFC 5952 text) and, v6-only, refuses IPv4 with ENETUNREACH', async () => {
      const [l] = createLinkPair();
      const s = new Stack({ link: l, address6: 'FD00:0:0::0:2' });
      expect(s.address6).to.equal('fd00::2');
      expect(s.address).to.equal(undefined);
      expect(() => s._port().open({ onTcpEvent() {} }, ipv4FromString('10.0.0.9'), 80, undefined)).to.throw().with.property('code', 'ENETUNREACH');
      expect(() => s._port().open({ onTcpEvent() {} }, ipv6FromString('::ffff:10.0.0.9'), 80, undefined)).to.throw().with.property('code', 'ENETUNREACH');
      await s.close();
    });
  });

  for (const gso of [false, true]) {
    describe(`two stacks over IPv6, GSO ${gso ? 'on' : 'off'}`, () => {
      it('connect, echo both ways, half-close, 2 MiB intact, then TIME-WAIT', async () => {
        const p = pair6({ gso });
        try {
          const l = listen(p.b, 8080, '::');
          l.onAccept = (c) => c.write(new TextEncoder().encode('hello from b'));
          const c = connect(p.a, B6, 8080);
          await until('connected', () => c.connected && l.accepted.length === 1);
          const s = l.accepted[0] as Conn;
          expect(c.handle.family).to.equal(6);
          expect(ipv6ToString(c.handle.localAddr as Uint8Array)).to.equal(A6);
          expect(ipv6ToString(s.handle.remoteAddr as Uint8Array)).to.equal(A6);
          const data = seededBytes(2 * 1024 * 1024, gso ? 7 : 8);
          c.write(data, true);
          await until('server got all', () => s.ended, 200000);
          expect(Buffer.compare(s.data(), Buffer.from(data))).to.equal(0);
          expect(c.data().toString()).to.equal('hello from b');
          // Half-closed: the server can still send after the client's FIN.
          s.write(new TextEncoder().encode('after your FIN'), true);
          await until('client end', () => c.ended && c.closed && s.closed, 200000);
          expect(c.data().toString()).to.equal('hello from bafter your FIN');
          const rows = p.a.connections();
          expect(rows.every((r) => r.family === 6 && r.remoteAddress === B6)).to.equal(true);
          // The active closer holds the 4-tuple in TIME-WAIT (RFC 9293 §3.10.7.4).
          expect(p.a.stats().timeWait.held).to.equal(1);
          if (gso) expect(p.a.stats().superPacketsOut).to.be.greaterThan(0);
          expect(p.a.stats().ipv6?.packetsOut).to.be.greaterThan(0);
          p.advance(61_000);
          expect(p.a.stats().timeWait.held).to.equal(0);
        } finally {
          await p.close();
        }
      });
    });
  }

  it('a new SYN reopens an IPv6 4-tuple in TIME-WAIT (RFC 6191)', async () => {
    const p = pair6();
    try {
      const l = listen(p.b, 97, '::');
      l.onAccept = (c) => c.write(new TextEncoder().encode('bye'), true); // B closes first
      const c = connect(p.a, B6, 97);
      await until('first closed', () => c.ended);
      c.handle.shutdown();
      await until('b in TIME-WAIT', () => p.b.stats().timeWait.held === 1 && c.closed);
      const port = c.handle.localPort;
      const again = new Conn();
      again.handle = p.a._port().open(again, ipv6FromString(B6), 97, port);
      p.advance(10); // a later timestamp for the new SYN
      await until('reopened', () => again.connected && l.accepted.length === 2);
      expect(again.handle.localPort).to.equal(port);
      expect(p.b.stats().timeWait.reused).to.equal(1);
    } finally {
      await p.close();
    }
  });

  it('a SYN to a closed port gets a RST: ECONNREFUSED', async () => {
    const p = pair6();
    try {
      const c = connect(p.a, B6, 9);
      await until('refused', () => c.error !== undefined);
      expect(c.error).to.equal('ECONNREFUSED');
      expect(p.b.stats().resetsSent).to.equal(1);
    } finally {
      await p.close();
    }
  });

  it('abort sends a RST the peer sees as ECONNRESET', async () => {
    const p = pair6();
    try {
      const l = listen(p.b, 80, B6);
      const c = connect(p.a, B6, 80);
      await until('accepted', () => c.connected && l.accepted.length === 1);
      c.handle.abort();
      const s = l.accepted[0] as Conn;
      await until('reset', () => s.error !== undefined);
      expect(s.error).to.equal('ECONNRESET');
    } finally {
      await p.close();
    }
  });

  it('SYN cookies under a full backlog: every connection completes', async () => {
    const p = pair6();
    try {
      const l = listen(p.b, 81, '::', false, 1);
      const clients: Conn[] = [];
      for (let i = 0; i < 8; i++) clients.push(connect(p.a, B6, 81));
      await until('all accepted', () => l.accepted.length === 8 && clients.every((c) => c.connected));
      expect(p.b.stats().synCookiesSent).to.be.greaterThan(0);
      expect(p.b.stats().synCookiesAccepted).to.be.greaterThan(0);
    } finally {
      await p.close();
    }
  });

  it('IPv4 and IPv6 at the same time on one stack; `::` takes both, ipv6Only and 0.0.0.0 one each', async () => {
    const p = pair6();
    try {
      const dual = listen(p.b, 90, '::');
      const c6 = connect(p.a, B6, 90);
      const c4 = connect(p.a, ipv4FromString(ADDR_B), 90);
      await until('both', () => c6.connected && c4.connected && dual.accepted.length === 2);
      const fams = dual.accepted.map((c) => c.handle.family).sort();
      expect(fams).to.deep.equal([4, 6]);
      c6.write(seededBytes(100_000, 1), true);
      c4.write(seededBytes(100_000, 2), true);
      await until('both ended', () => dual.accepted.every((c) => c.ended), 100000);
      for (const s of dual.accepted) {
        expect(Buffer.compare(s.data(), Buffer.from(seededBytes(100_000, s.handle.family === 6 ? 1 : 2)))).to.equal(0);
      }
      // Port conflicts as on Linux: `::` (dual) and 0.0.0.0 clash; `::` ipv6Only and 0.0.0.0 do not.
      expect(() => listen(p.b, 90, '0.0.0.0')).to.throw().with.property('code', 'EADDRINUSE');
      const v6only = listen(p.b, 91, '::', true);
      const v4 = listen(p.b, 91, '0.0.0.0');
      expect(() => listen(p.b, 91, B6)).to.throw().with.property('code', 'EADDRINUSE');
      expect(() => listen(p.b, 92, 'fd00::77')).to.throw().with.property('code', 'EADDRNOTAVAIL');
      const d6 = connect(p.a, B6, 91);
      const d4 = connect(p.a, ipv4FromString(ADDR_B), 91);
      await until('split', () => v6only.accepted.length === 1 && v4.accepted.length === 1 && d6.connected && d4.connected);
      expect(v6only.accepted[0]?.handle.family).to.equal(6);
      expect(v4.accepted[0]?.handle.family).to.equal(4);
      // An IPv6-only listener gets no IPv4 connection: RST.
      const v6onlyAlone = listen(p.b, 93, '::', true);
      const refused = connect(p.a, ipv4FromString(ADDR_B), 93);
      await until('refused', () => refused.error !== undefined);
      expect(refused.error).to.equal('ECONNREFUSED');
      expect(v6onlyAlone.accepted.length).to.equal(0);
    } finally {
      await p.close();
    }
  });

  it('loops back to ::1 and to its own address, never through the link', async () => {
    const p = pair6();
    try {
      const l = listen(p.a, 7000, '::');
      const before = p.a.stats().packetsOut;
      const lo = connect(p.a, IPV6_LOOPBACK, 7000);
      const own = connect(p.a, A6, 7000);
      lo.write(new TextEncoder().encode('lo'), true);
      own.write(new TextEncoder().encode('own'), true);
      await until('both', () => l.accepted.length === 2 && l.accepted.every((c) => c.ended));
      const got = l.accepted.map((c) => c.data().toString()).sort();
      expect(got).to.deep.equal(['lo', 'own']);
      const lc = l.accepted.find((c) => c.data().toString() === 'lo') as Conn;
      expect(ipv6ToString(lc.handle.remoteAddr as Uint8Array)).to.equal('::1');
      expect(p.a.stats().packetsOut).to.equal(before);
      expect(p.a.stats().loopbackPackets).to.be.greaterThan(0);
    } finally {
      await p.close();
    }
  });

  it('labels each connection\'s packets with one flow label (RFC 6437), different per connection, never 0; hop limit 64, ECN in the traffic class', async () => {
    const sent: Uint8Array[] = [];
    const recording = (inner: Link): Link => ({
      get mtu() {
        return inner.mtu;
      },
      start: (r) => inner.start(r),
      send: (p) => {
        sent.push(p.slice());
        inner.send(p);
      },
      close: () => inner.close(),
    });
    const p = pair6({ wrapA: recording, tcp: { ecn: true } });
    try {
      const l = listen(p.b, 96, '::');
      const c1 = connect(p.a, B6, 96);
      const c2 = connect(p.a, B6, 96);
      await until('both', () => c1.connected && c2.connected && l.accepted.length === 2);
      c1.write(seededBytes(20_000, 1), true);
      c2.write(seededBytes(20_000, 2), true);
      await until('ended', () => l.accepted.every((c) => c.ended));
      const labels = new Map<number, Set<number>>();
      for (const pkt of sent) {
        if (pkt[0]! >> 4 !== 6 || pkt[6] !== 6) continue;
        expect(pkt[7], 'hop limit').to.equal(64);
        const port = (pkt[40]! << 8) | pkt[41]!;
        const label = ((pkt[1]! & 0x0f) << 16) | (pkt[2]! << 8) | pkt[3]!;
        if (!labels.has(port)) labels.set(port, new Set());
        labels.get(port)?.add(label);
      }
      const ports = [c1.handle.localPort, c2.handle.localPort];
      const [l1, l2] = ports.map((port) => [...(labels.get(port) ?? [])]);
      expect(l1).to.have.length(1);
      expect(l2).to.have.length(1);
      expect(l1?.[0]).to.not.equal(0);
      expect(l1?.[0]).to.not.equal(l2?.[0]);
      // ECN: new data of an ECN connection goes out ECT(0) (binary 10) in the traffic class's low bits.
      const ecnMarks = sent.filter((pkt) => pkt[0]! >> 4 === 6 && pkt.length > 100).map((pkt) => ((pkt[1]! >> 4) & 0x03));
      expect(ecnMarks.length).to.be.greaterThan(0);
      expect(ecnMarks.every((e) => e === 2)).to.equal(true);
    } finally {
      await p.close();
    }
  });

  it('capture() records IPv6 and IPv4 packets in one LINKTYPE_RAW file; rows and stats name the family', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-pcap6-'));
    const file = join(dir, 'dual.pcap');
    const p = pair6({ wrapA: (l) => capture(l, file) });
    try {
      const l = listen(p.b, 95, '::');
      const c6 = connect(p.a, B6, 95);
      const c4 = connect(p.a, ipv4FromString(ADDR_B), 95);
      await until('both', () => c6.connected && c4.connected && l.accepted.length === 2);
      const rows = p.a.connections().map((r) => `${r.family} ${r.localAddress} ${r.remoteAddress}`).sort();
      expect(rows).to.deep.equal([`4 ${ADDR_A} ${ADDR_B}`, `6 ${A6} ${B6}`]);
      await p.close();
      const b = readFileSync(file);
      expect(b.readUInt32LE(20)).to.equal(101);
      const versions = new Set<number>();
      for (let off = 24; off < b.length; off += 16 + b.readUInt32LE(off + 8)) versions.add((b[off + 16] as number) >> 4);
      expect([...versions].sort()).to.deep.equal([4, 6]);
    } finally {
      await p.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('packet too big lowers the MSS and the transfer completes intact (GSO on and off)', async () => {
    for (const gso of [false, true]) {
      let ptbs = 0;
      // A "router" in front of A's link: packets over 1280 octets are dropped and answered with
      // packet too big (MTU 1280), as a 1280 hop would.
      const wrapA = (inner: Link): Link => new PtbRouter(inner, 1280, () => ptbs++);
      const p = pair6({ gso, wrapA });
      try {
        const l = listen(p.b, 8081, '::');
        const c = connect(p.a, B6, 8081);
        const data = seededBytes(300_000, 3);
        await until('connected', () => c.connected);
        c.write(data, true);
        // Time moves only here (a lost segment may wait for its retransmission timer).
        for (let i = 0; i < 400 && !(l.accepted[0]?.ended ?? false); i++) {
          for (let j = 0; j < 20; j++) await turn();
          p.advance(250);
        }
        expect(l.accepted[0]?.ended, 'the server saw the whole upload').to.equal(true);
        expect(Buffer.compare((l.accepted[0] as Conn).data(), Buffer.from(data))).to.equal(0);
        expect(ptbs).to.be.greaterThan(0);
        expect(p.a.stats().icmpv6?.errorsReceived).to.be.greaterThan(0);
        expect(c.handle.tcpInfo().sendMss).to.be.at.most(1280 - 60);
        // With GSO, the trains after the packet too big are cut at the new MSS (they pass the hop).
        if (gso) expect(p.a.stats().superPacketsOut).to.be.greaterThan(2);
      } finally {
        await p.close();
      }
    }
  });
});

describe('Stack over IPv6: ICMPv6 and the IPv6 leg on a raw link', function () {
  let link: RawLink;
  let stack: Stack;
  let now: number;
  beforeEach(() => {
    link = new RawLink(1500);
    now = 5000;
    stack = new Stack({ link, address: ADDR_A, address6: A6, clock: () => now });
  });
  afterEach(() => stack.close());

  const sentIcmp6 = (): Icmpv6Repr[] =>
    link.sent.flatMap((p) => {
      const ip = parseIpv6(p);
      if (!ip.ok || ip.repr.nextHeader !== 58) return [];
      const m = parseIcmpv6(ip.payload, ip.repr.src, ip.repr.dst);
      return m.ok ? [m.repr] : [];
    });

  it('answers an echo request with the same data, from the address it was sent to', async () => {
    const data = seededBytes(100, 4);
    await link.inject(icmpv6Packet(PEER6, A6, { type: 'echo-request', ident: 7, seqNo: 3, data }));
    expect(link.sent.length).to.equal(1);
    const ip = parseIpv6(link.sent[0] as Uint8Array);
    if (!ip.ok) throw new Error('bad reply');
    expect(ipv6ToString(ip.repr.src)).to.equal(A6);
    expect(ipv6ToString(ip.repr.dst)).to.equal(PEER6);
    const [reply] = sentIcmp6();
    expect(reply).to.deep.include({ type: 'echo-reply', ident: 7, seqNo: 3 });
    expect(Buffer.compare(Buffer.from((reply as { data: Uint8Array }).data), Buffer.from(data))).to.equal(0);
    expect(stack.stats().icmpv6?.echoReplies).to.equal(1);
  });

  it('reassembles a fragmented echo request and answers it', async () => {
    const data = seededBytes(1200, 5);
    const whole = icmpv6Packet(PEER6, A6, { type: 'echo-request', ident: 1, seqNo: 1, data });
    const frags = fragment6(whole, 512, 0x1234);
    expect(frags.length).to.be.greaterThan(1);
    for (const f of frags.reverse()) await link.inject(f);
    const [reply] = sentIcmp6();
    expect(reply?.type).to.equal('echo-reply');
    expect(Buffer.compare(Buffer.from((reply as { data: Uint8Array }).data), Buffer.from(data))).to.equal(0);
    expect(stack.stats().ipv6?.reassembly.datagramsCompleted).to.equal(1);
  });

  it('sends time exceeded (code 1) for a packet whose fragments time out', async () => {
    const whole = icmpv6Packet(PEER6, A6, { type: 'echo-request', ident: 1, seqNo: 1, data: seededBytes(1200, 6) });
    const [first] = fragment6(whole, 512, 0x77);
    await link.inject(first as Uint8Array);
    expect(link.sent.length).to.equal(0);
    now += 61_000;
    stack.runTimers();
    await turn();
    const [te] = sentIcmp6();
    expect(te).to.deep.include({ type: 'time-exceeded', code: 1 });
    expect(stack.stats().ipv6?.drops['fragment-timeout']).to.equal(1);
  });

  it('counts NDP and MLD by type and drops them without an answer', async () => {
    const rs = icmpv6Packet('fe80::1', 'ff02::2', { type: 'neighbour-discovery', msgType: 133, code: 0, body: new Uint8Array(4) }, 255);
    const ns = icmpv6Packet('fe80::1', A6, { type: 'neighbour-discovery', msgType: 135, code: 0, body: new Uint8Array(20) }, 255);
    const mld = icmpv6Packet('fe80::1', 'ff02::16', { type: 'multicast-listener', msgType: 143, code: 0, body: new Uint8Array(4) }, 1);
    await link.inject(rs, ns, mld, rs);
    expect(link.sent.length).to.equal(0);
    expect(stack.stats().ipv6?.ndpMldDropped).to.deep.equal({ 133: 2, 135: 1, 143: 1 });
  });

  it('drops packets with IPv4-mapped addresses, to other addresses, and ::1 from the link', async () => {
    const echo: Icmpv6Repr = { type: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(8) };
    await link.inject(
      icmpv6Packet('::ffff:10.0.0.9', A6, echo),
      icmpv6Packet(PEER6, '::ffff:10.0.0.1', echo),
      icmpv6Packet(PEER6, 'fd00::55', echo),
      icmpv6Packet('::1', A6, echo),
    );
    expect(link.sent.length).to.equal(0);
    const drops = stack.stats().ipv6?.drops ?? {};
    expect(drops['mapped-address']).to.equal(2);
    expect(drops['not-for-us']).to.equal(1);
    expect(drops['loopback-address']).to.equal(1);
  });

  it('answers an unknown next header with parameter problem, rate-limited, never to multicast', async () => {
    const bad = (dst: string): Uint8Array => {
      const p = new Uint8Array(48);
      emitIpv6(makeIpv6Repr({ src: ipv6FromString(PEER6), dst: ipv6FromString(dst), nextHeader: 253, payloadLength: 8 }), p);
      return p;
    };
    await link.inject(bad('ff02::1'));
    expect(link.sent.length).to.equal(0);
    await link.inject(bad(A6));
    const [pp] = sentIcmp6();
    expect(pp).to.deep.include({ type: 'parameter-problem', code: 1, pointer: 6 });
    // A flood at one instant: the bucket (50) empties and the rest is held back (RFC 4443 §2.4 (f)).
    const flood: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) flood.push(bad(A6));
    await link.inject(...flood);
    const st = stack.stats().icmpv6;
    expect(st?.errorsSent).to.equal(50);
    expect(st?.errorsRateLimited).to.equal(151);
  });

  it('ICMPv6 destination unreachable during connect fails it as Linux does (port → ECONNREFUSED, no route → ENETUNREACH)', async () => {
    for (const [code, expected] of [
      [4, 'ECONNREFUSED'],
      [0, 'ENETUNREACH'],
      [1, 'EHOSTUNREACH'],
    ] as const) {
      link.sent.length = 0;
      const c = connect(stack, PEER6, 5000 + code);
      await turn();
      const syn = link.sent.find((p) => p[0]! >> 4 === 6 && p[6] === 6);
      if (syn === undefined) throw new Error('no SYN');
      await link.inject(icmpv6Packet('fd00::fe', A6, { type: 'dest-unreachable', code, quoted: syn.slice() }));
      expect(c.error, `code ${code}`).to.equal(expected);
    }
    expect(stack.stats().icmpv6?.errorsReceived).to.equal(3);
    // A quote of someone else's packet (another source) matches nothing.
    const other = icmpv6Packet(PEER6, 'fd00::3', { type: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(8) });
    await link.inject(icmpv6Packet('fd00::fe', A6, { type: 'dest-unreachable', code: 4, quoted: other }));
    expect(stack.stats().ipv6?.drops['icmpv6-not-ours']).to.equal(1);
  });

  it('IPv4-only stack: IPv6 is dropped as before and stats have no ipv6 part', async () => {
    const l4 = new RawLink(1500);
    const s4 = new Stack({ link: l4, address: ADDR_A });
    try {
      await l4.inject(icmpv6Packet(PEER6, A6, { type: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(8) }));
      expect(l4.sent.length).to.equal(0);
      expect(s4.stats().drops['ipv4-bad-version']).to.equal(1);
      expect(s4.stats().ipv6).to.equal(undefined);
    } finally {
      await s4.close();
    }
  });
});

/**
 * Between a stack and its link: IPv6 packets longer than `mtu` are dropped and answered with
 * ICMPv6 packet too big (RFC 4443 §3.2) from a router address; GSO super-packets are cut first
 * (the kernel would), so each segment is judged on its own.
 */
class PtbRouter implements Link {
  readonly tso?: { readonly maxPacket: number };
  readonly sendTso?: (packet: Uint8Array, segmentSize: number) => void;
  #receiver: LinkReceiver | undefined;
  constructor(
    readonly inner: Link,
    readonly hopMtu: number,
    readonly onPtb: () => void,
  ) {
    if (inner.tso !== undefined && inner.sendTso !== undefined) {
      this.tso = inner.tso;
      const innerTso = inner.sendTso.bind(inner);
      this.sendTso = (packet, segmentSize) => {
        // A segment of the super-packet longer than the hop: the whole write is refused.
        if (40 + 32 + segmentSize > this.hopMtu && packet.length > this.hopMtu) this.#tooBig(packet);
        else innerTso(packet, segmentSize);
      };
    }
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  start(receiver: LinkReceiver): void {
    this.#receiver = receiver;
    this.inner.start(receiver);
  }
  send(packet: Uint8Array): void {
    if ((packet[0] as number) >>> 4 === 6 && packet.length > this.hopMtu) this.#tooBig(packet);
    else this.inner.send(packet);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  #tooBig(packet: Uint8Array): void {
    this.onPtb();
    const src = packet.slice(8, 24);
    const ptb = icmpv6Packet('fd00::fe', src, { type: 'packet-too-big', mtu: this.hopMtu, quoted: packet.slice(0, 1232) });
    setImmediate(() => this.#receiver?.([ptb]));
  }
}
