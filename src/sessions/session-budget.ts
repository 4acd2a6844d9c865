import { Prisma } from '../generated/prisma/client.js';
import { AppError } from '../errors/app-error.js';

/**
 * One measure of size for every budget: the bytes of a JSON value's text as stored
 * (`octet_length(value::text)`; a json value's text is the text written), and the bytes
 * of the title. A session's `stored_bytes` is its title, state, metadata and every block's
 * content, measured so, and each write adds its delta to it in the statement that writes.
 */
export const jsonBytes = (value: Prisma.Sql) => Prisma.sql`octet_length((${value})::text)::bigint`;

/** The limits a write is held to. */
export interface SessionBudget {
  maxBytes: number;
  maxMetadataBytes: number;
}

/**
 * The SQL condition a write that changes the size by `delta` must meet: it fits, or it
 * does not grow the session (so a session over a lowered budget can still shrink).
 */
export const fitsBudget = (storedBytes: Prisma.Sql, delta: Prisma.Sql, maxBytes: number) =>
  Prisma.sql`((${delta}) <= 0 OR (${storedBytes}) + (${delta}) <= ${maxBytes})`;

export function sessionTooLarge(storedBytes: number, delta: number, maxBytes: number): AppError {
  return new AppError(
    'SESSION_TOO_LARGE',
    `The session stores ${storedBytes} bytes; this write adds ${delta}, past the budget of ${maxBytes}.`,
    { storedBytes, maxBytes },
  );
}

export function metadataTooLarge(bytes: number, maxBytes: number): AppError {
  return new AppError('METADATA_TOO_LARGE', `The merged metadata would be ${bytes} bytes; at most ${maxBytes} are allowed.`, {
    maxBytes,
  });
}
