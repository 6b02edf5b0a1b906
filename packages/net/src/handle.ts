/**
 * The handle boundary, as Node's `net.Socket` ↔ `_handle` (its TCPWrap): the socket layer
 * (socket.ts, server.ts) reaches the stack ONLY through the types of this file. A
 * {@link ConnectionHandle} is one connection: send → accepted, read into, shutdown (FIN),
 * close (the kernel's close(): the stack finishes delivery and the FIN on its own, as an
 * orphan), abort (RST), the option setters and the state. Each method schedules the stack's
 * work itself; no socket code touches engine objects or the stack's records.
 *
 * A {@link StackPort} is what a socket or server asks of the stack as a whole: open a
 * connection, listen, hold the process alive. The stack builds one for its `net` API, so
 * socket.ts and server.ts import no stack code and the import circle is gone.
 */
import type { LookupFunction as NetLookupFunction } from 'node:net';
import type { Ipv6Address } from '@tcp-tun/ip';
import type { IpAddress, TcpConfig, TcpEvent, TcpState } from '@tcp-tun/tcp';
import type { ConnectionEntry, ListenerEntry } from './internal.js';
import { tcpInfoOf, type TcpInfo } from './tcp-info.js';

/** Receives the engine events of one connection (a socket), from the stack's drain. */
export interface HandleOwner {
  onTcpEvent(event: TcpEvent): void;
}

/** Receives what a listener accepted (a server). */
export interface ListenerOwner {
  /** A connection reached ESTABLISHED and waits for the owner to take it. */
  onConnection(handle: ConnectionHandle): void;
  /** The stack closed, and the listener with it. */
  onListenerClosed(): void;
}

/** The stack operations a handle needs; implemented by the stack, private to this package. */
export interface HandleDriver {
  /** Queue the connection for a drain (now inside a batch, else in one microtask). */
  schedule(entry: ConnectionEntry): void;
  /** The owner let go: `graceful` leaves the connection to finish as an orphan, else RST. */
  release(entry: ConnectionEntry, graceful: boolean): void;
}

/** Name resolution with `dns.lookup`'s signature: Node's own `net.LookupFunction`. */
export type LookupFunction = NetLookupFunction;

/** One connection of the stack, as the socket layer sees it. */
export class ConnectionHandle {
  readonly #entry: ConnectionEntry;
  readonly #driver: HandleDriver;
  #released = false;

  /** @internal Built by the stack for an active open or an accepted connection. */
  constructor(entry: ConnectionEntry, driver: HandleDriver) {
    this.#entry = entry;
    this.#driver = driver;
  }

  /** Our port. */
  get localPort(): number {
    return this.#entry.localPort;
  }
  /**
   * The peer's address: a uint32 for IPv4 (also for an IPv4 peer of a `::` listener, which the
   * socket layer spells `::ffff:a.b.c.d`), 16 octets for IPv6 (do not mutate).
   */
  get remoteAddr(): IpAddress {
    return this.#entry.remoteAddr;
  }
  /** Our address on this connection, in the family of {@link remoteAddr} (IPv6: ours or `::1`). */
  get localAddr(): IpAddress {
    return this.#entry.localAddr;
  }
  /** The connection's IP family. */
  get family(): 4 | 6 {
    return this.#entry.family;
  }
  get remotePort(): number {
    return this.#entry.remotePort;
  }
  /** The engine state; 'CLOSED' once the connection left the stack's tables. */
  get state(): TcpState {
    return this.#entry.removed ? 'CLOSED' : this.#entry.conn.state;
  }
  /** Whether the connection is still in the stack and this handle has not let go of it. */
  get live(): boolean {
    return !this.#entry.removed && !this.#released;
  }
  /**
   * Received in-order octets not yet read. They stay readable after the connection closed
   * and left the stack's tables (both FINs exchanged while the reader was behind).
   */
  get readableLength(): number {
    return this.#entry.conn.readableLength;
  }
  /** Whether `send()` may still take octets (no FIN queued, not closed). */
  get canSend(): boolean {
    return this.live && this.#entry.conn.canSend;
  }

  /** The connection's counters and estimators now (as Linux's TCP_INFO); also after it closed. */
  tcpInfo(): TcpInfo {
    return tcpInfoOf(this.#entry.conn);
  }

  /** Where the engine events go (undefined: nobody; the stack treats data then as unread). */
  setOwner(owner: HandleOwner | undefined): void {
    if (!this.#released) this.#entry.owner = owner;
  }

  /** Queues octets for sending; returns how many the send buffer took (RFC 9293 SEND). */
  send(bytes: Uint8Array): number {
    if (!this.live) return 0;
    const n = this.#entry.conn.send(bytes);
    if (n > 0) this.#driver.schedule(this.#entry);
    return n;
  }

  /**
   * Copies received octets into `out` (RFC 9293 RECEIVE); returns how many. Reading opens the
   * window, so a window update may be due: the stack is scheduled.
   */
  readInto(out: Uint8Array): number {
    const n = this.#entry.conn.recvInto(out);
    if (n > 0 && this.live) this.#driver.schedule(this.#entry);
    return n;
  }

  /** Half-close (RFC 9293 §3.10.4): our FIN after every queued octet. Idempotent. */
  shutdown(): void {
    if (!this.live) return;
    this.#entry.conn.close();
    this.#driver.schedule(this.#entry);
  }

  /**
   * The kernel's close() (Node's `destroy()`): the socket lets go. When received octets were
   * never read the connection is reset, as Linux does and RFC 2525 §2.17 / RFC 1122 §4.2.2.13
   * describe; otherwise our FIN follows every octet already accepted and the stack finishes
   * the connection on its own (an orphan, FIN-WAIT-2 bounded by `tcp.finWait2TimeoutMs`).
   */
  close(): void {
    if (this.#released) return;
    this.#released = true;
    const e = this.#entry;
    if (e.removed) {
      e.owner = undefined;
      return;
    }
    // Unread data is discarded: RST. A connect in progress just ends (Linux's tcp_close in
    // SYN-SENT sends nothing; abort() sends no RST there either).
    if (e.conn.readableLength > 0 || e.conn.state === 'SYN-SENT') {
      this.#driver.release(e, false);
      return;
    }
    e.conn.close();
    this.#driver.release(e, true);
  }

  /** Reset (RFC 9293 §3.10.5, Node's `resetAndDestroy()`): a RST, and the socket lets go. */
  abort(): void {
    if (this.#released) return;
    this.#released = true;
    this.#driver.release(this.#entry, false);
  }

  /** Nagle's algorithm off (`true`) or on (RFC 1122 §4.2.3.4); held data goes at once. */
  setNoDelay(noDelay: boolean): void {
    if (!this.live) return;
    this.#entry.conn.setNoDelay(noDelay);
    this.#driver.schedule(this.#entry);
  }

  /** Keepalive (RFC 1122 §4.2.3.6) with an idle time in ms (undefined: the configured one). */
  setKeepAlive(enable: boolean, idleMs: number | undefined): void {
    if (!this.live) return;
    this.#entry.conn.setKeepAlive(enable, idleMs);
    this.#driver.schedule(this.#entry);
  }

  /** User timeout (RFC 5482, Linux's TCP_USER_TIMEOUT) in ms, 0 = off. */
  setUserTimeout(ms: number): void {
    if (!this.live) return;
    this.#entry.conn.setUserTimeout(ms);
    this.#driver.schedule(this.#entry);
  }
}

/** One listening port of the stack, as the server sees it. */
export interface ListenerHandle {
  readonly port: number;
  /** Stops listening: embryonic and not-yet-accepted connections are reset. Idempotent. */
  close(): void;
}

/** What the socket layer may ask of the stack; `stack.net` is built over one. */
export interface StackPort {
  /** Our IPv4 address (dotted quad), if the stack has one. */
  readonly address: string | undefined;
  /** Our IPv4 address as a uint32, if the stack has one. */
  readonly addressNumber: number | undefined;
  /** Our IPv6 address (RFC 5952 text), if the stack has one. */
  readonly address6: string | undefined;
  /** Our IPv6 address as 16 octets (do not mutate), if the stack has one. */
  readonly address6Bytes: Ipv6Address | undefined;
  /** Engine configuration of new connections. */
  readonly tcpConfig: TcpConfig;
  /** Whether the stack was closed (then nothing new may start). */
  readonly closed: boolean;
  /** The stack's default resolver (`StackOptions.lookup`), if any. */
  readonly lookup: LookupFunction | undefined;
  /**
   * Active open to `remoteAddr:remotePort` (an IPv4 number or IPv6 octets; the socket layer
   * turns `::ffff:a.b.c.d` into the number first); our address is the stack's one of that
   * family (`::1` to `::1`). The SYN leaves with the next drain.
   * @throws SystemError EADDRINUSE, EADDRNOTAVAIL, ENOBUFS, ENETUNREACH (no address of that
   * family, or an IPv4-mapped/multicast/unspecified IPv6 address); TcpTunError ERR_STACK_CLOSED.
   */
  open(owner: HandleOwner, remoteAddr: IpAddress, remotePort: number, localPort: number | undefined, config?: Partial<TcpConfig>): ConnectionHandle;
  /**
   * Listens on `host`:`port` (0: ephemeral): `'::'` takes both families unless `ipv6Only`,
   * `'0.0.0.0'` IPv4 only, one of our addresses only that one.
   * @throws SystemError EADDRINUSE, EADDRNOTAVAIL (not our address); TcpTunError ERR_STACK_CLOSED.
   */
  listen(owner: ListenerOwner, port: number, backlog: number, host: string, ipv6Only?: boolean): ListenerHandle;
  /** Something that keeps the process alive started (+1) or stopped (−1) doing so. */
  hold(delta: 1 | -1): void;
}

/** @internal The listener record behind a {@link ListenerHandle}. */
export function listenerHandle(entry: ListenerEntry, close: (entry: ListenerEntry) => void): ListenerHandle {
  return {
    port: entry.port,
    close: () => close(entry),
  };
}
