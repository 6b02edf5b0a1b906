/**
 * The stack as a half-closing client, for the liveness end-to-end test: runs inside the test's
 * namespace, opens the TUN, connects to a kernel server, writes REQUEST, `end()`s (our FIN: the
 * connection is half-closed, we keep reading), reads the answer until the server's FIN, and
 * prints one JSON line when the socket has closed: bytes read, how long the answer took, whether
 * the close was clean, and what is left in the stack's table.
 *
 *   halfclose-client.ts DEV ADDR PEER SERVER_PORT REQUEST WATCHDOG_S
 */
import { Stack } from '@tcp-tun/net';
import { openTun } from '@tcp-tun/tun';

const [dev = 'tun0', addr = '10.0.0.2', peer = '10.0.0.1', portText = '5002', request = 'request', watchdogText = '150'] = process.argv.slice(2);

const device = await openTun({ name: dev, address: peer, peer: addr });
const stack = new Stack({ link: device, address: addr });
const started = performance.now();
let received = 0;
let ended: number | undefined;
let error: string | undefined;

const watchdog = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ error: 'watchdog', received, connections: stack.connections() })}\n`);
  process.exit(2);
}, Number(watchdogText) * 1000);

const socket = stack.net.connect({ host: peer, port: Number(portText), allowHalfOpen: true });
socket.on('connect', () => socket.end(request));
socket.on('data', (chunk: Buffer) => {
  received += chunk.length;
});
socket.on('end', () => {
  ended = performance.now() - started;
  // Half-open allowed: our side already ended; nothing more to do for the close.
});
socket.on('error', (err: NodeJS.ErrnoException) => {
  error = `${err.code ?? ''} ${err.message}`;
});
socket.on('close', (hadError: boolean) => {
  clearTimeout(watchdog);
  // Let the last ACK leave before reading the table.
  setTimeout(() => {
    process.stdout.write(`${JSON.stringify({
      received, answeredAfterMs: ended, hadError, error, seconds: (performance.now() - started) / 1000,
      connections: stack.connections().map((c) => c.state),
    })}\n`);
    void stack.close().then(() => process.exit(0));
  }, 200);
});
