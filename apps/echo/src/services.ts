/**
 * The services tcp-tun-echo can run over a `Stack`: echo (RFC 862), discard (RFC 863),
 * source (a chargen-like stream of pseudo-random bytes, RFC 864's port) and http (Node's own
 * `http` server fed with the stack's sockets).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { METRICS_CONTENT_TYPE, renderMetrics, type DeviceCounters } from './metrics.js';
import type { Duplex } from 'node:stream';
import type { Socket, Stack } from '@tcp-tun/net';

/** Names accepted by `--services`. */
export const SERVICE_NAMES = ['echo', 'discard', 'source', 'http'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Well-known ports of each service. */
export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = { echo: 7, discard: 9, source: 19, http: 80 };

/** A running service; `close()` stops accepting (open connections are the stack's to close). */
export interface Service {
  /** Which service: echo (RFC 862), discard (RFC 863), source (a pseudo-random byte stream on chargen's port, RFC 864) or http. */
  readonly name: ServiceName;
  /** The TCP port it listens on. */
  readonly port: number;
  /** Stops accepting connections; those already open stay. */
  close(): void;
}

type Handler = (socket: Duplex) => void;

/**
 * Liveness settings applied to every connection a service accepts (the echo app's
 * `--keepalive`, `--user-timeout`, `--idle-timeout`, `--max-connections`): a user-space stack
 * pays memory for every connection whose peer is gone, so these let the operator bound that.
 */
export interface ServiceOptions {
  /**
   * Keepalive (RFC 1122 §4.2.3.6) after this many ms without a segment from the peer. The
   * interval between probes is the stack's `tcp.keepAliveIntervalMs` (the app sets it to the
   * same value, as curl does for its `--keepalive-time`).
   */
  readonly keepAliveMs?: number | undefined;
  /** TCP user timeout (RFC 5482, Linux's TCP_USER_TIMEOUT): unacknowledged data this long resets. */
  readonly userTimeoutMs?: number | undefined;
  /**
   * Close a connection idle (nothing read or written) this long: FIN, then a reset if the peer
   * has not closed its side one more such period later.
   */
  readonly idleTimeoutMs?: number | undefined;
  /** `server.maxConnections`: connections past it are closed at once (Node's 'drop'). */
  readonly maxConnections?: number | undefined;
  /** The TUN device's counters, for the http service's `/metrics` (left out when absent). */
  readonly deviceStats?: (() => DeviceCounters) | undefined;
}

/** Applies the per-connection settings of `options` to an accepted socket. */
export function applyLiveness(socket: Socket, options: ServiceOptions): void {
  if (options.keepAliveMs !== undefined) socket.setKeepAlive(true, options.keepAliveMs);
  if (options.userTimeoutMs !== undefined) socket.setUserTimeout(options.userTimeoutMs);
  const idleMs = options.idleTimeoutMs;
  if (idleMs !== undefined) {
    // 'timeout' only reports idleness (Node's semantics); the service decides to close: a FIN
    // (end), as a server closing an idle keep-alive connection does, and if the peer has not
    // finished the close one more idle period later, a reset (destroy).
    socket.setTimeout(idleMs, () => {
      socket.end();
      socket.setTimeout(idleMs, () => socket.destroy());
    });
  }
}

// The listeners of echo and discard are shared functions: EventEmitter calls a listener with
// the emitter as `this`, so a connection holds no closure (with its context) per listener. An
// idle connection is mostly objects of this kind; five closures and their contexts were ~370
// octets of each (bench/PROFILE.md round 6).

/** Peers reset connections as a matter of course; the socket is destroyed either way and there is nobody to report it to. */
function ignoreError(): void {}

/** Reads and drops (discard, and the bytes a client sends to source). */
function ignoreData(): void {}

/** Echo: what pipe() does, stopping reading while our send buffer is full (which closes the receive window: flow control end to end). */
function echoData(this: Duplex, chunk: Buffer): void {
  if (!this.write(chunk)) this.pause();
}

/** Echo: the send buffer has room again. */
function resumeReading(this: Duplex): void {
  this.resume();
}

/** After the peer's FIN, ours once every queued byte is sent (end() comes after the queued writes). */
function endToo(this: Duplex): void {
  this.end();
}

function quietErrors(socket: Duplex): void {
  socket.on('error', ignoreError);
}

const handlers: Record<Exclude<ServiceName, 'http'>, Handler> = {
  echo(socket) {
    // pipe()'s work with three listeners instead of its eight.
    quietErrors(socket);
    socket.on('data', echoData);
    socket.on('drain', resumeReading);
    socket.on('end', endToo);
  },
  discard(socket) {
    quietErrors(socket);
    socket.on('data', ignoreData);
    socket.on('end', endToo);
  },
  source(socket) {
    // A stream that is never idle: its state (the block, whether to go on) stays in a closure.
    quietErrors(socket);
    const block = randomBytes(64 * 1024);
    let open = true;
    const pump = (): void => {
      while (open && socket.write(block)) {
        // keep writing until the send buffer pushes back
      }
    };
    socket.on('drain', pump);
    socket.on('data', ignoreData);
    socket.on('end', () => {
      open = false;
      socket.end();
    });
    socket.on('close', () => {
      open = false;
    });
    pump();
  },
};

/** The body byte at offset i of /bytes/N and /chunked/N. */
export function patternByte(i: number): number {
  return i % 251;
}

// One block whose length is a multiple of 251, so slices of it continue the pattern.
const PATTERN = Uint8Array.from({ length: 251 * 256 }, (_, i) => patternByte(i));
const MAX_BODY = 4 * 1024 * 1024 * 1024;

function streamPattern(res: http.ServerResponse, length: number): void {
  let offset = 0;
  const pump = (): void => {
    while (offset < length) {
      const start = offset % PATTERN.length;
      const end = Math.min(PATTERN.length, start + (length - offset));
      offset += end - start;
      if (!res.write(PATTERN.subarray(start, end))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

const INDEX = `<!doctype html>
<title>tcp-tun</title>
<h1>Served by Node's http over the tcp-tun user-space TCP stack</h1>
<ul>
<li><a href="/bytes/1024">/bytes/N</a>: N bytes, byte i = i % 251, with Content-Length
<li><a href="/chunked/1024">/chunked/N</a>: the same bytes with chunked transfer coding
<li><a href="/redirect?to=/">/redirect?to=PATH</a>: a 302 to PATH
<li><a href="/metrics">/metrics</a>: the stack's and the device's counters, Prometheus text format
</ul>
`;

/** The request handler of the http service. */
export function httpHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://tcp-tun');
  const sized = /^\/(bytes|chunked)\/(\d{1,10})$/.exec(url.pathname);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
  } else if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(INDEX) });
    res.end(req.method === 'HEAD' ? undefined : INDEX);
  } else if (sized) {
    const length = Number(sized[2]);
    if (length > MAX_BODY) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`at most ${MAX_BODY} bytes\n`);
      return;
    }
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
    if (sized[1] === 'bytes') headers['content-length'] = length;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else streamPattern(res, length);
  } else if (url.pathname === '/redirect') {
    const to = url.searchParams.get('to') ?? '/';
    // Only local paths: the service is no open redirector.
    const location = to.startsWith('/') && !to.startsWith('//') ? to : '/';
    res.writeHead(302, { location, 'content-length': 0 }).end();
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

/** Starts `name` on `port` over `stack`; resolves once it listens. */
export function startService(stack: Stack, name: ServiceName, port: number, options: ServiceOptions = {}): Promise<Service> {
  let handler: Handler;
  let httpServer: http.Server | undefined;
  if (name === 'http') {
    // /metrics needs the stack, which the plain handler does not know.
    const server = http.createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
        const body = renderMetrics(stack, options.deviceStats?.());
        res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      } else httpHandler(req, res);
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    httpServer = server;
    handler = (socket) => {
      quietErrors(socket);
      server.emit('connection', socket);
    };
  } else {
    handler = handlers[name];
  }
  return new Promise((resolve, reject) => {
    const server = stack.net.createServer({ allowHalfOpen: name !== 'http' }, (socket) => {
      applyLiveness(socket, options);
      handler(socket);
    });
    if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve({
        name,
        port,
        close: () => {
          server.close();
          httpServer?.close();
        },
      });
    });
  });
}
