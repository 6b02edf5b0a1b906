/**
 * TIME-WAIT in the stack (issue 10): a connection that reaches TIME-WAIT leaves the connection
 * table for a compact record of the TimeWaitTable, which answers for the 4-tuple until 2·MSL
 * passes on the stack's clock, never counts against maxConnections, lets a new SYN reopen the
 * 4-tuple (RFC 6191), and beyond its own cap lets a connection close without TIME-WAIT.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { createLinkPair } from './link-pair.js';
import { Stack } from './stack.js';
import type { Socket } from './socket.js';
import { ADDR_A, ADDR_B } from './__tests__/harness.js';

/** b serves `bytes` and closes first; a's client reads to the end. Resolves when a's socket closed. */
async function closeFirst(a: Stack, port: number, localPort?: number): Promise<Socket> {
  const client = a.net.connect({ port, host: ADDR_B, ...(localPort === undefined ? {} : { localPort }) });
  client.resume();
  await once(client, 'close');
  return client;
}

/** Lets the stacks finish the last ACK exchange (in-memory link, a few turns). */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('Stack: TIME-WAIT as compact records', () => {
  let now = 0;
  let a: Stack;
  let b: Stack;
  const make = (maxTimeWait?: number, maxConnections?: number): void => {
    now = 0;
    const [la, lb] = createLinkPair();
    a = new Stack({ link: la, address: ADDR_A, clock: () => now });
    b = new Stack({ link: lb, address: ADDR_B, clock: () => now, tcp: { timeWaitMs: 60_000 }, ...(maxTimeWait === undefined ? {} : { maxTimeWait }), ...(maxConnections === undefined ? {} : { maxConnections }) });
    b.net.createServer((s) => s.end('bye')).listen(80);
  };
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('the closer holds a record, not a connection; it expires after 2·MSL on the stack clock', async () => {
    make();
    await closeFirst(a, 80);
    await settle();
    expect(b.connections(), 'no connection left in the table').to.deep.equal([]);
    expect(b.stats().timeWait).to.include({ held: 1, added: 1, overflows: 0 });
    expect(b.stats().connections).to.deep.equal({ 'TIME-WAIT': 1 });
    now += 59_999;
    b.runTimers();
    expect(b.stats().timeWait.held).to.equal(1);
    now += 2;
    b.runTimers();
    expect(b.stats().timeWait).to.include({ held: 0, expired: 1 });
  });

  it('records never count against maxConnections: more closes than the table holds, no SYN dropped', async () => {
    make(undefined, 2);
    for (let i = 0; i < 6; i++) await closeFirst(a, 80);
    await settle();
    expect(b.stats().timeWait.held).to.equal(6);
    expect(b.stats().drops['max-connections'] ?? 0).to.equal(0);
  });

  it('a new SYN for a 4-tuple in TIME-WAIT reopens it (RFC 6191: newer timestamp)', async () => {
    make();
    const first = await closeFirst(a, 80, 40_000);
    expect(first.localPort).to.equal(40_000);
    await settle();
    expect(b.stats().timeWait.held).to.equal(1);
    now += 10; // a later TSval (the offset is per 4-tuple, RFC 7323 §5.4)
    await closeFirst(a, 80, 40_000);
    await settle();
    expect(b.stats().timeWait).to.include({ reused: 1, held: 1 });
  });

  it('beyond maxTimeWait a connection closes without TIME-WAIT, counted as an overflow', async () => {
    make(1);
    await closeFirst(a, 80);
    await closeFirst(a, 80);
    await settle();
    expect(b.stats().timeWait).to.include({ held: 1, overflows: 1, max: 1 });
    expect(b.connections()).to.deep.equal([]);
  });

  it('rejects a maxTimeWait that is not a non-negative integer', () => {
    make();
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => new Stack({ link: createLinkPair()[0], address: ADDR_A, maxTimeWait: bad })).to.throw(RangeError, /maxTimeWait/);
    }
  });
});
