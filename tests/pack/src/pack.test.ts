/**
 * The packages as a registry would receive them and a new user would install them.
 *
 * Packs every publishable workspace package with `pnpm pack` (so `prepack` builds, and
 * `workspace:` ranges are rewritten), checks each tarball with publint and attw, installs the
 * tarballs into a fresh folder outside the workspace with plain `npm install` (our packages from
 * the tarballs; third-party dependencies such as ffi-rs from the npm cache or registry, as any
 * user gets them), and then uses them: from ESM, from CommonJS, through their bins, from
 * TypeScript under `tsc --strict` with library checking on, and on a real TUN device inside a
 * namespace of its own. Everything is made in one temporary folder, removed afterwards.
 *
 * Two cases are issue 9's and fail until the net socket layer behaves as Node's: Node's `http`
 * over two stacks with an awaited response (the process must stay alive until it completes),
 * and a tcp-tun socket accepted as a `net.Socket` by tsc.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { Namespace, requireNetns } from '../../../testing/netns.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../../..');
const FIXTURES = resolve(HERE, '../consumer');
const BIN = join(ROOT, 'node_modules/.bin');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment for tools run as a user would: without the npm_* variables pnpm sets. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return env;
}

/** Runs a command to completion, killing it (by its PID) after `timeoutMs`. */
function run(cmd: string, args: readonly string[], cwd: string, timeoutMs = 60_000, env = userEnv()): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

function explain(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

interface Packed {
  readonly name: string;
  readonly dir: string;
  readonly tarball: string;
}

/** Every workspace package that is not private, in packages/ and apps/. */
function publishable(): { name: string; dir: string }[] {
  const out: { name: string; dir: string }[] = [];
  for (const group of ['packages', 'apps']) {
    for (const entry of readdirSync(join(ROOT, group)).sort()) {
      const dir = join(ROOT, group, entry);
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; private?: boolean };
      if (!pkg.private) out.push({ name: pkg.name, dir });
    }
  }
  return out;
}

/** Files under `dir`, recursively, with paths relative to it. */
function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path, `${prefix}${name}/`));
    else out.push(`${prefix}${name}`);
  }
  return out;
}

describe('packed packages, installed with npm into a fresh folder', function () {
  let work = '';
  let tarballs = '';
  let app = '';
  const packed: Packed[] = [];
  let install: Run | undefined;

  before(async function () {
    this.timeout(240_000);
    work = mkdtempSync(join(tmpdir(), 'tcptun-pack-'));
    tarballs = join(work, 'tarballs');
    app = join(work, 'app');
    mkdirSync(tarballs);
    for (const { name, dir } of publishable()) {
      const before = new Set(readdirSync(tarballs));
      const r = await run('pnpm', ['pack', '--pack-destination', tarballs], dir, 120_000, process.env);
      if (r.code !== 0) throw new Error(`pnpm pack ${name} failed: ${explain(r)}`);
      const made = readdirSync(tarballs).filter((f) => !before.has(f));
      if (made.length !== 1) throw new Error(`pnpm pack ${name} made ${made.length} tarballs`);
      packed.push({ name, dir, tarball: join(tarballs, made[0]!) });
    }
    // The consumer: a plain npm project outside the workspace, our packages from the tarballs,
    // @types/node at the version the workspace builds against.
    cpSync(FIXTURES, app, { recursive: true });
    const typesNode = JSON.parse(readFileSync(join(ROOT, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string };
    const dependencies: Record<string, string> = { '@types/node': typesNode.version };
    for (const p of packed) dependencies[p.name] = `file:${p.tarball}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'tcp-tun-consumer', private: true, type: 'module', dependencies }, null, 2));
    install = await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline'], app, 180_000);
  });

  after(function () {
    // TCPTUN_PACK_KEEP=1 keeps the tarballs and the consumer for a look after a failure.
    if (!work) return;
    if (process.env.TCPTUN_PACK_KEEP) console.log(`    kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  });

  it('packs every publishable package: README, LICENSE, dist and sources, no tests, no workspace: ranges', async function () {
    expect(packed.map((p) => p.name)).to.include.members(['@tcp-tun/ip', '@tcp-tun/tcp', '@tcp-tun/tun', '@tcp-tun/net']);
    for (const p of packed) {
      const list = await run('tar', ['tzf', p.tarball], work);
      expect(list.code, explain(list)).to.equal(0);
      const files = list.stdout.split('\n').filter(Boolean);
      expect(files, p.name).to.include.members(['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/index.js', 'package/dist/index.d.ts']);
      expect(files.filter((f) => f.startsWith('package/src/')).length, `${p.name} ships the sources its maps name`).to.be.greaterThan(0);
      expect(files.filter((f) => /\.test\.|__tests__/.test(f)), `${p.name} ships no tests`).to.deep.equal([]);
      // A build output whose source is gone (a stale file prepack's build did not remove) would
      // be published too: every dist module must have its source beside it in the tarball.
      const stale = files
        .filter((f) => /^package\/dist\/.*\.js$/.test(f))
        .filter((f) => !files.includes(f.replace(/^package\/dist\//, 'package/src/').replace(/\.js$/, '.ts')));
      expect(stale, `${p.name}: dist files without a source`).to.deep.equal([]);
      const manifest = await run('tar', ['xzf', p.tarball, '-O', 'package/package.json'], work);
      expect(manifest.stdout, `${p.name}: workspace: ranges rewritten`).not.to.include('workspace:');
      const pkg = JSON.parse(manifest.stdout) as Record<string, unknown>;
      for (const field of ['license', 'repository', 'homepage', 'bugs', 'keywords', 'engines', 'publishConfig', 'files', 'exports']) {
        expect(pkg, `${p.name} has ${field}`).to.have.property(field);
      }
    }
  });

  it('publint reports nothing on any tarball (suggestions included)', async function () {
    const problems: string[] = [];
    for (const p of packed) {
      const bytes = readFileSync(p.tarball);
      const tarball = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const { messages, pkg } = await publint({ pack: { tarball }, level: 'suggestion', strict: true });
      for (const m of messages) problems.push(`${p.name}: ${m.type} ${m.code}: ${formatMessage(m, pkg) ?? ''}`);
    }
    expect(problems).to.deep.equal([]);
  });

  it('attw finds no type-resolution problem in any tarball (ESM-only profile)', async function () {
    // ESM only, on purpose: engines.node >=20.19.0 is where Node's require() loads ES modules,
    // so the CommonJS-from-node16 and node10 resolutions attw would otherwise check do not apply.
    const runs = await Promise.all(
      packed.map(async (p) => ({ p, r: await run(join(BIN, 'attw'), [p.tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-emoji', '--no-color'], work) })),
    );
    expect(runs.filter(({ r }) => r.code !== 0).map(({ p, r }) => `${p.name}: ${explain(r)}`)).to.deep.equal([]);
  });

  it('installs from the tarballs with plain npm', function () {
    expect(install, 'npm install ran').not.to.equal(undefined);
    expect(install!.code, explain(install!)).to.equal(0);
    for (const p of packed) expect(existsSync(join(app, 'node_modules', p.name, 'package.json')), p.name).to.equal(true);
  });

  it('an ESM program uses every package', async function () {
    const r = await run('node', ['use.mjs'], app, 30_000);
    expect(r.code, explain(r)).to.equal(0);
    expect(r.stdout).to.include('ok @tcp-tun/ip').and.include('ok @tcp-tun/tcp').and.include('ok @tcp-tun/tun').and.include('ok @tcp-tun/net');
  });

  it('the examples shipped in the tarballs run from the installed packages', async function () {
    const failures: string[] = [];
    let count = 0;
    for (const p of packed) {
      const dir = join(app, 'node_modules', p.name, 'examples');
      if (!existsSync(dir)) continue;
      for (const example of readdirSync(dir).filter((f) => f.endsWith('.mjs'))) {
        count++;
        const r = await run('node', [join(dir, example)], app, 30_000);
        if (r.code !== 0) failures.push(`${p.name}/examples/${example}: ${explain(r)}`);
      }
    }
    expect(count, 'examples shipped').to.be.greaterThan(0);
    expect(failures).to.deep.equal([]);
  });

  it('a CommonJS program loads them with require() (the engines.node floor, >=20.19.0)', async function () {
    const r = await run('node', ['require.cjs'], app, 30_000);
    expect(r.code, explain(r)).to.equal(0);
    expect(r.stdout).to.include('ok require()');
  });

  it('the CLIs run from the bins npm linked', async function () {
    const bins = readdirSync(join(app, 'node_modules/.bin')).filter((b) => b.startsWith('tcp-tun-'));
    expect(bins).to.include.members(['tcp-tun-echo', 'tcp-tun-curl-lite']);
    for (const bin of bins) {
      const r = await run(join(app, 'node_modules/.bin', bin), ['--help'], app, 30_000);
      expect(r.code, `${bin} --help: ${explain(r)}`).to.equal(0);
      expect(r.stdout, bin).to.match(/usage/i);
    }
  });

  it('a TypeScript program type-checks its use of every package under tsc --strict, library checks on', async function () {
    const r = await run(join(BIN, 'tsc'), ['-p', 'tsconfig.json'], app, 60_000);
    expect(r.code, explain(r)).to.equal(0);
  });

  it('source maps resolve: every map in the installed packages names files that exist', function () {
    const missing: string[] = [];
    for (const p of packed) {
      const root = join(app, 'node_modules', p.name);
      for (const file of walk(join(root, 'dist')).filter((f) => f.endsWith('.map'))) {
        const map = JSON.parse(readFileSync(join(root, 'dist', file), 'utf8')) as { sources: string[]; sourceRoot?: string };
        for (const source of map.sources) {
          const path = resolve(dirname(join(root, 'dist', file)), map.sourceRoot ?? '', source);
          if (!existsSync(path)) missing.push(`${p.name}/dist/${file} -> ${source}`);
        }
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('no declaration marked @internal reaches the published types', function () {
    const leaked: string[] = [];
    for (const p of packed) {
      const root = join(app, 'node_modules', p.name, 'dist');
      for (const file of walk(root).filter((f) => f.endsWith('.d.ts'))) {
        if (readFileSync(join(root, file), 'utf8').includes('@internal')) leaked.push(`${p.name}/dist/${file}`);
      }
    }
    expect(leaked).to.deep.equal([]);
  });

  it('issue 9: Node http over two stacks keeps the process alive until the awaited response completes', async function () {
    const r = await run('node', ['http.mjs'], app, 30_000);
    expect(r.code, explain(r)).to.equal(0);
    expect(r.stdout).to.include('body: you asked for /packed');
  });

  it('issue 9: tsc accepts a tcp-tun socket as a net.Socket and as tls.connect({ socket })', async function () {
    const r = await run(join(BIN, 'tsc'), ['-p', 'tsconfig.net-types.json'], app, 60_000);
    expect(r.code, explain(r)).to.equal(0);
  });

  describe('on a real TUN device (namespace of its own)', function () {
    if (!requireNetns(this)) return;

    it('a Stack on openTun() serves Node http to a kernel client, from the installed tarballs', async function () {
      const ns = Namespace.create('pack');
      try {
        const r = await ns.run('node', [join(app, 'tun.mjs')], 30_000);
        expect(r.code, explain(r)).to.equal(0);
        expect(r.stdout).to.include('body: tcp-tun on tun0 answered /over-tun');
      } finally {
        await ns.delete();
      }
    });
  });
});
