import { describe, expect, it } from '@jest/globals';
import { chooseKeyLength, generateSessionKey, KEY_ALPHABET, keySpace } from '../../src/sessions/session-key.js';
import { isValidSessionKey } from '../../src/common/session-key-format.js';

describe('session keys', () => {
  it('are drawn from [A-Z0-9] at the requested length', () => {
    for (const length of [3, 4, 7, 12]) {
      const key = generateSessionKey(length);
      expect(key).toMatch(new RegExp(`^[A-Z0-9]{${length}}$`));
    }
  });

  it('use every symbol of the alphabet roughly evenly', () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) for (const c of generateSessionKey(3)) seen.set(c, (seen.get(c) ?? 0) + 1);
    expect(seen.size).toBe(KEY_ALPHABET.length);
    const expected = 60_000 / KEY_ALPHABET.length;
    for (const count of seen.values()) expect(Math.abs(count - expected) / expected).toBeLessThan(0.15);
  });

  it('validate the accepted input format, case-sensitively', () => {
    expect(isValidSessionKey('ABC')).toBe(true);
    expect(isValidSessionKey('A1B2C3D4E5F6')).toBe(true);
    for (const bad of ['AB', 'abc', 'AB-', 'A1B2C3D4E5F6G', '', ' ABC', 'ÄBC', 42, null]) expect(isValidSessionKey(bad)).toBe(false);
  });

  it('grow one character once the live keys of a length pass the fill ratio', () => {
    expect(keySpace(3)).toBe(46_656);
    const threshold = 0.25 * keySpace(3);
    expect(chooseKeyLength(new Map(), 3, 0.25)).toBe(3);
    expect(chooseKeyLength(new Map([[3, threshold - 1]]), 3, 0.25)).toBe(3);
    expect(chooseKeyLength(new Map([[3, threshold]]), 3, 0.25)).toBe(4);
    expect(
      chooseKeyLength(
        new Map([
          [3, threshold],
          [4, 0.25 * keySpace(4)],
        ]),
        3,
        0.25,
      ),
    ).toBe(5);
    expect(chooseKeyLength(new Map([[5, 10]]), 5, 0.0001)).toBe(5);
  });
});
