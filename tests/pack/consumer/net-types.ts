// Issue 9, types: a tcp-tun socket is accepted wherever Node's types expect a net.Socket,
// without casts; createConnection takes Node's NetConnectOpts.
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import { Stack, createLinkPair } from '@tcp-tun/net';

const [linkA] = createLinkPair();
const stack = new Stack({ link: linkA, address: '10.0.0.1' });

const s: net.Socket = stack.net.connect(80, '10.0.0.2');
const secure: tls.TLSSocket = tls.connect({ socket: stack.net.connect(443, '10.0.0.2'), servername: 'example.test' });
const options: net.NetConnectOpts = { host: '10.0.0.2', port: 80 };
const viaOptions: net.Socket = stack.net.createConnection(options);

class StackAgent extends http.Agent {
  override createConnection(): net.Socket {
    return stack.net.createConnection({ host: '10.0.0.2', port: 80 });
  }
}
const request = http.get({ host: '10.0.0.2', agent: new StackAgent() });

export { s, secure, viaOptions, request };
