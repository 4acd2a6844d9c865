import type { Session } from '../generated/prisma/client.js';

/** A session as the API shows it. */
export interface SessionView {
  key: string;
  typeSlug: string;
  title: string;
  themeId: string | null;
  ownerId: string | null;
  visibility: string;
  version: number;
  seq: number;
  metadata: Record<string, unknown>;
  state: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  blocks?: unknown[];
}

export function toSessionView(row: Session): SessionView {
  return {
    key: row.key,
    typeSlug: row.typeSlug,
    title: row.title,
    themeId: row.themeId,
    ownerId: row.ownerId,
    visibility: row.visibility,
    version: row.version,
    seq: Number(row.seq),
    metadata: row.metadata as Record<string, unknown>,
    state: row.state as Record<string, unknown>,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
