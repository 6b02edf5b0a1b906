import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The README's trace example is a real program: run it and check what it prints.
describe('packages/net examples: trace.mjs', function () {
  this.timeout(30_000);
  it('traces an echoed connection to a JSON-lines file that parseTrace reads back', async () => {
    const file = fileURLToPath(new URL('../examples/trace.mjs', import.meta.url));
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [file], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    expect(out).to.equal('echoed 100000 octets; trace: 1 connection, segments over 100, engine samples yes, ended true\n');
  });
});
