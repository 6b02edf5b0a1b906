/**
 * The connect path of a {@link Socket} once the host is resolved: Node's internalConnect
 * (local address checks, 'connectionAttempt', the stack's open) and Node 20's autoSelectFamily
 * attempts (internalConnectMultiple / afterConnectMultiple: one address after another, each
 * with its own timeout, RFC 8305 as Node does it), and taking a connection as the socket's.
 * The options checks and the lookups that come before are in socket-connect.ts.
 */
import type { IpAddress } from '@tcp-tun/tcp';
import { ConnectAggregateError, SystemError, argumentError } from './errors.js';
import type { ConnectionHandle } from './handle.js';
import type { Socket } from './socket.js';
import { ipType, stackAddress } from './socket-address.js';
import { sameIpv6, type ConnectTarget, type ResolveHooks } from './socket-connect.js';
import { applyKeepAlive, localOf, peerOf, unrefTimer, updateHold, type SocketState } from './socket-state.js';

const LOOPBACK = '127.0.0.1';

/** What the resolvers of socket-connect.ts may do to this socket. */
export function resolveHooks(socket: Socket, s: SocketState, target: ConnectTarget, attemptTimeoutMs: number): ResolveHooks {
  return {
    alive: () => socket.connecting && !socket.destroyed,
    lookupEvent: (err, address, family, host) => socket.emit('lookup', err, address, family, host),
    fail: (err) => socket.destroy(err),
    open: (address, type) => {
      unrefTimer(socket);
      openAddress(socket, s, address, type, target);
    },
    attemptAll: (order) => {
      unrefTimer(socket);
      (socket as { autoSelectFamilyAttemptedAddresses: string[] }).autoSelectFamilyAttemptedAddresses = [];
      s.attempts = { candidates: order, next: 0, errors: [], target, timeoutMs: attemptTimeoutMs, timer: undefined };
      attemptNext(socket, s);
    },
  };
}

/** An autoSelectFamily connect is over (connected, destroyed or reconnecting). */
export function endAttempts(s: SocketState): void {
  const a = s.attempts;
  if (a === undefined) return;
  clearTimeout(a.timer);
  s.attempts = undefined;
}

/** Fails a connect made while another is pending with EALREADY, as Node does on Linux. */
export function failAlready(socket: Socket, s: SocketState, host: string, remotePort: number): void {
  if (socket.destroyed) return;
  const peer = peerOf(s);
  const err = new SystemError('EALREADY', 'connect', peer?.address ?? host, peer?.port ?? remotePort);
  const local = localOf(s);
  if (local !== undefined) err.message += ` - Local (${local.address}:${local.port})`;
  socket.destroy(err);
}

/** Tries the next address of an autoSelectFamily connect, or fails with every attempt's error. */
export function attemptNext(socket: Socket, s: SocketState): void {
  const a = s.attempts;
  if (a === undefined || !socket.connecting || socket.destroyed) return;
  clearTimeout(a.timer);
  a.timer = undefined;
  const old = s.handle;
  if (old !== undefined) {
    // The previous attempt is over (failed or timed out): let its connection go quietly
    // (SYN-SENT ends without a RST, as Linux's close()).
    old.setOwner(undefined);
    old.close();
    s.handle = undefined;
    s.local = undefined;
  }
  if (a.next === a.candidates.length) {
    s.attempts = undefined;
    socket.destroy(a.errors.length === 0 ? argumentError('ERR_SOCKET_CONNECTION_TIMEOUT', 'Socket connection timeout') : new ConnectAggregateError(a.errors));
    return;
  }
  const current = a.next++;
  const { address, family } = a.candidates[current]!;
  (socket as { autoSelectFamilyAttemptedAddresses: string[] }).autoSelectFamilyAttemptedAddresses.push(`${address}:${a.target.remotePort}`);
  if (a.next < a.candidates.length) {
    a.timer = setTimeout(() => {
      if (s.attempts !== a || a.next !== current + 1 || !socket.connecting) return;
      socket.emit('connectionAttemptTimeout', address, a.target.remotePort, family);
      a.errors.push(new SystemError('ETIMEDOUT', 'connect', address, a.target.remotePort));
      attemptNext(socket, s);
    }, a.timeoutMs);
    a.timer.unref();
  }
  openAddress(socket, s, address, family, a.target);
}

/**
* One attempt of an autoSelectFamily connect failed with `error`: Node's
* afterConnectMultiple records it, emits 'connectionAttemptFailed' and tries the next address.
* Returns false when no multi-address connect is under way (the error is the socket's).
*/
export function attemptFailed(socket: Socket, s: SocketState, error: Error): boolean {
  const a = s.attempts;
  if (a === undefined || !socket.connecting || socket.destroyed) return false;
  const peer = peerOf(s);
  a.errors.push(error);
  a.failed = s.handle;
  socket.emit('connectionAttemptFailed', peer?.address, peer?.port, peer?.family === 'IPv6' ? 6 : 4, error);
  // From the next turn: the failed connection's own events are still being delivered.
  process.nextTick(() => attemptNext(socket, s));
  return true;
}

/**
* Opens the connection to the IP literal `address` of family `type` (Node's
* internalConnect): the local address is checked against the stack's, 'connectionAttempt'
* is emitted and the stack opens it. Failures destroy the socket (or, in an autoSelectFamily
* connect, move on to the next address).
*/
export function openAddress(socket: Socket, s: SocketState, requested: string, type: 4 | 6, target: ConnectTarget): void {
  if (!socket.connecting || socket.destroyed) return;
  // Linux connects to the unspecified address as to loopback, and getpeername() then reads
  // 127.0.0.1 or ::1 (so `connect(port, server.address().address)` works for a '::' server).
  const address = requested === '0.0.0.0' ? LOOPBACK : type === 6 && sameIpv6(requested, '::') ? '::1' : requested;
  const port = s.port;
  if (port === undefined) return;
  if (s.handle !== undefined) {
    // An earlier connect() of socket socket (before a destroy() and socket connect()) opened
    // the connection already: its own request is pending, so as libuv's second
    // uv_tcp_connect socket one fails with EALREADY (Node's test-net-connect-after-destroy).
    failAlready(socket, s, address, target.remotePort);
    return;
  }
  const { remotePort, localAddress } = target;
  s.peer = { address, family: type === 6 ? 'IPv6' : 'IPv4', port: remotePort };
  const fail = (err: Error): void => {
    if (!attemptFailed(socket, s, err)) socket.destroy(err);
  };
  if (localAddress !== undefined) {
    const localType = ipType(localAddress);
    // bind() of an address of the other family: Linux refuses it with EINVAL (an AF_INET6
    // socket given an IPv4 address, or the reverse), as Node reports.
    if (localType !== type) {
      fail(new SystemError('EINVAL', 'bind', localAddress, target.localPort));
      return;
    }
    // An address that is not ours: bind() fails with EADDRNOTAVAIL (Node: `bind
    // EADDRNOTAVAIL 10.9.9.9`); the unspecified address lets the stack choose.
    const ours = type === 4 ? localAddress === port.address || localAddress === '0.0.0.0' : localAddress === '::' || localAddress === '::1' || sameIpv6(localAddress, port.address6);
    if (!ours) {
      fail(new SystemError('EADDRNOTAVAIL', 'bind', localAddress, target.localPort));
      return;
    }
  }
  socket.emit('connectionAttempt', address, remotePort, type);
  let remote: IpAddress;
  try {
    remote = stackAddress(address, type, port);
  } catch {
    fail(new SystemError('EADDRNOTAVAIL', 'connect', address, remotePort));
    return;
  }
  if (typeof remote !== 'number' && port.address6 === undefined) {
    // No IPv6 address and no IPv6 route: as a host whose IPv6 is off (the agreed stack
    // interface throws the same; checked here so an IPv4-only stack never sees 16 octets).
    fail(new SystemError('ENETUNREACH', 'connect', address, remotePort));
    return;
  }
  if (typeof remote === 'number' && port.addressNumber === undefined) {
    fail(new SystemError('ENETUNREACH', 'connect', address, remotePort));
    return;
  }
  try {
    // A v4-mapped literal is an AF_INET6 socket reaching an IPv4 peer: its ends read as IPv6.
    attach(socket, s, port.open(socket, remote, remotePort, target.localPort, target.tcp), type === 6 && typeof remote === 'number');
  } catch (err) {
    if (!(err instanceof SystemError)) throw err;
    fail(err);
  }
}

/** Takes `handle` as this socket's connection; `dual`: it belongs to an AF_INET6 socket (IPv4 ends read as `::ffff:a.b.c.d`). */
export function attach(socket: Socket, s: SocketState, handle: ConnectionHandle, dual = false): void {
  s.handle = handle;
  s.dual = dual;
  s.local = undefined; // built on first read (localOf)
  handle.setOwner(socket);
  // Settings made before the connection existed (constructor/connect options, or set early).
  if (s.noDelay !== undefined) handle.setNoDelay(s.noDelay);
  if (s.userTimeoutMs !== undefined) handle.setUserTimeout(s.userTimeoutMs);
  applyKeepAlive(s);
  updateHold(socket, s);
}
