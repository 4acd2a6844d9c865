import { createHash } from 'node:crypto';
import { z } from 'zod';

/** A path id that must be a UUID (else 400 VALIDATION_FAILED). */
export const UuidParam = z.uuid({ message: 'must be a UUID' });

/**
 * A UUID derived from its parts (SHA-256, version 8: "custom"): the same parts always give
 * the same id, which is how retried work finds what it already wrote. It looks, validates
 * and spreads like a random UUID; it is not sequential.
 */
export function derivedUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32).split('');
  h[12] = '8';
  h[16] = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}
