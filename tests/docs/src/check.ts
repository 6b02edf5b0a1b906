/**
 * Checks the code blocks of the repository's Markdown: `ts`/`js` blocks are type-checked with
 * `tsc --strict` settings against the built packages (and run when marked `<!-- run -->`),
 * `sh` blocks are parsed with `bash -n`, `json` blocks with `JSON.parse`. Every block must be
 * one of these, plain text (no language, `text`, `console`, `output`) or marked
 * `<!-- not-code -->`; see blocks.ts for the markers.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { extractBlocks, type CodeBlock } from './blocks.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Where blocks are written to be compiled: inside this package, so `@tcp-tun/*` resolve. */
const WORK = resolve(dirname(fileURLToPath(import.meta.url)), '../.blocks');

/**
 * The Markdown files whose blocks must all pass: every README (root, packages, apps, tests)
 * and every page under docs/. `DOCS_STRICT=1` enforces any other Markdown file too.
 */
export const STRICT: readonly RegExp[] = [/(^|\/)README\.md$/, /^docs\//, /^tests\/docs\//];

/** Whether failures in `file` fail the test. */
export function isStrict(file: string): boolean {
  return process.env.DOCS_STRICT === '1' || STRICT.some((re) => re.test(file));
}

const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', '.turbo', '.blocks']);

/** Every README.md in the repository and every Markdown page under docs/ (not docs/api). */
export function markdownFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(ROOT, path);
      if (SKIP_DIRS.has(name) || rel === join('docs', 'api')) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (name === 'README.md' || (rel.startsWith(`docs${'/'}`) && name.endsWith('.md'))) out.push(rel);
    }
  };
  walk(ROOT);
  return out;
}

/** What happened to one block. */
export interface BlockResult {
  readonly block: CodeBlock;
  /** `typecheck`, `run`, `bash -n`, `json`, `skipped (not-code)`, `text`, … */
  readonly checks: string[];
  readonly problems: string[];
}

/** All blocks of `files`, checked. Type-checking is one TypeScript program for all of them. */
export function checkFiles(files: readonly string[], options: { run?: boolean } = {}): BlockResult[] {
  const results: BlockResult[] = [];
  const compiled = new Map<string, { result: BlockResult; offset: number }>();
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  writeFileSync(join(WORK, 'package.json'), '{ "type": "module", "private": true }\n');
  for (const file of files) {
    for (const block of extractBlocks(file, readFileSync(join(ROOT, file), 'utf8'))) {
      const result: BlockResult = { block, checks: [], problems: [] };
      results.push(result);
      for (const m of block.badMarkers) result.problems.push(`unknown marker <!-- ${m} --> (known: not-code, run, declare: …, excerpt: …)`);
      if (block.notCode) {
        result.checks.push('not-code');
        continue;
      }
      if (block.excerptOf !== undefined) {
        result.checks.push(`excerpt of ${block.excerptOf}`);
        const problem = checkExcerpt(join(ROOT, dirname(file)), block.excerptOf, block.code);
        if (problem !== undefined) result.problems.push(problem);
        continue;
      }
      switch (block.kind) {
        case 'text':
          result.checks.push('text');
          break;
        case 'unknown':
          result.problems.push(`language '${block.lang}' is not checked: label it text or mark it <!-- not-code -->`);
          break;
        case 'json':
          result.checks.push('json');
          try {
            JSON.parse(block.code);
          } catch (err) {
            result.problems.push(`JSON: ${(err as Error).message}`);
          }
          break;
        case 'sh': {
          result.checks.push('bash -n');
          const r = spawnSync('bash', ['-n'], { input: block.code, encoding: 'utf8' });
          if (r.status !== 0) result.problems.push(`bash -n: ${r.stderr.trim()}`);
          break;
        }
        case 'ts':
        case 'js':
        case 'cjs': {
          const ext = block.kind === 'ts' ? 'mts' : block.kind === 'js' ? 'mjs' : 'cjs';
          const name = `${file.replace(/[^A-Za-z0-9]+/g, '_')}_${block.index}.${ext}`;
          const prelude = block.declare === '' ? '' : `${block.declare}\n`;
          // `export {}` makes even an import-free block a module, so top-level await is allowed.
          const tail = block.kind === 'cjs' ? '' : '\nexport {};\n';
          writeFileSync(join(WORK, name), `${prelude}${block.code}${tail}`);
          compiled.set(join(WORK, name), { result, offset: prelude === '' ? 0 : prelude.split('\n').length - 1 });
          result.checks.push('typecheck');
          if (block.run) {
            const runName = `run_${name}`;
            writeFileSync(join(WORK, runName), `${block.code}${tail}`);
            if (options.run !== false) {
              result.checks.push('run');
              const r = spawnSync(process.execPath, ['--import', 'tsx', join(WORK, runName)], {
                cwd: ROOT,
                encoding: 'utf8',
                timeout: 60_000,
                env: { ...process.env, NODE_OPTIONS: '' },
              });
              if (r.status !== 0) {
                const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
                result.problems.push(`run: ${why}: ${(r.stderr || r.stdout).trim().split('\n').slice(-6).join(' | ')}`);
              }
            }
          }
          break;
        }
      }
    }
  }
  typecheck(compiled);
  return results;
}

/** Undefined when `code`'s lines appear, in order and together, in `dir/target`. */
export function checkExcerpt(dir: string, target: string, code: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(resolve(dir, target), 'utf8');
  } catch {
    return `excerpt: ${target} not found`;
  }
  const norm = (s: string): string[] => s.split('\n').map((l) => l.trimEnd());
  const want = norm(code.trim());
  const have = norm(text);
  for (let i = 0; i + want.length <= have.length; i++) {
    if (want.every((l, k) => have[i + k] === l)) return undefined;
  }
  return `excerpt: these lines are not in ${target} as written (first: ${JSON.stringify(want[0])})`;
}

/**
 * Type-checks whole source files (the recipes' examples) with the settings used for blocks;
 * returns the problems per file (every file present, [] when clean).
 */
export function typecheckSources(paths: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>(paths.map((p) => [resolve(p), []]));
  const program = ts.createProgram([...out.keys()], compilerOptions());
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    const list = d.file ? out.get(resolve(d.file.fileName)) : undefined;
    if (!d.file || !list) {
      for (const l of out.values()) l.push(`tsc: ${text}`);
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    list.push(`tsc TS${d.code} (line ${line + 1}): ${text}`);
  }
  return out;
}

/** The compiler settings for blocks and examples: strict, as the packages' tsconfig.base.json. */
function compilerOptions(): ts.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noUncheckedIndexedAccess: true,
    esModuleInterop: true,
    skipLibCheck: true,
    allowJs: true,
    checkJs: true,
    noEmit: true,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules/@types')],
  };
}

/** One program over every ts/js block, strict, as the packages' own tsconfig.base.json. */
function typecheck(compiled: ReadonlyMap<string, { result: BlockResult; offset: number }>): void {
  if (compiled.size === 0) return;
  const program = ts.createProgram([...compiled.keys()], compilerOptions());
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    const entry = d.file ? compiled.get(resolve(d.file.fileName)) : undefined;
    if (!d.file || !entry) {
      // A diagnostic outside the blocks (a package's .d.ts, the options) concerns them all.
      for (const { result } of compiled.values()) result.problems.push(`tsc: ${text}`);
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const blockLine = line - entry.offset;
    const where = blockLine < 0 ? 'declare marker' : `line ${entry.result.block.line + 1 + blockLine}`;
    entry.result.problems.push(`tsc TS${d.code} (${where}): ${text}`);
  }
}

/** A table of results per file, for the test log and `pnpm report`. */
export function formatReport(results: readonly BlockResult[]): string {
  const out: string[] = [];
  let file = '';
  for (const r of results) {
    if (r.block.file !== file) {
      file = r.block.file;
      const mine = results.filter((x) => x.block.file === file);
      const bad = mine.filter((x) => x.problems.length > 0).length;
      out.push(`${file}: ${mine.length} blocks, ${bad} failing${isStrict(file) ? '' : ' (report only)'}`);
    }
    const head = `  #${r.block.index} line ${r.block.line} ${r.block.lang || '(none)'} [${r.checks.join(', ')}]`;
    out.push(r.problems.length === 0 ? `${head} ok` : `${head} FAIL`);
    for (const p of r.problems) out.push(`      ${p}`);
  }
  return out.join('\n');
}
