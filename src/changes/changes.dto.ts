import { z } from 'zod';

export const ChangesQuery = z
  .object({
    since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(1000),
  })
  .strict();
export type ChangesQuery = z.infer<typeof ChangesQuery>;
