/**
 * `Link.flush`, the optional end-of-batch hint: the stack calls it after every drain, so a link
 * that hands packets to another thread never holds a packet past the turn it was sent in.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import type { Link } from './link.js';
import { createLinkPair } from './link-pair.js';
import { Stack } from './stack.js';

/** Wraps `link`, logging sends and flushes; `unflushed` counts turns that ended with a send not yet flushed. */
function flushWatch(link: Link): Link & { sends: number; flushes: number; unflushed: number } {
  let pending = false;
  let checkQueued = false;
  const watch = {
    sends: 0,
    flushes: 0,
    unflushed: 0,
    get mtu() {
      return link.mtu;
    },
    start: link.start.bind(link),
    close: link.close.bind(link),
    send(packet: Uint8Array): void {
      watch.sends++;
      pending = true;
      if (!checkQueued) {
        checkQueued = true;
        // A macrotask later: every microtask and tick of this turn has run.
        setImmediate(() => {
          checkQueued = false;
          if (pending) watch.unflushed++;
        });
      }
      link.send(packet);
    },
    flush(): void {
      watch.flushes++;
      pending = false;
    },
  };
  return watch;
}

describe('Link.flush (end-of-batch hint)', () => {
  it('is called after the packets of every drain: none waits past its turn', async () => {
    const [a, b] = createLinkPair();
    const serverLink = flushWatch(a);
    const server = new Stack({ link: serverLink, address: '10.0.0.2' });
    const client = new Stack({ link: b, address: '10.0.0.1' });
    try {
      const srv = server.net.createServer((socket) => socket.pipe(socket));
      srv.listen(7);
      await once(srv, 'listening');
      for (let round = 0; round < 3; round++) {
        const socket = client.net.connect({ host: '10.0.0.2', port: 7 });
        const body = Buffer.alloc(200_000, round);
        let got = 0;
        socket.on('data', (d: Buffer) => (got += d.length));
        socket.end(body);
        await once(socket, 'close');
        expect(got).to.equal(body.length);
      }
      await new Promise((r) => setImmediate(r));
      expect(serverLink.sends).to.be.greaterThan(50);
      expect(serverLink.flushes).to.be.greaterThan(0);
      expect(serverLink.unflushed, 'turns that ended with an unflushed send').to.equal(0);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('is optional: a link without it works as before', async () => {
    const [a, b] = createLinkPair();
    expect('flush' in a).to.equal(false);
    const server = new Stack({ link: a, address: '10.0.0.2' });
    const client = new Stack({ link: b, address: '10.0.0.1' });
    try {
      const srv = server.net.createServer((socket) => socket.pipe(socket));
      srv.listen(7);
      await once(srv, 'listening');
      const socket = client.net.connect({ host: '10.0.0.2', port: 7 });
      let got = 0;
      socket.on('data', (d: Buffer) => (got += d.length));
      socket.end(Buffer.alloc(10_000, 1));
      await once(socket, 'close');
      expect(got).to.equal(10_000);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
