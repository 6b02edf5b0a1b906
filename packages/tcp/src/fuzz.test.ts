/**
 * Property test: whatever a peer sends and whatever the application does, the engine never
 * throws, `pollTransmit` always runs dry, every segment it emits is well-formed (encodable by the
 * codec, window within 16 bits, payload within the MSS), and `closed` comes at most once and last.
 * Half of the segments follow the conversation (right sequence and acknowledgment numbers) so
 * the engine reaches its later states; the other half are noise.
 *
 * The same over IPv6 (a third of the seeds, seeds of their own): segments are encoded and parsed
 * with the IPv6 pseudo-header, the MSS bound is the IPv6 one (config MSS − 20), and ICMP errors
 * include packet too big with any MTU, below the IPv6 minimum too (RFC 8201 §4).
 */
import { expect } from 'chai';
import { ipv6FromString } from '@tcp-tun/ip';
import type { IpAddress } from './address.js';
import { TcpConnection } from './connection.js';
import { TcpListener } from './listener.js';
import { emitTcp, parseTcp } from './segment.js';
import { mulberry32 } from './__tests__/pair.js';
import { FROM_PEER, IRS, ISS, LOCAL, REMOTE, TRACE_CONFIG, bytes } from './__tests__/trace.js';
import type { Endpoint, TcpControl, TcpRepr } from './types.js';

const CONTROLS: TcpControl[] = ['none', 'psh', 'syn', 'fin', 'rst'];
const LOCAL6: Endpoint<IpAddress> = { addr: ipv6FromString('fd00::1'), port: LOCAL.port };
const REMOTE6: Endpoint<IpAddress> = { addr: ipv6FromString('fd00::2'), port: REMOTE.port };

function runFuzz(seed: number, family: 4 | 6 = 4): string | undefined {
  const rng = mulberry32(seed);
  const int = (n: number): number => Math.floor(rng() * n);
  const local: Endpoint<IpAddress> = family === 4 ? LOCAL : LOCAL6;
  const remote: Endpoint<IpAddress> = family === 4 ? REMOTE : REMOTE6;
  // TRACE_CONFIG's MSS, 20 octets less over IPv6 (RFC 8200 §8.3).
  const maxPayload = family === 4 ? 1000 : 980;
  let now = 0;
  let conn: TcpConnection<IpAddress>;
  if (rng() < 0.5) {
    conn = TcpConnection.connect<IpAddress>(0, { local, remote, iss: ISS, config: TRACE_CONFIG });
  } else {
    const l = new TcpListener<IpAddress>({ local, backlog: 1, config: TRACE_CONFIG, isn: () => ISS });
    const r = l.handleSegment(0, local, remote, { ...FROM_PEER, control: 'syn', seq: IRS, mss: 1 + int(2000) }, new Uint8Array(0));
    if (r.kind !== 'connection') return 'listener refused the SYN';
    conn = r.connection;
  }
  let peerNext = (IRS + 1) >>> 0; // the peer's next sequence number, as the conversation goes
  let ourMax = ISS; // the highest sequence number we have seen the engine send, +1
  let closedSeen = false;
  const wire = new Uint8Array(70_000);

  const drainAll = (): string | undefined => {
    for (let i = 0; ; i++) {
      if (i > 1000) return 'pollTransmit never ran dry';
      const tx = conn.pollTransmit(now);
      if (tx === undefined) break;
      const r = tx.repr;
      if (!Number.isInteger(r.window) || r.window < 0 || r.window > 65535) return `bad window ${r.window}`;
      if (tx.payload.length > maxPayload) return `payload ${tx.payload.length} above MSS`;
      if (r.control === 'syn' && tx.payload.length > 0) return 'data on SYN';
      const n = emitTcp(r, tx.payload, local.addr, remote.addr, wire);
      const back = parseTcp(wire.subarray(0, n), local.addr, remote.addr);
      if (!back.ok) return `emitted an unparseable segment: ${back.reason}`;
      if (r.control !== 'rst') {
        const end = (r.seq + tx.payload.length + (r.control === 'syn' || r.control === 'fin' ? 1 : 0)) >>> 0;
        if (((end - ourMax) | 0) > 0) ourMax = end;
      }
    }
    for (let ev = conn.pollEvent(); ev !== undefined; ev = conn.pollEvent()) {
      if (closedSeen) return `event ${ev.type} after closed`;
      if (ev.type === 'closed') closedSeen = true;
    }
    const t = conn.pollTimeout();
    if (t !== undefined && !(t >= 0)) return `bad timeout ${t}`;
    if (conn.state === 'CLOSED' && t !== undefined) return 'timer armed while CLOSED';
    return undefined;
  };

  for (let step = 0; step < 400; step++) {
    const op = rng();
    try {
      if (op < 0.55) {
        const sensible = rng() < 0.5;
        const control = sensible ? (rng() < 0.85 ? 'none' : rng() < 0.8 ? 'fin' : 'psh') : CONTROLS[int(CONTROLS.length)]!;
        const len = control === 'syn' || rng() < 0.4 ? 0 : int(1500);
        const repr: TcpRepr = {
          ...FROM_PEER,
          control,
          seq: sensible ? peerNext : (peerNext + int(140_000) - 70_000) >>> 0,
          ack: sensible ? ourMax : rng() < 0.2 ? undefined : (ourMax + int(60_000) - 30_000) >>> 0,
          window: rng() < 0.2 ? 0 : int(65536),
          mss: control === 'syn' && rng() < 0.5 ? int(70_000) : undefined,
        };
        conn.handleSegment(now, repr, bytes(len, step));
        if (sensible && conn.state !== 'CLOSED') peerNext = (peerNext + len + (control === 'fin' ? 1 : 0)) >>> 0;
      } else if (op < 0.7) {
        now += int(3000);
        conn.handleTimeout(now);
      } else if (op < 0.8) {
        const t = conn.pollTimeout();
        if (t !== undefined) {
          now = Math.max(now, t);
          conn.handleTimeout(now);
        }
      } else if (op < 0.88) {
        if (conn.canSend) conn.send(bytes(int(5000)));
      } else if (op < 0.9) {
        // Keepalive, user timeout and ICMP errors (quoting sequence numbers around SND.NXT).
        const k = rng();
        if (k < 0.3) conn.setKeepAlive(rng() < 0.8, int(5000));
        else if (k < 0.5) conn.setUserTimeout(int(8000));
        else {
          const kinds = ['port-unreachable', 'host-unreachable', 'net-unreachable'] as const;
          const pmtu = family === 4 ? ('frag-needed' as const) : ('packet-too-big' as const);
          const error = rng() < 0.4 ? { kind: pmtu, mtu: int(1600) } : { kind: kinds[int(3)]! };
          conn.handleIcmpError(now, error, (ourMax - int(4000)) >>> 0);
        }
      } else if (op < 0.96) {
        conn.recv(rng() < 0.5 ? undefined : int(3000));
      } else if (op < 0.99) {
        conn.close();
      } else {
        conn.abort();
      }
    } catch (e) {
      return `threw at step ${step}: ${(e as Error).stack ?? String(e)}`;
    }
    const problem = drainAll();
    if (problem !== undefined) return `step ${step} (${conn.state}): ${problem}`;
  }
  return undefined;
}

describe('TcpConnection under random segments and commands', () => {
  it('never throws, always settles, emits only well-formed segments (300 seeds; SWEEP=n for more)', () => {
    const env = process.env['SEED'];
    const seeds = env !== undefined && env !== '' ? [Number(env)] : Array.from({ length: Number(process.env['SWEEP'] ?? 300) }, (_, i) => 20_000 + i);
    for (const seed of seeds) expect(runFuzz(seed), `seed ${seed} (replay: SEED=${seed})`).to.equal(undefined);
  });

  it('the same over IPv6: IPv6 pseudo-header, IPv6 MSS, packet too big with any MTU (150 seeds)', () => {
    const env = process.env['SEED'];
    const seeds = env !== undefined && env !== '' ? [Number(env)] : Array.from({ length: Number(process.env['SWEEP'] ?? 150) }, (_, i) => 60_000 + i);
    for (const seed of seeds) expect(runFuzz(seed, 6), `seed ${seed}, IPv6 (replay: SEED=${seed})`).to.equal(undefined);
  });
});
