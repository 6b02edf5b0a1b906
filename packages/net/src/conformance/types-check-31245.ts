
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Stack } from '../index.js';

export function uses(stack: Stack): unknown[] {
  const socket: net.Socket = net.connect(80, '10.0.0.2');
  const viaOptions: net.Socket = net.createConnection({ port: 80, host: '10.0.0.2' } satisfies net.NetConnectOpts);
  const secure: tls.TLSSocket = tls.connect({ socket: net.connect(443, '10.0.0.2') });
  class Agent extends http.Agent {
    override createConnection(options: net.NetConnectOpts): net.Socket {
      return net.createConnection(options);
    }
  }
  const server: net.Server = net.createServer((s: net.Socket) => s.end());
  return [stack, socket, viaOptions, secure, new Agent(), server];
}
