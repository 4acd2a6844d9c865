import { z } from 'zod';
import { AppError } from '../errors/app-error.js';
import type { ListCursor } from './sessions.repository.js';

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
