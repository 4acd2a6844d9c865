import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { TransactionHost } from '../database/transaction-host.js';
import type { AppEventName, AppEvents } from './app-events.js';

/**
 * Publishes domain events. `emit` resolves once every subscriber has run, so a write is
 * acknowledged after the cache forgot the old data; `afterCommit` waits for the
 * transaction in progress to commit (and drops the event on rollback). A failing
 * subscriber is logged and never turns a committed write into an error.
 */
@Injectable()
export class EventBus {
  private readonly logger = new Logger(EventBus.name);

  constructor(
    private readonly emitter: EventEmitter2,
    private readonly tx: TransactionHost,
  ) {}

  async emit<N extends AppEventName>(name: N, payload: AppEvents[N]): Promise<void> {
    await this.emitter
      .emitAsync(name, payload)
      .catch((error: Error) => this.logger.error(`subscriber of ${name} failed: ${error.message}`));
  }

  /** Published once the transaction in progress commits (at once outside one). */
  afterCommit<N extends AppEventName>(name: N, payload: AppEvents[N]): Promise<void> {
    return this.tx.afterCommit(() => this.emit(name, payload));
  }
}
