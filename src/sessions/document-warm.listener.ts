import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { OnAppEvent, type CommittedChange } from '../events/app-events.js';
import { Metrics } from '../metrics/metrics.service.js';
import { DocumentReader } from './document.reader.js';

/** A session is warmed once it has had no change for this long: the end of a burst. */
const QUIET_MS = 500;
/** Sessions waiting for their burst to end, at most: past it, a session is read on its next miss instead. */
const MAX_PENDING = 10_000;
/** Warmings loading at once, at most: the rest wait their turn (they never hold a request). */
const MAX_LOADING = 4;

/**
 * Loads an edited session back into the cache once its burst of edits ends (no change for
 * half a second), so the next reader after it hits. While the edits go on, a warmed entry
 * would be invalidated by the next one: there is nothing to warm until they stop. In the
 * process that committed the changes, with one timer per session: a burst costs one load,
 * and no Redis command or queued job. Another instance writing the same session warms it
 * too (one load each per burst); a session too large for the cache is left alone. Best
 * effort: a warming that fails or is skipped leaves the next reader a miss, never a stale
 * read (the cache's generations decide what is served).
 */
@Injectable()
export class DocumentWarmListener implements OnModuleDestroy {
  private readonly logger = new Logger(DocumentWarmListener.name);
  /** Sessions waiting for the end of their burst: their timer, and when their last change was seen. */
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; lastChange: number }>();
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
    const now = performance.now();
    const waiting = this.pending.get(key);
    // A change in a burst only moves its end: the timer, armed once, looks again when it fires.
    if (waiting) waiting.lastChange = now;
    else if (!this.stopped && this.pending.size < MAX_PENDING) this.pending.set(key, { timer: this.wake(key, QUIET_MS), lastChange: now });
  }

  onModuleDestroy(): void {
    this.stopped = true;
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.ready.length = 0;
  }

  private wake(key: string, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const waiting = this.pending.get(key);
      if (!waiting) return;
      const quietFor = performance.now() - waiting.lastChange;
      if (quietFor < QUIET_MS) {
        waiting.timer = this.wake(key, QUIET_MS - quietFor);
        return;
      }
      this.ready.push(key);
      this.next();
    }, ms);
    return timer.unref();
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
