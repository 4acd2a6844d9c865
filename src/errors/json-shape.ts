import type { FieldError } from './app-error.js';

export const MAX_JSON_DEPTH = 32;

/**
 * Rejects what JSON.parse accepts but PostgreSQL's jsonb or Tessera will not store: deep
 * nesting, NUL, lone surrogates, infinities, and the prototype-poisoning keys (`__proto__`,
 * `constructor.prototype`) that HTTP bodies are refused for by the JSON parser. A socket
 * payload may also carry binary attachments, which JSON cannot: they are refused too, before
 * their bytes are walked, rather than stored as `{type: "Buffer", data: [...]}`.
 */
export function checkJsonShape(value: unknown): FieldError | null {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 1, path: '' }];
  while (stack.length) {
    const { value: v, depth, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { field: path || '(body)', message: 'strings must not contain NUL characters' };
      if (!v.isWellFormed()) return { field: path || '(body)', message: 'strings must be well-formed Unicode (no lone surrogates)' };
      continue;
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { field: path || '(body)', message: 'numbers must be finite' };
    if (v === null || typeof v !== 'object') continue;
    const prototype: unknown = Object.getPrototypeOf(v);
    if (!Array.isArray(v) && prototype !== Object.prototype && prototype !== null) {
      return { field: path || '(body)', message: 'must be JSON: binary data is not accepted' };
    }
    if (depth > MAX_JSON_DEPTH) return { field: path || '(body)', message: `JSON nested deeper than ${MAX_JSON_DEPTH} levels` };
    for (const [key, child] of Object.entries(v)) {
      if (key.includes('\u0000') || !key.isWellFormed()) {
        return { field: path || '(body)', message: 'keys must be well-formed Unicode without NUL characters' };
      }
      if (key === '__proto__' || (key === 'constructor' && child !== null && typeof child === 'object' && 'prototype' in child)) {
        return { field: path ? `${path}.${key}` : key, message: 'prototype keys (__proto__, constructor.prototype) are not accepted' };
      }
      stack.push({ value: child, depth: depth + 1, path: path ? `${path}.${key}` : key });
    }
  }
  return null;
}
