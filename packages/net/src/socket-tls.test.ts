import { once } from 'node:events';
import tls from 'node:tls';
import { expect } from 'chai';
import type { Server } from './server.js';
import type { Socket } from './socket.js';
import { ADDR_B, makePair, seededBytes, type Pair } from './__tests__/harness.js';

// A self-signed test certificate for tcp-tun.test (P-256, valid until 2126); test use only.
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgU3V2O7GUwfVdQXM8
5K5yAPCdk8fK48RXhWekcL728/ShRANCAARTjwpnJ2GkfEzELF/+sz7eO3aEJFn3
r3aFTi5ZCEuHlcVQAAie7v34sepG2wFARskQOr24Y9wJ9YZOnr1DcQYH
-----END PRIVATE KEY-----
`;
const CERT = `-----BEGIN CERTIFICATE-----
MIIBnzCCAUSgAwIBAgIUVVs0uxxIvjaNSGvMTGcYXUxYQlQwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMdGNwLXR1bi50ZXN0MCAXDTI2MTIwNzAwMTQxN1oYDzIxMjYx
MTEzMDAxNDE3WjAXMRUwEwYDVQQDDAx0Y3AtdHVuLnRlc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAARTjwpnJ2GkfEzELF/+sz7eO3aEJFn3r3aFTi5ZCEuHlcVQ
AAie7v34sepG2wFARskQOr24Y9wJ9YZOnr1DcQYHo2wwajAdBgNVHQ4EFgQUVkMm
1rBW0dVyhcuiTiI25oi02ZswHwYDVR0jBBgwFoAUVkMm1rBW0dVyhcuiTiI25oi0
2ZswDwYDVR0TAQH/BAUwAwEB/zAXBgNVHREEEDAOggx0Y3AtdHVuLnRlc3QwCgYI
KoZIzj0EAwIDSQAwRgIhAPtyz3uwbjR/297gJQbkzJgZdHbUm2cyMQYiUFZBrBq+
AiEAxx48FIdjT/vSVA0jpfB0iNCi6dWe5Kmpp7VOkgfnjis=
-----END CERTIFICATE-----
`;

/** Collects a stream to its end. */
async function collect(stream: tls.TLSSocket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await once(stream, 'end');
  return Buffer.concat(chunks);
}

describe('TLS over tcp-tun sockets', () => {
  let pair: Pair;
  let server: Server;
  const context = tls.createSecureContext({ key: KEY, cert: CERT });
  const upload = seededBytes(200_000, 11);
  const download = seededBytes(300_000, 12);

  /** Echo of the protocol: the server reads the client's bytes to their end, then answers. */
  function serve(): void {
    // allowHalfOpen: the TLSSocket inherits it, and answers after the client's end.
    server = pair.b.net.createServer({ allowHalfOpen: true }, (socket: Socket) => {
      // An accepted (already connected) socket wrapped on the server side.
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
      secure.on('error', (err) => server.emit('error', err));
      void collect(secure).then((got) => {
        secure.end(Buffer.concat([Buffer.from(`got ${got.length}\n`), download]));
      });
    });
    server.listen(443);
  }

  beforeEach(async () => {
    pair = makePair();
    serve();
    await once(server, 'listening');
  });

  afterEach(async () => {
    server.close();
    await pair.close();
  });

  async function exchange(secure: tls.TLSSocket, raw: Socket): Promise<void> {
    await once(secure, 'secureConnect');
    expect(secure.authorized).to.equal(true);
    secure.end(upload);
    const reply = await collect(secure);
    const header = `got ${upload.length}\n`;
    expect(reply.subarray(0, header.length).toString()).to.equal(header);
    expect(reply.subarray(header.length).equals(download)).to.equal(true);
    // A clean end on both layers: close_notify and FIN each way, no error.
    await Promise.all([once(secure, 'close'), once(raw, 'close')]);
    expect(raw.destroyed).to.equal(true);
  }

  it('tls.connect({ socket }) over a connecting socket: bytes both ways, clean end', async () => {
    const raw = pair.a.net.connect(443, ADDR_B);
    const secure = tls.connect({ socket: raw, ca: CERT, servername: 'tcp-tun.test' });
    await exchange(secure, raw);
  });

  it('tls.connect({ socket }) over a socket already connected (STARTTLS)', async () => {
    const raw = pair.a.net.connect(443, ADDR_B);
    await once(raw, 'connect');
    const secure = tls.connect({ socket: raw, ca: CERT, servername: 'tcp-tun.test' });
    await exchange(secure, raw);
  });
});
