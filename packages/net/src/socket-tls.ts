/**
 * TLS over a tcp-tun socket. Node's `TLSSocket` (lib/_tls_wrap.js) wraps a `net.Socket` that
 * has no kernel handle (`_handle` null, as ours always is) in a JS stream, which is right for
 * us; but its `_init` then marks itself `connecting = socket.connecting || !socket._handle`
 * and waits for the socket's 'connect' before it writes, ends or reads. A kernel socket that
 * is already connected has a handle, so Node's own sockets never wait there; ours would wait
 * forever when the socket is already connected (an accepted socket, or STARTTLS on a client
 * after 'connect'): the handshake runs (it goes through the JS stream) but the application's
 * data and end never leave.
 *
 * The fix is the one value Node would compute for a connected kernel socket: after `_init`,
 * a TLSSocket over a connected tcp-tun socket is not connecting. Only sockets of this package
 * are affected; the patch is installed once per process (marked by a global symbol).
 */
import tls from 'node:tls';
import { Socket } from './socket.js';

const INSTALLED = Symbol.for('tcp-tun.net.tls-init');

interface TlsInit {
  _init?: (this: tls.TLSSocket, socket: unknown, wrap: unknown) => void;
  [INSTALLED]?: boolean;
}

/** @internal Installs the TLSSocket fix-up (idempotent); called when `stack.net` is built. */
export function installTlsSupport(): void {
  const proto = tls.TLSSocket.prototype as unknown as TlsInit;
  const original = proto._init;
  if (proto[INSTALLED] === true || typeof original !== 'function') return;
  proto[INSTALLED] = true;
  proto._init = function (this: tls.TLSSocket, socket: unknown, wrap: unknown): void {
    original.call(this, socket, wrap);
    // `pending` is false exactly when the socket has a live, established connection.
    if (socket instanceof Socket && !socket.connecting && !socket.pending) {
      (this as { connecting: boolean }).connecting = false;
    }
  };
}
