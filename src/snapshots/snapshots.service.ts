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

interface RestoreStep {
  delta: number;
  run: () => Promise<unknown>;
}

/** About the bytes a value counts toward the size budget: only to order a restore's writes (the database measures). */
const bytesOf = (value: unknown) => Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value));

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
   * transaction (each a change collaborators receive); history is never rewritten. The
   * writes that shrink the session go first, so a restore that ends within the size budget
   * never passes it on the way.
   */
  async restore(principal: Principal, key: string, id: string): Promise<DocumentView> {
    const ref = await this.writable(principal, key);
    const snapshot = await this.snapshots.find(ref.id, id, await this.retentionDays(ref));
    if (!snapshot) throw new AppError('SNAPSHOT_NOT_FOUND');
    const ctx = writeContext(principal, key);
    await this.tx.run(async () => {
      // Blocks pass through each other's positions on the way back; uniqueness is checked at commit.
      const current = await this.reader.lockForRestore(key);
      const steps = this.blockSteps(ctx, current.blocks, snapshot.blocks as unknown as SnapshotBlock[]);
      const state = snapshot.state as Record<string, unknown>;
      if (current.title !== snapshot.title || !isDeepStrictEqual(current.state, state)) {
        steps.push({
          delta: bytesOf(snapshot.title) + bytesOf(state) - bytesOf(current.title) - bytesOf(current.state),
          run: () => this.sessions.save(principal, key, current.version, { title: snapshot.title, state }),
        });
      }
      steps.sort((a, b) => a.delta - b.delta);
      for (const step of steps) await step.run();
    });
    return this.reader.document(principal, key);
  }

  /** The writes that turn `current` into `target`, each with about how many bytes it adds. */
  private blockSteps(ctx: WriteContext, current: DocumentView['blocks'], target: SnapshotBlock[]): RestoreStep[] {
    const steps: RestoreStep[] = [];
    const wanted = new Map(target.map((b) => [b.id, b]));
    for (const block of current) {
      if (!wanted.has(block.id))
        steps.push({ delta: -bytesOf(block.content), run: () => this.writer.delete(ctx, block.id, block.version) });
    }
    const existing = new Map(current.map((b) => [b.id, b]));
    for (const block of target) {
      const now = existing.get(block.id);
      if (!now) {
        steps.push({ delta: bytesOf(block.content), run: () => this.writer.create(ctx, block) });
        continue;
      }
      const rewrite = now.type !== block.type || !isDeepStrictEqual(now.content, block.content);
      if (!rewrite && now.position === block.position) continue;
      steps.push({
        delta: rewrite ? bytesOf(block.content) - bytesOf(now.content) : 0,
        run: async () => {
          let version = now.version;
          if (rewrite) {
            version = (await this.writer.update(ctx, block.id, version, { type: block.type, content: block.content })).block.version;
          }
          if (now.position !== block.position) await this.writer.move(ctx, block.id, version, { position: block.position });
        },
      });
    }
    return steps;
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
