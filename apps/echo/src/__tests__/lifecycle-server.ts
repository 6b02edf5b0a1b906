/**
 * A tcp-tun server for the life-cycle end-to-end test (lifecycle.e2e.test.ts), run inside the
 * test's namespace: opens the TUN and serves one of two handlers, then prints `ready` and, on
 * SIGUSR1, one JSON line with what its sockets saw and the stack's connections.
 *
 *   lifecycle-server.ts MODE DEV ADDR PEER PORT
 *   MODE destroy: each connection gets write(1 MiB) and destroy() in the write callback.
 *   MODE end-hi:  the handler is only `c => c.end('hi')`.
 */
import { Stack } from '@tcp-tun/net';
import { openTun } from '@tcp-tun/tun';

const [mode = 'destroy', dev = 'tun0', addr = '10.0.0.2', peer = '10.0.0.1', portText = '7000'] = process.argv.slice(2);
const MIB = 1024 * 1024;

const device = await openTun({ name: dev, address: peer, peer: addr });
const stack = new Stack({ link: device, address: addr });
const seen = { connections: 0, closed: 0, errors: [] as string[] };
const payload = Buffer.alloc(MIB);
for (let i = 0; i < MIB; i++) payload[i] = (i * 7 + 3) & 0xff;

stack.net
  .createServer((c) => {
    seen.connections++;
    c.on('error', (e: Error & { code?: string }) => seen.errors.push(e.code ?? e.message));
    c.on('close', () => seen.closed++);
    if (mode === 'destroy') c.write(payload, () => c.destroy());
    else c.end('hi');
  })
  .listen(Number(portText), () => process.stdout.write('ready\n'));

process.on('SIGUSR1', () => {
  const states = stack.connections().map((r) => r.state);
  process.stdout.write(`${JSON.stringify({ ...seen, states, stats: { resetsSent: stack.stats().resetsSent } })}\n`);
});
process.on('SIGTERM', () => {
  void stack.close().then(() => process.exit(0));
});
