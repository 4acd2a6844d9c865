import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { TransactionHost } from '../database/transaction-host.js';
import { BLOCK_CONFLICT, CHANGE_COMMITTED, type BlockConflictEvent, type CommittedChange } from './change.event.js';

/**
 * Announces committed changes. Inside a transaction the announcement waits for the
 * commit (and is dropped on rollback); the caller's promise resolves once every
 * subscriber has run, so a write is acknowledged after the cache forgot the old data.
 * A failing subscriber is logged and never turns a committed write into an error.
 */
@Injectable()
export class ChangePublisher {
  private readonly logger = new Logger(ChangePublisher.name);

  constructor(
    private readonly events: EventEmitter2,
    private readonly tx: TransactionHost,
  ) {}

  committed(change: CommittedChange): Promise<void> {
    return this.tx.afterCommit(() => this.emit(CHANGE_COMMITTED, change));
  }

  conflict(event: BlockConflictEvent): Promise<void> {
    return this.emit(BLOCK_CONFLICT, event);
  }

  async emit(name: string, event: object): Promise<void> {
    await this.events.emitAsync(name, event).catch((error: Error) => this.logger.error(`subscriber of ${name} failed: ${error.message}`));
  }
}
