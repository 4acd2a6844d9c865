import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { BlocksService } from '../blocks/blocks.service.js';
import { ChangesService } from '../changes/changes.service.js';
import type { ChangeEvent } from '../contract/change.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import { uniqueViolation } from '../database/sql-errors.js';
import { SessionAccess } from '../sessions/session-access.service.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { inverseOf } from './inverse.js';
import { nextStep } from './undo-stack.js';
import { UndoRepository } from './undo.repository.js';

/** What an undo or a redo wrote: its changes (each with `undoOf`) and the seq of the last. */
export interface UndoResult {
  seq: number;
  changes: ChangeEvent[];
}

/**
 * Undo and redo decided by the server, per user and session. The state is the change log
 * itself (which step wrote each change, which change each undo inverts), so it is the same on
 * every instance and survives restarts, and it reaches back as far as the log keeps changes.
 * An undo adds ordinary versioned writes through BlocksService and SessionsService in one
 * transaction; a write based on a version someone changed since refuses the whole undo.
 */
@Injectable()
export class UndoService {
  constructor(
    private readonly access: SessionAccess,
    private readonly blocks: BlocksService,
    private readonly sessions: SessionsService,
    private readonly changes: ChangesService,
    private readonly undo: UndoRepository,
    private readonly tx: TransactionHost,
  ) {}

  /** Inverts the caller's latest step not yet undone (`undo`), or their latest undo not yet redone (`redo`). */
  async invert(principal: Principal, key: string, direction: 'undo' | 'redo'): Promise<UndoResult> {
    if (principal.kind === 'anonymous')
      throw new AppError('AUTH_REQUIRED', 'Undo and redo need a user token: they act on your own changes.');
    if (principal.kind !== 'user') throw new AppError('FORBIDDEN', 'Operators have no changes of their own to undo.');
    const ref = await this.access.require(principal, key, 'write', { fresh: true });
    const step = await this.tx.run(async () => {
      await this.undo.lock(ref.id, principal.userId);
      const { changes: mine, oldestKept } = await this.undo.stepsOf(ref.id, principal.userId);
      const target = nextStep(mine, oldestKept, direction);
      if (!target) throw new AppError(direction === 'undo' ? 'NOTHING_TO_UNDO' : 'NOTHING_TO_REDO');
      const changes = await this.undo.changesOf(ref.id, target);
      const ids = [...new Set(changes.flatMap((c) => (c.kind === 'session.updated' ? [] : [c.payload.id as string])))];
      const base = await this.undo.baseOf(ref.id, principal.userId, changes.at(-1)!.seq, ids);
      for (const write of inverseOf(changes, base)) {
        if (write.target === 'session') await this.sessions.save(principal, key, write.version, write.body, write.undoOf);
        else await this.blocks.rewrite(principal, key, [write.op]).catch(gone);
      }
      return this.tx.step!;
    });
    const written = await this.changes.ofStep({ id: ref.id, key }, step);
    return { seq: written.at(-1)?.seq ?? ref.head.seq, changes: written };
  }
}

/**
 * A block someone else deleted since the step, or another block now in the exact place a
 * block goes back to: a conflict like any other change of theirs, with nothing current.
 */
function gone(error: unknown): never {
  if (error instanceof AppError && error.code === 'BLOCK_NOT_FOUND') {
    throw new AppError('VERSION_CONFLICT', 'A block this step wrote was deleted since.', { current: null });
  }
  if (!(error instanceof AppError) && uniqueViolation(error)) {
    throw new AppError('VERSION_CONFLICT', 'Another block took the place this one would go back to.', { current: null });
  }
  throw error;
}
