import { randomInt } from 'node:crypto';

export const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const MAX_KEY_LENGTH = 12;
/** How many distinct keys of this length exist (36^length). */
export function keySpace(length: number): number {
  return KEY_ALPHABET.length ** length;
}

/** A key of `length` characters, each drawn uniformly by a CSPRNG. */
export function generateSessionKey(length: number, pick: (max: number) => number = randomInt): string {
  let key = '';
  for (let i = 0; i < length; i++) key += KEY_ALPHABET[pick(KEY_ALPHABET.length)];
  return key;
}

/**
 * The shortest length, from `baseLength` up, whose live keys are still below
 * `maxFill` of its space. Past that fill, random picks collide too often, so keys grow.
 */
export function chooseKeyLength(liveByLength: ReadonlyMap<number, number>, baseLength: number, maxFill: number): number {
  let length = baseLength;
  while (length < MAX_KEY_LENGTH && (liveByLength.get(length) ?? 0) >= maxFill * keySpace(length)) length++;
  return length;
}
