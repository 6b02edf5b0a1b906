#!/usr/bin/env node
/**
 * tcp-tun-echo command: opens (or creates) a TUN device, runs the tcp-tun stack on it and
 * serves echo. Prints `listening on ADDR:PORT` once ready; SIGINT/SIGTERM close everything
 * (connections are reset, the device is released) and the process exits.
 * SIGUSR1 prints the stack's statistics and connection list as one JSON line.
 */
import { Stack } from '@tcp-tun/net';
import { openTun } from '@tcp-tun/tun';
import { startEcho } from './echo.js';
import { parseEchoOptions } from './options.js';

async function main(): Promise<void> {
  const options = parseEchoOptions(process.argv);
  const device = await openTun({ name: options.dev, address: options.peer, peer: options.addr, mtu: options.mtu });
  const stack = new Stack({ link: device, address: options.addr });
  const echo = await startEcho(stack, options.port);
  process.stdout.write(`tcp-tun-echo: listening on ${options.addr}:${echo.port} (device ${device.name}, mtu ${device.mtu})\n`);

  process.on('SIGUSR1', () => {
    process.stdout.write(`${JSON.stringify({ stats: stack.stats(), connections: stack.connections() })}\n`);
  });
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    process.stdout.write(`tcp-tun-echo: ${signal}, closing\n`);
    // The listener's own close would wait for every connection to end; the stack's close
    // resets them, stops the listener and releases the device at once.
    void echo.close();
    void stack
      .close()
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`tcp-tun-echo: error while closing: ${String(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`tcp-tun-echo: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`);
  process.exit(1);
});
