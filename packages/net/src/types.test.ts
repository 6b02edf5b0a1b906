/**
 * Issue 9 behaviour 9: a tcp-tun socket is a `net.Socket` to Node's types and at run time.
 * The functions below are type-checked (`pnpm typecheck` and `tsc --strict`) and never need a
 * real TLS peer: they only have to compile without casts. The test checks the run-time side.
 */
import http from 'node:http';
import * as net from 'node:net';
import tls from 'node:tls';
import { expect } from 'chai';
import { ADDR_B, makePair } from './__tests__/harness.js';
import type { Stack } from './stack.js';

/** Compiles only if the stack's sockets fit where Node's types expect a net.Socket. */
export function typeChecks(stack: Stack): void {
  const s: net.Socket = stack.net.connect(443, ADDR_B);
  tls.connect({ socket: stack.net.connect(443, ADDR_B), servername: 'example.test' });
  class StackAgent extends http.Agent {
    override createConnection(options: net.NetConnectOpts, callback?: (err: Error | null, stream: net.Socket) => void): net.Socket {
      return stack.net.createConnection(options, () => callback?.(null, s));
    }
  }
  void new StackAgent();
  const options: net.NetConnectOpts = { port: 80, host: ADDR_B, noDelay: true, keepAlive: true };
  void stack.net.createConnection(options);
  const server: net.Server = stack.net.createServer();
  void server;
}

describe('types: a tcp-tun socket is a net.Socket', () => {
  it('instanceof net.Socket and net.Server hold, and http.Agent takes the socket', async () => {
    const pair = makePair();
    try {
      expect(typeof typeChecks).to.equal('function');
      const server = pair.b.net.createServer((c) => c.end('x'));
      expect(server).to.be.instanceOf(net.Server);
      server.listen(9);
      const socket = pair.a.net.connect(9, ADDR_B);
      expect(socket).to.be.instanceOf(net.Socket);
      socket.resume();
      await new Promise((resolve) => socket.once('close', resolve));
    } finally {
      await pair.close();
    }
  });
});
