import { Prisma } from '../generated/prisma/client.js';
import { isoTime } from '../database/sql-json.js';
import type { Actor } from '../contract/actor.js';
import type { BlockView } from '../contract/block.js';

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

/**
 * A `blocks` row (aliased `alias`) as a `BlockRecord` JSON object, for RETURNING and the change
 * log: a json object, so the content goes in as written, key order included.
 */
export const blockJson = (alias: string) =>
  Prisma.raw(
    `json_build_object('id', ${alias}.id, 'type', ${alias}.type, 'content', ${alias}.content, 'position', ${alias}.position,
      'version', ${alias}.version, 'createdAt', ${alias}.created_at, 'updatedAt', ${alias}.updated_at, 'updatedBy', ${alias}.updated_by)`,
  );

/**
 * A `blocks` row (aliased `alias`) as the API shows it, a json object in `BlockView`'s field
 * order: PostgreSQL writes the reply's text, nothing parses and re-serializes it on the way.
 * `sessionKey` is the SQL expression of the session's key.
 */
export const blockViewJson = (alias: string, sessionKey: string) =>
  Prisma.raw(
    `json_build_object('id', ${alias}.id, 'sessionKey', ${sessionKey}, 'type', ${alias}.type, 'content', ${alias}.content,
      'position', ${alias}.position, 'version', ${alias}.version, 'createdAt', ${isoTime(`${alias}.created_at`)},
      'updatedAt', ${isoTime(`${alias}.updated_at`)}, 'updatedBy', ${alias}.updated_by)`,
  );
