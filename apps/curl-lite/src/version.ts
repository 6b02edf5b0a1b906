/** `--version` in curl's layout: the program and the libraries it runs on, protocols, features. */
import { readFileSync } from 'node:fs';

/** curl-lite's version, from its package.json (one level above both src/ and dist/). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The `--version` text, without the final newline. */
export function versionText(): string {
  const v = process.versions;
  return [
    `tcp-tun-curl-lite ${packageVersion()} (${process.arch}-${process.platform}) node/${v.node} OpenSSL/${v.openssl} zlib/${v.zlib} brotli/${v.brotli} tcp-tun (user-space TCP/IPv4)`,
    'Protocols: http https',
    'Features: brotli HTTPS libz SSL',
  ].join('\n');
}
