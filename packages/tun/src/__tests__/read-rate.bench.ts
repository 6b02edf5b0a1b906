/**
 * Benchmark (not a test): receive rate and round-trip latency of the TUN device. Run it inside
 * a namespace of its own, never in the machine's namespace:
 *
 *   ip netns add tunbench
 *   ip netns exec tunbench node --import tsx src/__tests__/read-rate.bench.ts
 *   ip netns delete tunbench
 *
 * Rate: a separate process floods UDP datagrams from the kernel to the peer address; we count
 * what the device delivers. Latency: we write ICMP echo requests one at a time and time each
 * reply (write → kernel → poll worker wake → drain), reporting p50/p99. Queue: the same flood
 * while the event loop is blocked for STALL_MS (default 10) every 50 ms, as by a GC pause or
 * other work, once with the kernel's txQueueLen of 500 and once with our default of 10000;
 * the kernel's tx_dropped says what the queue could not hold.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { openTun } from '../index.js';
import { icmpEchoRequest } from './packets.js';

const FLOOD = Number(process.env.FLOOD ?? 300_000);
const PINGS = Number(process.env.PINGS ?? 2_000);
const STALL_MS = Number(process.env.STALL_MS ?? 10);

const SENDER = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
const payload = Buffer.alloc(64);
const total = Number(process.argv.at(-1));
let sent = 0;
function burst() {
  // Bounded: exactly 'total' datagrams, in bursts so the send queue stays small.
  for (let i = 0; i < 256 && sent < total; i++, sent++) {
    // Close after the last send completes, or queued datagrams are dropped.
    s.send(payload, 9, '10.200.0.2', sent === total - 1 ? () => s.close() : undefined);
  }
  if (sent < total) setImmediate(burst);
}
burst();
`;

function flood(): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sender = spawn(process.execPath, ['-e', SENDER, '--', String(FLOOD)], { stdio: 'inherit' });
    sender.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited ${code}`))));
  });
}

const device = await openTun({ name: 'tbench0', address: '10.200.0.1', peer: '10.200.0.2', txQueueLen: 20_000 });
let received = 0;
let first = 0;
let last = 0;
let pingSentAt = 0;
let onReply: (() => void) | undefined;
device.start((packets) => {
  const now = performance.now();
  if (first === 0) first = now;
  last = now;
  received += packets.length;
  for (const p of packets) if (p[9] === 1 && p[20] === 0) onReply?.();
});

await flood();
await new Promise((r) => setTimeout(r, 500));
const dropped = readFileSync('/sys/class/net/tbench0/statistics/tx_dropped', 'utf8').trim();
const kernelSent = readFileSync('/sys/class/net/tbench0/statistics/tx_packets', 'utf8').trim();
const seconds = (last - first) / 1000;
console.log(`rate: ${received} of ${FLOOD} packets in ${seconds.toFixed(3)} s = ${Math.round(received / seconds)} packets/s; ` +
  `batches ${device.stats.rxBatches}; kernel tx_packets ${kernelSent}, tx_dropped ${dropped}`);

const rtts: number[] = [];
for (let seq = 0; seq < PINGS; seq++) {
  const request = icmpEchoRequest('10.200.0.2', '10.200.0.1', 7, seq & 0xffff, new Uint8Array(56));
  await new Promise<void>((resolve) => {
    onReply = () => {
      rtts.push(performance.now() - pingSentAt);
      onReply = undefined;
      resolve();
    };
    pingSentAt = performance.now();
    device.send(request);
  });
}
rtts.sort((a, b) => a - b);
const pct = (q: number): string => `${((rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))] ?? 0) * 1000).toFixed(0)} µs`;
console.log(`latency (echo round trip through the kernel, ${PINGS} pings): p50 ${pct(0.5)}, p99 ${pct(0.99)}, max ${pct(1)}`);
await device.close();

for (const txQueueLen of [500, 10_000]) {
  const queued = await openTun({ name: 'tbench0', address: '10.200.0.1', peer: '10.200.0.2', txQueueLen });
  let got = 0;
  queued.start((packets) => {
    got += packets.length;
  });
  const stall = setInterval(() => {
    const until = performance.now() + STALL_MS;
    while (performance.now() < until) {
      // Busy: the event loop does something else, as during a GC pause or a long callback.
    }
  }, 50);
  await flood();
  await new Promise((r) => setTimeout(r, 500));
  clearInterval(stall);
  console.log(`queue: txQueueLen ${txQueueLen}, loop blocked ${STALL_MS} ms every 50 ms: received ${got} of ${FLOOD}, ` +
    `kernel tx_dropped ${queued.readTxDropped()}`);
  await queued.close();
}
