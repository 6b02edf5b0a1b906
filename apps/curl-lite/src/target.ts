/**
 * Which host a URL names and which address curl-lite connects to for it. The user-space stack
 * has no resolver, so a host is an IPv4 literal, a bracketed IPv6 literal (RFC 3986 §3.2.2:
 * `http://[fd00::1]:8080/`) or `localhost`; `-4`/`-6` choose the family as curl's do.
 *
 * curl's behaviour, measured with curl 7.88.1 (the installed one), is the reference:
 * - `-4` with an IPv6 literal, `-6` with an IPv4 literal: exit 7, "Couldn't connect to server"
 *   (the address is never tried);
 * - `-4 -6` and `-6 -4`: the last one given wins;
 * - `localhost` resolves to 127.0.0.1 with `-4` and to ::1 with `-6`;
 * - a malformed bracketed host (`http://[fd00::1/`, `http://[zz::1]/`): exit 3.
 * curl accepts a zone (`http://[fe80::1%25eth0]/`, RFC 6874); a stack with one point-to-point
 * interface has no use for one, so it is refused here with exit 3 and says so.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { CurlError, EXIT } from './errors.js';

/** An address family, as `-4`/`-6` and Node's `family` name them. */
export type IpFamily = 4 | 6;

/** Where to connect for a URL: the address and its family. */
export interface ResolvedHost {
  /** The address, IPv6 without brackets (`fd00::1`). */
  readonly address: string;
  /** Its family. */
  readonly family: IpFamily;
}

/** The host part of an absolute URL as written, before the WHATWG parser rewrites it. */
function rawHost(url: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(\[[^\]/?#]*\]?|[^/?#:]*)/i.exec(url)?.[1];
}

/** Parses and checks a URL the way curl would before touching the network. */
export function parseTarget(raw: string): URL {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  const host = rawHost(absolute);
  if (host?.startsWith('[') === true && host.includes('%')) {
    throw new CurlError(
      EXIT.URL_MALFORMAT,
      `URL rejected: IPv6 zone ids are not supported: ${host} (tcp-tun has one point-to-point interface: use the address without %zone)`,
    );
  }
  let url: URL;
  try {
    url = new URL(absolute);
  } catch {
    throw new CurlError(EXIT.URL_MALFORMAT, `URL rejected: Malformed input to a URL function: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CurlError(EXIT.UNSUPPORTED_PROTOCOL, `Protocol "${url.protocol.replace(':', '')}" not supported (tcp-tun carries HTTP and HTTPS)`);
  }
  if (!isIPv4(url.hostname) && hostIpv6(url) === undefined && url.hostname !== 'localhost') {
    throw new CurlError(
      EXIT.COULDNT_RESOLVE_HOST,
      `Could not resolve host: ${url.hostname} (the user-space stack has no resolver: use an IPv4 address, an IPv6 address in brackets or localhost)`,
    );
  }
  return url;
}

/** The IPv6 literal of a URL's host without its brackets, or undefined when it is not one. */
function hostIpv6(url: URL): string | undefined {
  const h = url.hostname;
  if (!h.startsWith('[') || !h.endsWith(']')) return undefined;
  const inner = h.slice(1, -1);
  return isIPv6(inner) ? inner : undefined;
}

/**
 * The address to connect to for `url` (checked by {@link parseTarget}): its literal, or for
 * `localhost` 127.0.0.1 or ::1 by `family`, and without `family` by the families the stack has
 * (`stackFamilies`; IPv4 when it has both or when unknown). A literal of the family `-4`/`-6`
 * excludes is curl's exit 7; so is one of a family the stack has no address of (no `--addr6`),
 * as a kernel without a route says "Network is unreachable".
 */
export function resolveHost(url: URL, family: IpFamily | undefined, stackFamilies?: readonly IpFamily[]): ResolvedHost {
  let resolved: ResolvedHost;
  if (url.hostname === 'localhost') {
    const f = family ?? (stackFamilies === undefined || stackFamilies.includes(4) ? 4 : 6);
    resolved = { address: f === 6 ? '::1' : '127.0.0.1', family: f };
  } else {
    const v6 = hostIpv6(url);
    resolved = v6 === undefined ? { address: url.hostname, family: 4 } : { address: v6, family: 6 };
    if (family !== undefined && resolved.family !== family) {
      // curl: the resolver returns no address of the family asked for, so nothing is tried.
      throw new CurlError(EXIT.COULDNT_CONNECT, "Couldn't connect to server");
    }
  }
  if (stackFamilies !== undefined && !stackFamilies.includes(resolved.family)) {
    const flags = resolved.family === 6 ? '--addr6 and --peer6' : '--addr and --peer';
    throw new CurlError(
      EXIT.COULDNT_CONNECT,
      `Failed to connect to ${resolved.address}: Network is unreachable (the stack has no IPv${resolved.family} address: give ${flags})`,
    );
  }
  return resolved;
}
