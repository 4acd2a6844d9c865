import type { BlockView } from '../contract/block.js';

/**
 * How renderers read a block's content. Blocks are typed freely by the editor; these are
 * the conventions exports understand, and anything else falls back to its `text` (or its
 * JSON): `heading {text, level}`, `text`/`paragraph {text}`, `list-item`/`bullet {text}`,
 * `numbered {text}`, `checklist-item {text, checked}`, `quote {text}`, `code {code|text,
 * language}`, `image {artifactId, alt}`, `divider`.
 */
export type BlockShape =
  | { kind: 'heading'; text: string; level: number }
  | { kind: 'paragraph'; text: string }
  | { kind: 'bullet'; text: string }
  | { kind: 'numbered'; text: string }
  | { kind: 'check'; text: string; checked: boolean }
  | { kind: 'quote'; text: string }
  | { kind: 'code'; text: string; language: string }
  | { kind: 'image'; artifactId: string | null; alt: string }
  | { kind: 'divider' }
  | { kind: 'other'; type: string; text: string | null; json: string };

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

export function shapeOf(block: Pick<BlockView, 'type' | 'content'>): BlockShape {
  const c = block.content;
  const text = str(c.text) ?? str(c.title) ?? '';
  switch (block.type) {
    case 'heading': {
      const level = typeof c.level === 'number' && Number.isInteger(c.level) ? Math.min(6, Math.max(1, c.level)) : 2;
      return { kind: 'heading', text, level };
    }
    case 'text':
    case 'paragraph':
      return { kind: 'paragraph', text };
    case 'list-item':
    case 'bullet':
      return { kind: 'bullet', text };
    case 'numbered':
      return { kind: 'numbered', text };
    case 'checklist-item':
    case 'todo':
      return { kind: 'check', text, checked: c.checked === true };
    case 'quote':
      return { kind: 'quote', text };
    case 'code':
      return { kind: 'code', text: str(c.code) ?? text, language: str(c.language)?.replace(/[^\w+-]/g, '') ?? '' };
    case 'image':
      return { kind: 'image', artifactId: str(c.artifactId), alt: str(c.alt) ?? str(c.prompt) ?? 'image' };
    case 'divider':
      return { kind: 'divider' };
    default:
      return { kind: 'other', type: block.type, text: str(c.text) ?? str(c.title), json: JSON.stringify(c, null, 2) };
  }
}
