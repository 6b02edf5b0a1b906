// Tests of the HTTP clients' output parsers and of the SVG writer, on output captured from the
// Debian builds of wrk 4.1.0, h2load 1.52.0 and ab 2.3 (a 128-byte Node server on 127.0.0.1).
// Run: node --test bench/lib/
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAb, parseH2load, parseWrk } from './http-clients.mjs';
import { barChart } from './svg.mjs';

const WRK = `Running 1s test @ http://127.0.0.1:18080/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.92ms    2.65ms  26.64ms   94.57%
    Req/Sec    34.04k    14.49k   45.40k    81.82%
  37285 requests in 1.10s, 8.96MB read
Requests/sec:  33859.47
Transfer/sec:      8.14MB
`;
const H2LOAD = `starting benchmark...
spawning thread #0: 5 total client(s). 2000 total requests
Application protocol: http/1.1
progress: 10% done
progress: 20% done
progress: 30% done
progress: 40% done
progress: 50% done
progress: 60% done
progress: 70% done
progress: 80% done
progress: 90% done
progress: 100% done

finished in 82.39ms, 24275.67 req/s, 5.83MB/s
requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 492.19KB (504000) total, 173.83KB (178000) headers (space savings 0.00%), 250.00KB (256000) data
                     min         max         mean         sd        +/- sd
time for request:       25us      4.78ms       202us       372us    94.95%
time for connect:       50us       300us       145us        94us    80.00%
time to 1st byte:      735us      4.88ms      2.46ms      2.19ms    60.00%
req/s           :    4878.50     4960.41     4917.18       34.99    60.00%
`;
const AB = `This is ApacheBench, Version 2.3 <$Revision$>
Copyright 1996 Adam Twiss, Zeus Technology Ltd, http://www.zeustech.net/
Licensed to The Apache Software Foundation, http://www.apache.org/

Benchmarking 127.0.0.1 (be patient).....done


Server Software:        
Server Hostname:        127.0.0.1
Server Port:            18080

Document Path:          /
Document Length:        128 bytes

Concurrency Level:      5
Time taken for tests:   0.347 seconds
Complete requests:      2000
Failed requests:        0
Total transferred:      406000 bytes
HTML transferred:       256000 bytes
Requests per second:    5766.26 [#/sec] (mean)
Time per request:       0.867 [ms] (mean)
Time per request:       0.173 [ms] (mean, across all concurrent requests)
Transfer rate:          1143.12 [Kbytes/sec] received

Connection Times (ms)
              min  mean[+/-sd] median   max
Connect:        0    0   0.2      0       5
Processing:     0    1   0.7      1       6
Waiting:        0    1   0.7      1       6
Total:          0    1   0.8      1       7

Percentage of the requests served within a certain time (ms)
  50%      1
  66%      1
  75%      1
  80%      1
  90%      2
  95%      2
  98%      4
  99%      4
 100%      7 (longest request)
`;

test('wrk: requests/s, slowest request, no errors', () => {
  const r = parseWrk(WRK);
  assert.equal(r.reqPerS, 33859.47);
  assert.equal(r.requests, 37285);
  assert.equal(r.errors, 0);
  assert.equal(r.timeouts, 0);
  assert.equal(r.slowestMs, 26.64);
  assert.equal(r.meanMs, 0.92);
});

test('wrk: socket errors, timeouts and non-2xx responses are counted', () => {
  const out = WRK.replace('Requests/sec:', '  Socket errors: connect 1, read 2, write 3, timeout 49\n  Non-2xx or 3xx responses: 4\nRequests/sec:');
  const r = parseWrk(out);
  assert.equal(r.errors, 1 + 2 + 3 + 4);
  assert.equal(r.timeouts, 49);
  assert.equal(parseWrk(WRK.replace('26.64ms', '1.96s')).slowestMs, 1960);
});

test('h2load: requests/s, failures, slowest request in any unit', () => {
  const r = parseH2load(H2LOAD);
  assert.equal(r.reqPerS, 24275.67);
  assert.equal(r.requests, 2000);
  assert.equal(r.errors, 0);
  assert.equal(r.timeouts, 0);
  assert.equal(r.slowestMs, 4.78);
  assert.equal(parseH2load(H2LOAD.replace('0 failed, 0 errored, 0 timeout', '3 failed, 2 errored, 1 timeout')).errors, 5);
});

test('ab: requests/s, failed requests, longest request', () => {
  const r = parseAb(AB);
  assert.equal(r.reqPerS, 5766.26);
  assert.equal(r.requests, 2000);
  assert.equal(r.errors, 0);
  assert.equal(r.slowestMs, 7);
});

test('the chart: one bar per stack and workload, missing figures marked, text escaped', () => {
  const svg = barChart({
    title: 'a < b',
    series: ['ours', 'kernel'],
    groups: [
      { label: 'conn', bars: [{ series: 'ours', ratio: 0.5, text: '1 /s' }, { series: 'kernel', ratio: 1, text: '2 /s' }] },
      { label: 'rr', bars: [{ series: 'ours', ratio: Number.NaN, text: 'fail' }, { series: 'kernel', ratio: 1, text: '3 /s' }] },
    ],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 3 + 2); // three bars, two legend swatches
  assert.match(svg, /a &lt; b/);
  assert.match(svg, /conn ours: 1 \/s \(0.50× the kernel\)/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
});
