/**
 * The life cycle of a {@link Socket} as the engine reports it: connected (Node's afterConnect
 * order of 'connect', queued writes, 'ready' and the first read), errors (which are the
 * socket's now, which are deferred to the next read or write as a kernel socket's are, which
 * belong to one autoSelectFamily attempt), closed, and the reset of a destroyed socket that
 * connects again.
 */
import type { TcpErrorCode } from '@tcp-tun/tcp';
import { SystemError } from './errors.js';
import type { Socket } from './socket.js';
import { attemptFailed, endAttempts } from './socket-attempts.js';
import { finish, flushWrites, pull } from './socket-io.js';
import { peerOf, setConnecting, unrefTimer, updateHold, type NodeSocketInternals, type SocketState } from './socket-state.js';

/** The connection is established: Node's afterConnect. */
export function onConnected(socket: Socket, s: SocketState): void {
  if (!socket.connecting) return;
  endAttempts(s);
  s.connected = true;
  setConnecting(socket, s, false);
  unrefTimer(socket);
  socket.emit('connect');
  // Writes queued while connecting go as Node's do: from a 'connect' listener, before 'ready'.
  flushWrites(socket, s);
  socket.emit('ready');
  const final = s.pendingFinal;
  if (final !== undefined) {
    s.pendingFinal = undefined;
    finish(s, final);
  }
  // As Node's afterConnect: start reading into the stream buffer (up to its highWaterMark)
  // even before anyone consumes, so a reset or FIN is noticed at once; the first read comes
  // from the event loop.
  s.readOpen = false;
  setImmediate(() =>
    setImmediate(() => {
      s.readOpen = true;
      if (socket.destroyed) return;
      if (!socket.isPaused() || s.onread !== undefined) socket.read(0);
      pull(socket, s);
    }),
  );
}

/** The engine reports `code`: the socket fails now, or at its next read or write, or the attempt does. */
export function onError(socket: Socket, s: SocketState, code: TcpErrorCode): void {
  let error: SystemError;
  const peer = peerOf(s);
  if (code === 'ECONNREFUSED' || ((code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ECONNRESET') && socket.connecting)) {
    error = new SystemError(code, 'connect', peer?.address, peer?.port);
    if (socket.connecting && attemptFailed(socket, s, error)) return;
  } else if (code === 'EPIPE' || (code === 'ECONNRESET' && s.peerEnded)) {
    // A reset after the peer's FIN (CLOSE-WAIT) is EPIPE, as Linux's tcp_reset() reports it,
    // and with reading over only a write can see it: Node reports nothing until the next
    // write fails.
    error = new SystemError('EPIPE', 'write');
    if (code === 'ECONNRESET' && !socket.writableEnded && !socket.destroyed) {
      s.deferredReset = error;
      return;
    }
  } else {
    error = new SystemError(code, 'read');
    // A reset is deferred only while something can still observe it: a read (the stream
    // has not ended) or a write (the writable side is open).
    const observable = !s.pushedEof || !socket.writableEnded;
    if (code === 'ECONNRESET' && !s.wantRead && !socket.destroyed && observable && s.onread === undefined) {
      // As with Node over a kernel socket whose reading stopped (its stream buffer is full):
      // the reset is seen by the next read (ECONNRESET) or write (EPIPE), not before.
      s.deferredReset = error;
      return;
    }
  }
  socket.destroy(error);
}

/** The connection is gone from the stack. */
export function onClosed(socket: Socket, s: SocketState): void {
  if (socket.destroyed || s.handle === undefined) return;
  // A failed attempt of an autoSelectFamily connect: the next address is being tried.
  if (s.attempts !== undefined && s.attempts.failed === s.handle) return;
  if (s.deferredReset !== undefined) {
    // A write waiting for send-buffer room will never get it: it is the write that sees the
    // reset (EPIPE). Left waiting, the socket would never finish nor close.
    const p = s.pendingWrite;
    s.pendingWrite = undefined;
    updateHold(socket, s);
    p?.callback(new SystemError('EPIPE', 'write'));
    return;
  }
  if (s.peerEnded) {
    // Both FINs were exchanged (or a RST in CLOSING/LAST-ACK closed quietly, RFC 9293
    // §3.10.7.4): hand over what the application has not read yet; the stream ends by itself.
    pull(socket, s, true);
    return;
  }
  // Closed without an error event: aborted (e.g. by stack.close()).
  socket.destroy();
}

/** A destroyed socket connects again (Node's connect() on a closed socket). */
export function resetForReconnect(socket: Socket, s: SocketState): void {
  (socket as unknown as NodeSocketInternals)._undestroy();
  s.handle = undefined;
  s.connected = false;
  endAttempts(s);
  s.peer = undefined;
  s.local = undefined;
  s.wantRead = false;
  s.peerEnded = false;
  s.pushedEof = false;
  s.deferredReset = undefined;
  s.hadError = false;
  s.bytesRead = 0;
  s.bytesDispatched = 0;
}
