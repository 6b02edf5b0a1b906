/**
 * Warming the connection path before the first real SYN (issue 11, bench/PROFILE.md round 2,
 * proposal 1).
 *
 * Why: in a fresh process the first ~500 connections ran at 0.2-0.35× the rate of later ones.
 * The profiles of a cold `conn` show the same packets and syscalls in both phases; what the cold
 * phase spends extra is our JavaScript running in V8's interpreter and baseline tier (inline
 * caches still empty, `Builtins_LoadIC` 3-4 % of samples) while TurboFan compiles it on the
 * second core, plus Node compiling its own stream and timer internals on first use
 * (`compileForInternalLoader` 35-66 ms). lwIP, being C, has no such phase.
 *
 * What: {@link warmUp} runs a bounded number of real connections — connect, a short echo, a
 * longer one, half-close, close — between two private {@link Stack}s joined by an in-memory
 * {@link createLinkPair}, using the same parse/demultiplex/engine/socket/server code a real
 * connection runs. Nothing touches any other link, the clock of any other stack or any
 * shared state: the two stacks are closed before it resolves. The addresses are from
 * TEST-NET-1 (RFC 5737), which never leave the pair.
 *
 * Bounded in count (`connections`) and time (`budgetMs`): the loop stops at whichever comes
 * first, so a slow or loaded machine pays at most the budget (plus the connections in flight).
 */
import { Buffer } from 'node:buffer';
import { internetChecksum } from '@tcp-tun/ip';
import type { Link } from './link.js';
import { createLinkPair } from './link-pair.js';
import type { Socket } from './socket.js';
import { Stack } from './stack.js';

/** Options of {@link warmUp}. */
export interface WarmUpOptions {
  /** How many connections to run at most (default 400). */
  readonly connections?: number;
  /** Start no new connection after this many milliseconds (default 150). */
  readonly budgetMs?: number;
  /** Connections open at once (default 4): exercises the connection table with several entries. */
  readonly concurrency?: number;
  /**
   * Called with each connection the warm-up's server accepts instead of its own echo, so an
   * application can warm its own handler (it must echo what it reads and end after the
   * peer's FIN, as RFC 862's echo service does, or the connection is reset when it times out).
   */
  readonly onConnection?: (socket: Socket) => void;
  /**
   * Give the private links GSO send (`tso`, `sendTso`) as the TUN device with offload has it,
   * so the stack's egress runs the path the real link will use (every data segment leaves
   * through `sendTso` there; default false: the plain `send` path).
   */
  readonly segmentationOffload?: boolean;
  /**
   * The IP versions to warm, as the real stack serves them (default `[4]`). Each family has code
   * of its own (parse, egress, 16-octet addresses) and the shared sites see both kinds of
   * address: warming IPv4 alone left an IPv6-only server cold (its first 500 connections
   * at 0.82× IPv4's, issue 13). With both, the connections alternate between them.
   */
  readonly families?: readonly (4 | 6)[];
  /**
   * Run over these two links (the server's first) instead of a private in-memory pair: e.g.
   * `@tcp-tun/tun`'s `openWarmUpPair()`, two devices over a socketpair, so the device's own
   * code (reads to EAGAIN, writes, readiness, virtio-net headers) and the stack's egress into it
   * are warm as well (bench/PROFILE.md round 6). They are used as they are (`segmentationOffload`
   * is then ignored: a link with `tso` and `sendTso` gets GSO send) and closed with the
   * warm-up's stacks. Whatever passes between them must stay in the process: the warm-up's
   * addresses are documentation ones (RFC 5737, RFC 3849).
   */
  readonly links?: readonly [Link, Link];
}

/** What {@link warmUp} did. */
export interface WarmUpReport {
  /** Connections that completed connect, echo and close. */
  readonly connections: number;
  /** Connections that ended with an error or did not finish in time (none expected). */
  readonly failed: number;
  /** Wall time the warm-up took, in milliseconds. */
  readonly elapsedMs: number;
}

const SERVER_ADDRESS = '192.0.2.1';
const CLIENT_ADDRESS = '192.0.2.2';
// IPv6 documentation addresses (RFC 3849), which never leave the pair either.
const SERVER_ADDRESS6 = '2001:db8::1';
const CLIENT_ADDRESS6 = '2001:db8::2';
const PORT = 7;
// One octet (as the benchmark's `conn`) and most of a segment. Not more than one segment: a
// train of several (a GSO super-packet) would need segmenting in software on the private link.
const SMALL = new Uint8Array([0x2a]);
const LARGE = new Uint8Array(1200).fill(0x61);
/** `tso.maxPacket` of the TUN device with offload. */
const TSO_MAX_PACKET = 65535;
// A connection that has not closed within this time is abandoned (it never happens between two
// of our own stacks; the bound keeps a bug from holding start-up).
const CONNECTION_LIMIT_MS = 250;

function echo(socket: Socket): void {
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    if (!socket.write(chunk)) socket.pause();
  });
  socket.on('drain', () => socket.resume());
  socket.on('end', () => socket.end());
}

/**
 * The pair's side as a device looks to the stack: the TUN device delivers packets as `Buffer`
 * subarrays of its read pool, whose map differs from a plain `Uint8Array`'s; code optimised on
 * the pair's plain arrays alone would be deoptimised ("wrong map") by the first real packet.
 */
function likeDevice(link: Link, offload: boolean): Link {
  const device: Link = {
    mtu: link.mtu,
    start: (receiver) => link.start((packets) => receiver(packets.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)))),
    send: (packet) => link.send(packet),
    close: () => link.close(),
  };
  if (!offload) return device;
  return {
    ...device,
    tso: { maxPacket: TSO_MAX_PACKET },
    // What the kernel does with the device's NEEDS_CSUM packet (virtio 1.1 §5.1.6.2): the TCP
    // checksum field holds the pseudo-header sum; summing the segment over it and storing the
    // complement finishes it. Only one-segment trains reach here (payloads fit one segment); a
    // longer one is over the pair's MTU and dropped, failing that warm-up connection.
    sendTso: (packet) => {
      const finished = packet.slice();
      // The TCP header follows the IPv4 header (IHL words) or IPv6's fixed 40 octets (we send no
      // extension headers).
      const tcp = finished[0]! >>> 4 === 6 ? 40 : (finished[0]! & 0x0f) * 4;
      const sum = internetChecksum(finished, 0, tcp);
      finished[tcp + 16] = sum >>> 8;
      finished[tcp + 17] = sum & 0xff;
      link.send(finished);
    },
  };
}

/** One connection: connect, send `payload`, read it back, end, wait for 'close'. */
function cycle(client: Stack, host: string, payload: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    let received = 0;
    let settled = false;
    const socket = client.net.createConnection({ host, port: PORT });
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(limit);
      if (!ok) socket.destroy();
      resolve(ok);
    };
    const limit = setTimeout(() => finish(false), CONNECTION_LIMIT_MS);
    socket.on('error', () => finish(false));
    socket.on('connect', () => {
      socket.write(payload);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= payload.length) socket.end();
    });
    socket.on('close', (hadError: boolean) => finish(!hadError && received === payload.length));
  });
}

/**
 * Runs connections between two private in-memory stacks so that the connection path (IPv4 and
 * TCP parsing and emitting, the engine's handshake, data and close, the stack's drain and
 * timer, `Socket` and `Server`) has been compiled and has its inline caches before the first
 * real connection arrives. Resolves when both private stacks are closed; never rejects for a
 * failed warm-up connection (they are counted in the report).
 */
export async function warmUp(options: WarmUpOptions = {}): Promise<WarmUpReport> {
  const total = options.connections ?? 400;
  const budgetMs = options.budgetMs ?? 150;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const started = performance.now();
  const offload = options.segmentationOffload === true;
  const given = options.links;
  const families = options.families ?? [4];
  const v4 = families.includes(4);
  const v6 = families.includes(6);
  if (!v4 && !v6) throw new RangeError('warmUp: options.families names neither 4 nor 6');
  const hosts = [...(v4 ? [SERVER_ADDRESS] : []), ...(v6 ? [SERVER_ADDRESS6] : [])];
  const [serverLink, clientLink] = given ?? createLinkPair();
  const server = new Stack({
    link: given === undefined ? likeDevice(serverLink, offload) : serverLink,
    ...(v4 ? { address: SERVER_ADDRESS } : {}),
    ...(v6 ? { address6: SERVER_ADDRESS6 } : {}),
  });
  const client = new Stack({
    link: given === undefined ? likeDevice(clientLink, offload) : clientLink,
    ...(v4 ? { address: CLIENT_ADDRESS } : {}),
    ...(v6 ? { address6: CLIENT_ADDRESS6 } : {}),
  });
  let done = 0;
  let failed = 0;
  let begun = 0;
  try {
    const listener = server.net.createServer({ allowHalfOpen: true }, options.onConnection ?? echo);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(PORT, () => resolve());
    });
    const worker = async (): Promise<void> => {
      while (begun < total && performance.now() - started < budgetMs) {
        // Every fourth connection carries the longer payload.
        const host = hosts[begun % hosts.length]!;
        const payload = begun++ % 4 === 3 ? LARGE : SMALL;
        if (await cycle(client, host, payload)) done++;
        else failed++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    listener.close();
  } finally {
    await Promise.all([client.close(), server.close()]);
  }
  return { connections: done, failed, elapsedMs: performance.now() - started };
}
