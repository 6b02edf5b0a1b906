/**
 * Issue 9 behaviour 9 at the type level: code typed against `node:net` accepts tcp-tun's
 * sockets and servers without casts. The snippet below is written to a temporary file next to
 * this one (so `../index.js` resolves to the package source) and type-checked by `tsc
 * --strict`; it must compile. The runtime half (`instanceof net.Socket`) is the scenario
 * `sockets-are-net-sockets`.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

/**
 * Code typed against node:net, using \`NET\` where a program would use the \`net\` module. It
 * is checked twice: with \`NET\` = node:net itself (the control: the snippet is valid Node
 * code) and with \`NET\` = \`stack.net\`.
 */
const SNIPPET = `
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Stack } from '../index.js';

export function uses(stack: Stack): unknown[] {
  const socket: net.Socket = NET.connect(80, '10.0.0.2');
  const viaOptions: net.Socket = NET.createConnection({ port: 80, host: '10.0.0.2' } satisfies net.NetConnectOpts);
  const secure: tls.TLSSocket = tls.connect({ socket: NET.connect(443, '10.0.0.2') });
  class Agent extends http.Agent {
    override createConnection(options: net.NetConnectOpts): net.Socket {
      return NET.createConnection(options);
    }
  }
  const server: net.Server = NET.createServer((s: net.Socket) => s.end());
  return [stack, socket, viaOptions, secure, new Agent(), server];
}
`;

/** Stricter: the classes themselves stand in for node:net's (statics included). */
const CLASS_SNIPPET = `
import * as net from 'node:net';
import type { Stack } from '../index.js';

export function classes(stack: Stack): unknown[] {
  const socketClass: typeof net.Socket = NET.Socket;
  const serverClass: typeof net.Server = NET.Server;
  return [stack, socketClass, serverClass];
}
`;

/** Type-checks the snippet with \`NET\` replaced; returns tsc's error lines. */
function typeCheck(snippet: string, net: string): string[] {
  const file = fileURLToPath(new URL(`./types-check-${process.pid}.ts`, import.meta.url));
  writeFileSync(file, snippet.replaceAll('NET.', `${net}.`));
  try {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const args = ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node', '--skipLibCheck', file];
    const result = spawnSync(process.execPath, [tsc, ...args], { encoding: 'utf8', timeout: 100_000 });
    const errors = `${result.stdout}${result.stderr}`.split('\n').filter((l) => l.includes('error TS'));
    if (errors.length === 0 && result.status !== 0) errors.push(`tsc exited ${String(result.status)} ${result.stderr}`);
    return errors.map((e) => e.replace(/^.*types-check-\d+\.ts/, 'snippet'));
  } finally {
    rmSync(file, { force: true });
  }
}

describe('conformance: types (issue 9 behaviour 9)', function () {
  this.timeout(120_000);

  it('the snippets are valid node:net code (control)', () => {
    expect(typeCheck(SNIPPET, 'net')).to.deep.equal([]);
    expect(typeCheck(CLASS_SNIPPET, 'net')).to.deep.equal([]);
  });

  it("a tcp-tun socket and server type-check wherever node:net's types expect one (tsc --strict)", () => {
    expect(typeCheck(SNIPPET, 'stack.net'), 'tsc errors with stack.net').to.deep.equal([]);
  });

  it('stack.net.Socket and stack.net.Server are assignable to typeof net.Socket / net.Server', () => {
    expect(typeCheck(CLASS_SNIPPET, 'stack.net'), 'tsc errors with stack.net').to.deep.equal([]);
  });
});
