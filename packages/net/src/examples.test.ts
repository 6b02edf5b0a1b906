import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The README's examples are real programs: run them and check what they print.
function run(name: string): Promise<string> {
  const file = fileURLToPath(new URL(`../examples/${name}`, import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [file], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

describe('packages/net examples', function () {
  this.timeout(30_000);
  it('examples/echo.mjs echoes through two stacks', async () => {
    expect(await run('echo.mjs')).to.equal('echoed: hello over tcp-tun\n');
  });
  it('examples/http.mjs runs Node http over an Agent subclass, createConnection and an aborted connect', async () => {
    expect(await run('http.mjs')).to.equal(
      'you asked for /through-an-agent\nyou asked for /again-on-the-same-connection\nyou asked for /with-createConnection\nconnect aborted: ABORT_ERR\n',
    );
  });
});
