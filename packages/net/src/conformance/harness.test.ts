/**
 * The referee's own rules: what the harness normalises (and what it must not), so a scenario
 * cannot pass because two different traces were made equal.
 */
import { expect } from 'chai';
import { fmtAddress, fmtError, mapped, runScenario, type Scenario } from './__tests__/harness.js';

function scenarioOf(run: Scenario['run']): Scenario {
  return { id: 'harness-self-test', covers: [], run, expect: () => {} };
}

describe('conformance: the harness', () => {
  it('names addresses ADDR/ANY and keeps families, ports and keys visible', () => {
    expect(fmtAddress({ address: '127.0.0.1', family: 'IPv4', port: 0 })).to.equal('{127.0.0.1 IPv4 0 keys=address,family,port}');
    expect(fmtAddress({ address: '::', family: 'IPv6', port: 0 })).to.equal('{ANY IPv4 0 keys=address,family,port}');
    expect(fmtAddress({ address: '::ffff:10.0.0.2', family: 'IPv6', port: 0 })).to.equal('{10.0.0.2 IPv4 0 keys=address,family,port}');
    // A missing or extra key is a difference, not normalised away.
    expect(fmtAddress({ address: '10.0.0.2', family: 'IPv4', port: 0, extra: 1 })).to.contain('keys=address,extra,family,port');
  });

  it("formats an error with its class, code, message and Node's system fields", () => {
    const e = Object.assign(new Error('connect ECONNREFUSED 10.0.0.2:80'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '10.0.0.2', port: 80 });
    expect(fmtError(e)).to.equal('Error[ECONNREFUSED]: connect ECONNREFUSED 10.0.0.2:80 {syscall=connect errno=-111 address=10.0.0.2 port=⟨p:80⟩}');
    expect(fmtError(new RangeError('x'))).to.equal('RangeError: x');
  });

  it('replaces known addresses and names ports by role, and nothing else', async () => {
    const traces = await runScenario(
      scenarioOf(async (ctx) => {
        const { port } = await ctx.server('server');
        const free = await ctx.freePort();
        ctx.rec('client', `connect ECONNREFUSED ${ctx.host}:${free} then ${ctx.host}:${port}`);
        ctx.rec('client', 'other 10.0.0.3 and 127.0.0.2 and 1234 stay');
      }),
      'node:net',
    );
    expect(traces['client']).to.deep.equal(['connect ECONNREFUSED ADDR:PORT_1 then ADDR:SERVER_PORT', 'other 10.0.0.3 and 127.0.0.2 and 1234 stay']);
    expect(traces['server']).to.deep.equal(['listening']);
  });

  it('names the IPv6 addresses ADDR6 (also before a port), keeps others and the v4-mapped mark', async () => {
    const traces = await runScenario(
      scenarioOf(async (ctx) => {
        const { port } = await ctx.server('server');
        ctx.rec('client', `connect ECONNREFUSED ${ctx.host6}:${port} [${ctx.host6}] ${ctx.clientHost6}`);
        ctx.rec('client', `listen EADDRINUSE: address already in use :::${port}; ${mapped(`::ffff:${ctx.host}`)}`);
        ctx.rec('client', 'fd00::3 and fe80::1 and ::12 stay');
      }),
      'tcp-tun pair',
    );
    expect(traces['client']).to.deep.equal([
      'connect ECONNREFUSED ADDR6:SERVER_PORT [ADDR6] ADDR6',
      'listen EADDRINUSE: address already in use :::SERVER_PORT; v4mapped/ADDR',
      'fd00::3 and fe80::1 and ::12 stay',
    ]);
  });

  it('merges consecutive data of one socket and keeps text and bytes apart', async () => {
    const traces = await runScenario(
      scenarioOf(async (ctx) => {
        const { server, port } = await ctx.server('server', (s) => {
          s.write('ab');
          setImmediate(() => s.end('cd'));
        });
        const client = ctx.watch(ctx.clientNet.connect(port, ctx.host), 'client');
        await ctx.closed(client);
        server.close();
      }),
      'node:net',
    );
    expect(traces['client']).to.include('data "abcd"');
  });

  it('marks a run that does not finish with HANG', async () => {
    const traces = await runScenario({ ...scenarioOf(async (ctx) => {
      ctx.rec('client', 'waiting');
      await new Promise(() => {});
    }), boundMs: 50 }, 'node:net');
    expect(traces['client']).to.deep.equal(['waiting', 'HANG']);
  });
});
