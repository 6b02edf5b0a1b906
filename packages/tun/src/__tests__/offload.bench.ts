/**
 * Benchmark (not a test): bytes/s a kernel TCP sender gets through the TUN device to a minimal
 * in-process receiver (tcp-sink.ts, which verifies every checksum as a stack would and ACKs once
 * per batch), with and without virtio-net offloads. Run it inside a namespace of its own:
 *
 *   ip netns add tunbench
 *   ip netns exec tunbench node --import tsx src/__tests__/offload.bench.ts
 *   ip netns delete tunbench
 *
 * Env: BYTES (per run, default 1 GiB), RUNS (per mode, default 3), STREAMS (parallel
 * connections, default 1), VERIFY (0: the receiver skips checksum verification, showing the
 * device alone), QLEN (txQueueLen, default the package default).
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { openTun } from '../index.js';
import { TCP_SEND_SCRIPT, TcpSink } from './tcp-sink.js';

const BYTES = Number(process.env.BYTES ?? 2 ** 30);
const RUNS = Number(process.env.RUNS ?? 3);
const STREAMS = Number(process.env.STREAMS ?? 1);
const VERIFY = process.env.VERIFY !== '0';
const QLEN = process.env.QLEN === undefined ? undefined : Number(process.env.QLEN);

function sender(port: number, total: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', TCP_SEND_SCRIPT, '--', '10.201.0.2', String(port), String(total)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited ${code}`))));
  });
}

async function run(offload: boolean, round: number): Promise<void> {
  const device = await openTun({ name: 'tbench1', address: '10.201.0.1', peer: '10.201.0.2', offload, txQueueLen: QLEN });
  const sink = new TcpSink((p) => device.send(p), { mss: 1460, verify: VERIFY });
  let batches = 0;
  device.start((packets) => {
    batches++;
    sink.handle(packets);
  });
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  const per = Math.floor(BYTES / STREAMS);
  await Promise.all(Array.from({ length: STREAMS }, (_, i) => sender(5000 + round * 100 + i, per)));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const s = device.stats;
  const dropped = device.readTxDropped();
  await device.close();
  if (sink.bytes !== per * STREAMS) throw new Error(`sink took ${sink.bytes} of ${per * STREAMS} bytes`);
  console.log(
    `${offload ? 'offload on ' : 'offload off'}: ${(sink.bytes / seconds / 1e6).toFixed(0)} MB/s ` +
    `(${(sink.bytes / 2 ** 20).toFixed(0)} MiB in ${seconds.toFixed(2)} s, ${STREAMS} stream(s), ` +
    `${VERIFY ? 'receiver verifies checksums' : 'no verification'}); ` +
    `packets ${s.rxPackets} (avg ${(s.rxBytes / s.rxPackets).toFixed(0)} B, largest ${sink.largestPacket}), ` +
    `batches ${batches}, super-segments ${s.superSegmentsIn}, checksums completed ${s.checksumsCompleted}, ` +
    `bad ${sink.badChecksums}, out of order ${sink.outOfOrder}, ACKs sent ${s.txPackets}, ` +
    `tx_dropped ${dropped}, our CPU ${((cpu.user + cpu.system) / 1e6 / seconds * 100).toFixed(0)}%`,
  );
}

for (let round = 0; round < RUNS; round++) {
  await run(false, round * 2);
  await run(true, round * 2 + 1);
}
