import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { actorOf, type Principal } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.service.js';
import { GroupCommit, type GroupCommitOptions } from '../database/group-commit.js';
import { uniqueViolation } from '../database/sql-errors.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import type { Visibility } from '../generated/prisma/enums.js';
import { checkAccess } from '../sessions/session-access.js';
import { sessionTooLarge } from '../sessions/session-budget.js';
import { positionBetween } from './block-position.js';
import { toBlockView, type BlockRecord } from '../sessions/block.view.js';
import { isRecordCollision, KeyAlreadyRecorded, RecordedWrites, type RecordedOutcome } from '../idempotency/recorded-write.js';
import {
  BlocksRepository,
  KEY_RECORDED,
  type BlockChange,
  type BlockCreate,
  type BlockUpdate,
  type WriteAccess,
  type WriteMeta,
  type WriteTarget,
  type Written,
} from './blocks.repository.js';
import { mergeFields } from './field-merge.js';
import type { BlockView } from '../contract/block.js';
import type { ChangeKind } from '../contract/change.js';
import { EventBus } from '../events/event-bus.js';
import { IdempotencyRecordsRepository } from '../idempotency/idempotency.repository.js';

/** Who is writing, in which session, and when. */
export interface WriteContext {
  principal: Principal;
  access: WriteAccess;
  meta: WriteMeta;
  /** The connection the write came from (a socket id), so its own refusal is not echoed back to it. */
  origin?: string;
}

export interface Anchor {
  afterId?: string;
  beforeId?: string;
}

/** The written block and the seq its change took. */
export interface WriteResult {
  block: BlockView & { merged?: true; deleted?: true };
  seq: number;
}

/** The stored block after a refused write, and who may see it (the session's visibility then). */
interface StoredBlock {
  block: BlockView;
  visibility: Visibility;
  ownerId: string | null;
  memberRoles: unknown;
}

/** A group-committed write's outcome: `alone` when its batch fell back to one write at a time. */
interface Grouped {
  written: Written | null;
  alone: boolean;
}

const MERGE_ATTEMPTS = 3;
const POSITION_ATTEMPTS = 3;

export function writeContext(principal: Principal, key: string, origin?: string): WriteContext {
  return {
    origin,
    principal,
    access: { key, userId: principal.kind === 'user' ? principal.userId : null, admin: principal.kind === 'admin' },
    meta: { actor: actorOf(principal), at: new Date() },
  };
}

/**
 * One block write, with the rules every path shares (HTTP, sockets, batches, restores,
 * jobs), behind BlocksService: conditional statement, then on a miss the precise reason.
 * Each success is announced once its transaction commits.
 */
@Injectable()
export class BlockWriter implements OnModuleDestroy {
  /** Updates and moves from every caller of this instance, applied a tick at a time. */
  private readonly updates: GroupCommit<BlockUpdate, Grouped>;
  /** Creates from every caller of this instance, applied a tick at a time. */
  private readonly creates: GroupCommit<BlockCreate, Grouped>;

  constructor(
    private readonly blocks: BlocksRepository,
    private readonly events: EventBus,
    private readonly tx: TransactionHost,
    private readonly records: IdempotencyRecordsRepository,
    @InjectConfig() private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    // One group commit per kind of write, each with its batch-size histogram.
    const grouped = <W>(
      metric: { name: string; help: string; writes: string },
      options: Pick<GroupCommitOptions<W, Grouped>, 'keyOf' | 'applyAll' | 'applyOne'>,
    ): GroupCommit<W, Grouped> => {
      const batchSize = metrics.histogram({ name: metric.name, help: metric.help, buckets: [1, 2, 4, 8, 16, 32, 64, 128] });
      const fallbacks = metrics.counter({
        name: metric.name.replace(/_size$/, '_fallbacks_total'),
        help: `Group-commit statements of ${metric.writes} that failed as a whole, whose writes were then applied one at a time`,
      });
      return new GroupCommit<W, Grouped>({
        maxBatch: config.GROUP_COMMIT_MAX_BATCH,
        maxWaitMs: config.GROUP_COMMIT_MAX_WAIT_MS,
        ...options,
        onBatch: (size) => batchSize.observe(size),
        onFallback: () => fallbacks.inc(),
      });
    };
    this.updates = grouped(
      {
        name: 'block_write_batch_size',
        help: 'Block updates and moves applied by one group-commit statement',
        writes: 'block updates and moves',
      },
      {
        keyOf: (update) => update.id,
        applyAll: async (updates) =>
          (await this.blocks.updateMany(updates, this.updateLimits())).map((written) => ({ written, alone: false })),
        applyOne: async (update) => ({ written: await this.updateAlone(update), alone: true }),
      },
    );
    this.creates = grouped(
      { name: 'block_create_batch_size', help: 'Block creates applied by one group-commit statement', writes: 'block creates' },
      {
        keyOf: (create) => create.block.id,
        // A create left out because its key is recorded (a retry) counts as refused by the batch: it is decided alone.
        applyAll: async (creates) =>
          (await this.blocks.createMany(creates, this.createLimits())).map((written) => ({
            written: written === KEY_RECORDED ? null : written,
            alone: false,
          })),
        applyOne: async (create) => ({ written: await this.blocks.create(create, this.createLimits()), alone: true }),
      },
    );
  }

  /** Applies the writes still waiting for their tick before the process stops. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all([this.updates.drain(), this.creates.drain()]);
  }

  async create(
    ctx: WriteContext,
    input: { id?: string; type: string; content: Record<string, unknown>; position?: string; version?: number } & Anchor,
  ): Promise<WriteResult> {
    const replayed = RecordedWrites.replayed();
    if (replayed) return this.replayedResult(ctx, replayed);
    this.checkSize(input.content);
    const id = input.id ?? randomUUID();
    const record = RecordedWrites.record();
    for (let attempt = 0; ; attempt++) {
      const position = input.position ?? (await this.positionAt(ctx, input, null));
      const create: BlockCreate = {
        access: ctx.access,
        block: { id, type: input.type, content: input.content, position, version: input.version },
        meta: ctx.meta,
        record,
      };
      try {
        // The first try joins the instance's group commit; inside a transaction, and a retry, it runs alone.
        const written = await (this.tx.active || attempt > 0
          ? this.blocks.create(create, this.createLimits())
          : this.createGrouped(create));
        if (written) {
          if (record) RecordedWrites.recorded();
          return this.announce(ctx, 'block.created', written);
        }
      } catch (error) {
        if (isRecordCollision(error)) throw new KeyAlreadyRecorded();
        const index = uniqueViolation(error);
        if (index?.includes('pkey') || index === 'id') throw new AppError('BLOCK_ID_TAKEN');
        if (!index || input.position) throw error;
        if (this.tx.active || attempt + 1 >= POSITION_ATTEMPTS) {
          throw new AppError('SERVICE_UNAVAILABLE', 'Two inserts drew the same position at once; retry.');
        }
        continue; // two inserts drew the same position: draw again
      }
      const target = await this.blocks.target(ctx.access.key, null, input.content);
      checkAccess(target, ctx.principal, 'write');
      if (target && target.blockCount >= this.config.SESSION_MAX_BLOCKS) {
        throw new AppError('BLOCK_LIMIT_REACHED', `A session holds at most ${this.config.SESSION_MAX_BLOCKS} blocks.`);
      }
      const bytes = target?.contentBytes ?? 0;
      if (target && target.storedBytes + bytes > this.config.SESSION_MAX_BYTES) {
        throw sessionTooLarge(target.storedBytes, bytes, this.config.SESSION_MAX_BYTES);
      }
      if (attempt + 1 >= POSITION_ATTEMPTS) throw new AppError('SERVICE_UNAVAILABLE', 'The session changed under this write; retry.');
    }
  }

  async update(
    ctx: WriteContext,
    id: string,
    version: number,
    change: { type?: string; content?: Record<string, unknown> },
    merge = false,
  ): Promise<WriteResult> {
    const replayed = RecordedWrites.replayed();
    if (replayed) return this.replayedResult(ctx, replayed);
    if (change.content) this.checkSize(change.content);
    const written = await this.write(ctx, id, version, change, 'block.updated');
    if (written) return written;
    let current = await this.missed(ctx, id, version, change.content);
    if (merge) {
      const base = await this.blocks.revision(id, version);
      for (let attempt = 0; base && attempt < MERGE_ATTEMPTS; attempt++) {
        const result = mergeFields({ type: base.type, content: base.content as Record<string, unknown> }, current.block, change);
        if (!result.ok) break;
        this.checkSize(result.merged.content);
        const merged = await this.write(ctx, id, current.block.version, result.merged, 'block.updated', true);
        if (merged) return { ...merged, block: { ...merged.block, merged: true } };
        current = await this.missed(ctx, id, current.block.version, result.merged.content);
      }
    }
    return this.conflict(ctx, id, version, current);
  }

  async move(ctx: WriteContext, id: string, version: number, anchor: Anchor & { position?: string }): Promise<WriteResult> {
    const replayed = RecordedWrites.replayed();
    if (replayed) return this.replayedResult(ctx, replayed);
    if (anchor.afterId === id || anchor.beforeId === id) throw new AppError('INVALID_ANCHOR', 'A block cannot be moved next to itself.');
    const position = anchor.position ?? (await this.positionAt(ctx, anchor, id));
    const written = await this.write(ctx, id, version, { position }, 'block.moved');
    return written ?? this.conflict(ctx, id, version, await this.current(ctx, id));
  }

  async delete(ctx: WriteContext, id: string, version: number): Promise<WriteResult> {
    const replayed = RecordedWrites.replayed();
    if (replayed) {
      const result = this.replayedResult(ctx, replayed);
      return { ...result, block: { ...result.block, deleted: true } };
    }
    const record = RecordedWrites.record();
    const written = await this.blocks.delete(ctx.access, id, version, ctx.meta, record).catch((error: unknown) => {
      throw isRecordCollision(error) ? new KeyAlreadyRecorded() : error;
    });
    if (record && written) RecordedWrites.recorded();
    if (written) {
      const result = await this.announce(ctx, 'block.deleted', written);
      return { ...result, block: { ...result.block, deleted: true } };
    }
    return this.conflict(ctx, id, version, await this.current(ctx, id));
  }

  /**
   * Outside a transaction, the write joins the instance's group commit; inside one it runs
   * alone, as part of it.
   */
  private async write(
    ctx: WriteContext,
    id: string,
    version: number,
    change: BlockChange,
    kind: 'block.updated' | 'block.moved',
    merged = false,
  ): Promise<WriteResult | null> {
    const record = RecordedWrites.record();
    const update: BlockUpdate = { access: ctx.access, id, version, change, kind, meta: ctx.meta, record: record && { ...record, merged } };
    const written = await (this.tx.active ? this.updateAlone(update) : this.updateGrouped(update));
    if (record && written) RecordedWrites.recorded();
    return written && this.announce(ctx, kind, written);
  }

  private updateAlone(update: BlockUpdate): Promise<Written | null> {
    return this.blocks.update(update, this.updateLimits()).catch((error: unknown) => {
      if (isRecordCollision(error)) throw new KeyAlreadyRecorded();
      if (uniqueViolation(error)) throw new AppError('SERVICE_UNAVAILABLE', 'Two moves drew the same position at once; retry.');
      throw error;
    });
  }

  /** A write the batch refused is decided again alone: the batch's budget check is the stricter one. */
  private async updateGrouped(update: BlockUpdate): Promise<Written | null> {
    const { written, alone } = await this.updates.submit(update);
    return written || alone ? written : this.updateAlone(update);
  }

  /** A create the batch refused is decided again alone: the batch's count and budget checks are the stricter ones. */
  private async createGrouped(create: BlockCreate): Promise<Written | null> {
    const { written, alone } = await this.creates.submit(create);
    return written || alone ? written : this.blocks.create(create, this.createLimits());
  }

  /** A replayed single write: the outcome its statement recorded, answered as it was the first time. */
  private replayedResult(ctx: WriteContext, outcome: RecordedOutcome): WriteResult {
    const block = toBlockView(outcome.block as BlockRecord, ctx.access.key);
    return { block: outcome.merged ? { ...block, merged: true } : block, seq: outcome.seq };
  }

  private createLimits() {
    return { maxBlocks: this.config.SESSION_MAX_BLOCKS, maxBytes: this.config.SESSION_MAX_BYTES };
  }

  private updateLimits() {
    return { historyKeep: this.config.BLOCK_HISTORY_KEEP, maxBytes: this.config.SESSION_MAX_BYTES };
  }

  private async announce(ctx: WriteContext, kind: ChangeKind, written: Written): Promise<WriteResult> {
    const block = toBlockView(written.block, ctx.access.key);
    await this.events.afterCommit('change.committed', {
      sessionKey: ctx.access.key,
      sessionId: written.sessionId,
      visibility: written.visibility,
      ownerId: written.ownerId,
      memberRoles: written.memberRoles,
      change: {
        seq: written.seq,
        kind,
        block,
        actor: ctx.meta.actor,
        at: ctx.meta.at.toISOString(),
        ...(ctx.meta.undoOf === undefined ? {} : { undoOf: ctx.meta.undoOf }),
      },
    });
    return { block, seq: written.seq };
  }

  /**
   * The stored block after a refused update, or the reason: still at the version the write
   * was based on means the version was not what refused it, the budget was.
   */
  private async missed(ctx: WriteContext, id: string, version: number, content?: Record<string, unknown>): Promise<StoredBlock> {
    const target = await this.blocks.target(ctx.access.key, id, content);
    const current = this.currentOf(ctx, target);
    if (current.block.version === version && target && content !== undefined) {
      const delta = (target.contentBytes ?? 0) - (target.blockBytes ?? 0);
      throw sessionTooLarge(target.storedBytes, delta, this.config.SESSION_MAX_BYTES);
    }
    return current;
  }

  /** The stored block after a refused write, or the reason there is none. */
  private async current(ctx: WriteContext, id: string): Promise<StoredBlock> {
    return this.currentOf(ctx, await this.blocks.target(ctx.access.key, id));
  }

  private currentOf(ctx: WriteContext, target: WriteTarget | null): StoredBlock {
    checkAccess(target, ctx.principal, 'write');
    if (!target?.block) throw new AppError('BLOCK_NOT_FOUND');
    const { visibility, ownerId, memberRoles } = target;
    return { block: toBlockView(target.block, ctx.access.key), visibility, ownerId, memberRoles };
  }

  private async conflict(ctx: WriteContext, id: string, attemptedVersion: number, stored: StoredBlock): Promise<never> {
    // A retry of a keyed write that applied meets its own version: answered by the record, with nobody told of a race.
    const record = RecordedWrites.record();
    if (record && (await this.records.find(record.scope, record.key))) throw new KeyAlreadyRecorded();
    const current = stored.block;
    await this.events.emit('block.conflict', {
      sessionKey: ctx.access.key,
      visibility: stored.visibility,
      ownerId: stored.ownerId,
      memberRoles: stored.memberRoles,
      blockId: id,
      attemptedVersion,
      current,
      actor: ctx.meta.actor,
      origin: ctx.origin,
    });
    throw new AppError('VERSION_CONFLICT', `The block is at version ${current.version}, not ${attemptedVersion}.`, { current });
  }

  private async positionAt(ctx: WriteContext, anchor: Anchor, movingId: string | null): Promise<string> {
    const around = await this.blocks.neighbours(ctx.access.key, anchor, movingId);
    if (around) return positionBetween(around.before, around.after);
    checkAccess(await this.blocks.target(ctx.access.key, null), ctx.principal, 'write');
    throw new AppError('INVALID_ANCHOR');
  }

  private checkSize(content: Record<string, unknown>): void {
    const bytes = Buffer.byteLength(JSON.stringify(content));
    if (bytes > this.config.BLOCK_MAX_BYTES) {
      throw new AppError('BLOCK_TOO_LARGE', `The content is ${bytes} bytes; at most ${this.config.BLOCK_MAX_BYTES} are allowed.`);
    }
  }
}
