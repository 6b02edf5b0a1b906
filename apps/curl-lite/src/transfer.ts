/**
 * One curl-style transfer (with redirects) over any `node:net`-shaped connector: Node's own
 * `http` client does the HTTP/1.1 work (Content-Length, chunked, close-delimited bodies,
 * keep-alive), and every byte it sends or reads is carried by the socket `connect` returns
 * (wrapped in Node's TLS for https:// URLs).
 */
import http from 'node:http';
import type { Duplex, Readable, Transform, Writable } from 'node:stream';
import { bodyDecoder } from './decode.js';
import { CurlError, EXIT, fromSocketError } from './errors.js';
import { newTransferInfo, type TransferInfo } from './info.js';
import { requestHeaders, sameOrigin } from './request-headers.js';
import { startTls, tlsFailure, type TlsSettings } from './tls.js';
import { parseTarget, resolveHost, type IpFamily } from './target.js';


/** What a {@link Connector} is asked for: Node's `net.connect` options of the same names. */
export interface ConnectOptions {
  /** Server address or name to connect to. */
  host: string;
  /** Server port (80/443 unless the URL names one). */
  port: number;
  /** Keepalive on, after `keepAliveInitialDelay` ms of silence (curl's `--keepalive-time`). */
  keepAlive?: boolean;
  /** Idle time before the first keep-alive probe, in milliseconds. */
  keepAliveInitialDelay?: number;
}

/** Opens a TCP connection; `stack.net.createConnection` fits. */
export type Connector = (options: ConnectOptions, onConnect?: () => void) => Duplex;

/** curl's default `--keepalive-time`: 60 s (idle time and probe interval alike). */
export const DEFAULT_KEEPALIVE_MS = 60_000;

/** What to fetch and how, already validated by the CLI. */
export interface TransferOptions {
  /** The URL to fetch, http or https. */
  readonly url: string;
  /** `-4`/`-6`: connect over this family only (curl's `--ipv4`/`--ipv6`); undefined: either. */
  readonly family?: IpFamily | undefined;
  /**
   * The families the stack has an address of; a URL of another fails with exit 7, and
   * `localhost` without `-4`/`-6` is 127.0.0.1 unless IPv4 is missing. Undefined: not checked.
   */
  readonly stackFamilies?: readonly IpFamily[] | undefined;
  /** `-X`: the request method; default GET, HEAD with `head`, POST with a body, PUT with `upload`. */
  readonly method?: string | undefined;
  /** `-H`: extra request header fields, name and value, in order. */
  readonly headers: readonly (readonly [string, string])[];
  /** Request body (`-d`, `--json`, `-T`); absent for none. */
  readonly body?: Uint8Array | undefined;
  /** Put the status line and headers in the output, as curl's `-i`. */
  readonly include: boolean;
  /** HEAD request, headers only, as curl's `-I`. */
  readonly head: boolean;
  /** `-L`: follow 301, 302, 303, 307 and 308 responses. */
  readonly followRedirects: boolean;
  /** `--max-redirs`: most redirects followed before failing with exit 47 (CLI default 20). */
  readonly maxRedirects: number;
  /** Exit 22 on HTTP status >= 400 without writing the body, as curl's `-f`. */
  readonly failOnError: boolean;
  /** `-v`: log the connection and the request and response headers to `log`. */
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
  /** `-A`: the User-Agent; '' sends none. */
  readonly userAgent?: string | undefined;
  /** `-e`: the Referer; a trailing `;auto` also sets it on each redirect, as curl. */
  readonly referer?: string | undefined;
  /**
   * `-u user:password`: Basic authentication (the URL's user info is used when absent). Not
   * `user`: in the CLI's options that name is the device flags' privilege drop (`--user`).
   */
  readonly credentials?: string | undefined;
  /** `--compressed`: ask for gzip, deflate or br and decode the body. */
  readonly compressed?: boolean | undefined;
  /**
   * The body is a `-T` upload: no form Content-Type, and `Expect: 100-continue` first (the body
   * follows the server's 100, or after one second without an answer, as curl).
   */
  readonly upload?: boolean | undefined;
  /** `-k`: do not verify the server's certificate or name. */
  readonly insecure?: boolean | undefined;
  /** `--cacert`: PEM certificates to trust instead of the system's. */
  readonly caCert?: string | Uint8Array | undefined;
}

/** Where the transfer writes; `progress` is called as body bytes arrive. */
export interface TransferOutput {
  /** Where the response body (and with `-i` the head) goes. */
  readonly body: Writable;
  /** Where `-v` lines go (stderr in the CLI). */
  readonly log: Writable;
  /** Called with the body octets received so far and the Content-Length, if any. */
  readonly progress?: ((received: number, total: number | undefined) => void) | undefined;
  /** Filled in as the transfer goes (for `-w`), also when it fails. */
  readonly info?: TransferInfo | undefined;
}

/** The final response of a transfer. */
export interface TransferResult {
  /** HTTP status of the final response. */
  readonly statusCode: number;
  /** URL of the final request, after redirects. */
  readonly url: string;
  /** Body octets received in the final response (`%{size_download}`). */
  readonly bodyBytes: number;
  /** Redirects followed. */
  readonly redirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** curl waits this long for a 100 (Continue) before sending an upload anyway (`--expect100-timeout`). */
const EXPECT_100_TIMEOUT_MS = 1000;

/** curl's connection numbers (`#0`), by the socket handed to Node's http client, for `-v`. */
const connectionIds = new WeakMap<object, number>();

const defaultPort = (url: URL): number => Number(url.port || (url.protocol === 'https:' ? 443 : 80));

/**
 * An agent whose connections come from `connect` (and, for https, Node's TLS on top), kept alive
 * so `-L` to the same host reuses one. The socket is handed to Node's http client through the
 * callback once connected (and secured), which `http.Agent` allows.
 */
class ConnectorAgent extends http.Agent {
  private readonly pending = new Set<Duplex>();

  constructor(
    private readonly connect: Connector,
    private readonly log: ((line: string) => void) | undefined,
    private readonly info: TransferInfo,
    private readonly tls: TlsSettings | undefined,
    private readonly tcp: { keepAliveMs?: number | undefined; connectTimeoutMs?: number | undefined },
  ) {
    super({ keepAlive: true, maxSockets: 1 });
  }

  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, socket: Duplex) => void): undefined {
    // Called once: a reset during the TLS handshake reaches both the TCP and the TLS socket.
    let settled = false;
    const done = (err: Error | null, socket: Duplex): void => {
      if (settled) return;
      settled = true;
      callback?.(err, socket);
    };
    const host = String(options.host ?? options.hostname ?? '');
    const port = Number(options.port);
    this.log?.(`*   Trying ${host}:${port}...`);
    const onError = (err: Error): void => {
      this.pending.delete(socket);
      done(err, socket);
    };
    const keepAlive = this.tcp.keepAliveMs;
    const started = performance.now();
    let connectTimer: NodeJS.Timeout | undefined;
    const socket = this.connect({ host, port, ...(keepAlive === undefined ? {} : { keepAlive: true, keepAliveInitialDelay: keepAlive }) }, () => {
      if (connectTimer !== undefined) clearTimeout(connectTimer);
      const s = socket as Duplex & { localAddress?: string; localPort?: number; remoteAddress?: string; remotePort?: number };
      const info = this.info;
      info.connectMs = performance.now() - info.startedAt;
      info.remoteIp = s.remoteAddress ?? host;
      info.remotePort = s.remotePort ?? port;
      info.localIp = s.localAddress ?? '';
      info.localPort = s.localPort ?? 0;
      this.log?.(`* Connected to ${host} (${info.remoteIp}) port ${port} (#${info.numConnects})`);
      this.log?.(`* (tcp-tun user-space TCP from ${info.localIp}:${info.localPort})`);
      const id = info.numConnects++;
      if (this.tls === undefined) {
        socket.off('error', onError);
        this.pending.delete(socket);
        connectionIds.set(socket, id);
        done(null, socket);
        return;
      }
      // From here the TLS socket reports the TCP socket's errors (as handshake failures).
      socket.off('error', onError);
      startTls(socket, host, this.tls, this.log).then(
        ({ socket: secure, verifyResult }) => {
          this.pending.delete(socket);
          info.appConnectMs = performance.now() - info.startedAt;
          info.sslVerifyResult = verifyResult;
          connectionIds.set(secure, id);
          done(null, secure);
        },
        (err: Error) => {
          this.pending.delete(socket);
          socket.destroy();
          done(err, socket);
        },
      );
    });
    const limit = this.tcp.connectTimeoutMs;
    if (limit !== undefined) {
      // As curl's --connect-timeout: only the connect is limited; the message is curl's.
      connectTimer = setTimeout(() => {
        const ms = Math.round(performance.now() - started);
        socket.destroy(new CurlError(EXIT.OPERATION_TIMEDOUT, `Failed to connect to ${host} port ${port} after ${ms} ms: Timeout was reached`));
      }, limit);
      socket.once('close', () => clearTimeout(connectTimer));
    }
    this.pending.add(socket);
    socket.once('error', onError);
    return undefined;
  }

  /** Also drops connections still being opened (a `--max-time` abort during the handshake). */
  override destroy(): void {
    for (const s of this.pending) s.destroy();
    this.pending.clear();
    super.destroy();
  }
}

/** The credentials for `url`: `-u` first, else the URL's own user info (percent-decoded). */
function credentialsFor(url: URL, user: string | undefined): string | undefined {
  if (user !== undefined) return user.includes(':') ? user : `${user}:`;
  if (url.username === '' && url.password === '') return undefined;
  return `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
}

/** One request of the chain, as `request()` sends it. */
interface Step {
  readonly url: URL;
  readonly method: string;
  readonly body: Uint8Array | undefined;
  readonly headers: [string, string][];
  /** The user of the Basic credentials sent, for the `-v` line. */
  readonly user?: string | undefined;
}

/**
 * Runs the transfer: the request, then redirects if asked, writing the body of the last
 * response to `output.body`. Resolves with the final status; rejects with a `CurlError`.
 */
export async function transfer(connect: Connector, options: TransferOptions, output: TransferOutput): Promise<TransferResult> {
  const info = output.info ?? newTransferInfo(options.url);
  const verbose = options.verbose ? (line: string) => output.log.write(`${line}\n`) : undefined;
  const agents = new Map<string, ConnectorAgent>();
  const agentFor = (url: URL): ConnectorAgent => {
    let agent = agents.get(url.protocol);
    if (agent === undefined) {
      const tls = url.protocol === 'https:' ? { insecure: options.insecure, ca: options.caCert } : undefined;
      agent = new ConnectorAgent(connect, verbose, info, tls, { keepAliveMs: options.keepAliveMs, connectTimeoutMs: options.connectTimeoutMs });
      agents.set(url.protocol, agent);
    }
    return agent;
  };
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
    const first = parseTarget(options.url);
    let url = first;
    let method = options.method ?? (options.head ? 'HEAD' : options.body ? (options.upload ? 'PUT' : 'POST') : 'GET');
    let body = options.body;
    const autoReferer = options.referer?.endsWith(';auto') === true;
    let referer = autoReferer ? options.referer?.slice(0, -';auto'.length) : options.referer;
    for (let redirects = 0; ; redirects++) {
      // Credentials, and -H Authorization/Cookie, go only where the user sent them (curl 7.83+).
      const trusted = sameOrigin(first, url);
      const custom = options.headers.filter(([n]) => trusted || !/^(authorization|cookie)$/i.test(n));
      const credentials = trusted ? credentialsFor(first, options.credentials) : undefined;
      const headers = requestHeaders({
        url,
        userAgent: options.userAgent,
        referer,
        credentials,
        compressed: options.compressed,
        custom,
        bodyLength: body?.length,
        bodyType: body && !options.upload ? 'application/x-www-form-urlencoded' : undefined,
        expectContinue: body !== undefined && options.upload === true,
      });
      Object.assign(info, { method, url: info.url, urlEffective: url.toString(), scheme: url.protocol.slice(0, -1).toUpperCase(), referer });
      const stepStart = performance.now();
      const response = await request(agentFor(url), { url, method, body, headers, user: credentials?.slice(0, credentials.indexOf(':')) }, options, info, controller.signal, verbose);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      // What curl says of the connection once a response is read: kept for the next request, or closed.
      const socket = response.socket;
      const kept = response.httpVersion === '1.1' && !/\bclose\b/i.test(response.headers.connection ?? '');
      const after = (): void => {
        const id = socket === null ? undefined : connectionIds.get(socket);
        if (id !== undefined) verbose?.(kept ? `* Connection #${id} to host ${url.hostname} left intact` : `* Closing connection ${id}`);
      };
      if (REDIRECTS.has(status) && location !== undefined) {
        info.redirectUrl = new URL(location, url).toString();
        if (options.followRedirects) {
          if (redirects >= options.maxRedirects) {
            throw new CurlError(EXIT.TOO_MANY_REDIRECTS, `Maximum (${options.maxRedirects}) redirects followed`);
          }
          await drain(response);
          after();
          const next = parseTarget(info.redirectUrl);
          verbose?.(`* Issue another request to this URL: '${next.toString()}'`);
          // As curl: 303 always becomes GET; 301/302 turn a POST into a GET; 307/308 keep both.
          if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
            method = status === 303 && method === 'HEAD' ? 'HEAD' : 'GET';
            body = undefined;
          }
          if (autoReferer) referer = url.toString();
          url = next;
          info.numRedirects = redirects + 1;
          info.redirectMs += performance.now() - stepStart;
          info.redirectUrl = undefined;
          continue;
        }
      }
      const bodyBytes = await deliver(response, options, output, info);
      after();
      return { statusCode: status, url: url.toString(), bodyBytes, redirects };
    }
  } catch (err) {
    if (timedOut) throw new CurlError(EXIT.OPERATION_TIMEDOUT, `Operation timed out after ${options.maxTimeMs} milliseconds with ${info.sizeDownload} bytes received`);
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
    for (const agent of agents.values()) agent.destroy();
    info.totalMs = performance.now() - info.startedAt;
  }
}

/** The bytes of a response head as it came: status line, header lines, blank line. */
function headBytes(res: http.IncomingMessage): number {
  let n = `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}\r\n`.length + 2;
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) n += Buffer.byteLength(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`);
  return n;
}

function request(
  agent: http.Agent,
  step: Step,
  options: TransferOptions,
  info: TransferInfo,
  signal: AbortSignal,
  verbose: ((line: string) => void) | undefined,
): Promise<http.IncomingMessage> {
  const { url, method, body } = step;
  const target = `${url.hostname}:${defaultPort(url)}`;
  return new Promise((resolve, reject) => {
    // -4/-6 and localhost (throws curl's exit 7 for a literal of the other family).
    const { address } = resolveHost(url, options.family, options.stackFamilies);
    const req = http.request({
      agent,
      host: address,
      port: defaultPort(url),
      method,
      path: `${url.pathname}${url.search}`,
      // As a flat list, Node sends the headers in exactly this order and adds only Connection.
      headers: step.headers.flat(),
      signal,
    });
    // The head Node wrote, to show with -v and count for -w (it is stored when the headers are
    // given as a list).
    const head = (req as unknown as { _header?: string })._header ?? '';
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof CurlError || err.name === 'AbortError') return reject(err);
      reject(tlsFailure(err, url.hostname) ?? fromSocketError(err, target));
    });
    req.on('information', (res: http.InformationEvent) => {
      info.sizeHeader += `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}\r\n\r\n`.length;
      verbose?.(`< HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`);
    });
    req.once('response', (res) => {
      info.startTransferMs = performance.now() - info.startedAt;
      info.httpCode = res.statusCode ?? 0;
      info.httpVersion = res.httpVersion;
      info.contentType = res.headers['content-type'];
      info.responseHeaders = res.rawHeaders;
      info.numHeaders = res.rawHeaders.length / 2;
      info.sizeHeader += headBytes(res);
      if (verbose) {
        verbose(`< HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`);
        for (let i = 0; i < res.rawHeaders.length; i += 2) verbose(`< ${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        verbose('< ');
      }
      res.once('error', () => undefined);
      resolve(res);
    });
    req.once('socket', (socket) => {
      if (req.reusedSocket) verbose?.(`* Re-using existing connection #${connectionIds.get(socket) ?? 0} with host ${url.hostname}`);
      info.preTransferMs = performance.now() - info.startedAt;
      info.sizeUpload = 0;
      info.sizeRequest += head.length;
      if (verbose) {
        if (step.user !== undefined) verbose(`* Server auth using Basic with user '${step.user}'`);
        for (const line of head.split('\r\n').slice(0, -2)) verbose(`> ${line}`);
        verbose('> ');
      }
    });
    const sendBody = (): void => {
      if (body !== undefined) {
        info.sizeUpload = body.length;
        info.sizeRequest += body.length;
      }
      req.end(body);
    };
    if (body === undefined || !options.upload) return sendBody();
    // Expect: 100-continue (RFC 9110 §10.1.1): the body goes after the server's 100, after a
    // second of silence, or not at all when a final answer comes first; then the connection
    // holds an unsent body, so it is not reused.
    let sent = false;
    const once = (): void => {
      if (sent) return;
      sent = true;
      clearTimeout(wait);
      sendBody();
    };
    const wait = setTimeout(once, EXPECT_100_TIMEOUT_MS);
    req.once('continue', once);
    req.once('response', () => {
      if (sent) {
        verbose?.('* We are completely uploaded and fine');
        return;
      }
      sent = true;
      clearTimeout(wait);
      req.shouldKeepAlive = false;
      req.end();
    });
    req.once('close', () => clearTimeout(wait));
  });
}

function drain(res: http.IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    res.on('end', resolve).on('close', resolve).resume();
  });
}

/**
 * Writes the headers (for -i/-I) and the body to the output, decoding it for `--compressed`;
 * resolves with the body length on the wire. With `-f` an HTTP error writes no body (curl 7.88
 * stops when it reads the status; `-i` still shows the headers).
 */
function deliver(res: http.IncomingMessage, options: TransferOptions, output: TransferOutput, info: TransferInfo): Promise<number> {
  return new Promise((resolve, reject) => {
    const status = res.statusCode ?? 0;
    if (options.include || options.head) {
      let head = `HTTP/${res.httpVersion} ${status} ${res.statusMessage}\r\n`;
      for (let i = 0; i < res.rawHeaders.length; i += 2) head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      output.body.write(`${head}\r\n`);
    }
    if (options.failOnError && status >= 400) {
      res.destroy();
      reject(new CurlError(EXIT.HTTP_RETURNED_ERROR, `The requested URL returned error: ${status}`));
      return;
    }
    let decoder: Transform | undefined;
    if (options.compressed) {
      try {
        decoder = bodyDecoder(res.headers['content-encoding']);
      } catch (err) {
        res.destroy();
        reject(err);
        return;
      }
    }
    const lengthHeader = res.headers['content-length'];
    const total = lengthHeader === undefined ? undefined : Number(lengthHeader);
    let received = 0;
    res.on('data', (chunk: Buffer) => {
      received += chunk.length;
      info.sizeDownload = received;
      output.progress?.(received, total);
    });
    const fail = (err: NodeJS.ErrnoException): void => {
      if (err instanceof CurlError || err.name === 'AbortError') return reject(err);
      // A connection that died during the body (keepalive or user timeout gave up): curl says
      // "Recv failure: Connection timed out" with 56.
      if (err.code === 'ETIMEDOUT') return reject(new CurlError(EXIT.RECV_ERROR, 'Recv failure: Connection timed out'));
      reject(tlsFailure(err, res.socket?.remoteAddress ?? 'the server') ?? fromSocketError(err, 'the server'));
    };
    res.once('end', () => {
      if (!res.complete) {
        reject(new CurlError(EXIT.RECV_ERROR, `Transfer closed with ${total === undefined ? 'an incomplete body' : `${total - received} bytes remaining to read`}`));
      }
    });
    res.once('aborted', () => reject(new CurlError(EXIT.RECV_ERROR, 'Connection closed during the response body')));
    const onWriteError = (err: Error): void => reject(new CurlError(EXIT.WRITE_ERROR, `Failure writing output: ${err.message}`));
    output.body.once('error', onWriteError);
    // The body stream is not ended here: main owns it (stdout stays open, a file is closed there).
    let sink: Readable = res;
    if (decoder !== undefined) {
      decoder.once('error', reject);
      sink = res.pipe(decoder);
    }
    sink.on('data', (chunk: Buffer) => {
      if (!output.body.write(chunk)) {
        sink.pause();
        output.body.once('drain', () => sink.resume());
      }
    });
    res.once('error', fail);
    sink.once('end', () => {
      output.body.off('error', onWriteError);
      if (res.complete) resolve(received);
    });
  });
}
