import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { positionBetween } from '../../src/blocks/block-position.js';

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('positionBetween', () => {
  it('always falls strictly between its neighbours, however often one spot is split', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), (sides) => {
        let low: string | null = null;
        let high: string | null = null;
        for (const goLeft of sides) {
          const p = positionBetween(low, high);
          if (low !== null) expect(byteOrder(low, p)).toBe(-1);
          if (high !== null) expect(byteOrder(p, high)).toBe(-1);
          if (goLeft) high = p;
          else low = p;
        }
      }),
    );
  });

  it('gives concurrent inserts at one spot distinct positions, but for a rare tie', () => {
    // 4 random base-62 digits: 1,000 draws tie about once in 30 runs (the unique index catches
    // it and the insert draws again); more than 3 ties would mean the suffix is not random.
    const positions = Array.from({ length: 1000 }, () => positionBetween('a0', 'a1'));
    expect(new Set(positions).size).toBeGreaterThanOrEqual(997);
  });

  it('keeps appended positions short', () => {
    let last: string | null = null;
    for (let i = 0; i < 1000; i++) last = positionBetween(last, null);
    expect(last!.length).toBeLessThanOrEqual(8);
  });
});
