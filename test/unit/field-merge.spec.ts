import { describe, expect, it } from '@jest/globals';
import { mergeFields } from '../../src/blocks/field-merge.js';

const state = (content: Record<string, unknown>, type = 'text') => ({ type, content });

describe('mergeFields', () => {
  it('applies the fields a stale write touched on top of the current content', () => {
    const result = mergeFields(state({ a: 1, b: 1 }), state({ a: 2, b: 1 }), { content: { a: 1, b: 2 } });
    expect(result).toEqual({ ok: true, merged: state({ a: 2, b: 2 }) });
  });

  it('treats a removed or added key as touched', () => {
    expect(mergeFields(state({ a: 1, b: 1 }), state({ a: 2, b: 1 }), { content: { a: 1 } })).toEqual({ ok: true, merged: state({ a: 2 }) });
    expect(mergeFields(state({ a: 1 }), state({ a: 2 }), { content: { a: 1, c: 3 } })).toEqual({ ok: true, merged: state({ a: 2, c: 3 }) });
  });

  it('refuses when both sides changed one field, even to equal values elsewhere', () => {
    expect(mergeFields(state({ a: 1 }), state({ a: 2 }), { content: { a: 3 } })).toEqual({ ok: false, conflicting: ['content.a'] });
    expect(mergeFields(state({}), state({}, 'heading'), { type: 'code' })).toEqual({ ok: false, conflicting: ['type'] });
  });

  it('keeps the current key order: touched keys stay in place, added keys follow in the order written', () => {
    const base = state({ zeta: 1, alpha: 1, mid: 1, gone: 1 });
    const current = state({ zeta: 2, alpha: 1, mid: 1, gone: 1, theirs: 1 });
    const result = mergeFields(base, current, { content: { mid: 1, late: 1, zeta: 1, early: 1, alpha: 2 } });
    expect(result.ok && JSON.stringify(result.merged.content)).toBe('{"zeta":2,"alpha":2,"mid":1,"theirs":1,"late":1,"early":1}');
  });

  it('compares nested values deeply and keeps "__proto__" as plain data', () => {
    const base = state({ list: [1, 2], meta: { x: 1 } });
    expect(mergeFields(base, state({ list: [1, 2], meta: { x: 2 } }), { content: { list: [1, 2, 3], meta: { x: 1 } } })).toEqual({
      ok: true,
      merged: state({ list: [1, 2, 3], meta: { x: 2 } }),
    });
    const hostile = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const result = mergeFields(state({}), state({}), { content: hostile });
    expect(result.ok && Object.getPrototypeOf(result.merged.content)).toBe(Object.prototype);
    expect(result.ok && Object.keys(result.merged.content)).toEqual(['__proto__']);
  });
});
