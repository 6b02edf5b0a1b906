/**
 * Layering guard (ARCHITECTURE.md §1): the ip layer is pure. Its non-test sources imports no other package,
 * no `node:` module and no Node builtin, and touch no Buffer, clock, randomness, timers or
 * process, so they run unchanged in a browser or a worker. The rules live in one place,
 * scripts/lint-imports.mjs (also run by `pnpm lint`); this test applies them and checks that
 * they still catch a violation.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintPackage } from '../../../scripts/lint-imports.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('layering of @tcp-tun/ip', () => {
  it('has no forbidden import, clock, randomness, timer or Buffer in its sources', () => {
    expect(lintPackage(ROOT)).to.deep.equal([]);
  });

  it('would catch a node: import, a bare builtin, an undeclared package and ambient time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-layering-'));
    try {
      mkdirSync(join(dir, 'src'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@tcp-tun/ip' }));
      writeFileSync(
        join(dir, 'src', 'bad.ts'),
        "import { readFileSync } from 'node:fs';\nimport os from 'os';\nimport x from 'left-pad';\nexport const t = Date.now() + Math.random();\n",
      );
      writeFileSync(join(dir, 'src', 'bad.test.ts'), "import { readFileSync } from 'node:fs';\n");
      const problems = lintPackage(dir).join('\n');
      expect(problems).to.contain('node:fs').and.contain("'node:os'").and.contain('left-pad');
      expect(problems).to.contain('Date.now').and.contain('Math.random');
      expect(problems).not.to.contain('bad.test.ts');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
