/**
 * `-w`/`--write-out`: curl's format language over a transfer's `TransferInfo`, with curl 7.88's
 * rules: `%{name}` a variable, `%header{name}` a response header, `%{stdout}`/`%{stderr}` switch
 * the stream, `%{json}` everything as one object, `%%` a percent sign, `\n` `\r` `\t` escapes
 * (any other backslash pair is written as it is), and an unknown variable is written as nothing
 * with a warning on stderr.
 */
import { readFileSync } from 'node:fs';
import { CurlError, EXIT } from './errors.js';
import type { TransferInfo } from './info.js';

/** One piece of formatted output and the stream it goes to. */
export interface WriteOutPiece {
  /** The stream: stdout unless the format switched with `%{stderr}`. */
  readonly to: 'stdout' | 'stderr';
  /** The formatted text, variables substituted. */
  readonly text: string;
}

type Value = { readonly kind: 'number'; readonly text: string } | { readonly kind: 'string'; readonly text: string | undefined };

const seconds = (ms: number): Value => ({ kind: 'number', text: (Math.max(0, ms) / 1000).toFixed(6) });
const int = (n: number): Value => ({ kind: 'number', text: String(Math.trunc(n)) });
const str = (s: string | undefined): Value => ({ kind: 'string', text: s });
// Bytes per second over the whole operation, as curl's integer average.
const speed = (bytes: number, ms: number): Value => int(ms > 0 ? (bytes * 1000) / ms : 0);

/** curl's variables, in the order `%{json}` lists them. */
const VARIABLES: Readonly<Record<string, (i: TransferInfo) => Value>> = {
  content_type: (i) => str(i.contentType),
  errormsg: (i) => str(i.errorMessage),
  exitcode: (i) => int(i.exitCode),
  filename_effective: (i) => str(i.filenameEffective),
  http_code: (i) => int(i.httpCode),
  http_connect: () => int(0),
  http_version: (i) => str(i.httpVersion),
  local_ip: (i) => str(i.localIp),
  local_port: (i) => int(i.localPort),
  method: (i) => str(i.method),
  num_connects: (i) => int(i.numConnects),
  num_headers: (i) => int(i.numHeaders),
  num_redirects: (i) => int(i.numRedirects),
  proxy_ssl_verify_result: () => int(0),
  redirect_url: (i) => str(i.redirectUrl),
  referer: (i) => str(i.referer),
  remote_ip: (i) => str(i.remoteIp),
  remote_port: (i) => int(i.remotePort),
  response_code: (i) => int(i.httpCode),
  scheme: (i) => str(i.scheme === '' ? undefined : i.scheme),
  size_download: (i) => int(i.sizeDownload),
  size_header: (i) => int(i.sizeHeader),
  size_request: (i) => int(i.sizeRequest),
  size_upload: (i) => int(i.sizeUpload),
  speed_download: (i) => speed(i.sizeDownload, i.totalMs),
  speed_upload: (i) => speed(i.sizeUpload, i.totalMs),
  ssl_verify_result: (i) => int(i.sslVerifyResult),
  time_appconnect: (i) => seconds(i.appConnectMs),
  time_connect: (i) => seconds(i.connectMs),
  time_namelookup: () => seconds(0),
  time_pretransfer: (i) => seconds(i.preTransferMs),
  time_redirect: (i) => seconds(i.redirectMs),
  time_starttransfer: (i) => seconds(i.startTransferMs),
  time_total: (i) => seconds(i.totalMs),
  url: (i) => str(i.url),
  url_effective: (i) => str(i.urlEffective),
  urlnum: () => int(0),
};

/** The names `-w` understands (besides `json`, `stdout`, `stderr` and `%header{…}`). */
export const WRITE_OUT_VARIABLES: readonly string[] = Object.keys(VARIABLES);

function text(name: string, info: TransferInfo): string {
  const v = VARIABLES[name]?.(info);
  if (v === undefined) return '';
  // curl prints the status as three digits, so a transfer without a response reads 000.
  if (name === 'http_code' || name === 'response_code') return String(info.httpCode).padStart(3, '0');
  return v.text ?? '';
}

/** `%{json}`: every variable as one JSON object, numbers unquoted and missing strings null. */
export function writeOutJson(info: TransferInfo, version: string): string {
  const fields = Object.entries(VARIABLES).map(([name, get]) => {
    const v = get(info);
    return `${JSON.stringify(name)}:${v.kind === 'number' ? v.text : v.text === undefined ? 'null' : JSON.stringify(v.text)}`;
  });
  fields.push(`"curl_version":${JSON.stringify(version)}`);
  return `{${fields.join(',')}}`;
}

/** The value of response header `name` in `raw` (Node's rawHeaders), repeated ones joined by ", ". */
function header(raw: readonly string[], name: string): string {
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]?.toLowerCase() === name.toLowerCase()) values.push(raw[i + 1] ?? '');
  return values.join(', ');
}

/**
 * Formats `template` for `info`. Unknown variables produce nothing and a warning through `warn`
 * (curl prints `unknown --write-out variable: 'name'` even with `-s`).
 */
export function formatWriteOut(template: string, info: TransferInfo, warn: (message: string) => void, version = ''): WriteOutPiece[] {
  const pieces: WriteOutPiece[] = [];
  let to: 'stdout' | 'stderr' = 'stdout';
  let current = '';
  const flush = (): void => {
    if (current !== '') pieces.push({ to, text: current });
    current = '';
  };
  let i = 0;
  while (i < template.length) {
    const c = template[i] as string;
    const next = template[i + 1];
    if (c === '%' && next !== undefined) {
      if (next === '%') {
        current += '%';
        i += 2;
        continue;
      }
      if (next === '{') {
        const end = template.indexOf('}', i + 2);
        if (end < 0) {
          // No closing brace: curl writes the rest as it is.
          current += template.slice(i);
          break;
        }
        const name = template.slice(i + 2, end);
        if (name === 'stdout' || name === 'stderr') {
          flush();
          to = name;
        } else if (name === 'json') {
          current += writeOutJson(info, version);
        } else if (name in VARIABLES) {
          current += text(name, info);
        } else {
          warn(`unknown --write-out variable: '${name}'`);
        }
        i = end + 1;
        continue;
      }
      if (template.startsWith('header{', i + 1)) {
        const end = template.indexOf('}', i + 8);
        if (end >= 0) {
          current += header(info.responseHeaders, template.slice(i + 8, end));
          i = end + 1;
          continue;
        }
      }
      current += c + next;
      i += 2;
      continue;
    }
    if (c === '\\' && next !== undefined) {
      current += next === 'n' ? '\n' : next === 'r' ? '\r' : next === 't' ? '\t' : c + next;
      i += 2;
      continue;
    }
    current += c;
    i++;
  }
  flush();
  return pieces;
}

/**
 * The `-w` argument as curl reads it: `@file` takes the format from a file (`@-` from stdin),
 * anything else is the format itself.
 */
export function readWriteOutArgument(value: string, readStdin: () => string = () => readFileSync(0, 'utf8')): string {
  if (!value.startsWith('@')) return value;
  const file = value.slice(1);
  try {
    return file === '-' ? readStdin() : readFileSync(file, 'utf8');
  } catch (err) {
    throw new CurlError(EXIT.READ_ERROR, `Failed to read the --write-out format from ${file}: ${(err as Error).message}`);
  }
}
