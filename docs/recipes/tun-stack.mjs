// Recipe: a Stack on a real TUN device. Run it ONLY inside a network namespace of its own (see
// tun-stack.md for the commands): it creates tun0, gives the kernel's side 10.0.0.1 and
// answers for 10.0.0.2 itself, with an echo service on port 7 and Node's http on port 80.
// Stops on SIGINT/SIGTERM, or after the number of seconds given as its argument (default 300).
//   sudo ip netns exec tcptun-recipe node docs/recipes/tun-stack.mjs
import http from 'node:http';
import { openTun } from '@tcp-tun/tun';
import { Stack } from '@tcp-tun/net';

const seconds = Number(process.argv[2] ?? 300);

// The device: the kernel's end of the point-to-point link is `address`, ours is `peer`.
const device = await openTun({ name: 'tun0', address: '10.0.0.1', peer: '10.0.0.2', mtu: 1500 });
// The stack takes the device as its link (TunDevice fits net's Link interface as it is).
const stack = new Stack({ link: device, address: '10.0.0.2' });

stack.net.createServer((socket) => socket.pipe(socket)).listen(7);
const web = http.createServer((req, res) => res.end(`tcp-tun on ${device.name} answered ${req.url}\n`));
stack.net.createServer((socket) => web.emit('connection', socket)).listen(80);
console.log(`ready: ${stack.address} on ${device.name} (mtu ${device.mtu}), echo on 7, http on 80`);

let stopping = false;
/** @param {string} why */
async function stop(why) {
  if (stopping) return;
  stopping = true;
  clearTimeout(guard);
  const { packetsIn, packetsOut } = stack.stats();
  await stack.close(); // resets what is left open, closes the servers and the device
  console.log(`stopped (${why}): ${packetsIn} packets in, ${packetsOut} out`);
}
const guard = setTimeout(() => void stop('time'), seconds * 1000);
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
