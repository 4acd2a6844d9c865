import { Injectable, Logger } from '@nestjs/common';
import { JobQueue } from '../queues/job-queue.js';
import { JobName } from '../queues/queue.names.js';
import { OnAppEvent, type CommittedChange } from '../events/app-events.js';

/** Edits within this window after the first share one warming. */
const WARM_DELAY_MS = 500;

/**
 * After a change, queue one cache warming of the session (at most one pending per session:
 * BullMQ deduplication), off the write path: the write never waits for it.
 */
@Injectable()
export class DocumentWarmListener {
  private readonly logger = new Logger(DocumentWarmListener.name);
  private failing = false;
  /** When this instance last queued a warming per session: a burst of edits costs Redis one add per window, not one per edit. */
  private readonly queuedAt = new Map<string, number>();

  constructor(private readonly jobs: JobQueue) {}

  @OnAppEvent('change.committed')
  onCommitted(event: CommittedChange): void {
    const now = Date.now();
    if (now - (this.queuedAt.get(event.sessionId) ?? 0) < WARM_DELAY_MS) return;
    if (this.queuedAt.size > 10_000) this.queuedAt.clear();
    this.queuedAt.set(event.sessionId, now);
    this.jobs
      .queueInternal(
        JobName.WarmDocument,
        { sessionId: event.sessionId, sessionKey: event.sessionKey },
        { delay: WARM_DELAY_MS, deduplication: { id: `warm:${event.sessionId}` }, removeOnComplete: true, removeOnFail: true, attempts: 1 },
      )
      .then(
        () => (this.failing = false),
        (error: Error) => {
          if (!this.failing) this.logger.warn(`cache warming not queued: ${error.message}`);
          this.failing = true;
        },
      );
  }
}
