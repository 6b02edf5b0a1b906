import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// The README's examples are real programs: run them and check what they print.
function run(name: string, args: readonly string[] = []): Promise<string> {
  const file = fileURLToPath(new URL(`../examples/${name}`, import.meta.url));
  return exec(process.execPath, [...args, file]);
}

function exec(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout)));
  });
}

const readmeExample = fileURLToPath(new URL('../examples/readme.ts', import.meta.url));

describe('packages/net examples', function () {
  this.timeout(30_000);
  it("the README's first example is examples/readme.ts, type-checks under tsc --strict and runs as written", async () => {
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'the README example').to.equal(readFileSync(readmeExample, 'utf8'));
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    await exec(process.execPath, [tsc, '-p', fileURLToPath(new URL('../examples/tsconfig.json', import.meta.url))]);
    expect(await run('readme.ts', ['--import', 'tsx'])).to.equal('echoed: hello\nyou asked for /hi\n');
  });
  it('examples/echo.mjs echoes through two stacks', async () => {
    expect(await run('echo.mjs')).to.equal('echoed: hello over tcp-tun\n');
  });
  it('examples/http.mjs runs Node http over an Agent subclass, createConnection and an aborted connect', async () => {
    expect(await run('http.mjs')).to.equal(
      'you asked for /through-an-agent\nyou asked for /again-on-the-same-connection\nyou asked for /with-createConnection\nconnect aborted: ABORT_ERR\n',
    );
  });
});
