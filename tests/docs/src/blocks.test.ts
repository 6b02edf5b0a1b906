import { expect } from 'chai';
import { extractBlocks, kindOf } from './blocks.js';

describe('extractBlocks', () => {
  it('finds fenced blocks with their language, line and code', () => {
    const md = ['# t', '', '```ts', 'const a = 1;', '```', '', '~~~sh', 'echo hi', '~~~', '```', 'plain', '```'].join('\n');
    const blocks = extractBlocks('x.md', md);
    expect(blocks.map((b) => [b.index, b.line, b.lang, b.kind, b.code])).to.deep.equal([
      [1, 3, 'ts', 'ts', 'const a = 1;'],
      [2, 7, 'sh', 'sh', 'echo hi'],
      [3, 10, '', 'text', 'plain'],
    ]);
  });

  it('reads the markers written just above a fence, blank lines allowed', () => {
    const md = [
      '<!-- run -->',
      '<!-- declare: const x: number; -->',
      '',
      '```js',
      'x;',
      '```',
      '<!-- not-code -->',
      '```ts',
      'f(a: T): U',
      '```',
      '<!-- rnu -->',
      '```ts',
      '```',
    ].join('\n');
    const [a, b, c] = extractBlocks('x.md', md);
    expect([a!.run, a!.notCode, a!.declare]).to.deep.equal([true, false, 'const x: number;']);
    expect([b!.run, b!.notCode]).to.deep.equal([false, true]);
    expect(c!.badMarkers).to.deep.equal(['rnu']);
  });

  it('does not take a marker from before an earlier paragraph', () => {
    const md = ['<!-- run -->', 'some prose', '```ts', 'x', '```'].join('\n');
    expect(extractBlocks('x.md', md)[0]!.run).to.equal(false);
  });

  it('keeps a longer fence open past a shorter one and strips the fence indent', () => {
    const md = ['  ````md', '  ```ts', '  inner', '  ```', '  ````'].join('\n');
    const [b] = extractBlocks('x.md', md);
    expect(b!.code).to.equal('```ts\ninner\n```');
  });

  it('names the kinds of the usual info strings', () => {
    expect(['typescript', 'mjs', 'bash', 'console', 'python'].map(kindOf)).to.deep.equal(['ts', 'js', 'sh', 'text', 'unknown']);
  });
});

describe('checkExcerpt', () => {
  it('accepts lines found together and in order, and names the first line of one that is not', async () => {
    const { checkExcerpt, ROOT } = await import('./check.js');
    const dir = `${ROOT}/docs/recipes`;
    expect(checkExcerpt(dir, 'http.mjs', "import http from 'node:http';\nimport net from 'node:net';")).to.equal(undefined);
    expect(checkExcerpt(dir, 'http.mjs', "import net from 'node:net';\nimport http from 'node:http';")).to.match(/not in http\.mjs.*import net/);
    expect(checkExcerpt(dir, 'nope.mjs', 'x')).to.equal('excerpt: nope.mjs not found');
  });
});
