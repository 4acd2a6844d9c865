import { AppError } from '../errors/app-error.js';
import type { ListCursor } from './sessions.repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Opaque to clients: base64url of the last item's (createdAt, id). */
export function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt.toISOString(), c.id])).toString('base64url');
}

export function decodeCursor(raw: string): ListCursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === 'string' &&
      typeof parsed[1] === 'string' &&
      UUID.test(parsed[1])
    ) {
      const createdAt = new Date(parsed[0]);
      const year = createdAt.getUTCFullYear();
      if (!Number.isNaN(createdAt.getTime()) && year >= 2000 && year <= 9999) return { createdAt, id: parsed[1] };
    }
  } catch {
    // fall through
  }
  throw new AppError('INVALID_CURSOR');
}
