import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { toPage, type Page, type PageQuery } from '../common/pagination.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import { BlockWriter, writeContext, type WriteContext, type WriteResult } from './block-writer.js';
import { BlocksRepository } from './blocks.repository.js';
import { blocksBody, DocumentReader } from '../sessions/document.reader.js';
import type { BlockRevision } from '../generated/prisma/client.js';
import type { BatchOp, CreateBlockBody, MoveBlockBody, UpdateBlockBody } from './dto/block.dto.js';
import type { Actor } from '../contract/actor.js';
import { SessionAccess } from '../sessions/session-access.service.js';

/** A batch op as callers send it, or as the server's own rewrites make it (with a block's exact position). */
export type BlockOp =
  BatchOp | (Extract<BatchOp, { op: 'create' }> & { position?: string }) | (Extract<BatchOp, { op: 'move' }> & { position?: string });

/**
 * A rewrite's op, which may invert a change (an undo or a redo): `undoOf` is that change's seq.
 * An undone delete re-creates the block at the version it was deleted at (`version`).
 */
export type RewriteOp = (BlockOp | (Extract<BatchOp, { op: 'create' }> & { position: string; version: number })) & { undoOf?: number };

export interface Revision {
  version: number;
  type: string;
  content: unknown;
  updatedAt: string;
  updatedBy: Actor;
}

@Injectable()
export class BlocksService {
  constructor(
    private readonly writer: BlockWriter,
    private readonly reader: DocumentReader,
    private readonly access: SessionAccess,
    private readonly blocks: BlocksRepository,
    private readonly tx: TransactionHost,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** The body of GET .../blocks, `{items, nextCursor: null}`, as JSON text in parts. */
  async list(principal: Principal, key: string): Promise<string[]> {
    return blocksBody(await this.reader.document(principal, key));
  }

  /** Each single write answers the block and the `seq` its change took (a socket's ack carries both). */
  create(principal: Principal, key: string, body: CreateBlockBody, origin?: string): Promise<WriteResult> {
    return this.writer.create(writeContext(principal, key, origin), body);
  }

  update(
    principal: Principal,
    key: string,
    id: string,
    version: number,
    body: UpdateBlockBody,
    merge: boolean,
    origin?: string,
  ): Promise<WriteResult> {
    const { type, content } = body;
    return this.writer.update(writeContext(principal, key, origin), id, version, { type, content }, merge);
  }

  move(principal: Principal, key: string, id: string, version: number, body: MoveBlockBody, origin?: string): Promise<WriteResult> {
    return this.writer.move(writeContext(principal, key, origin), id, version, body);
  }

  delete(principal: Principal, key: string, id: string, version: number, origin?: string): Promise<WriteResult> {
    return this.writer.delete(writeContext(principal, key, origin), id, version);
  }

  /** Every op in one transaction, or none: a refused op rolls back the others and names itself (`opIndex`). */
  async batch(principal: Principal, key: string, ops: BlockOp[]): Promise<{ items: WriteResult['block'][]; seq: number }> {
    const ctx = writeContext(principal, key);
    const results = await this.tx.run(async () => {
      const applied: WriteResult[] = [];
      for (const [opIndex, op] of ops.entries()) {
        try {
          applied.push(await this.apply(ctx, op));
        } catch (error) {
          if (error instanceof AppError) throw new AppError(error.code, error.message, { ...error.extensions, opIndex });
          throw error;
        }
      }
      return applied;
    });
    return { items: results.map((r) => r.block), seq: results[results.length - 1].seq };
  }

  /**
   * Ops of the server's own rewrites (a restore), applied in order inside the caller's
   * transaction: they may name a block's id and exact position, which callers' ops may not.
   */
  async rewrite(principal: Principal, key: string, ops: RewriteOp[]): Promise<void> {
    const ctx = writeContext(principal, key);
    for (const op of ops) await this.apply(op.undoOf === undefined ? ctx : { ...ctx, meta: { ...ctx.meta, undoOf: op.undoOf } }, op);
  }

  async history(principal: Principal, key: string, id: string, query: PageQuery): Promise<Page<Revision>> {
    await this.access.require(principal, key, 'read');
    const target = await this.blocks.target(key, id);
    if (!target?.block) throw new AppError('BLOCK_NOT_FOUND');
    let below = target.block.version;
    if (query.cursor !== undefined) {
      if (!/^[1-9]\d{0,9}$/.test(query.cursor)) throw new AppError('INVALID_CURSOR');
      below = Math.min(below, Number(query.cursor));
    }
    const kept = target.block.version - this.config.BLOCK_HISTORY_KEEP;
    const rows = await this.blocks.history(id, kept, below, query.limit + 1);
    const revision = (r: BlockRevision): Revision => ({
      version: r.version,
      type: r.type,
      content: r.content,
      updatedAt: r.updatedAt.toISOString(),
      updatedBy: r.updatedBy as unknown as Actor,
    });
    return toPage(rows, query.limit, revision, (r) => String(r.version));
  }

  private apply(ctx: WriteContext, op: BlockOp): Promise<WriteResult> {
    switch (op.op) {
      case 'create':
        return this.writer.create(ctx, op);
      case 'update':
        return this.writer.update(ctx, op.id, op.version, { type: op.type, content: op.content });
      case 'move':
        return this.writer.move(ctx, op.id, op.version, op);
      case 'delete':
        return this.writer.delete(ctx, op.id, op.version);
    }
  }
}
