import { isDeepStrictEqual } from 'node:util';

export interface BlockState {
  type: string;
  content: Record<string, unknown>;
}

export type MergeResult = { ok: true; merged: BlockState } | { ok: false; conflicting: string[] };

/** The top-level content keys (and `type`) whose value differs between two states. */
function changedFields(from: BlockState, to: { type?: string; content?: Record<string, unknown> }): Set<string> {
  const changed = new Set<string>();
  if (to.type !== undefined && to.type !== from.type) changed.add('type');
  if (to.content !== undefined) {
    for (const key of new Set([...Object.keys(from.content), ...Object.keys(to.content)])) {
      if (!isDeepStrictEqual(from.content[key], to.content[key])) changed.add(`content.${key}`);
    }
  }
  return changed;
}

/**
 * `?merge=fields`: a write based on `base` that touched only fields nobody else changed
 * since `base` is applied on top of `current`. A touched field is a top-level content
 * key (or `type`) whose value differs from `base`; removing a key touches it too.
 */
export function mergeFields(
  base: BlockState,
  current: BlockState,
  write: { type?: string; content?: Record<string, unknown> },
): MergeResult {
  const touched = changedFields(base, write);
  const theirs = changedFields(base, current);
  const conflicting = [...touched].filter((field) => theirs.has(field));
  if (conflicting.length > 0) return { ok: false, conflicting };
  const mine = new Set([...touched].filter((f) => f.startsWith('content.')).map((f) => f.slice('content.'.length)));
  const written = new Map(Object.entries(write.content ?? {}));
  // Built from entries, never by assignment, so a key like "__proto__" stays plain data. Keys
  // keep their place in `current` (taking the write's value, or going if it removed them); the
  // keys the write added follow in its order.
  const content = Object.fromEntries([
    ...Object.entries(current.content).flatMap(([key, value]): Array<[string, unknown]> => {
      if (!mine.has(key)) return [[key, value]];
      return written.has(key) ? [[key, written.get(key)]] : [];
    }),
    ...[...written].filter(([key]) => mine.has(key) && !Object.hasOwn(current.content, key)),
  ]);
  return { ok: true, merged: { type: touched.has('type') && write.type !== undefined ? write.type : current.type, content } };
}
