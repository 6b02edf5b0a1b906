// Two sans-IO TCP engines joined by nothing but this loop: a handshake, data each way, and a
// close, with a virtual clock. Every segment goes through the real codec (emitTcp/parseTcp),
// and each one is printed like a packet trace.
//   node packages/tcp/examples/two-engines.mjs      (after `pnpm build`)
import { TcpConnection, TcpListener, emitTcp, parseTcp } from '@tcp-tun/tcp';

const A = { addr: 0x0a000001, port: 40000 }; // 10.0.0.1
const B = { addr: 0x0a000002, port: 7 }; // 10.0.0.2
let now = 0;
const wire = new Uint8Array(65536);

const client = TcpConnection.connect(now, { local: A, remote: B, iss: 1000 });
const listener = new TcpListener({ local: B, backlog: 8, isn: () => 5000 });
let server;

function carry(from, to, fromEp, toEp, label) {
  let moved = 0;
  for (let tx = from.pollTransmit(now); tx; tx = from.pollTransmit(now)) {
    const n = emitTcp(tx.repr, tx.payload, fromEp.addr, toEp.addr, wire);
    const seg = parseTcp(wire.subarray(0, n), fromEp.addr, toEp.addr);
    if (!seg.ok) throw new Error(seg.reason);
    const r = seg.repr;
    console.log(`${label} ${r.control.padEnd(4)} seq=${r.seq} ack=${r.ack ?? '-'} len=${seg.payload.length}`);
    if (to) to.handleSegment(now, r, seg.payload);
    else {
      const result = listener.handleSegment(now, B, A, r, seg.payload);
      if (result.kind === 'connection') server = result.connection;
    }
    moved++;
  }
  return moved;
}

function events(conn, name) {
  for (let ev = conn.pollEvent(); ev; ev = conn.pollEvent()) {
    if (ev.type === 'readable') console.log(`${name} reads "${new TextDecoder().decode(conn.recv())}"`);
    else console.log(`${name} event ${ev.type}`);
    if (ev.type === 'end') conn.close();
  }
}

function exchange() {
  for (let i = 0; i < 20; i++) {
    const moved = carry(client, server, A, B, 'A→B') + (server ? carry(server, client, B, A, 'B→A') : 0);
    events(client, 'A');
    if (server) events(server, 'B');
    if (moved === 0) {
      // Nothing on the wire: jump the virtual clock to the earliest timer (delayed ACK, ...).
      const next = Math.min(client.pollTimeout() ?? Infinity, server?.pollTimeout() ?? Infinity);
      if (next === Infinity || next > 1000) return;
      now = next;
      client.handleTimeout(now);
      server?.handleTimeout(now);
    }
  }
}

exchange();
client.send(new TextEncoder().encode('hello'));
exchange();
server.send(new TextEncoder().encode('world'));
exchange();
client.close();
exchange();
console.log(`A ${client.state}, B ${server.state}`);
