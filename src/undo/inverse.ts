import type { RewriteOp } from '../blocks/blocks.service.js';
import type { SaveSessionBody } from '../sessions/dto/session.dto.js';
import { AppError } from '../errors/app-error.js';

/** A change of the step being inverted, with what it overwrote. */
export interface StepChange {
  seq: number;
  kind: string;
  payload: Record<string, unknown>;
  prior: Record<string, unknown> | null;
}

/**
 * What the inverted writes are based on, read in the undo's transaction: the versions now of
 * the blocks and the session, and which of them another actor changed after the step. Every
 * change the caller made after the step was undone since (the step is the top of their undo
 * stack), so without another actor's change each is as the step left it, at a later version.
 */
export interface InverseBase {
  versions: Map<string, number>;
  sessionVersion: number;
  /** Blocks another actor changed after the step (their writes are then based on the step's versions, and refused). */
  touched: Set<string>;
  sessionTouched: boolean;
}

/** One write of an inversion: a block op, or a save of the session's own fields based on `version`. */
export type InverseWrite =
  { target: 'block'; op: RewriteOp } | { target: 'session'; version: number; body: SaveSessionBody; undoOf: number };

/** The session fields an undo brings back, when the save wrote them. Metadata is merged, never replaced: see below. */
const SESSION_FIELDS = ['title', 'state', 'themeId', 'visibility'] as const;

/**
 * The writes that invert a step, newest change first, each based on the version the block has
 * now (see InverseBase), or the one the inverse write before it left: a create is deleted, a delete re-created as it was (id,
 * type, content, position and version), an update takes back the type and content it overwrote, a move
 * goes back to its old position, and a save takes back the title, state, theme and
 * visibility it wrote, and the previous values of the metadata keys it changed that existed
 * before (a save merges metadata, so a key it added stays). Any write finding another
 * version makes the whole inversion a conflict.
 */
export function inverseOf(changes: StepChange[], base: InverseBase): InverseWrite[] {
  const versions = new Map<string, number>();
  let sessionVersion: number | null = base.sessionTouched ? null : base.sessionVersion;
  const writes: InverseWrite[] = [];
  for (const change of [...changes].sort((x, y) => y.seq - x.seq)) {
    const { payload, prior, seq: undoOf } = change;
    if (change.kind === 'session.updated') {
      if (!prior) throw tooOld(undoOf);
      const version: number = sessionVersion ?? (payload.version as number);
      writes.push({ target: 'session', version, body: sessionBody(payload, prior), undoOf });
      sessionVersion = version + 1;
      continue;
    }
    const id = payload.id as string;
    const version = versions.get(id) ?? (base.touched.has(id) ? undefined : base.versions.get(id)) ?? (payload.version as number);
    switch (change.kind) {
      case 'block.created':
        writes.push({ target: 'block', op: { op: 'delete', id, version, undoOf } });
        versions.set(id, version);
        break;
      case 'block.deleted': {
        const { type, content, position } = payload as { type: string; content: Record<string, unknown>; position: string };
        writes.push({ target: 'block', op: { op: 'create', id, type, content, position, version, undoOf } });
        versions.set(id, version);
        break;
      }
      case 'block.updated': {
        if (!prior) throw tooOld(undoOf);
        const { type, content } = prior as { type: string; content: Record<string, unknown> };
        writes.push({ target: 'block', op: { op: 'update', id, version, type, content, undoOf } });
        versions.set(id, version + 1);
        break;
      }
      case 'block.moved':
        if (!prior) throw tooOld(undoOf);
        writes.push({ target: 'block', op: { op: 'move', id, version, position: prior.position as string, undoOf } });
        versions.set(id, version + 1);
        break;
    }
  }
  return writes;
}

function sessionBody(payload: Record<string, unknown>, prior: Record<string, unknown>): SaveSessionBody {
  const body: Record<string, unknown> = {};
  for (const field of SESSION_FIELDS) if (payload[field] !== undefined && prior[field] !== undefined) body[field] = prior[field];
  const before = (prior.metadata ?? {}) as Record<string, unknown>;
  const metadata: Record<string, unknown> = {};
  for (const key of Object.keys(payload.metadata ?? {})) {
    if (key !== 'created' && key !== 'lastModified' && key in before) metadata[key] = before[key];
  }
  if (Object.keys(metadata).length > 0) body.metadata = metadata;
  return body;
}

const tooOld = (seq: number) =>
  new AppError('CHANGES_EXPIRED', `Change ${seq} was written before changes kept what they overwrote; it cannot be inverted.`);
