#!/usr/bin/env node
/**
 * tcp-tun-echo command: opens (or creates) a TUN device, runs the tcp-tun stack on it and
 * serves the chosen services (echo by default). Prints `listening on ADDR:PORT` once ready; SIGINT/SIGTERM close everything
 * (connections are reset, the device is released) and the process exits.
 * SIGUSR1 prints the stack's statistics and connection list as one JSON line.
 */
import { Stack } from '@tcp-tun/net';
import { openLink, stackAddresses } from '@tcp-tun/cli';
import { listeningOn, parseEchoOptions, servicePorts } from './options.js';
import { startService, type Service } from './services.js';
import { warmUpBeforeServing } from './warm-up.js';

async function main(): Promise<void> {
  const options = parseEchoOptions(process.argv);
  // Opens the device, then (--user) drops root: the stack below never runs privileged.
  const { device, link, trace } = await openLink(options, undefined, (message) => process.stderr.write(`tcp-tun-echo: ${message}\n`));
  // Before the device is read (the stack below starts it): ~150 ms of in-memory connections,
  // then ~150 ms of the same over two devices on a socketpair, so the first real ones run
  // neither the stack nor the device code in V8's interpreter (warm-up.ts; bench/PROFILE.md
  // rounds 3 and 6). The families warmed are the ones served: an IPv6 path left cold ran its
  // first connections slower than IPv4's (issue 13).
  // The device's readiness worker comes up (a thread and a V8 isolate: 60-200 ms under load)
  // during the warm-up, not while the first SYN waits in the device's queue (PROFILE round 6).
  device.prepareReader();
  const addresses = stackAddresses(options);
  const families = [...(addresses.address === undefined ? [] : [4 as const]), ...(addresses.address6 === undefined ? [] : [6 as const])];
  if (options.warmUp) {
    await warmUpBeforeServing({
      families,
      segmentationOffload: typeof link.sendTso === 'function' && link.tso !== undefined,
      device,
      busyPollUs: options.busyPollUs,
      devicePair: options.deviceWarmUp,
    });
  }
  // --keepalive sets the idle time and the probe interval alike, as curl's --keepalive-time does.
  const keepAlive = options.keepAliveMs;
  // { address } and/or { address6 }: IPv4, IPv6 or both, from --addr and --addr6.
  const stack = new Stack({
    link,
    ...addresses,
    ...(options.timeWaitMax === undefined ? {} : { maxTimeWait: options.timeWaitMax }),
    ...(keepAlive === undefined ? {} : { tcp: { keepAliveIdleMs: keepAlive, keepAliveIntervalMs: keepAlive } }),
  });
  // --trace: the tracer samples the stack's connections too (cwnd, RTT, in flight).
  trace?.attach(stack);
  const report = (): void => {
    // With --expose-gc the heap figure is of live objects only (the benchmark's memory probe).
    (globalThis as { gc?: () => void }).gc?.();
    const memory = process.memoryUsage();
    // offload: whether the device's offloads are on ('on' | 'off' | 'unsupported' with the reason).
    const offload = device.offloadStatus;
    // ipv6 (with --addr6): the kernel side's IPv6 address, peer and sysctls as the device set them.
    const ipv6 = device.configuration.ipv6;
    process.stdout.write(`${JSON.stringify({ stats: stack.stats(), device: device.stats, offload, ipv6, connections: stack.connections(), memory })}\n`);
  };
  // Installed before the ready line: a SIGUSR1 without a handler would start Node's inspector.
  process.on('SIGUSR1', report);
  const services: Service[] = [];
  const liveness = {
    keepAliveMs: options.keepAliveMs,
    userTimeoutMs: options.userTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    maxConnections: options.maxConnections,
    deviceStats: () => ({ ...device.stats }),
  };
  for (const [name, port] of servicePorts(options)) services.push(await startService(stack, name, port, liveness));
  // One line once every service is ready: scripts and tests wait for it.
  const where = services.flatMap((s) => listeningOn(options, s.port).map((at) => `${at} (${s.name})`)).join(', ');
  process.stdout.write(`tcp-tun-echo: listening on ${where} [device ${device.name}, mtu ${device.mtu}]\n`);

  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    process.stdout.write(`tcp-tun-echo: ${signal}, closing\n`);
    if (options.stats) report();
    // The listener's own close would wait for every connection to end; the stack's close
    // resets them, stops the listener and releases the device at once.
    for (const s of services) s.close();
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
