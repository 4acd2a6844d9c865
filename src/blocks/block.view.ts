import { Prisma } from '../generated/prisma/client.js';
import type { Actor } from '../auth/principal.js';

/** A block as the API shows it. */
export interface BlockView {
  id: string;
  sessionKey: string;
  type: string;
  content: Record<string, unknown>;
  position: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  updatedBy: Actor;
}

/** A stored block, from a Prisma row (Date timestamps) or from `BLOCK_JSON` (ISO strings). */
export interface BlockRecord {
  id: string;
  type: string;
  content: unknown;
  position: string;
  version: number;
  createdAt: Date | string;
  updatedAt: Date | string;
  updatedBy: unknown;
}

export function toBlockView(record: BlockRecord, sessionKey: string): BlockView {
  return {
    id: record.id,
    sessionKey,
    type: record.type,
    content: record.content as Record<string, unknown>,
    position: record.position,
    version: record.version,
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
    updatedBy: record.updatedBy as Actor,
  };
}

/** A `blocks` row (aliased `alias`) as a `BlockRecord` JSON object, for RETURNING and the change log. */
export const blockJson = (alias: string) =>
  Prisma.raw(
    `jsonb_build_object('id', ${alias}.id, 'type', ${alias}.type, 'content', ${alias}.content, 'position', ${alias}.position,
      'version', ${alias}.version, 'createdAt', ${alias}.created_at, 'updatedAt', ${alias}.updated_at, 'updatedBy', ${alias}.updated_by)`,
  );
