/**
 * The stack as a *client*, for the end-to-end tests: runs inside the test's namespace, opens
 * the TUN, connects to a kernel server, sends BYTES random bytes while reading everything the
 * server sends, half-closes, and prints one JSON line with sizes and sha256 digests.
 *
 *   stack-client.ts DEV ADDR PEER SERVER_PORT BYTES
 */
import { createHash, randomBytes } from 'node:crypto';
import { Stack } from '@tcp-tun/net';
import { openTun } from '@tcp-tun/tun';

const [dev = 'tun0', addr = '10.0.0.2', peer = '10.0.0.1', portText = '5001', bytesText = '1048576'] =
  process.argv.slice(2);
const total = Number(bytesText);

const device = await openTun({ name: dev, address: peer, peer: addr });
const stack = new Stack({ link: device, address: addr });
const data = randomBytes(total);
const sentDigest = createHash('sha256').update(data).digest('hex');
const received = createHash('sha256');
let receivedBytes = 0;
const started = performance.now();

const watchdog = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ error: 'watchdog', receivedBytes })}\n`);
  process.exit(2);
}, 110_000);

// Half-open allowed: the server may finish its direction long before we finish ours, and we
// must go on writing (with allowHalfOpen false, Node's rule would end our side on its FIN).
const socket = stack.net.connect({ host: peer, port: Number(portText), allowHalfOpen: true });
socket.on('data', (chunk: Buffer) => {
  received.update(chunk);
  receivedBytes += chunk.length;
});
socket.on('error', (err: Error) => {
  process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
  process.exit(1);
});
socket.on('connect', () => {
  // Write in slices so backpressure from the stack is exercised rather than one huge buffer.
  let offset = 0;
  const slice = 256 * 1024;
  const pump = (): void => {
    while (offset < total) {
      const end = Math.min(total, offset + slice);
      const more = socket.write(data.subarray(offset, end));
      offset = end;
      if (!more) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
});
socket.on('close', () => {
  clearTimeout(watchdog);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({ sent: total, sha_sent: sentDigest, received: receivedBytes, sha_received: received.digest('hex'), seconds })}\n`,
  );
  void stack.close().then(() => process.exit(0));
});
