import { z } from 'zod';
import { AppError } from '../errors/app-error.js';

/** `?limit=` (1..100, default 50) and `?cursor=`, as every list route takes them. */
export const PageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: z.string().max(512).optional(),
  })
  .strict();
export type PageQuery = z.infer<typeof PageQuery>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A page from `limit + 1` fetched rows: the extra row only says whether there is a next page. */
export function toPage<R, T>(rows: R[], limit: number, view: (row: R) => T, cursorOf: (row: R) => string): Page<T> {
  const page = rows.slice(0, limit);
  return { items: page.map(view), nextCursor: rows.length > limit ? cursorOf(page[page.length - 1]) : null };
}

/** Position in a newest-first list: the last item's (createdAt, id). */
export interface ListCursor {
  createdAt: Date;
  id: string;
}

/** Four-digit-year ISO timestamps only, so a cursor can never name a date PostgreSQL rejects. */
const cursorShape = z.tuple([z.iso.datetime(), z.uuid()]);

/** Opaque to clients: base64url of the last item's (createdAt, id). */
export function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt.toISOString(), c.id])).toString('base64url');
}

export function decodeCursor(raw: string): ListCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('INVALID_CURSOR');
  }
  const result = cursorShape.safeParse(parsed);
  if (!result.success) throw new AppError('INVALID_CURSOR');
  return { createdAt: new Date(result.data[0]), id: result.data[1] };
}

/** Prisma `where` for the rows after `after` in (createdAt desc, id desc) order. */
export const olderThan = (after?: ListCursor) =>
  after && { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] };
