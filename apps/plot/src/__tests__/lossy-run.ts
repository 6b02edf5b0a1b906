/**
 * A lossy two-stack transfer, traced: stack A sends `size` octets to stack B over an in-memory
 * link pair with delay, a rate limit and seeded random loss in both directions. Returns the
 * trace as JSON-lines text, as `--trace` would have written it.
 */
import { once } from 'node:events';
import { createLinkPair, Stack, traceLink, withFaults, type TraceRecord } from '@tcp-tun/net';

export interface LossyRun {
  readonly text: string;
  readonly records: readonly TraceRecord[];
  readonly dropped: number;
}

export async function lossyRun(seed: number, size = 768 * 1024): Promise<LossyRun> {
  const [la, lb] = createLinkPair({ delayMs: 4 });
  const faulty = withFaults(la, { seed, drop: 0.02, rateBytesPerSecond: 40e6 });
  const records: TraceRecord[] = [];
  const traced = traceLink(faulty, (r) => records.push(r), { intervalMs: 2 });
  const tcp = { rtoMinMs: 30, rtoInitialMs: 200 };
  const a = new Stack({ link: traced, address: '10.0.0.2', tcp });
  traced.attach(a);
  const b = new Stack({ link: lb, address: '10.0.0.1', tcp });
  try {
    const server = b.net.createServer((s) => {
      let got = 0;
      s.on('data', (chunk: Buffer) => (got += chunk.length));
      s.on('end', () => s.end(String(got)));
    });
    server.listen(5001);
    await once(server, 'listening');
    const client = a.net.connect(5001, '10.0.0.1');
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31 + seed) & 0xff;
    let reply = '';
    client.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    client.end(data);
    await once(client, 'close');
    if (reply !== String(size)) throw new Error(`seed ${seed}: the receiver got ${reply} of ${size} octets`);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  return {
    text: records.map((r) => `${JSON.stringify(r)}\n`).join(''),
    records,
    dropped: faulty.counters.inbound.dropped + faulty.counters.outbound.dropped,
  };
}
