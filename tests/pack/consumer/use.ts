// A TypeScript program, checked with `tsc --strict` and skipLibCheck off (so the packages'
// own .d.ts files are checked too), that uses every installed package through its public types.
import {
  ipv4FromString,
  ipv4ToString,
  internetChecksum,
  makeIpv4Repr,
  emitIpv4,
  parseIpv4,
  IpProtocol,
  type Ipv4Repr,
} from '@tcp-tun/ip';
import { TcpConnection, emitTcp, parseTcp, type TcpState } from '@tcp-tun/tcp';
import { openTun, TunError, type TunDevice, type TunOptions, type TunStats } from '@tcp-tun/tun';
import {
  Stack,
  createLinkPair,
  withFaults,
  capture,
  TcpTunError,
  type Link,
  type StackOptions,
  type StackStats,
  type ConnectionInfo,
  type NetApi,
} from '@tcp-tun/net';
import * as echo from '@tcp-tun/echo';
import * as curlLite from '@tcp-tun/curl-lite';

// ip
const src: number = ipv4FromString('10.0.0.1');
const dst: number = ipv4FromString('10.0.0.2');
const repr: Ipv4Repr = makeIpv4Repr({ src, dst, protocol: IpProtocol.Tcp, payloadLength: 0 });
const header = new Uint8Array(20);
emitIpv4(repr, header);
const sum: number = internetChecksum(header);
const parsed = parseIpv4(header);
const dotted: string = parsed.ok ? ipv4ToString(parsed.repr.src) : parsed.reason;

// tcp
const conn = TcpConnection.connect(0, { local: { addr: src, port: 40000 }, remote: { addr: dst, port: 80 }, iss: 1 });
const state: TcpState = conn.state;
const tx = conn.pollTransmit(0);
const wire = new Uint8Array(1500);
if (tx) {
  const len: number = emitTcp(tx.repr, tx.payload, src, dst, wire);
  const seg = parseTcp(wire.subarray(0, len), src, dst);
  if (seg.ok) console.log(seg.repr.seq);
}

// tun: a device is a Link for the stack, structurally.
async function onTun(options: TunOptions): Promise<StackStats> {
  const device: TunDevice = await openTun(options);
  const link: Link = device;
  const stack = new Stack({ link, address: '10.0.0.2' });
  const tunStats: TunStats = device.stats;
  console.log(tunStats.rxPackets);
  const stats = stack.stats();
  await stack.close();
  return stats;
}
function describeError(err: unknown): string {
  if (err instanceof TunError) return err.code;
  if (err instanceof TcpTunError) return err.code;
  return String(err);
}

// net
async function echoOnce(): Promise<string> {
  const [linkA, linkB] = createLinkPair({ mtu: 1500 });
  const options: StackOptions = { link: capture(withFaults(linkA, { drop: 0 }), '/dev/null'), address: '10.0.0.1' };
  const client = new Stack(options);
  const server = new Stack({ link: linkB, address: '10.0.0.2' });
  const api: NetApi = server.net;
  const listener = api.createServer((socket) => socket.pipe(socket)).listen(7);
  const socket = client.net.connect({ host: '10.0.0.2', port: 7 }, () => socket.end('hi'));
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  const connections: ConnectionInfo[] = client.connections();
  listener.close();
  await Promise.all([client.close(), server.close()]);
  return `${text} ${connections.length}`;
}

export { sum, dotted, state, onTun, describeError, echoOnce, echo, curlLite };
