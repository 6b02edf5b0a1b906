/**
 * End-to-end, with the Linux kernel as the peer (issue 9): a tcp-tun server's socket life
 * cycle as seen by kernel clients.
 * - `write(1 MiB)` then `destroy()` in the write callback is the kernel's close(): every byte
 *   reaches the kernel client, then a FIN, never a RST (20 connections in a row).
 * - A handler that is only `c => c.end('hi')`: kernel clients that send data and close see
 *   'hi' and the end of stream, and every connection on the stack finishes its close.
 * Inside a namespace of its own (testing/netns.ts); the clients are Python's sockets there.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Namespace, requireNetns, waitForLine } from '../../../testing/netns.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const SERVER = here('./__tests__/lifecycle-server.ts');
const ADDR = '10.0.0.2';
const PEER = '10.0.0.1';
const MIB = 1024 * 1024;

// Kernel client: connect, optionally send, shut down our side, read to EOF; report octets, an
// order-sensitive digest check of the expected pattern, and whether the read ended in a reset.
const CLIENT = `
import socket, sys, json
host, port, count, send = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = []
for i in range(count):
    s = socket.create_connection((host, port), timeout=20)
    if send:
        s.sendall(send.encode())
        s.shutdown(socket.SHUT_WR)
    got = bytearray()
    reset = False
    try:
        while True:
            b = s.recv(262144)
            if not b:
                break
            got += b
    except ConnectionResetError:
        reset = True
    ok = all(got[j] == ((j * 7 + 3) & 0xff) for j in range(0, len(got), 4093)) if not send else None
    out.append({"n": len(got), "reset": reset, "pattern": ok, "text": got.decode() if send and len(got) < 64 else None})
    s.close()
print(json.dumps(out))
`;

async function report(app: ChildProcess): Promise<{ connections: number; closed: number; errors: string[]; states: string[]; stats: { resetsSent: number } }> {
  const line = waitForLine(app, /^\{"connections"/, 10_000);
  app.kill('SIGUSR1');
  return JSON.parse(await line);
}

describe('end-to-end: socket life cycle against kernel clients', function () {
  this.timeout(180_000);
  if (!requireNetns(this)) return;

  let ns: Namespace | undefined;
  let app: ChildProcess | undefined;

  afterEach(async () => {
    app?.kill('SIGTERM');
    app = undefined;
    await ns?.delete();
    ns = undefined;
  });

  async function start(mode: string, port: number): Promise<{ ns: Namespace; app: ChildProcess }> {
    ns = Namespace.create(`life${mode.slice(0, 3)}`);
    app = ns.spawn('node', ['--import', 'tsx', SERVER, mode, 'tun0', ADDR, PEER, String(port)]);
    await waitForLine(app, /^ready$/, 30_000);
    return { ns, app };
  }

  it('write(1 MiB) then destroy() delivers every byte and a FIN, no RST, 20 times in a row', async () => {
    const { ns, app } = await start('destroy', 7001);
    const r = await ns.run('python3', ['-c', CLIENT, ADDR, '7001', '20', ''], 150_000);
    expect(r.code, r.stderr).to.equal(0);
    const runs = JSON.parse(r.stdout) as Array<{ n: number; reset: boolean; pattern: boolean }>;
    expect(runs).to.have.length(20);
    expect(runs.map((x) => x.reset), 'a reset reached a kernel client').to.not.include(true);
    expect(runs.map((x) => x.n)).to.deep.equal(new Array(20).fill(MIB));
    expect(runs.map((x) => x.pattern)).to.not.include(false);
    const seen = await report(app);
    expect(seen.connections).to.equal(20);
    expect(seen.errors).to.deep.equal([]);
    expect(seen.stats.resetsSent, 'RSTs for segments of no connection').to.equal(0);
  });

  it("c => c.end('hi'): kernel clients that send and close see 'hi' and EOF, and every connection finishes", async () => {
    const { ns, app } = await start('end-hi', 7002);
    const r = await ns.run('python3', ['-c', CLIENT, ADDR, '7002', '20', 'hello from the kernel'], 60_000);
    expect(r.code, r.stderr).to.equal(0);
    const runs = JSON.parse(r.stdout) as Array<{ text: string; reset: boolean }>;
    expect(runs.map((x) => x.text)).to.deep.equal(new Array(20).fill('hi'));
    expect(runs.map((x) => x.reset)).to.not.include(true);
    // Both FINs exchanged on every connection: what is left is TIME-WAIT (or nothing).
    let seen = await report(app);
    for (let i = 0; i < 50 && seen.states.some((s) => s !== 'TIME-WAIT'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await report(app);
    }
    expect(seen.connections).to.equal(20);
    expect(seen.errors).to.deep.equal([]);
    expect(seen.states.filter((s) => s !== 'TIME-WAIT'), 'connections not finished').to.deep.equal([]);
  });
});
