import { createHash } from 'node:crypto';

const STOPWORDS = new Set(
  `a an and are as at be by for from has have how i in into is it its of on or our that the their this to was we what when
   where which who why will with you your about after before can could should would do does make write create give me my us
   please some more most than then there these those them they over under using use via`.split(/\s+/),
);

/** The prompt's meaningful words, in order, without repeats: what the local providers build from. */
export function keywords(prompt: string, max = 8): string[] {
  const seen = new Set<string>();
  const words: string[] = [];
  for (const raw of prompt.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? []) {
    const word = raw.replace(/'s$/, '');
    if (word.length < 3 || STOPWORDS.has(word) || seen.has(word)) continue;
    seen.add(word);
    words.push(word);
    if (words.length === max) break;
  }
  return words;
}

export const capitalise = (text: string) => (text ? text[0].toUpperCase() + text.slice(1) : text);

/** A phrase of up to `n` keywords, or the fallback when the prompt has none. */
export const phrase = (words: string[], n: number, fallback: string) => (words.length ? words.slice(0, n).join(' ') : fallback);

/** Deterministic bytes from a prompt: the same prompt always draws the same choices. */
export function promptBytes(prompt: string): Buffer {
  return createHash('sha256').update(prompt.trim().toLowerCase()).digest();
}

/** The prompt on one line, at most `max` characters. */
export function oneLine(prompt: string, max = 120): string {
  const line = prompt.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1).trimEnd()}…` : line;
}
