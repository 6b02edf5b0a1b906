/**
 * The request header block in curl's order, as curl 7.88 sends it:
 * Host, Authorization, User-Agent, Accept, Accept-Encoding, Referer, the `-H` headers in the
 * order given, then Content-Length, Content-Type and Expect. A `-H` header with the name of one
 * curl adds itself takes its place (Host keeps the first line); `-H 'Name:'` with no value
 * removes it and sends nothing.
 */
import { ACCEPT_ENCODING } from './decode.js';

/** curl's identification; ours names the program that sent the request. */
export const DEFAULT_USER_AGENT = 'tcp-tun-curl-lite/0.1';

/** The inputs of one request's headers. */
export interface RequestHeaderInputs {
  readonly url: URL;
  /** `-A`: undefined for the default, '' to send none. */
  readonly userAgent?: string | undefined;
  /** `-e`. */
  readonly referer?: string | undefined;
  /** `user:password` for Basic authentication (`-u` or the URL's user info). */
  readonly credentials?: string | undefined;
  /** `--compressed`. */
  readonly compressed?: boolean | undefined;
  /** The `-H` headers (and those `--json` adds), in order. */
  readonly custom: readonly (readonly [string, string])[];
  /** Length of the request body, undefined for none. */
  readonly bodyLength?: number | undefined;
  /** Content-Type curl adds for a body when `-H` gives none (form data for `-d`). */
  readonly bodyType?: string | undefined;
  /** Ask the server before sending the body (`Expect: 100-continue`, curl's uploads). */
  readonly expectContinue?: boolean | undefined;
}

/** Basic credentials (RFC 7617 §2): base64 of `user:password`, UTF-8 encoded. */
export function basicAuthorization(credentials: string): string {
  return `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
}

/** The host part of the Host header: the port only when it is not the scheme's default. */
function hostHeader(url: URL): string {
  return url.host; // URL drops the scheme's default port already
}

/** Builds the header block as [name, value] pairs in the order they are sent. */
export function requestHeaders(h: RequestHeaderInputs): [string, string][] {
  const custom = new Map<string, string>();
  for (const [name, value] of h.custom) custom.set(name.toLowerCase(), value);
  const out: [string, string][] = [];
  // A built-in header is sent unless a -H header of that name replaces or removes it.
  const builtIn = (name: string, value: string | undefined): void => {
    if (value === undefined || custom.has(name.toLowerCase())) return;
    out.push([name, value]);
  };
  const customHost = h.custom.find(([n]) => n.toLowerCase() === 'host');
  if (customHost === undefined) out.push(['Host', hostHeader(h.url)]);
  else if (customHost[1] !== '') out.push([customHost[0], customHost[1]]);
  builtIn('Authorization', h.credentials === undefined ? undefined : basicAuthorization(h.credentials));
  builtIn('User-Agent', h.userAgent === undefined ? DEFAULT_USER_AGENT : h.userAgent === '' ? undefined : h.userAgent);
  builtIn('Accept', '*/*');
  builtIn('Accept-Encoding', h.compressed ? ACCEPT_ENCODING : undefined);
  builtIn('Referer', h.referer === '' ? undefined : h.referer);
  for (const [name, value] of h.custom) {
    if (name.toLowerCase() === 'host' || value === '') continue;
    out.push([name, value]);
  }
  if (h.bodyLength !== undefined) {
    builtIn('Content-Length', String(h.bodyLength));
    builtIn('Content-Type', h.bodyType);
    builtIn('Expect', h.expectContinue ? '100-continue' : undefined);
  }
  return out;
}

/**
 * Whether credentials and the `-H` Authorization and Cookie headers may go to `next` after a
 * redirect from `first`: as curl (7.83 and later), only to the same scheme, host and port.
 */
export function sameOrigin(first: URL, next: URL): boolean {
  return first.protocol === next.protocol && first.host === next.host;
}
