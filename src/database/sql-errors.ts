interface AdapterCause {
  kind?: string;
  originalCode?: string;
  originalMessage?: string;
  constraint?: { index?: string; fields?: string[] };
}

/**
 * The unique index or fields a failed statement collided with (Prisma's pg adapter
 * reports them on `meta.driverAdapterError.cause`), or null for any other error.
 */
export function uniqueViolation(error: unknown): string | null {
  const cause = (error as { meta?: { driverAdapterError?: { cause?: AdapterCause } } } | null)?.meta?.driverAdapterError?.cause;
  if (!cause || (cause.kind !== 'UniqueConstraintViolation' && cause.originalCode !== '23505')) return null;
  return cause.constraint?.index ?? cause.constraint?.fields?.join(',') ?? cause.originalMessage ?? 'unknown';
}

/**
 * The constraint (or fields) of a statement that referenced a row that does not exist, or no
 * longer does (SQLSTATE 23503), or null for any other error.
 */
export function foreignKeyViolation(error: unknown): string | null {
  const cause = (error as { meta?: { driverAdapterError?: { cause?: AdapterCause } } } | null)?.meta?.driverAdapterError?.cause;
  if (!cause || (cause.kind !== 'ForeignKeyConstraintViolation' && cause.originalCode !== '23503')) return null;
  return cause.constraint?.index ?? cause.constraint?.fields?.join(',') ?? cause.originalMessage ?? 'unknown';
}
