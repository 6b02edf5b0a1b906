/**
 * One curl-style transfer (with redirects) over any `node:net`-shaped connector: Node's own
 * `http` client does the HTTP/1.1 work (Content-Length, chunked, close-delimited bodies,
 * keep-alive), and every byte it sends or reads is carried by the socket `connect` returns.
 */
import http from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { CurlError, EXIT, fromSocketError } from './errors.js';

/** What a {@link Connector} is asked for: Node's `net.connect` options of the same names. */
export interface ConnectOptions {
  host: string;
  port: number;
  /** Keepalive on, after `keepAliveInitialDelay` ms of silence (curl's `--keepalive-time`). */
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** Opens a TCP connection; `stack.net.createConnection` fits. */
export type Connector = (options: ConnectOptions, onConnect?: () => void) => Duplex;

/** curl's default `--keepalive-time`: 60 s (idle time and probe interval alike). */
export const DEFAULT_KEEPALIVE_MS = 60_000;

/** What to fetch and how, already validated by the CLI. */
export interface TransferOptions {
  readonly url: string;
  readonly method?: string | undefined;
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Uint8Array | undefined;
  /** Put the status line and headers in the output, as curl's `-i`. */
  readonly include: boolean;
  /** HEAD request, headers only, as curl's `-I`. */
  readonly head: boolean;
  readonly followRedirects: boolean;
  readonly maxRedirects: number;
  /** Exit 22 on HTTP status >= 400, as curl's `-f`. */
  readonly failOnError: boolean;
  readonly verbose: boolean;
  /** Milliseconds for the whole operation; undefined means no limit. */
  readonly maxTimeMs?: number | undefined;
  /**
   * TCP keepalive idle time in ms (curl's `--keepalive-time`, on by default at 60 s as in curl);
   * undefined turns keepalive off (`--no-keepalive`). The probe interval is the stack's, which
   * the CLI sets to the same value, as curl sets TCP_KEEPIDLE and TCP_KEEPINTVL alike.
   */
  readonly keepAliveMs?: number | undefined;
  /** Milliseconds allowed for the TCP connect (curl's `--connect-timeout`); undefined: no limit. */
  readonly connectTimeoutMs?: number | undefined;
}

/** Where the transfer writes; `progress` is called as body bytes arrive. */
export interface TransferOutput {
  readonly body: Writable;
  readonly log: Writable;
  readonly progress?: ((received: number, total: number | undefined) => void) | undefined;
}

/** The final response of a transfer. */
export interface TransferResult {
  readonly statusCode: number;
  readonly url: string;
  readonly bodyBytes: number;
  readonly redirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Parses and checks a URL the way curl would before touching the network. */
export function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new CurlError(EXIT.URL_MALFORMAT, `URL rejected: Malformed input to a URL function: ${raw}`);
  }
  if (url.protocol !== 'http:') {
    throw new CurlError(EXIT.UNSUPPORTED_PROTOCOL, `Protocol "${url.protocol.replace(':', '')}" not supported (tcp-tun carries plain HTTP)`);
  }
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(url.hostname)) {
    throw new CurlError(EXIT.COULDNT_RESOLVE_HOST, `Could not resolve host: ${url.hostname} (the user-space stack has no resolver: use an IPv4 address)`);
  }
  return url;
}

/** An agent whose connections come from `connect`, kept alive so `-L` to the same host reuses one. */
class ConnectorAgent extends http.Agent {
  constructor(
    private readonly connect: Connector,
    private readonly log: ((line: string) => void) | undefined,
    private readonly tcp: { keepAliveMs?: number | undefined; connectTimeoutMs?: number | undefined },
  ) {
    super({ keepAlive: true, maxSockets: 1 });
  }

  // http.Agent accepts the socket either returned or passed to the callback; returning it is
  // enough, so the callback goes unused.
  override createConnection(options: http.ClientRequestArgs, _callback?: (err: Error | null, socket: Duplex) => void): Duplex {
    const host = String(options.host ?? options.hostname ?? '');
    const port = Number(options.port ?? 80);
    this.log?.(`*   Trying ${host}:${port}...`);
    const keepAlive = this.tcp.keepAliveMs;
    const started = performance.now();
    let connectTimer: NodeJS.Timeout | undefined;
    const socket = this.connect(
      { host, port, ...(keepAlive === undefined ? {} : { keepAlive: true, keepAliveInitialDelay: keepAlive }) },
      () => {
        if (connectTimer !== undefined) clearTimeout(connectTimer);
        const s = socket as Duplex & { localAddress?: string; localPort?: number };
        this.log?.(`* Connected to ${host} port ${port} (from ${s.localAddress ?? '?'}:${s.localPort ?? '?'}, tcp-tun user-space TCP)`);
      },
    );
    const limit = this.tcp.connectTimeoutMs;
    if (limit !== undefined) {
      // As curl's --connect-timeout: only the connect is limited; the message is curl's.
      connectTimer = setTimeout(() => {
        const ms = Math.round(performance.now() - started);
        socket.destroy(new CurlError(EXIT.OPERATION_TIMEDOUT, `Failed to connect to ${host} port ${port} after ${ms} ms: Timeout was reached`));
      }, limit);
      socket.once('close', () => clearTimeout(connectTimer));
    }
    return socket;
  }
}

/**
 * Runs the transfer: the request, then redirects if asked, writing the body of the last
 * response to `output.body`. Resolves with the final status; rejects with a `CurlError`.
 */
export async function transfer(connect: Connector, options: TransferOptions, output: TransferOutput): Promise<TransferResult> {
  const verbose = options.verbose ? (line: string) => output.log.write(`${line}\n`) : undefined;
  const agent = new ConnectorAgent(connect, verbose, { keepAliveMs: options.keepAliveMs, connectTimeoutMs: options.connectTimeoutMs });
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    options.maxTimeMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, options.maxTimeMs);
  try {
    let url = parseTarget(options.url);
    let method = options.method ?? (options.head ? 'HEAD' : options.body ? 'POST' : 'GET');
    let body = options.body;
    for (let redirects = 0; ; redirects++) {
      const response = await request(agent, url, method, body, options, output, controller.signal, verbose);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (options.followRedirects && REDIRECTS.has(status) && location !== undefined) {
        if (redirects >= options.maxRedirects) {
          throw new CurlError(EXIT.TOO_MANY_REDIRECTS, `Maximum (${options.maxRedirects}) redirects followed`);
        }
        await drain(response);
        const next = parseTarget(new URL(location, url).toString());
        verbose?.(`* Issue another request to this URL: '${next.toString()}'`);
        // As curl: 303 always becomes GET; 301/302 turn a POST into a GET; 307/308 keep both.
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        url = next;
        continue;
      }
      const bodyBytes = await deliver(response, options, output);
      if (options.failOnError && status >= 400) {
        throw new CurlError(EXIT.HTTP_RETURNED_ERROR, `The requested URL returned error: ${status}`);
      }
      return { statusCode: status, url: url.toString(), bodyBytes, redirects };
    }
  } catch (err) {
    if (timedOut) throw new CurlError(EXIT.OPERATION_TIMEDOUT, `Operation timed out after ${options.maxTimeMs} milliseconds`);
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
    agent.destroy();
  }
}

function request(
  agent: http.Agent,
  url: URL,
  method: string,
  body: Uint8Array | undefined,
  options: TransferOptions,
  output: TransferOutput,
  signal: AbortSignal,
  verbose: ((line: string) => void) | undefined,
): Promise<http.IncomingMessage> {
  const target = `${url.hostname}:${url.port || 80}`;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'user-agent': 'tcp-tun-curl-lite/0.1', accept: '*/*' };
    if (body && !options.headers.some(([k]) => k.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const req = http.request({
      agent,
      host: url.hostname,
      port: Number(url.port || 80),
      method,
      path: `${url.pathname}${url.search}`,
      headers,
      signal,
    });
    for (const [name, value] of options.headers) req.setHeader(name, value);
    if (body) req.setHeader('content-length', body.length);
    req.once('error', (err: NodeJS.ErrnoException) => {
      reject(err instanceof CurlError ? err : err.name === 'AbortError' ? err : fromSocketError(err, target));
    });
    req.once('response', (res) => {
      if (verbose) {
        verbose(`< HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`);
        for (let i = 0; i < res.rawHeaders.length; i += 2) verbose(`< ${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        verbose('<');
      }
      res.once('error', () => undefined);
      resolve(res);
    });
    if (verbose) {
      req.once('socket', () => {
        verbose(`> ${method} ${url.pathname}${url.search} HTTP/1.1`);
        verbose(`> Host: ${url.host}`);
        for (const [name, value] of Object.entries(req.getHeaders())) verbose(`> ${name}: ${String(value)}`);
        verbose('>');
      });
    }
    req.end(body);
  });
}

function drain(res: http.IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    res.on('end', resolve).on('close', resolve).resume();
  });
}

/** Writes the headers (for -i/-I) and the body to the output; resolves with the body length. */
function deliver(res: http.IncomingMessage, options: TransferOptions, output: TransferOutput): Promise<number> {
  return new Promise((resolve, reject) => {
    if (options.include || options.head) {
      let head = `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}\r\n`;
      for (let i = 0; i < res.rawHeaders.length; i += 2) head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      output.body.write(`${head}\r\n`);
    }
    const lengthHeader = res.headers['content-length'];
    const total = lengthHeader === undefined ? undefined : Number(lengthHeader);
    let received = 0;
    res.on('data', (chunk: Buffer) => {
      received += chunk.length;
      output.progress?.(received, total);
      if (!output.body.write(chunk)) {
        res.pause();
        output.body.once('drain', () => res.resume());
      }
    });
    res.once('end', () => {
      if (!res.complete) {
        reject(new CurlError(EXIT.RECV_ERROR, `Transfer closed with ${total === undefined ? 'an incomplete body' : `${total - received} bytes remaining to read`}`));
      } else resolve(received);
    });
    res.once('aborted', () => reject(new CurlError(EXIT.RECV_ERROR, 'Connection closed during the response body')));
    res.once('error', (err: NodeJS.ErrnoException) => {
      // A connection that died during the body (keepalive or user timeout gave up): curl says
      // "Recv failure: Connection timed out" with 56.
      if (err.code === 'ETIMEDOUT') reject(new CurlError(EXIT.RECV_ERROR, 'Recv failure: Connection timed out'));
      else reject(err.name === 'AbortError' ? err : fromSocketError(err, 'the server'));
    });
    output.body.once('error', (err) => reject(new CurlError(EXIT.WRITE_ERROR, `Failure writing output: ${err.message}`)));
  });
}
