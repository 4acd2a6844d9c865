import { AppError } from '../errors/app-error.js';
import { z } from 'zod';

export const ChangesQuery = z
  .object({
    since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(1000),
  })
  .strict();
export type ChangesQuery = z.infer<typeof ChangesQuery>;

/** `since` of the change feed (absent: from the session's current seq). */
export const ChangeFeedQuery = z.object({ since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }).strict();
export type ChangeFeedQuery = z.infer<typeof ChangeFeedQuery>;

/**
 * Where a feed starts: the `Last-Event-ID` a reconnecting EventSource sends (the seq of the
 * last change it received) over the `since` of the URL it reopens.
 */
export function feedStart(since: number | undefined, lastEventId: string | undefined): number | undefined {
  if (lastEventId === undefined || lastEventId.trim() === '') return since;
  const seq = /^\s*(\d{1,16})\s*$/.exec(lastEventId);
  if (!seq || !Number.isSafeInteger(Number(seq[1]))) {
    throw AppError.validation([{ field: 'Last-Event-ID', message: 'must be the seq of the last change received' }]);
  }
  return Number(seq[1]);
}
