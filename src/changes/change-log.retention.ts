import { Injectable, Logger } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { ChangesRepository } from './changes.repository.js';
import { OnAppEvent, type CommittedChange } from '../events/app-events.js';

/** A session's log is trimmed after every this many of its changes. */
const PRUNE_EVERY = 64;
const SWEEP_BATCH = 5000;

/**
 * Keeps each session's change log bounded: the last CHANGES_KEEP changes, none older
 * than CHANGES_MAX_AGE_HOURS. Runs off the write path; a write never waits for it.
 */
@Injectable()
export class ChangeLogRetention {
  private readonly logger = new Logger(ChangeLogRetention.name);

  constructor(
    private readonly changes: ChangesRepository,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  @OnAppEvent('change.committed')
  onCommitted(event: CommittedChange): void {
    if (event.change.seq % PRUNE_EVERY !== 0) return;
    this.prune(event.sessionId, event.change.seq).catch((error: Error) => {
      this.logger.warn(`pruning the change log of session ${event.sessionId} failed: ${error.message}`);
    });
  }

  async prune(sessionId: string, seq: number): Promise<number> {
    return this.changes.prune(sessionId, seq - this.config.CHANGES_KEEP, this.cutoff());
  }

  /** Every session's changes past CHANGES_MAX_AGE_HOURS, idle sessions included (the hourly sweep). */
  async sweep(): Promise<number> {
    const cutoff = this.cutoff();
    let deleted = 0;
    let batch: number;
    do {
      batch = await this.changes.pruneOlderThan(cutoff, SWEEP_BATCH);
      deleted += batch;
    } while (batch === SWEEP_BATCH);
    return deleted;
  }

  private cutoff(): Date {
    return new Date(Date.now() - this.config.CHANGES_MAX_AGE_HOURS * 3600_000);
  }
}
