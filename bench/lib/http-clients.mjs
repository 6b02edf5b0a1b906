// Real HTTP clients for `pnpm bench` (Debian's wrk, h2load and ab): their command lines and the
// parsing of what they print into { reqPerS, errors, timeouts, slowestMs, ... }. Every run is
// bounded by its own duration or request count and by the caller's kill timer.

/** Debian packages providing each client. */
export const CLIENT_PACKAGES = { wrk: 'wrk', h2load: 'nghttp2-client', ab: 'apache2-utils' };

/** Milliseconds from "12.3ms", "456us", "1.2s", "2.00m". */
function ms(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60000;
}

/** wrk: `threads` threads, `conns` connections for `seconds`, a 2 s request timeout (wrk's default). */
export function wrkArgs(url, conns, seconds) {
  return ['wrk', ['-t2', `-c${conns}`, `-d${seconds}s`, '--timeout', '2s', url]];
}

export function parseWrk(out) {
  const reqPerS = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const lat = /Latency\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  const errors = sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + non2xx : non2xx;
  return { reqPerS, requests, errors, timeouts: sock ? Number(sock[4]) : 0, slowestMs: lat ? ms(lat[3]) : NaN, meanMs: lat ? ms(lat[1]) : NaN };
}

/** h2load over HTTP/1.1: `requests` requests on `conns` connections, one thread. */
export function h2loadArgs(url, conns, requests) {
  return ['h2load', ['--h1', '-t1', `-c${conns}`, `-n${requests}`, '-T', '10', url]];
}

export function parseH2load(out) {
  const reqPerS = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const r = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const t = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  return {
    reqPerS,
    requests: r ? Number(r[4]) : NaN,
    errors: r ? Number(r[5]) + Number(r[6]) : NaN,
    timeouts: r ? Number(r[7]) : NaN,
    slowestMs: t ? ms(t[2]) : NaN,
    meanMs: t ? ms(t[3]) : NaN,
  };
}

/** ab: `requests` requests, `conns` at a time, a 10 s socket timeout. */
export function abArgs(url, conns, requests) {
  return ['ab', ['-q', '-s', '10', `-c${conns}`, `-n${requests}`, url]];
}

export function parseAb(out) {
  const reqPerS = Number(/Requests per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const failed = Number(/Failed requests:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const complete = Number(/Complete requests:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const slowestMs = Number(/100%\s+(\d+)\s+\(longest request\)/.exec(out)?.[1] ?? NaN);
  return { reqPerS, requests: complete, errors: failed + non2xx, timeouts: 0, slowestMs, meanMs: NaN };
}
