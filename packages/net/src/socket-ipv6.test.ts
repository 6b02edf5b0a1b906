/**
 * The socket layer's IPv6 arguments and autoSelectFamily (issue 13), as Node 20 validates and
 * reports them. These run on IPv4-only stacks too (what an IPv4-only stack answers is part of
 * the contract); the dual-stack behaviour against node:net is in the conformance suite
 * (`conformance/__tests__/scenarios-ipv6.ts`).
 */
import { once } from 'node:events';
import net from 'node:net';
import { expect } from 'chai';
import { ADDR_B, makePair, type Pair } from './__tests__/harness.js';
import { createLinkPair } from './link-pair.js';
import { Stack } from './stack.js';
import { ConnectAggregateError, SystemError, TcpTunError } from './errors.js';
import type { Socket } from './socket.js';

/** A resolver answering every name with `list` (as `dns.lookup` with `all`), recording its options. */
function fixedLookup(list: Array<{ address: string; family: number }>, calls: unknown[] = []): net.LookupFunction {
  const lookup = (_host: string, options: { all?: boolean }, cb: (...a: unknown[]) => void): void => {
    calls.push(options);
    if (options.all === true) setImmediate(() => cb(null, list));
    else setImmediate(() => cb(null, list[0]?.address, list[0]?.family));
  };
  return lookup as unknown as net.LookupFunction;
}

async function errorOf(socket: Socket): Promise<Error> {
  const [err] = (await once(socket, 'error')) as [Error];
  return err;
}

describe('socket layer: IPv6 arguments and autoSelectFamily', function () {
  this.timeout(10_000);
  let pair: Pair;
  beforeEach(() => {
    pair = makePair();
  });
  afterEach(async () => {
    await pair.close();
  });

  it('exports Node’s isIP, isIPv4 and isIPv6 on stack.net', () => {
    expect(pair.a.net.isIP('fd00::1')).to.equal(6);
    expect(pair.a.net.isIP('10.0.0.1')).to.equal(4);
    expect(pair.a.net.isIP('[::1]')).to.equal(0);
    expect(pair.a.net.isIPv6('::ffff:10.0.0.1')).to.equal(true);
    expect(pair.a.net.isIPv4('::1')).to.equal(false);
  });

  it('validates family only where dns.lookup would: a name without a lookup option', () => {
    for (const family of [5, '6', 'ipv6', -1]) {
      expect(() => pair.a.net.connect({ port: 80, host: 'localhost', family } as unknown as net.NetConnectOpts))
        .to.throw(TypeError, "The property 'options.family' must be one of: 0, 4, 6. Received")
        .with.property('code', 'ERR_INVALID_ARG_VALUE');
    }
    // An IP literal is never looked up; a resolver of one's own gets the value as given.
    const literal = pair.a.net.connect({ port: 80, host: ADDR_B, family: 5 } as unknown as net.NetConnectOpts);
    literal.on('error', () => {});
    literal.destroy();
    const calls: unknown[] = [];
    const own = pair.a.net.connect({ port: 80, host: 'x.example', family: 5, lookup: fixedLookup([], calls) } as unknown as net.NetConnectOpts);
    own.on('error', () => {});
    own.destroy();
  });

  it('rejects a bracketed or invalid localAddress and a non-boolean autoSelectFamily with Node’s errors', () => {
    for (const localAddress of ['[::1]', 'fe::zz', 'host.example']) {
      const thrown = (): unknown => pair.a.net.connect({ port: 80, host: ADDR_B, localAddress });
      expect(thrown).to.throw(TypeError, `Invalid IP address: ${localAddress}`).with.property('code', 'ERR_INVALID_IP_ADDRESS');
    }
    expect(() => pair.a.net.connect({ port: 80, host: ADDR_B, autoSelectFamily: 1 } as unknown as net.NetConnectOpts))
      .to.throw(TypeError, 'The "options.autoSelectFamily" property must be of type boolean')
      .with.property('code', 'ERR_INVALID_ARG_TYPE');
    expect(() => pair.a.net.connect({ port: 80, host: ADDR_B, autoSelectFamilyAttemptTimeout: 0 }))
      .to.throw(RangeError)
      .with.property('code', 'ERR_OUT_OF_RANGE');
  });

  it('treats a bracketed IPv6 literal as a name (ENOTFOUND, with its lookup event)', async () => {
    const socket = pair.a.net.connect({ port: 80, host: '[fd00::2]' });
    const lookups: unknown[][] = [];
    socket.on('lookup', (...args: unknown[]) => lookups.push(args));
    const err = (await errorOf(socket)) as SystemError & { hostname?: string };
    expect(err).to.be.instanceOf(SystemError);
    expect(err.code).to.equal('ENOTFOUND');
    expect(err.message).to.equal('getaddrinfo ENOTFOUND [fd00::2]');
    expect(err.hostname).to.equal('[fd00::2]');
    expect(lookups).to.have.length(1);
    expect(lookups[0]?.slice(1)).to.deep.equal([undefined, undefined, '[fd00::2]']);
  });

  it('an IPv6 destination on a stack without IPv6 fails with ENETUNREACH', async () => {
    const socket = pair.a.net.connect({ port: 80, host: 'fd00::2' });
    const err = (await errorOf(socket)) as SystemError;
    expect(err.code).to.equal('ENETUNREACH');
    expect(err.message).to.equal('connect ENETUNREACH fd00::2:80');
    expect(err.address).to.equal('fd00::2');
  });

  it('a localAddress that is not ours fails in bind with EADDRNOTAVAIL, as Node reports it', async () => {
    const socket = pair.a.net.connect({ port: 80, host: ADDR_B, localAddress: '10.9.9.9' });
    const err = (await errorOf(socket)) as SystemError;
    expect([err.code, err.syscall, err.message, err.address]).to.deep.equal(['EADDRNOTAVAIL', 'bind', 'bind EADDRNOTAVAIL 10.9.9.9', '10.9.9.9']);
  });

  it('a localAddress of the other family fails in bind with EINVAL, as Linux', async () => {
    const socket = pair.a.net.connect({ port: 80, host: ADDR_B, localAddress: '::1' });
    const err = (await errorOf(socket)) as SystemError;
    expect(err.code).to.equal('EINVAL');
    expect(err.syscall).to.equal('bind');
    expect(err.message).to.equal('bind EINVAL ::1');
    expect(err.errno).to.equal(-22);
  });

  it('an IPv4-only stack listens on 0.0.0.0 by default and for "::", and refuses other IPv6 hosts', async () => {
    const server = pair.b.net.createServer().listen(0);
    await once(server, 'listening');
    expect(server.address()).to.include({ address: '0.0.0.0', family: 'IPv4' });
    server.close();
    const any6 = pair.b.net.createServer().listen(0, '::');
    await once(any6, 'listening');
    expect(any6.address()).to.include({ address: '0.0.0.0', family: 'IPv4' });
    any6.close();
    const other = pair.b.net.createServer().listen(8080, 'fd00::2');
    const [err] = (await once(other, 'error')) as [SystemError];
    expect(err.code).to.equal('EADDRNOTAVAIL');
    expect(err.message).to.equal('listen EADDRNOTAVAIL: address not available fd00::2:8080');
  });

  it('autoSelectFamily: reports every answer, tries the next address after a timeout, and connects', async () => {
    const server = pair.b.net.createServer((s) => s.end('hi')).listen(7);
    await once(server, 'listening');
    // 10.0.0.3 answers nothing (the link's other stack is 10.0.0.2): its attempt times out.
    const calls: unknown[] = [];
    const lookup = fixedLookup(
      [
        { address: '10.0.0.3', family: 4 },
        { address: ADDR_B, family: 4 },
      ],
      calls,
    );
    const socket = pair.a.net.connect({ port: 7, host: 'two.example', lookup, autoSelectFamilyAttemptTimeout: 50 });
    const events: string[] = [];
    socket.on('lookup', (err: unknown, address: unknown, family: unknown) => events.push(`lookup ${String(err)} ${String(address)} ${String(family)}`));
    socket.on('connectionAttempt', (ip: string, port: number, family: number) => events.push(`attempt ${ip}:${port} ${family}`));
    socket.on('connectionAttemptTimeout', (ip: string, port: number, family: number) => events.push(`timeout ${ip}:${port} ${family}`));
    await once(socket, 'connect');
    expect(calls).to.deep.equal([{ family: undefined, hints: 32, all: true }]);
    expect(events).to.deep.equal([
      'lookup null 10.0.0.3 4',
      'lookup null 10.0.0.2 4',
      'attempt 10.0.0.3:7 4',
      'timeout 10.0.0.3:7 4',
      'attempt 10.0.0.2:7 4',
    ]);
    expect(socket.autoSelectFamilyAttemptedAddresses).to.deep.equal(['10.0.0.3:7', '10.0.0.2:7']);
    expect(socket.remoteAddress).to.equal(ADDR_B);
    socket.destroy();
    server.close();
  });

  it('autoSelectFamily: every attempt refused gives an AggregateError of them all', async () => {
    const lookup = fixedLookup([
      { address: ADDR_B, family: 4 },
      { address: 'fd00::2', family: 6 },
    ]);
    const socket = pair.a.net.connect({ port: 9, host: 'two.example', lookup });
    const failed: string[] = [];
    socket.on('connectionAttemptFailed', (ip: string, _port: number, _family: number, e: Error & { code?: string }) => failed.push(`${ip} ${String(e.code)}`));
    const err = (await errorOf(socket)) as ConnectAggregateError;
    expect(err).to.be.instanceOf(AggregateError);
    expect(err).to.be.instanceOf(TcpTunError);
    expect(err.code).to.equal('ECONNREFUSED');
    expect(err.errors.map((e: Error) => e.message)).to.deep.equal(['connect ECONNREFUSED 10.0.0.2:9', 'connect ENETUNREACH fd00::2:9']);
    expect(failed).to.deep.equal(['10.0.0.2 ECONNREFUSED', 'fd00::2 ENETUNREACH']);
  });

  it('autoSelectFamily: false, a fixed family or a localAddress ask for one address, as Node', async () => {
    const server = pair.b.net.createServer((s) => s.end()).listen(7);
    await once(server, 'listening');
    for (const extra of [{ autoSelectFamily: false }, { family: 4 }, { localAddress: '10.0.0.1' }]) {
      const calls: unknown[] = [];
      const socket = pair.a.net.connect({ port: 7, host: 'one.example', lookup: fixedLookup([{ address: ADDR_B, family: 4 }], calls), ...extra });
      await once(socket, 'connect');
      expect(calls, JSON.stringify(extra)).to.have.length(1);
      expect(calls[0]).to.not.have.property('all');
      socket.destroy();
    }
    server.close();
  });
});

describe('socket layer: dual-stack stacks', function () {
  this.timeout(10_000);
  let a: Stack;
  let b: Stack;
  beforeEach(() => {
    const [linkA, linkB] = createLinkPair();
    a = new Stack({ link: linkA, address: '10.0.0.1', address6: 'fd00::1' });
    b = new Stack({ link: linkB, address: '10.0.0.2', address6: 'fd00::2' });
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('listens on "::" by default and reports an IPv4 peer as ::ffff:a.b.c.d in the drop event too', async () => {
    const server = b.net.createServer();
    server.maxConnections = 1;
    server.listen(7);
    await once(server, 'listening');
    expect(server.address()).to.deep.equal({ address: '::', family: 'IPv6', port: 7 });
    const first = a.net.connect(7, 'fd00::2');
    const [accepted] = (await once(server, 'connection')) as [Socket];
    expect([accepted.remoteAddress, accepted.remoteFamily, accepted.localAddress]).to.deep.equal(['fd00::1', 'IPv6', 'fd00::2']);
    const drop = once(server, 'drop');
    const second = a.net.connect(7, '10.0.0.2');
    second.on('error', () => {});
    const [info] = (await drop) as [Record<string, unknown>];
    expect(info).to.include({ localAddress: '::ffff:10.0.0.2', localFamily: 'IPv6', remoteAddress: '::ffff:10.0.0.1', remoteFamily: 'IPv6', localPort: 7 });
    first.destroy();
    second.destroy();
    server.close();
  });

  it('listens on an IPv6 address however it is spelled, and refuses one that is not ours', async () => {
    const server = b.net.createServer().listen(0, 'FD00:0:0::2');
    await once(server, 'listening');
    expect(server.address()).to.include({ address: 'fd00::2', family: 'IPv6' });
    server.close();
    const other = b.net.createServer().listen(8080, 'fd00::9');
    const [err] = (await once(other, 'error')) as [SystemError];
    expect(err.code).to.equal('EADDRNOTAVAIL');
    expect(err.message).to.equal('listen EADDRNOTAVAIL: address not available fd00::9:8080');
  });

  it('listens on ::1 and connects to it on the same stack (loopback), ends reported as ::1', async () => {
    const server = a.net.createServer((s) => s.end(`${s.remoteAddress}/${s.remoteFamily}`)).listen(7, '::1');
    await once(server, 'listening');
    expect(server.address()).to.deep.equal({ address: '::1', family: 'IPv6', port: 7 });
    const socket = a.net.connect(7, '::1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await once(socket, 'end');
    expect([socket.remoteAddress, socket.localAddress, socket.remoteFamily]).to.deep.equal(['::1', '::1', 'IPv6']);
    expect(Buffer.concat(chunks).toString()).to.equal('::1/IPv6');
    server.close();
  });

  it('connects to "::" and "0.0.0.0" as to loopback, peers read as ::1 and 127.0.0.1, as Linux', async () => {
    const server = a.net.createServer((s) => s.end()).listen(7);
    await once(server, 'listening');
    for (const [host, peer, family] of [
      ['::', '::1', 'IPv6'],
      ['0.0.0.0', '127.0.0.1', 'IPv4'],
    ] as const) {
      const socket = a.net.connect(7, host);
      await once(socket, 'connect');
      expect([socket.remoteAddress, socket.remoteFamily], host).to.deep.equal([peer, family]);
      socket.destroy();
    }
    server.close();
  });

  it('connects with localAddress "::" and reports the stack’s address, and refuses a foreign local IPv6 address', async () => {
    const server = b.net.createServer((s) => s.end()).listen(7, '::');
    await once(server, 'listening');
    const socket = a.net.connect({ port: 7, host: 'fd00::2', localAddress: '::' });
    await once(socket, 'connect');
    expect(socket.address()).to.include({ address: 'fd00::1', family: 'IPv6' });
    socket.destroy();
    const foreign = a.net.connect({ port: 7, host: 'fd00::2', localAddress: 'fd00::9' });
    const err = (await errorOf(foreign)) as SystemError;
    expect(err.code).to.equal('EADDRNOTAVAIL');
    expect(err.message).to.equal('bind EADDRNOTAVAIL fd00::9');
    server.close();
  });
});

describe('socket layer: an IPv6-only stack', function () {
  this.timeout(10_000);

  it('listens on "::" by default and resolves localhost to ::1 (its only loopback)', async () => {
    const [linkA, linkB] = createLinkPair();
    const only6 = new Stack({ link: linkA, address6: 'fd00::1' });
    try {
      const server = only6.net.createServer((s) => s.end('v6')).listen(7);
      await once(server, 'listening');
      expect(server.address()).to.deep.equal({ address: '::', family: 'IPv6', port: 7 });
      const socket = only6.net.connect(7, 'localhost');
      const lookups: unknown[][] = [];
      socket.on('lookup', (...args: unknown[]) => lookups.push(args));
      await once(socket, 'connect');
      expect(lookups).to.deep.equal([[null, '::1', 6, 'localhost']]);
      expect([socket.remoteAddress, socket.remoteFamily]).to.deep.equal(['::1', 'IPv6']);
      const ipv4 = only6.net.connect(7, '10.0.0.2');
      const err = (await errorOf(ipv4)) as SystemError;
      expect(err.message).to.equal('connect ENETUNREACH 10.0.0.2:7');
      socket.destroy();
      server.close();
    } finally {
      await only6.close();
      await linkB.close();
    }
  });
});
