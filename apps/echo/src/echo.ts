/** The echo service (RFC 862) over any tcp-tun `Stack`. */
import type { Stack } from '@tcp-tun/net';

/** A running echo service; `close()` stops accepting and resolves once the listener is gone. */
export interface EchoService {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves echo on `port`: every accepted connection gets its bytes back, concurrently and with
 * backpressure (pipe pauses reading while the send buffer is full, which closes our receive
 * window). When the peer half-closes, we finish echoing and then send our FIN.
 */
export function startEcho(stack: Stack, port: number): Promise<EchoService> {
  return new Promise((resolve, reject) => {
    const server = stack.net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => {
        // A peer reset is normal life for an echo server; the socket is destroyed either way.
      });
      socket.pipe(socket);
    });
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve({
        port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
