import { randomInt } from 'node:crypto';
import { generateKeyBetween } from 'fractional-indexing';

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const JITTER_DIGITS = 4;

/** Random base-62 digits that never end in "0" (a fractional key may not end in its zero digit). */
function jitter(): string {
  let out = '';
  for (let i = 0; i < JITTER_DIGITS - 1; i++) out += DIGITS[randomInt(DIGITS.length)];
  return out + DIGITS[randomInt(1, DIGITS.length)];
}

/**
 * A fractional index strictly between `before` and `after` (either may be null: the
 * ends). The midpoint alone is deterministic, so two clients inserting at one spot at
 * once would get the same key; a random suffix makes concurrent inserts distinct without
 * touching any sibling (and the unique index catches the one-in-millions tie).
 */
export function positionBetween(before: string | null, after: string | null): string {
  let key = generateKeyBetween(before, after);
  for (;;) {
    const candidate = key + jitter();
    if (after === null || candidate < after) return candidate;
    // `key` is a prefix of `after`: go halfway again until a suffix fits below it.
    key = generateKeyBetween(key, after);
  }
}
