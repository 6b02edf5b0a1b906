import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The README's example is a real program: run it and check the trace it prints.
describe('packages/tcp examples', function () {
  this.timeout(20_000);
  it('examples/two-engines.mjs opens, carries data both ways and closes', async () => {
    const file = fileURLToPath(new URL('../examples/two-engines.mjs', import.meta.url));
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [file], { timeout: 10_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    const lines = out.trim().split('\n');
    expect(lines[0]).to.match(/^A→B syn {2}seq=1000 ack=- len=0$/);
    expect(lines[1]).to.match(/^B→A syn {2}seq=5000 ack=1001 len=0$/);
    expect(out).to.contain('B reads "hello"').and.contain('A reads "world"');
    expect(lines.at(-1)).to.equal('A TIME-WAIT, B CLOSED');
  });
});
