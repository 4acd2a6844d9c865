import { Injectable } from '@nestjs/common';
import { AuthService } from '../auth/auth.service.js';
import { actorOf, type Principal } from '../common/principal.js';
import { BlocksService, type BlockOp } from '../blocks/blocks.service.js';
import { DocumentReader, type DocumentText, type SessionRef } from '../sessions/document.reader.js';
import { decodeCursor, encodeCursor, toPage, type Page } from '../common/pagination.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { SNAPSHOT_RETENTION_DAYS, SnapshotsRepository, type RestoreBlock, type SnapshotRow } from './snapshots.repository.js';
import type { Actor } from '../contract/actor.js';
import { SessionAccess } from '../sessions/session-access.service.js';
import { checkAccess } from '../sessions/session-access.js';

export interface SnapshotView {
  id: string;
  seq: number;
  label: string | null;
  automatic: boolean;
  createdBy: Actor;
  createdAt: string;
}

const view = (s: SnapshotRow): SnapshotView => ({
  id: s.id,
  seq: Number(s.seq),
  label: s.label,
  automatic: s.automatic,
  createdBy: s.createdBy as unknown as Actor,
  createdAt: s.createdAt.toISOString(),
});

interface RestoreStep {
  delta: number;
  ops: BlockOp[];
  /** The session's own fields (title, state), saved between the block ops in `delta` order. */
  fields?: { title: string; state: Record<string, unknown> };
}

/** The ops that bring one block back to the snapshot's, with about how many bytes they add. An update takes the version one up, so the move after it names that. */
function blockStep(block: RestoreBlock): RestoreStep {
  const { id, version, type, content, position } = block;
  if (type === null || position === null) return { delta: block.delta, ops: [{ op: 'delete', id, version: version! }] };
  if (version === null) return { delta: block.delta, ops: [{ op: 'create', id, type, content: content!, position }] };
  const ops: BlockOp[] = [];
  let at = version;
  if (block.rewrite) ops.push({ op: 'update', id, version: at++, type, content: content! });
  if (block.currentPosition !== position) ops.push({ op: 'move', id, version: at, position });
  return { delta: block.delta, ops };
}

const SYSTEM: Actor = { userId: null, displayName: 'Tessera' };

@Injectable()
export class SnapshotsService {
  constructor(
    private readonly snapshots: SnapshotsRepository,
    private readonly reader: DocumentReader,
    private readonly access: SessionAccess,
    private readonly blocks: BlocksService,
    private readonly sessions: SessionsService,
    private readonly auth: AuthService,
    private readonly tx: TransactionHost,
  ) {}

  /**
   * The cached check answers most refusals without a lock; the decision that counts is made
   * again on the locked row, so a removal or a visibility change committed after the cache
   * was filled stops the snapshot (a separate statement from the insert, which then reads
   * the session as of the lock: a statement that waited for a lock keeps its older view).
   */
  async create(principal: Principal, key: string, label: string | undefined): Promise<SnapshotView> {
    const ref = await this.access.require(principal, key, 'write');
    const snapshot = await this.tx.run(async () => {
      checkAccess(await this.snapshots.lockGuarded(ref.id), principal, 'write');
      return this.snapshots.create(ref.id, { label: label ?? null, automatic: false, actor: actorOf(principal) });
    });
    await this.snapshots.pruneSession(ref.id, await this.retentionDays(ref));
    return view(snapshot);
  }

  /** Taken before a generation job writes into a session, so its output can be undone. */
  async takeAutomatic(key: string, label: string): Promise<SnapshotView> {
    const ref = await this.reader.find(key);
    if (!ref) throw new AppError('SESSION_NOT_FOUND');
    return this.take(ref, { label, automatic: true, actor: SYSTEM });
  }

  /** Every session's snapshots past its owner's plan retention (the hourly sweep). */
  sweepExpired(): Promise<number> {
    return this.snapshots.pruneExpired();
  }

  async list(principal: Principal, key: string, limit: number, cursor?: string): Promise<Page<SnapshotView>> {
    const ref = await this.access.require(principal, key, 'read');
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.snapshots.list(ref.id, await this.retentionDays(ref), limit + 1, after);
    return toPage(rows, limit, view, encodeCursor);
  }

  /**
   * Brings the session back to the snapshot with ordinary versioned writes in one
   * transaction (each a change collaborators receive); history is never rewritten. The
   * database compares the snapshot with the session, so only what differs is read. The
   * writes that shrink the session go first, so a restore that ends within the size budget
   * never passes it on the way. Answers the restored document as JSON text.
   */
  async restore(principal: Principal, key: string, id: string): Promise<DocumentText> {
    const ref = await this.access.require(principal, key, 'write');
    if (!(await this.snapshots.find(ref.id, id, await this.retentionDays(ref)))) throw new AppError('SNAPSHOT_NOT_FOUND');
    await this.tx.run(async () => {
      // Blocks pass through each other's positions on the way back; uniqueness is checked at commit.
      const current = await this.reader.lockForRestore(key);
      if (current.id !== ref.id) throw new AppError('SESSION_NOT_FOUND');
      const steps: RestoreStep[] = (await this.snapshots.restoreBlocks(current.id, id)).map(blockStep);
      const fields = await this.snapshots.restoreFields(current.id, id);
      if (fields) steps.push({ delta: fields.delta, ops: [], fields: { title: fields.title, state: fields.state } });
      steps.sort((a, b) => a.delta - b.delta);
      for (const step of steps) {
        if (step.fields) await this.sessions.save(principal, key, current.head.version, step.fields);
        else await this.blocks.rewrite(principal, key, step.ops);
      }
    });
    return this.reader.document(principal, key);
  }

  private async take(ref: SessionRef, input: { label: string | null; automatic: boolean; actor: Actor }): Promise<SnapshotView> {
    const snapshot = await this.snapshots.create(ref.id, input);
    await this.snapshots.pruneSession(ref.id, await this.retentionDays(ref));
    return view(snapshot);
  }

  private async retentionDays(ref: SessionRef): Promise<number> {
    const owner = ref.head.ownerId ? await this.auth.profile(ref.head.ownerId) : null;
    return SNAPSHOT_RETENTION_DAYS[owner?.plan ?? 'FREE'];
  }
}
