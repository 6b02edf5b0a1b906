import { expect } from 'chai';
import http from 'node:http';
import { createLinkPair, Stack } from '@tcp-tun/net';
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics.js';
import { startService } from './services.js';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * A strict reader of the Prometheus text format 0.0.4: every sample's metric has HELP and TYPE
 * lines before it, names and labels are well formed, values parse, no series repeats.
 */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  expect(text.endsWith('\n'), 'ends with a newline').to.equal(true);
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).to.include(m[3]);
        expect(types.has(m[2]!), `one TYPE for ${m[2]}`).to.equal(false);
        types.set(m[2]!, m[3]!);
      } else helps.add(m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `sample line: ${line}`).to.not.equal(null);
    const [, name, labelText, value] = m!;
    const labels: Record<string, string> = {};
    if (labelText !== undefined && labelText !== '') {
      for (const part of labelText.match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
        const eq = part.indexOf('=');
        labels[part.slice(0, eq)] = part.slice(eq + 2, -1).replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
      }
    }
    expect(types.has(name!) && helps.has(name!), `HELP and TYPE before ${name}`).to.equal(true);
    const key = `${name}${JSON.stringify(labels)}`;
    expect(seen.has(key), `series ${key} once`).to.equal(false);
    seen.add(key);
    const v = Number(value);
    expect(Number.isNaN(v) && value !== 'NaN', `value of ${line}`).to.equal(false);
    samples.push({ name: name!, labels, value: v });
  }
  return { samples, types };
}

describe('/metrics', function () {
  this.timeout(60_000);

  it('serves the stack, device and per-state counters in the Prometheus text format', async () => {
    const [a, b] = createLinkPair();
    const server = new Stack({ link: a, address: '10.9.0.2' });
    const client = new Stack({ link: b, address: '10.9.0.1' });
    try {
      const device = { rxPackets: 12, txPackets: 34, txDropped: 0 };
      await startService(server, 'http', 80, { deviceStats: () => device });
      const get = (path: string) =>
        new Promise<{ res: http.IncomingMessage; body: string }>((resolve, reject) => {
          const req = http.get({ host: '10.9.0.2', port: 80, path, createConnection: () => client.net.createConnection({ host: '10.9.0.2', port: 80 }) }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ res, body }));
          });
          req.on('error', reject);
        });
      // One transfer first so the counters have something to count.
      expect((await get('/bytes/5000')).body.length).to.equal(5000);
      const { res, body } = await get('/metrics');
      expect(res.statusCode).to.equal(200);
      expect(res.headers['content-type']).to.equal(METRICS_CONTENT_TYPE);
      const { samples, types } = parseExposition(body);
      const value = (name: string, labels: Record<string, string> = {}) =>
        samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
      const stats = server.stats();
      expect(types.get('tcptun_packets_in_total')).to.equal('counter');
      // The reply was built before this response's own packets went out: at most equal.
      expect(value('tcptun_packets_in_total')).to.be.greaterThan(2).and.at.most(stats.packetsIn);
      expect(value('tcptun_bytes_out_total')).to.be.greaterThan(5000);
      expect(value('tcptun_connections_accepted_total')).to.be.within(1, 2);
      expect(types.get('tcptun_connections')).to.equal('gauge');
      expect(value('tcptun_connections', { state: 'ESTABLISHED' })).to.be.at.least(1);
      expect(value('tcptun_connections', { state: 'SYN-SENT' })).to.equal(0);
      expect(value('tcptun_listeners')).to.equal(1);
      expect(value('tcptun_device_rx_packets_total')).to.equal(12);
      expect(value('tcptun_device_tx_packets_total')).to.equal(34);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('counts drops by reason, with label values escaped', async () => {
    const real = new Stack({ link: createLinkPair()[0], address: '10.9.0.3' });
    const base = real.stats();
    await real.close();
    const fake = { stats: () => ({ ...base, drops: { 'not-for-us': 3, 'odd"reason\\x': 1 } }) } as unknown as Stack;
    const text = renderMetrics(fake);
    expect(text).to.include('tcptun_drops_total{reason="not-for-us"} 3');
    expect(text).to.include('tcptun_drops_total{reason="odd\\"reason\\\\x"} 1');
    const { samples } = parseExposition(text);
    expect(samples.find((s) => s.labels.reason === 'odd"reason\\x')?.value).to.equal(1);
    expect(samples.some((s) => s.name.startsWith('tcptun_device_'))).to.equal(false);
  });
});
