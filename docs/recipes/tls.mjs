// Recipe: TLS over a tcp-tun socket, both ends, with a certificate made at run time.
// Client: tls.connect({ socket }) wraps a tcp-tun socket. Server: each accepted tcp-tun socket
// is wrapped in a tls.TLSSocket with isServer. https rides on the same client wrapping.
//   pnpm build && node docs/recipes/tls.mjs        (needs the openssl command)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Stack, createLinkPair } from '@tcp-tun/net';

// A self-signed certificate for the name tcp-tun.test and the address 10.0.0.2, in a
// temporary directory removed at the end.
const dir = mkdtempSync(join(tmpdir(), 'tcp-tun-tls-'));
execFileSync('openssl', [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
  '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
  '-subj', '/CN=tcp-tun.test', '-addext', 'subjectAltName=DNS:tcp-tun.test,IP:10.0.0.2',
], { stdio: 'ignore' });
const key = readFileSync(join(dir, 'key.pem'));
const cert = readFileSync(join(dir, 'cert.pem'));
rmSync(dir, { recursive: true, force: true });

const [linkA, linkB] = createLinkPair();
const client = new Stack({ link: linkA, address: '10.0.0.1' });
const server = new Stack({ link: linkB, address: '10.0.0.2' });

// Server: TLS on port 443. Each plaintext tcp-tun socket becomes a server-side TLSSocket;
// the secure context is made once and shared. Port 8443 serves https the same way, handing
// the TLSSocket to an https.Server (whose own listener is never used).
const context = tls.createSecureContext({ key, cert });
const tlsListener = server.net.createServer((socket) => {
  const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
  secure.once('secure', () => secure.end(`hello over ${secure.getProtocol()}, cipher ${secure.getCipher().name}\n`));
  secure.on('error', (err) => console.error('server TLS error:', err.message));
});
tlsListener.listen(443);
const web = https.createServer({ key, cert }, (req, res) => res.end(`https ${req.url}\n`));
const httpsListener = server.net.createServer((socket) => web.emit('connection', socket));
httpsListener.listen(8443);

// Client: tls.connect over a tcp-tun socket. `ca` trusts our certificate; `servername` is
// both the SNI and the name the certificate is checked against.
const secure = tls.connect({ socket: client.net.connect(443, '10.0.0.2'), ca: cert, servername: 'tcp-tun.test' });
let text = '';
secure.setEncoding('utf8');
secure.on('data', (chunk) => (text += chunk));
await new Promise((resolve, reject) => {
  secure.once('end', resolve);
  secure.once('error', reject);
});
console.log(`authorized: ${secure.authorized}; ${text.trim()}`);

// https: an agent whose connections are TLS over tcp-tun sockets.
const agent = new https.Agent({ ca: cert });
/** @param {import('node:http').ClientRequestArgs} options */
agent.createConnection = (options) =>
  tls.connect({ socket: client.net.connect(Number(options.port), '10.0.0.2'), ca: cert, servername: 'tcp-tun.test' });
const body = await new Promise((resolve, reject) => {
  https
    .get({ host: '10.0.0.2', port: 8443, path: '/secure', agent }, (res) => {
      let t = '';
      res.setEncoding('utf8').on('data', (d) => (t += d)).on('end', () => resolve(t));
    })
    .on('error', reject);
});
process.stdout.write(body);

agent.destroy();
tlsListener.close();
httpsListener.close();
await Promise.all([client.close(), server.close()]);
