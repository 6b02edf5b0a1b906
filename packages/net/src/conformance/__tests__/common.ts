/** Small helpers shared by the scenario files. */
import { expect } from 'chai';
import type * as nodeNet from 'node:net';
import type { Ctx, Scenario, Traces } from './harness.js';

/** Declares a scenario (identity function, for type inference). */
export function scenario(s: Scenario): Scenario {
  return s;
}

/** Resolves with the next socket the server accepts. */
export async function accept(ctx: Ctx, server: nodeNet.Server): Promise<nodeNet.Socket> {
  const [socket] = (await ctx.next(server, 'connection')) as [nodeNet.Socket];
  return socket;
}

/** Connects a watched client (label 'client' unless given) to `port` on the server's host. */
export function connectClient(ctx: Ctx, port: number, label = 'client', options: Partial<nodeNet.TcpNetConnectOpts> = {}, watch: { data?: boolean; drain?: boolean } = {}): nodeNet.Socket {
  const socket = ctx.clientNet.connect({ port, host: ctx.host, ...options });
  return ctx.watch(socket, label, { client: true, ...watch });
}

/**
 * Asserts that `trace` has entries starting with each of `wanted`, in this order (others may
 * come between).
 */
export function inOrder(trace: readonly string[] | undefined, ...wanted: string[]): void {
  let i = 0;
  for (const e of trace ?? []) if (i < wanted.length && e.startsWith(wanted[i]!)) i++;
  expect(i, `expected in order ${JSON.stringify(wanted)} in ${JSON.stringify(trace)}`).to.equal(wanted.length);
}

/** Asserts that `trace` contains an entry starting with each of `prefixes`. */
export function has(trace: readonly string[] | undefined, ...prefixes: string[]): void {
  for (const p of prefixes) expect(trace ?? [], `expected an entry starting with ${JSON.stringify(p)}`).to.satisfy((t: string[]) => t.some((e) => e.startsWith(p)));
}

/** Asserts no entry of `trace` starts with any of `prefixes`. */
export function lacks(trace: readonly string[] | undefined, ...prefixes: string[]): void {
  for (const p of prefixes) expect((trace ?? []).filter((e) => e.startsWith(p)), `unexpected ${p}`).to.deep.equal([]);
}

/** Asserts the label's trace equals `want` exactly. */
export function exactly(t: Traces, label: string, want: readonly string[]): void {
  expect(t[label]).to.deep.equal(want);
}

/** Bytes 0..n-1 as a deterministic pattern. */
export function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}
