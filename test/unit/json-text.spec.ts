import { describe, expect, it } from '@jest/globals';
import { inSlices } from '../../src/common/json-text.js';

const collect = async (parts: string[]) => {
  const slices: Buffer[] = [];
  for await (const slice of inSlices(parts)) slices.push(slice);
  return slices;
};

describe('inSlices', () => {
  it('gives back the parts, one after the other, as UTF-8 in slices of about 64 Ki characters', async () => {
    const parts = ['{"a" : [', 'x'.repeat(200_000), ', ', ...Array.from({ length: 3000 }, (_, i) => `{"n" : ${i}}, `), '"é"]}'];
    const slices = await collect(parts);
    expect(Buffer.concat(slices).toString()).toBe(parts.join(''));
    expect(slices.length).toBeGreaterThan(3);
    for (const slice of slices.slice(0, -1)) expect(slice.length).toBeGreaterThanOrEqual(64 * 1024 - 1);
  });

  it('never cuts between the two halves of a surrogate pair', async () => {
    for (const offset of [0, 1, 2]) {
      const text = `${'a'.repeat(64 * 1024 - 1 - offset)}${'😀'.repeat(40_000)}`;
      const slices = await collect(['[', text, ']']);
      for (const slice of slices) expect(slice.toString()).not.toContain('\ufffd');
      expect(Buffer.concat(slices).toString()).toBe(`[${text}]`);
    }
  });

  it('gives nothing for nothing', async () => {
    expect(await collect([])).toEqual([]);
    expect(await collect(['', ''])).toEqual([]);
  });
});
