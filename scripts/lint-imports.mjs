#!/usr/bin/env node
// Enforces the layering rules of ARCHITECTURE.md §1 on a package's non-test sources:
// which workspace packages and which node: modules each layer may import, and which
// ambient globals the pure layers (ip, tcp) must not touch (clock, randomness, Buffer, timers).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';

const RULES = {
  '@tcp-tun/ip': { packages: [], node: [], pure: true },
  '@tcp-tun/tcp': { packages: ['@tcp-tun/ip'], node: [], pure: true },
  '@tcp-tun/tun': { packages: ['ffi-rs'], node: '*', pure: false },
  '@tcp-tun/net': {
    packages: ['@tcp-tun/ip', '@tcp-tun/tcp'],
    // node:tls: only to let Node's TLSSocket wrap a connected tcp-tun socket (src/socket-tls.ts).
    // node:diagnostics_channel: the stack's instrumentation channels (src/diagnostics.ts).
    node: ['node:stream', 'node:events', 'node:timers', 'node:crypto', 'node:fs', 'node:net', 'node:tls', 'node:util', 'node:buffer', 'node:diagnostics_channel'],
    pure: false,
  },
  // The programs' shared flags: may use every library layer, never an app.
  '@tcp-tun/cli': { packages: ['@tcp-tun/net', '@tcp-tun/tun', 'commander'], node: '*', pure: false },
  // The apps: libraries and the shared CLI package, never each other.
  '@tcp-tun/echo': { packages: ['@tcp-tun/cli', '@tcp-tun/net', '@tcp-tun/tun', 'commander'], node: '*', pure: false },
  '@tcp-tun/curl-lite': { packages: ['@tcp-tun/cli', '@tcp-tun/net', 'commander'], node: '*', pure: false },
  // Draws traces: reads files, needs the trace format of net, never a device or another app.
  '@tcp-tun/plot': { packages: ['@tcp-tun/net', 'commander'], node: '*', pure: false },
};
const PURE_FORBIDDEN = [
  [/\bBuffer\b/, 'Buffer'],
  [/\bDate\.now\b/, 'Date.now'],
  [/\bnew Date\s*\(/, 'new Date()'],
  [/\bperformance\.now\b/, 'performance.now'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\bset(Timeout|Interval|Immediate)\s*\(/, 'timers'],
  [/\bprocess\./, 'process'],
];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== '__tests__') out.push(...walk(p));
    } else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Returns a list of violations ("file: message") for the package at `root`. */
export function lintPackage(root) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const rule = RULES[pkg.name] ?? { packages: '*', node: '*', pure: false };
  const problems = [];
  for (const file of walk(join(root, 'src'))) {
    const src = readFileSync(file, 'utf8');
    const rel = relative(root, file);
    const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const m of code.matchAll(/(?:import|export)[^'";]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('.')) {
        if (!spec.endsWith('.js')) problems.push(`${rel}: relative import '${spec}' must end in .js`);
        continue;
      }
      if (spec.startsWith('node:') || builtinModules.includes(spec) || builtinModules.includes(spec.split('/')[0])) {
        if (!spec.startsWith('node:')) problems.push(`${rel}: use 'node:${spec}'`);
        else if (rule.node !== '*' && !rule.node.includes(spec)) problems.push(`${rel}: ${pkg.name} may not import ${spec}`);
        continue;
      }
      const base = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (rule.packages !== '*' && !rule.packages.includes(base)) problems.push(`${rel}: ${pkg.name} may not import ${base}`);
    }
    if (rule.pure) {
      for (const [re, what] of PURE_FORBIDDEN) if (re.test(code)) problems.push(`${rel}: pure layer uses ${what}`);
    }
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('lint-imports.mjs')) {
  const root = resolve(process.argv[2] ?? '.');
  const problems = lintPackage(root);
  for (const p of problems) console.error(p);
  if (problems.length) process.exit(1);
}
