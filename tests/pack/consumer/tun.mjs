// A Stack on a real TUN device, from the installed tarballs (and so ffi-rs as npm installed
// it). Run ONLY inside a network namespace made for it (`ip netns exec`): the kernel side of
// the device is 10.0.0.1, the stack answers for 10.0.0.2, and Node's own http client (a
// kernel socket) fetches one page from Node's http server running on the stack. One request,
// bounded by a 20 s guard.
import http from 'node:http';
import { openTun } from '@tcp-tun/tun';
import { Stack } from '@tcp-tun/net';

const guard = setTimeout(() => {
  console.error('tun.mjs: no response after 20 s');
  process.exit(2);
}, 20_000);

const device = await openTun({ name: 'tun0', address: '10.0.0.1', peer: '10.0.0.2', mtu: 1500 });
const stack = new Stack({ link: device, address: '10.0.0.2' });
const web = http.createServer((req, res) => res.end(`tcp-tun on ${device.name} answered ${req.url}`));
stack.net.createServer((socket) => web.emit('connection', socket)).listen(80);

const body = await new Promise((resolve, reject) => {
  http
    .get({ host: '10.0.0.2', port: 80, path: '/over-tun', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => resolve(text));
    })
    .on('error', reject);
});
console.log(`body: ${body}`);
await stack.close();
clearTimeout(guard);
