#!/usr/bin/env node
/**
 * tcp-tun-plot: reads a trace (`--trace FILE` of tcp-tun-echo or tcp-tun-curl-lite, or what
 * `traceLink()` wrote) and writes an SVG of one connection.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseTrace } from '@tcp-tun/net';
import { connections } from './model.js';
import { plotTrace } from './plot.js';
import { packageVersion } from './version.js';

function width(value: string): number {
  const v = Number(value);
  if (!/^\d+$/.test(value) || v < 400 || v > 10000) throw new InvalidArgumentError('expected an integer from 400 to 10000.');
  return v;
}

const program = new Command('tcp-tun-plot')
  .description('Draw a tcp-tun trace as an SVG: time-sequence graph (segments, ACKs, receive window, retransmissions, SACKs) above cwnd/ssthresh, RTT and throughput panels.')
  .version(packageVersion(), '-V, --version')
  .argument('<trace>', 'trace file (JSON lines, from --trace); - reads standard input')
  .option('-o, --output <file>', 'write the SVG here (default: standard output)')
  .option('--conn <which>', 'connection: its number, a 4-tuple "10.0.0.2:49152-10.0.0.1:80", or one endpoint "10.0.0.1:80" (default: the one with most bytes)')
  .addOption(new Option('--direction <dir>', "whose data to draw: 'out' (sent by the traced stack) or 'in' (default: the direction that carried more)").choices(['out', 'in']))
  .option('--width <px>', 'picture width in pixels', width, 1100)
  .option('--list', 'list the connections of the trace and exit')
  .action((file: string, o: { output?: string; conn?: string; direction?: 'out' | 'in'; width: number; list?: boolean }) => {
    const input = readFileSync(file === '-' ? 0 : file, 'utf8');
    if (o.list === true) {
      for (const c of connections(parseTrace(input))) process.stdout.write(`${c.conn}\t${c.local}-${c.remote}\tout ${c.bytesOut}\tin ${c.bytesIn}\tsegments ${c.segments}\n`);
      return;
    }
    const { svg, model } = plotTrace(input, { conn: o.conn, direction: o.direction, width: o.width });
    if (o.output === undefined) process.stdout.write(svg);
    else {
      writeFileSync(o.output, svg);
      const c = model.connection;
      process.stderr.write(`tcp-tun-plot: connection ${c.conn} (${c.local}-${c.remote}), ${model.data.length} segments, ${model.retransmissions} retransmitted -> ${o.output}\n`);
    }
  });

try {
  program.parse(process.argv);
} catch (err) {
  const e = err as { message?: string; code?: string };
  process.stderr.write(`tcp-tun-plot: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`);
  process.exit(1);
}
