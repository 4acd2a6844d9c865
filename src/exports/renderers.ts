import type { DocumentView } from '../sessions/document.reader.js';
import { inSlices } from '../common/json-text.js';
import { inTurns } from '../common/turns.js';
import type { ExportFormat } from '../queues/queue.names.js';
import { shapeOf, type BlockShape } from './block-text.js';

export interface Rendered {
  body: Buffer;
  contentType: string;
  extension: string;
}

export interface RenderInput {
  document: DocumentView;
  exportedAt: Date;
  /** Images by artifact id, as data: URIs, for a self-contained HTML file. */
  images: ReadonlyMap<string, string>;
}

/**
 * Renders block by block, a few milliseconds at a time (`inTurns`): a session at its size
 * budget is exported without holding the event loop of the process that runs the job,
 * which may be serving requests too.
 */
export async function render(format: ExportFormat, input: RenderInput): Promise<Rendered> {
  switch (format) {
    case 'json':
      return { body: await bytesOf(await renderJson(input)), contentType: 'application/json; charset=utf-8', extension: 'json' };
    case 'markdown':
      return { body: await bytesOf(await renderMarkdown(input)), contentType: 'text/markdown; charset=utf-8', extension: 'md' };
    case 'html':
      return { body: await bytesOf(await renderHtml(input)), contentType: 'text/html; charset=utf-8', extension: 'html' };
  }
}

/** The pieces of text, one after the other, as UTF-8, encoded a slice at a time. */
async function bytesOf(pieces: readonly string[]): Promise<Buffer> {
  const slices: Buffer[] = [];
  for await (const slice of inSlices(pieces)) slices.push(slice);
  return Buffer.concat(slices);
}

/** `items` with `separator` between them, as pieces (`items.join(separator)` without building the string). */
function joined(items: readonly string[], separator: string): string[] {
  const pieces: string[] = [];
  for (const [i, item] of items.entries()) {
    if (i > 0) pieces.push(separator);
    pieces.push(item);
  }
  return pieces;
}

/** The pieces without the whitespace their text ends with (`trimEnd()` of the text). */
function trimEnd(pieces: string[]): string[] {
  while (pieces.length > 0) {
    const last = pieces[pieces.length - 1].trimEnd();
    if (last !== '') {
      pieces[pieces.length - 1] = last;
      break;
    }
    pieces.pop();
  }
  return pieces;
}

/**
 * Everything a client needs to rebuild the session: the session as the API shows it, and its
 * blocks in order. The text (in pieces) is `JSON.stringify(exported, null, 2)`'s, written one block at a time.
 */
export async function renderJson({ document, exportedAt }: RenderInput): Promise<string[]> {
  const { blocks, ...session } = document;
  const head = JSON.stringify({ format: 'tessera.session', version: 1, exportedAt: exportedAt.toISOString(), session }, null, 2);
  const items: string[] = [];
  await inTurns(blocks, ({ id, type, content, position, version, createdAt, updatedAt, updatedBy }) => {
    const json = JSON.stringify({ id, type, content, position, version, createdAt, updatedAt, updatedBy }, null, 2);
    // Two levels in (the file's object, its array): JSON text has line breaks only between its tokens.
    items.push(`    ${json.replace(/\n/g, '\n    ')}`);
  });
  const list = items.length === 0 ? ['[]'] : ['[\n', ...joined(items, ',\n'), '\n  ]'];
  return [`${head.slice(0, -2)},\n  "blocks": `, ...list, '\n}\n'];
}

/** Characters that would turn text into Markdown structure or HTML. */
const escapeMarkdown = (text: string) => text.replace(/([\\`*_[\]<>#|~])/g, '\\$1').replace(/\r?\n/g, '  \n');

/** The Markdown text, in pieces. */
export async function renderMarkdown({ document }: RenderInput): Promise<string[]> {
  const lines = [`# ${escapeMarkdown(document.title || document.key)}`, ''];
  let previous: BlockShape['kind'] | undefined;
  let number = 0;
  await inTurns(document.blocks, (block) => {
    const shape = shapeOf(block);
    const listy = shape.kind === 'bullet' || shape.kind === 'numbered' || shape.kind === 'check';
    if (previous && !(listy && previous === shape.kind)) lines.push('');
    number = shape.kind === 'numbered' ? (previous === 'numbered' ? number + 1 : 1) : 0;
    lines.push(markdownOf(shape, number));
    previous = shape.kind;
  });
  return [...trimEnd(joined(lines, '\n')), '\n'];
}

function markdownOf(shape: BlockShape, number: number): string {
  switch (shape.kind) {
    case 'heading':
      return `${'#'.repeat(Math.min(6, shape.level + 1))} ${escapeMarkdown(shape.text)}`;
    case 'paragraph':
      return escapeMarkdown(shape.text);
    case 'bullet':
      return `- ${escapeMarkdown(shape.text)}`;
    case 'numbered':
      return `${number}. ${escapeMarkdown(shape.text)}`;
    case 'check':
      return `- [${shape.checked ? 'x' : ' '}] ${escapeMarkdown(shape.text)}`;
    case 'quote':
      return `> ${escapeMarkdown(shape.text)}`;
    case 'code': {
      const fence = '`'.repeat(Math.max(3, longestRun(shape.text, '`') + 1));
      return `${fence}${shape.language}\n${shape.text}\n${fence}`;
    }
    case 'image':
      return `*[image: ${escapeMarkdown(shape.alt)}]*`;
    case 'divider':
      return '---';
    case 'other':
      return shape.text !== null ? escapeMarkdown(shape.text) : `\`\`\`json\n${shape.json}\n\`\`\``;
  }
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --line: #d1d9e0; --code: #f6f8fa; --accent: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --line: #3d444d; --code: #151b23; --accent: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 17px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 46rem; margin: 0 auto; padding: 3rem 1.5rem 4rem; }
header { border-bottom: 1px solid var(--line); margin-bottom: 2rem; padding-bottom: 1rem; }
header h1 { margin: 0 0 .25rem; font-size: 2.2rem; line-height: 1.2; }
header p { margin: 0; color: var(--muted); font-size: .9rem; }
h2, h3, h4, h5, h6 { line-height: 1.25; margin: 2rem 0 .75rem; }
p { margin: 0 0 1rem; white-space: pre-wrap; }
ul, ol { margin: 0 0 1rem; padding-left: 1.5rem; }
li { white-space: pre-wrap; }
ul.checklist { list-style: none; padding-left: .25rem; }
ul.checklist li::before { content: "\\2610"; margin-right: .5rem; }
ul.checklist li.done::before { content: "\\2611"; }
ul.checklist li.done { color: var(--muted); text-decoration: line-through; }
blockquote { margin: 0 0 1rem; padding: .25rem 1rem; border-left: 4px solid var(--line); color: var(--muted); white-space: pre-wrap; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; overflow-x: auto; font-size: .9rem; }
figure { margin: 1.5rem 0; text-align: center; }
figure img { max-width: 100%; height: auto; border-radius: 6px; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .5rem; }
hr { border: 0; border-top: 1px solid var(--line); margin: 2rem 0; }
footer { margin-top: 3rem; color: var(--muted); font-size: .8rem; border-top: 1px solid var(--line); padding-top: 1rem; }
`;

/** One self-contained page: inline styles, images as data: URIs, no scripts, every text escaped. In pieces. */
export async function renderHtml({ document, exportedAt, images }: RenderInput): Promise<string[]> {
  const title = escapeHtml(document.title || document.key);
  const body: string[] = [];
  let list: { tag: 'ul' | 'ol'; kind: BlockShape['kind'] } | undefined;
  const closeList = () => {
    if (list) body.push(`</${list.tag}>`);
    list = undefined;
  };
  await inTurns(document.blocks, (block) => {
    const shape = shapeOf(block);
    if (shape.kind === 'bullet' || shape.kind === 'numbered' || shape.kind === 'check') {
      if (list?.kind !== shape.kind) {
        closeList();
        list = { tag: shape.kind === 'numbered' ? 'ol' : 'ul', kind: shape.kind };
        body.push(shape.kind === 'check' ? '<ul class="checklist">' : `<${list.tag}>`);
      }
      body.push(
        shape.kind === 'check'
          ? `<li${shape.checked ? ' class="done"' : ''}>${escapeHtml(shape.text)}</li>`
          : `<li>${escapeHtml(shape.text)}</li>`,
      );
      return;
    }
    closeList();
    body.push(htmlOf(shape, images));
  });
  closeList();
  const count = document.blocks.length;
  return [
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Tessera">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${title}</h1>
<p>Session ${escapeHtml(document.key)} &middot; ${count} block${count === 1 ? '' : 's'} &middot; exported <time datetime="${exportedAt.toISOString()}">${exportedAt.toUTCString()}</time></p>
</header>
<article>
`,
    ...joined(body, '\n'),
    `
</article>
<footer>Exported from Tessera. Last edited ${escapeHtml(new Date(document.updatedAt).toUTCString())}.</footer>
</main>
</body>
</html>
`,
  ];
}

function htmlOf(shape: BlockShape, images: ReadonlyMap<string, string>): string {
  switch (shape.kind) {
    case 'heading': {
      const level = Math.min(6, shape.level + 1);
      return `<h${level}>${escapeHtml(shape.text)}</h${level}>`;
    }
    case 'paragraph':
      return `<p>${escapeHtml(shape.text)}</p>`;
    case 'quote':
      return `<blockquote>${escapeHtml(shape.text)}</blockquote>`;
    case 'code':
      return `<pre><code${shape.language ? ` class="language-${escapeHtml(shape.language)}"` : ''}>${escapeHtml(shape.text)}</code></pre>`;
    case 'image': {
      const src = shape.artifactId ? images.get(shape.artifactId) : undefined;
      const alt = escapeHtml(shape.alt);
      return src
        ? `<figure><img src="${escapeHtml(src)}" alt="${alt}"><figcaption>${alt}</figcaption></figure>`
        : `<figure><figcaption>[image: ${alt}]</figcaption></figure>`;
    }
    case 'divider':
      return '<hr>';
    case 'other':
      return shape.text !== null ? `<p>${escapeHtml(shape.text)}</p>` : `<pre><code>${escapeHtml(shape.json)}</code></pre>`;
    case 'bullet':
    case 'numbered':
    case 'check':
      return `<p>${escapeHtml(shape.text)}</p>`;
  }
}
