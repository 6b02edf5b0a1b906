/**
 * Layering guard (ARCHITECTURE.md §1): the tcp layer is pure. Its non-test sources import only
 * @tcp-tun/ip, no `node:` module and no bare Node builtin, and touch no Buffer, clock,
 * randomness, timers or process — so it runs unchanged in a browser or a worker.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));
/** Bare specifiers this package may import. */
const ALLOWED_PACKAGES: readonly string[] = ['@tcp-tun/ip'];

const FORBIDDEN: ReadonlyArray<[RegExp, string]> = [
  [/\bBuffer\b/, 'Buffer'],
  [/\bDate\.now\b/, 'Date.now'],
  [/\bnew Date\s*\(/, 'new Date()'],
  [/\bperformance\.now\b/, 'performance.now'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\bcrypto\.getRandomValues\b/, 'crypto.getRandomValues'],
  [/\b(setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate|queueMicrotask)\s*\(/, 'timers'],
  [/\bprocess\s*[.[]/, 'process'],
  [/\brequire\s*\(/, 'require()'],
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== '__tests__') out.push(...sources(p));
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
      out.push(p);
    }
  }
  return out;
}

/** Source text without comments (so prose may mention Buffer or Date.now). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.replace(/^node:/, '')]));

/** Every layering violation in comment-free source `text`. */
function problemsIn(text: string): string[] {
  const problems: string[] = [];
  const specs = text.matchAll(/(?:import|export)[^'";]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g);
  for (const m of specs) {
    const spec = m[1] ?? m[2] ?? m[3] ?? '';
    if (spec.startsWith('.')) {
      if (!spec.endsWith('.js')) problems.push(`relative import '${spec}' must end in .js`);
      continue;
    }
    const base = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
    if (spec.startsWith('node:') || BUILTINS.has(base)) problems.push(`imports Node builtin '${spec}'`);
    else if (!ALLOWED_PACKAGES.includes(base)) problems.push(`imports package '${spec}'`);
  }
  for (const [re, what] of FORBIDDEN) if (re.test(text)) problems.push(`uses ${what}`);
  return problems;
}

describe('layering: @tcp-tun/tcp is pure', () => {
  const files = sources(SRC);

  it('has sources to check', () => {
    expect(files.length).to.be.greaterThan(3);
  });

  it('the checker itself catches violations', () => {
    const bad = "import { readFileSync } from 'node:fs';\nimport os from 'os';\nimport x from 'left-pad';\nimport './y';\n" +
      'const t = Date.now() + Math.random(); setTimeout(() => {}, 1); Buffer.from([]); process.exit(1);';
    expect(problemsIn(bad)).to.have.length(9);
    expect(problemsIn(stripComments('// Buffer, Date.now and Math.random in a comment are fine\n/* setTimeout( */ const x = 1;'))).to.deep.equal([]);
  });

  for (const file of files) {
    it(`${relative(SRC, file)} imports nothing forbidden and uses no ambient I/O, clock or randomness`, () => {
      expect(problemsIn(stripComments(readFileSync(file, 'utf8')))).to.deep.equal([]);
    });
  }
});
