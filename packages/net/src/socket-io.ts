/**
 * The data path of a {@link Socket}: received bytes from the connection into the stream
 * (`push()`, or Node's `onread` buffer and callback) while it wants them, the peer's FIN as the
 * end of the stream, and writes handed to the engine's send buffer as far as it has room
 * (the rest waits for the engine's 'writable'), and our FIN after them.
 */
import type { ConnectionHandle } from './handle.js';
import { SystemError, argumentError } from './errors.js';
import type { Socket } from './socket.js';
import { unrefTimer, updateHold, type SocketState } from './socket-state.js';

// Largest single read: large enough to amortise the call, small enough to keep chunks sane.
const RECV_CHUNK = 64 * 1024;

/** Moves received bytes into the stream while it wants them (or all of them when `all`). */
export function pull(socket: Socket, s: SocketState, all = false): void {
  if (s.pulling) return;
  s.pulling = true;
  try {
    const h = s.handle;
    let took = false;
    if (!s.readOpen) return;
    if (h !== undefined && !socket.connecting) {
      if (s.onread !== undefined) took = pullOnread(socket, s, h);
      else {
        while ((s.wantRead || all) && !socket.destroyed) {
          const n = Math.min(h.readableLength, RECV_CHUNK);
          if (n === 0) break;
          // allocUnsafe: readInto overwrites the octets it reports, and only those are pushed.
          const raw = Buffer.allocUnsafe(n);
          const copied = h.readInto(raw);
          if (copied === 0) break;
          took = true;
          s.bytesRead += copied;
          if (!socket.push(copied === n ? raw : raw.subarray(0, copied))) s.wantRead = false;
        }
      }
      if (took) unrefTimer(socket);
    }
    // With `onread`, a callback that returned false stopped reading (Node's readStop()): the
    // end of stream is not seen until resume().
    const stopped = s.onread !== undefined && s.onreadStopped;
    if (s.peerEnded && !s.pushedEof && !socket.destroyed && !stopped && (h === undefined || h.readableLength === 0)) {
      s.pushedEof = true;
      socket.push(null);
      // Node's onStreamRead on EOF: push the end and read zero, so 'end' is emitted even when
      // nobody reads, as long as the stream buffer is empty.
      socket.read(0);
    }
  } finally {
    s.pulling = false;
  }
}

/** Node's `onread` mode: data goes into the given buffer and to the callback, not to 'data'. */
export function pullOnread(socket: Socket, s: SocketState, h: ConnectionHandle): boolean {
  const o = s.onread;
  if (o === undefined) return false;
  let took = false;
  while (!s.onreadStopped && !socket.destroyed && h.readableLength > 0) {
    const buf = typeof o.buffer === 'function' ? o.buffer() : o.buffer;
    const n = h.readInto(buf);
    if (n === 0) break;
    took = true;
    s.bytesRead += n;
    if (o.callback.call(socket, n, buf) === false) s.onreadStopped = true;
  }
  return took;
}

export function startWrite(socket: Socket, s: SocketState, chunks: readonly Uint8Array[], callback: (error?: Error | null) => void): void {
  if (s.handle === undefined && !socket.connecting) {
    callback(argumentError('ERR_SOCKET_CLOSED', 'Socket is closed'));
    return;
  }
  s.pendingWrite = { chunks, index: 0, offset: 0, callback, beforeConnect: socket.connecting };
  s.pendingAccepted = 0;
  updateHold(socket, s);
  flushWrites(socket, s);
}

/** Hands the pending write to the engine as far as its send buffer allows. */
export function flushWrites(socket: Socket, s: SocketState): void {
  const p = s.pendingWrite;
  const h = s.handle;
  if (p === undefined || h === undefined || socket.connecting) return;
  let sent = false;
  while (p.index < p.chunks.length) {
    if (!h.canSend) {
      s.pendingWrite = undefined;
      updateHold(socket, s);
      p.callback(new SystemError('EPIPE', 'write'));
      return;
    }
    const chunk = p.chunks[p.index] as Uint8Array;
    const rest = p.offset === 0 ? chunk : chunk.subarray(p.offset);
    const n = rest.length === 0 ? 0 : h.send(rest);
    if (n > 0) {
      sent = true;
      s.bytesDispatched += n;
      s.pendingAccepted += n;
    }
    if (n < rest.length) {
      // Send buffer full: the rest (and the callback) wait for 'writable'.
      p.offset += n;
      break;
    }
    p.index++;
    p.offset = 0;
  }
  if (sent) unrefTimer(socket);
  if (p.index < p.chunks.length) return;
  s.pendingWrite = undefined;
  s.pendingAccepted = 0;
  updateHold(socket, s);
  p.callback();
}

export function finish(s: SocketState, callback: (error?: Error | null) => void): void {
  if (s.deferredReset !== undefined) {
    callback(new SystemError('EPIPE', 'write'));
    return;
  }
  // Node's _final: shutdown() queues our FIN after the written data and 'finish' follows
  // (the kernel, here the stack, goes on delivering on its own).
  s.handle?.shutdown();
  // libuv completes a shutdown request from the event loop, in a later turn.
  setImmediate(callback);
}
