// An ESM program that uses every installed package as a new user would. Each step prints one
// line "ok <what>"; any failure throws and exits non-zero. A ref'd guard timer bounds the run
// (and keeps the event loop alive on purpose, so this file checks usage, not process lifetime:
// that is http.mjs's job).
import assert from 'node:assert/strict';
import { ipv4FromString, ipv4ToString, internetChecksum, makeIpv4Repr, emitIpv4, parseIpv4, IpProtocol } from '@tcp-tun/ip';
import { TcpConnection, emitTcp, parseTcp } from '@tcp-tun/tcp';
import { openTun, TunError } from '@tcp-tun/tun';
import { Stack, createLinkPair, TcpTunError } from '@tcp-tun/net';
import * as echo from '@tcp-tun/echo';
import * as curlLite from '@tcp-tun/curl-lite';

const guard = setTimeout(() => {
  console.error('use.mjs: still running after 20 s');
  process.exit(2);
}, 20_000);

// @tcp-tun/ip: an IPv4 header emitted, parsed back, and its checksum verified.
const src = ipv4FromString('10.0.0.1');
const dst = ipv4FromString('10.0.0.2');
const header = new Uint8Array(28);
const n = emitIpv4(makeIpv4Repr({ src, dst, protocol: IpProtocol.Udp, payloadLength: 8 }), header);
assert.equal(n, 20);
assert.equal(internetChecksum(header.subarray(0, 20)), 0);
const parsed = parseIpv4(header);
assert.ok(parsed.ok, 'emitted header parses');
assert.equal(ipv4ToString(parsed.repr.dst), '10.0.0.2');
console.log('ok @tcp-tun/ip');

// @tcp-tun/tcp: a sans-IO engine's SYN, through the segment codec and back.
const client = TcpConnection.connect(0, { local: { addr: src, port: 40000 }, remote: { addr: dst, port: 7 }, iss: 1000 });
const syn = client.pollTransmit(0);
assert.ok(syn, 'a new connection sends a SYN');
const wire = new Uint8Array(1500);
const len = emitTcp(syn.repr, syn.payload, src, dst, wire);
const seg = parseTcp(wire.subarray(0, len), src, dst);
assert.ok(seg.ok, 'emitted SYN parses');
assert.equal(seg.repr.control, 'syn');
assert.equal(seg.repr.seq, 1000);
console.log('ok @tcp-tun/tcp');

// @tcp-tun/tun: loads (no device is opened here: that needs a namespace, see tun.mjs) and
// validates its options with a coded error.
await assert.rejects(openTun({ name: 'a-name-longer-than-fifteen-bytes' }), (err) => {
  assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
  return true;
});
assert.equal(typeof TunError, 'function');
console.log('ok @tcp-tun/tun');

// @tcp-tun/net: two stacks over the in-memory link, an echo round trip.
const [linkA, linkB] = createLinkPair();
const a = new Stack({ link: linkA, address: '10.0.0.1' });
const b = new Stack({ link: linkB, address: '10.0.0.2' });
b.net.createServer((socket) => socket.pipe(socket)).listen(7);
const socket = a.net.connect(7, '10.0.0.2', () => socket.end('hello over tcp-tun'));
let got = '';
for await (const chunk of socket) got += String(chunk);
assert.equal(got, 'hello over tcp-tun');
assert.throws(() => a.net.connect(70000, '10.0.0.2'), (err) => err instanceof TcpTunError || err.code === 'ERR_SOCKET_BAD_PORT');
await Promise.all([a.close(), b.close()]);
console.log('ok @tcp-tun/net');

// The apps: their library entry points load (their CLIs are run by the test through the bins).
assert.ok(Object.keys(echo).length > 0);
assert.ok(Object.keys(curlLite).length > 0);
console.log('ok @tcp-tun/echo, @tcp-tun/curl-lite');

clearTimeout(guard);
