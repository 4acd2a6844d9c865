import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { OnAppEvent, type CommittedChange } from '../events/app-events.js';
import { Metrics } from '../metrics/metrics.service.js';
import { DocumentReader } from './document.reader.js';

/** Edits within this window after the first share one warming. */
const WARM_DELAY_MS = 500;
/** Sessions waiting for their warming at once, at most: past it, a session is read on its next miss instead. */
const MAX_PENDING = 10_000;
/** Warmings loading at once, at most: the rest wait their turn (they never hold a request). */
const MAX_LOADING = 4;

/**
 * Loads an edited session back into the cache half a second after its first change, so
 * the next reader after a burst of edits hits it. In the process that committed the change,
 * with a timer per session: a burst of edits costs one load, and no Redis command or
 * queued job. Another instance writing the same session warms it too (one load each per
 * burst); a session too large for the cache is left alone. Best effort: a warming that
 * fails or is skipped leaves the next reader a miss, never a stale read (the cache's
 * generations decide what is served).
 */
@Injectable()
export class DocumentWarmListener implements OnModuleDestroy {
  private readonly logger = new Logger(DocumentWarmListener.name);
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly ready: string[] = [];
  private loading = 0;
  private failing = false;
  private stopped = false;
  private readonly warmings;

  constructor(
    private readonly reader: DocumentReader,
    metrics: Metrics,
  ) {
    this.warmings = metrics.counter({
      name: 'document_warmings_total',
      help: 'Edited sessions loaded back into the cache after a burst of changes, by result (warmed, skipped, failed)',
      labelNames: ['result'],
    });
  }

  @OnAppEvent('change.committed')
  onCommitted(event: CommittedChange): void {
    const key = event.sessionKey;
    if (this.stopped || this.pending.has(key) || this.pending.size >= MAX_PENDING) return;
    const timer = setTimeout(() => {
      this.ready.push(key);
      this.next();
    }, WARM_DELAY_MS);
    timer.unref();
    this.pending.set(key, timer);
  }

  onModuleDestroy(): void {
    this.stopped = true;
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.ready.length = 0;
  }

  private next(): void {
    while (this.loading < MAX_LOADING && this.ready.length > 0) {
      const key = this.ready.shift()!;
      this.loading++;
      // A change from here on starts the next window: it may not be in what this load reads.
      this.pending.delete(key);
      void this.reader
        .warm(key)
        .then(
          (seq) => {
            this.warmings.inc({ result: seq === null ? 'skipped' : 'warmed' });
            this.failing = false;
          },
          (error: Error) => {
            this.warmings.inc({ result: 'failed' });
            if (!this.failing) this.logger.warn(`cache warming of a session failed: ${error.message}`);
            this.failing = true;
          },
        )
        .finally(() => {
          this.loading--;
          if (!this.stopped) this.next();
        });
    }
  }
}
