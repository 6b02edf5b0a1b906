/**
 * Finds the fenced code blocks of a Markdown file and the markers written before them.
 *
 * A marker is an HTML comment on the lines just before a fence (blank lines between are
 * allowed), so it is invisible on GitHub and in any renderer:
 *
 * - `<!-- not-code -->`: the block is output, a diagram or a pseudo-signature; it is not checked.
 * - `<!-- run -->`: a `ts`/`js` block is also executed (from the repository root, 60 s at most).
 * - `<!-- declare: TEXT -->`: TypeScript declarations put before the block when it is
 *   type-checked (never when run), for a fragment that uses names the surrounding prose
 *   defines, e.g. `<!-- declare: const packetBytes: Uint8Array; -->`.
 * - `<!-- excerpt: FILE -->`: the block is a piece of FILE (relative to the Markdown file),
 *   which is checked on its own (the recipes' example files are type-checked and run): the
 *   block's lines must appear in FILE, in order and together. It is not compiled by itself.
 *
 * Several markers may follow each other. Unknown markers are an error, so a typo cannot
 * silently turn a check off.
 */

/** How a block's info string (the word after the fence) is treated. */
export type BlockKind = 'ts' | 'js' | 'cjs' | 'sh' | 'json' | 'text' | 'unknown';

/** One fenced block and what the checker needs to know about it. */
export interface CodeBlock {
  /** The Markdown file, relative to the repository root. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** 1-based position among the file's blocks. */
  readonly index: number;
  /** The info string's first word, lower-cased ('' when none). */
  readonly lang: string;
  readonly kind: BlockKind;
  readonly code: string;
  readonly notCode: boolean;
  readonly run: boolean;
  /** Declarations from `<!-- declare: … -->` markers, joined by newlines. */
  readonly declare: string;
  /** The file named by `<!-- excerpt: FILE -->`, or undefined. */
  readonly excerptOf: string | undefined;
  /** Marker comments that are not one of the above. */
  readonly badMarkers: readonly string[];
}

const KINDS: Readonly<Record<string, BlockKind>> = {
  ts: 'ts',
  typescript: 'ts',
  mts: 'ts',
  js: 'js',
  javascript: 'js',
  mjs: 'js',
  cjs: 'cjs',
  sh: 'sh',
  bash: 'sh',
  shell: 'sh',
  json: 'json',
  '': 'text',
  text: 'text',
  txt: 'text',
  output: 'text',
  console: 'text',
};

/** The kind of block an info-string language names. */
export function kindOf(lang: string): BlockKind {
  return KINDS[lang] ?? 'unknown';
}

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/;
const MARKER = /^\s*<!--\s*(.*?)\s*-->\s*$/;

/** Every fenced block of `text` (CommonMark fences: ``` or ~~~, indented ≤ 3 spaces). */
export function extractBlocks(file: string, text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    // A closing fence is the same character, at least as long, nothing after it.
    const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    for (; j < lines.length && !close.test(lines[j]!); j++) {
      body.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!.trimStart());
    }
    const markers = markersBefore(lines, i);
    const lang = info.toLowerCase();
    const declare: string[] = [];
    const badMarkers: string[] = [];
    let notCode = false;
    let run = false;
    let excerptOf: string | undefined;
    for (const m of markers) {
      if (m === 'not-code') notCode = true;
      else if (m === 'run') run = true;
      else if (m.startsWith('declare:')) declare.push(m.slice('declare:'.length).trim());
      else if (m.startsWith('excerpt:')) excerptOf = m.slice('excerpt:'.length).trim();
      else badMarkers.push(m);
    }
    blocks.push({
      file,
      line: i + 1,
      index: blocks.length + 1,
      lang,
      kind: kindOf(lang),
      code: body.join('\n'),
      notCode,
      run,
      declare: declare.join('\n'),
      excerptOf,
      badMarkers,
    });
    i = j;
  }
  return blocks;
}

/** The marker comments directly above line `fenceIndex` (blank lines may separate them). */
function markersBefore(lines: readonly string[], fenceIndex: number): string[] {
  const found: string[] = [];
  for (let k = fenceIndex - 1; k >= 0; k--) {
    const line = lines[k]!;
    if (line.trim() === '') continue;
    const m = MARKER.exec(line);
    if (!m) break;
    // Only our markers are read; any other comment (a licence note, a TODO) ends the search.
    const body = m[1]!;
    if (!/^(declare:|excerpt:|[a-z-]+$)/.test(body)) break;
    found.unshift(body);
  }
  return found;
}
