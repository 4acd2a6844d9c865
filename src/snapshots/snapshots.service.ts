import { Injectable } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import { AuthService } from '../auth/auth.service.js';
import { actorOf, type Actor, type Principal } from '../auth/principal.js';
import { BlockWriter, writeContext, type WriteContext } from '../blocks/block-writer.js';
import { DocumentReader, type DocumentView, type SessionRef } from '../blocks/document.reader.js';
import { decodeCursor, encodeCursor, toPage, type Page } from '../common/pagination.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import type { Snapshot } from '../generated/prisma/client.js';
import { canWrite } from '../sessions/session-access.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { SNAPSHOT_RETENTION_DAYS, SnapshotsRepository, type SnapshotBlock } from './snapshots.repository.js';

export interface SnapshotView {
  id: string;
  seq: number;
  label: string | null;
  automatic: boolean;
  createdBy: Actor;
  createdAt: string;
}

const view = (s: Snapshot): SnapshotView => ({
  id: s.id,
  seq: Number(s.seq),
  label: s.label,
  automatic: s.automatic,
  createdBy: s.createdBy as unknown as Actor,
  createdAt: s.createdAt.toISOString(),
});

const SYSTEM: Actor = { userId: null, displayName: 'Tessera' };

@Injectable()
export class SnapshotsService {
  constructor(
    private readonly snapshots: SnapshotsRepository,
    private readonly reader: DocumentReader,
    private readonly writer: BlockWriter,
    private readonly sessions: SessionsService,
    private readonly auth: AuthService,
    private readonly tx: TransactionHost,
  ) {}

  async create(principal: Principal, key: string, label: string | undefined): Promise<SnapshotView> {
    const ref = await this.writable(principal, key);
    return this.take(ref, { label: label ?? null, automatic: false, actor: actorOf(principal) });
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
    const ref = await this.reader.session(principal, key);
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.snapshots.list(ref.id, await this.retentionDays(ref), limit + 1, after);
    return toPage(rows, limit, view, encodeCursor);
  }

  /**
   * Brings the session back to the snapshot with ordinary versioned writes in one
   * transaction (each a change collaborators receive); history is never rewritten.
   */
  async restore(principal: Principal, key: string, id: string): Promise<DocumentView> {
    const ref = await this.writable(principal, key);
    const snapshot = await this.snapshots.find(ref.id, id, await this.retentionDays(ref));
    if (!snapshot) throw new AppError('SNAPSHOT_NOT_FOUND');
    const ctx = writeContext(principal, key);
    await this.tx.run(async () => {
      // Blocks pass through each other's positions on the way back; uniqueness is checked at commit.
      const current = await this.reader.lockForRestore(key);
      await this.restoreBlocks(ctx, current.blocks, snapshot.blocks as unknown as SnapshotBlock[]);
      const state = snapshot.state as Record<string, unknown>;
      if (current.title !== snapshot.title || !isDeepStrictEqual(current.state, state)) {
        await this.sessions.save(principal, key, current.version, { title: snapshot.title, state });
      }
    });
    return this.reader.document(principal, key);
  }

  private async restoreBlocks(ctx: WriteContext, current: DocumentView['blocks'], target: SnapshotBlock[]): Promise<void> {
    const wanted = new Map(target.map((b) => [b.id, b]));
    for (const block of current) {
      if (!wanted.has(block.id)) await this.writer.delete(ctx, block.id, block.version);
    }
    const existing = new Map(current.map((b) => [b.id, b]));
    for (const block of target) {
      const now = existing.get(block.id);
      if (!now) {
        await this.writer.create(ctx, block);
        continue;
      }
      let version = now.version;
      if (now.type !== block.type || !isDeepStrictEqual(now.content, block.content)) {
        version = (await this.writer.update(ctx, block.id, version, { type: block.type, content: block.content })).block.version;
      }
      if (now.position !== block.position) await this.writer.move(ctx, block.id, version, { position: block.position });
    }
  }

  private async take(ref: SessionRef, input: { label: string | null; automatic: boolean; actor: Actor }): Promise<SnapshotView> {
    const snapshot = await this.snapshots.create(ref.id, input);
    await this.snapshots.pruneSession(ref.id, await this.retentionDays(ref));
    return view(snapshot);
  }

  private async writable(principal: Principal, key: string): Promise<SessionRef> {
    const ref = await this.reader.session(principal, key);
    if (!canWrite(ref.view, principal)) throw new AppError('READ_ONLY');
    return ref;
  }

  private async retentionDays(ref: SessionRef): Promise<number> {
    const owner = ref.view.ownerId ? await this.auth.profile(ref.view.ownerId) : null;
    return SNAPSHOT_RETENTION_DAYS[owner?.plan ?? 'FREE'];
  }
}
