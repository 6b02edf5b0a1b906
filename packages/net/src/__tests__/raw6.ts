/**
 * IPv6 test helpers below the socket layer: handle owners that collect a connection's events
 * and data through the stack's `StackPort` (`stack._port()`), and builders of raw IPv6 packets
 * (ICMPv6 echo, fragments, NDP/MLD) for the IPv6 tests of the stack.
 */
import { emitIcmpv6, emitIpv6, icmpv6Length, ipv6FromString, makeIpv6Repr, type Icmpv6Repr, type Ipv6Address } from '@tcp-tun/ip';
import type { IpAddress, TcpEvent } from '@tcp-tun/tcp';
import type { ConnectionHandle, HandleOwner, ListenerHandle, ListenerOwner } from '../handle.js';
import type { Stack } from '../stack.js';

/** A connection's events and received data, as a socket would see them. */
export class Conn implements HandleOwner {
  handle!: ConnectionHandle;
  readonly chunks: Uint8Array[] = [];
  received = 0;
  connected = false;
  ended = false;
  closed = false;
  error: string | undefined;
  #pending: Uint8Array[] = [];
  #endAfter = false;
  readonly #buf = new Uint8Array(65536);

  attach(handle: ConnectionHandle): this {
    this.handle = handle;
    handle.setOwner(this);
    if (handle.state === 'ESTABLISHED' || handle.state === 'CLOSE-WAIT') this.connected = true;
    this.#read();
    return this;
  }

  onTcpEvent(ev: TcpEvent): void {
    switch (ev.type) {
      case 'connected':
        this.connected = true;
        this.#flush();
        break;
      case 'readable':
        this.#read();
        break;
      case 'writable':
        this.#flush();
        break;
      case 'end':
        this.#read();
        this.ended = true;
        break;
      case 'error':
        this.error = ev.code;
        break;
      case 'closed':
        this.closed = true;
        break;
      default:
        break;
    }
  }

  /** Queues `data` (sent as the send buffer takes it), then a FIN when `end`. */
  write(data: Uint8Array, end = false): void {
    this.#pending.push(data);
    this.#endAfter ||= end;
    this.#flush();
  }

  /** All received data. */
  data(): Buffer {
    return Buffer.concat(this.chunks);
  }

  #read(): void {
    if (this.handle === undefined) return;
    for (let n = this.handle.readInto(this.#buf); n > 0; n = this.handle.readInto(this.#buf)) {
      this.chunks.push(this.#buf.slice(0, n));
      this.received += n;
    }
  }

  #flush(): void {
    if (this.handle === undefined || !this.connected) return;
    while (this.#pending.length > 0) {
      const head = this.#pending[0] as Uint8Array;
      const n = this.handle.send(head);
      if (n === head.length) this.#pending.shift();
      else {
        this.#pending[0] = head.subarray(n);
        return;
      }
    }
    if (this.#endAfter) {
      this.#endAfter = false;
      this.handle.shutdown();
    }
  }
}

/** A listener that attaches every accepted connection to a fresh {@link Conn}. */
export class Acceptor implements ListenerOwner {
  readonly accepted: Conn[] = [];
  handle!: ListenerHandle;
  onAccept: ((c: Conn) => void) | undefined;
  onConnection(handle: ConnectionHandle): void {
    const c = new Conn().attach(handle);
    this.accepted.push(c);
    this.onAccept?.(c);
  }
  onListenerClosed(): void {}
}

/** Listens on `host`:`port` of `stack` through its port. */
export function listen(stack: Stack, port: number, host = '::', ipv6Only = false, backlog = 511): Acceptor {
  const a = new Acceptor();
  a.handle = stack._port().listen(a, port, backlog, host, ipv6Only);
  return a;
}

/** Opens a connection from `stack` to `remote`:`port`. */
export function connect(stack: Stack, remote: IpAddress | string, port: number): Conn {
  const c = new Conn();
  const addr = typeof remote === 'string' ? ipv6FromString(remote) : remote;
  c.handle = stack._port().open(c, addr, port, undefined);
  return c;
}

/** An IPv6 packet from `src` to `dst` carrying the ICMPv6 message `repr`. */
export function icmpv6Packet(src: string | Ipv6Address, dst: string | Ipv6Address, repr: Icmpv6Repr, hopLimit = 64): Uint8Array {
  const s = typeof src === 'string' ? ipv6FromString(src) : src;
  const d = typeof dst === 'string' ? ipv6FromString(dst) : dst;
  const len = icmpv6Length(repr);
  const out = new Uint8Array(40 + len);
  emitIpv6(makeIpv6Repr({ src: s, dst: d, nextHeader: 58, payloadLength: len, hopLimit }), out);
  emitIcmpv6(repr, s, d, out.subarray(40));
  return out;
}

/**
 * Cuts the IPv6 packet `packet` (no extension headers) into fragments of at most `size`
 * fragmentable octets each (a multiple of 8), with Fragment headers of identification `ident`.
 */
export function fragment6(packet: Uint8Array, size: number, ident: number): Uint8Array[] {
  const nextHeader = packet[6] as number;
  const body = packet.subarray(40);
  const out: Uint8Array[] = [];
  for (let off = 0; off < body.length; off += size) {
    const piece = body.subarray(off, Math.min(body.length, off + size));
    const more = off + size < body.length;
    const f = new Uint8Array(48 + piece.length);
    f.set(packet.subarray(0, 40));
    f[6] = 44;
    const pl = 8 + piece.length;
    f[4] = pl >>> 8;
    f[5] = pl & 0xff;
    f[40] = nextHeader;
    f[41] = 0;
    const fo = (off / 8) << 3;
    f[42] = fo >>> 8;
    f[43] = (fo & 0xf8) | (more ? 1 : 0);
    f[44] = (ident >>> 24) & 0xff;
    f[45] = (ident >>> 16) & 0xff;
    f[46] = (ident >>> 8) & 0xff;
    f[47] = ident & 0xff;
    f.set(piece, 48);
    out.push(f);
  }
  return out;
}

/** Waits one turn of the event loop. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Turns the event loop until `cond` holds (at most `turns` times). */
export async function until(what: string, cond: () => boolean, turns = 20000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await turn();
  }
  throw new Error(`timed out waiting for ${what}`);
}
