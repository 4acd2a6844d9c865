import { z } from 'zod';

/** A seq as a query parameter: digits only (an empty or signed value is a 400, not 0). */
const seq = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a whole number from 0')
  .transform(Number);

/** GET /api/sessions/:key takes `atSeq`; other parameters are ignored, as they always were. */
export const GetSessionQuery = z.object({ atSeq: seq.optional() });
export type GetSessionQuery = z.infer<typeof GetSessionQuery>;

export const DiffQuery = z
  .object({ from: seq, to: seq })
  .strict()
  .refine((q) => q.from <= q.to, { path: ['to'], message: 'must not be below from' });
export type DiffQuery = z.infer<typeof DiffQuery>;
