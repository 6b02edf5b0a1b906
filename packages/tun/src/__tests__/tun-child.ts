/**
 * Child process for the device tests, run inside a network namespace:
 *   ip netns exec NS node --import tsx tun-child.ts '<TunOptions JSON>'
 * (with env TUN_CHILD_DROP_PRIVILEGES=1 it first becomes uid/gid 65534, without capabilities).
 * It opens the TUN, then obeys one JSON command per stdin line and reports one JSON event per
 * stdout line. Packets are reported as hex. Commands:
 *   {cmd:'start', quiet?, sink?}  start reading; unless quiet, report each batch; with
 *                           sink: {mss} a TcpSink (tcp-sink.ts) answers TCP in the child
 *   {cmd:'sink'}            report the sink's counters
 *   {cmd:'txdropped'}       report device.readTxDropped()
 *   {cmd:'send', hex}       send one packet
 *   {cmd:'sendTso', hex, segmentSize}  send one packet with sendTso() (reports 'sent' with the
 *                           error code, if it threw)
 *   {cmd:'sendUdp', udp}    send udp.count datagrams (udpPayload(i) of packets.ts) from udp.src:
 *                           udp.srcPort to udp.dst:udp.dstPort, device.flush() every udp.batch;
 *                           with udp.close, close the device at once after (report 'closed')
 *   {cmd:'stats'}           report counters, the largest batch seen and the "checksum trusted"
 *                           flags delivered (`trustedFlags`, `badFlagArrays`)
 *   {cmd:'open', options}   open a second device in this process, report 'open2'/'error2'
 *   {cmd:'close'}           close (twice, to check idempotence), try start() and send()
 *                           after it, report, then let stdin go: the process must then exit
 *   {cmd:'unref'}           unref the device and let stdin go: the process must exit by itself
 *   {cmd:'exit'}            process.exit(0) without closing
 */
import { createInterface } from 'node:readline';
import { openTun, TunError, type TunDevice, type TunOptions } from '../index.js';
import { udp, udpPayload } from './packets.js';
import { TcpSink } from './tcp-sink.js';

interface Command {
  cmd: string;
  hex?: string;
  quiet?: boolean;
  options?: TunOptions;
  sink?: { mss: number };
  segmentSize?: number;
  udp?: { src: string; dst: string; srcPort: number; dstPort: number; count: number; batch: number; close?: boolean };
}

function report(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof TunError) {
    return { code: error.code, errno: error.errno, syscall: error.syscall, message: error.message };
  }
  return { code: 'UNEXPECTED', message: String(error) };
}

function codeOf(action: () => void): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return error instanceof TunError ? error.code : String(error);
  }
}

const options = JSON.parse(process.argv[2] ?? '{}') as TunOptions;
// Warnings become events, so a test can count them ("say so once").
options.onWarning = (message) => report({ event: 'warning', message });
if (process.env.TUN_CHILD_DROP_PRIVILEGES === '1') {
  // Become 'nobody' (and lose every capability) to provoke ERR_TUN_PERMISSION.
  process.setgroups?.([]);
  process.setgid?.(65534);
  process.setuid?.(65534);
}
let device: TunDevice;
try {
  device = await openTun(options);
} catch (error) {
  report({ event: 'error', ...describe(error) });
  process.exit(0);
}
report({
  event: 'open', name: device.name, mtu: device.mtu, fd: device.fd, offload: device.offload, offloadStatus: device.offloadStatus, bigTso: device.bigTso,
  tso: device.tso ?? null,
  configuration: device.configuration,
});
device.on('error', (error: unknown) => report({ event: 'device-error', ...describe(error) }));

let maxBatch = 0;
let firstBatch = 0;
let nonIpv4 = 0;
/** Packets delivered with the "checksum trusted" flag, and flag arrays not parallel to their batch. */
let trustedFlags = 0;
let badFlagArrays = 0;
let sink: TcpSink | undefined;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = JSON.parse(line) as Command;
  void handle(command);
});

async function handle(command: Command): Promise<void> {
  switch (command.cmd) {
    case 'start':
      if (command.sink !== undefined) sink = new TcpSink((p) => device.send(p), { mss: command.sink.mss, verify: false });
      device.start((packets, checksumTrusted) => {
        if (checksumTrusted !== undefined) {
          if (checksumTrusted.length !== packets.length) badFlagArrays++;
          for (const t of checksumTrusted) if (t === true) trustedFlags++;
        }
        maxBatch = Math.max(maxBatch, packets.length);
        if (firstBatch === 0) firstBatch = packets.length;
        for (const p of packets) if (p[0] === undefined || p[0] >> 4 !== 4) nonIpv4++;
        if (!command.quiet) report({ event: 'packets', hex: packets.map((p) => Buffer.from(p).toString('hex')) });
        sink?.handle(packets);
      });
      report({ event: 'started' });
      break;
    case 'sink':
      report({
        event: 'sink', bytes: sink?.bytes, segments: sink?.segments, largestPacket: sink?.largestPacket,
        outOfOrder: sink?.outOfOrder, finished: sink?.finished,
      });
      break;
    case 'txdropped':
      report({ event: 'txdropped', value: device.readTxDropped() });
      break;
    case 'send':
      device.send(Buffer.from(command.hex ?? '', 'hex'));
      report({ event: 'sent', stats: device.stats });
      break;
    case 'sendTso': {
      const code = codeOf(() => device.sendTso(Buffer.from(command.hex ?? '', 'hex'), command.segmentSize ?? 0));
      report({ event: 'sent', stats: device.stats, code });
      break;
    }
    case 'sendUdp': {
      const u = command.udp!;
      for (let i = 0; i < u.count; i++) {
        device.send(udp(u.src, u.dst, u.srcPort, u.dstPort, udpPayload(i)));
        if ((i + 1) % u.batch === 0) device.flush();
      }
      device.flush();
      if (u.close) {
        await device.close();
        report({ event: 'closed', stats: device.stats });
        lines.close();
        process.stdin.destroy();
      } else {
        report({ event: 'sent', stats: device.stats });
      }
      break;
    }
    case 'stats':
      report({ event: 'stats', stats: device.stats, maxBatch, firstBatch, nonIpv4, trustedFlags, badFlagArrays });
      break;
    case 'open':
      try {
        const second = await openTun(command.options);
        report({ event: 'open2', name: second.name });
        await second.close();
      } catch (error) {
        report({ event: 'error2', ...describe(error) });
      }
      break;
    case 'close': {
      const a = device.close();
      const b = device.close();
      await Promise.all([a, b]);
      report({
        event: 'closed',
        same: a === b,
        start: codeOf(() => device.start(() => undefined)),
        send: codeOf(() => device.send(new Uint8Array(20))),
      });
      lines.close();
      process.stdin.destroy();
      break;
    }
    case 'unref':
      device.unref();
      report({ event: 'unrefed' });
      lines.close();
      process.stdin.destroy();
      break;
    case 'exit':
      process.exit(0);
  }
}
