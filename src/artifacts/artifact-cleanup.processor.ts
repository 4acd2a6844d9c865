import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { JobName } from '../queues/queue.names.js';
import { SessionRetention } from '../sessions/session-retention.js';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';
import { ARTIFACT_STORAGE, type ArtifactStorage } from './artifact.storage.js';
import { ArtifactsRepository } from './artifacts.repository.js';
import { CleanupStatsService, type CleanupRun } from './cleanup-stats.service.js';

const BATCH = 500;

/**
 * The cleanup job, every CLEANUP_INTERVAL_HOURS, one scheduled job for the whole cluster: first
 * the sessions' retention (abandoned ownerless sessions, expired Idempotency-Keys), then the
 * artifacts past ARTIFACT_RETENTION_DAYS and those of deleted sessions (including the ones just
 * deleted). The row goes first, then
 * the file, so nothing can be served from a file already gone; a file orphaned by a crash in
 * between is never served.
 */
@Injectable()
@JobProcessor()
export class ArtifactCleanupProcessor implements JobHandler<typeof JobName.CleanupArtifacts> {
  readonly job = JobName.CleanupArtifacts;
  readonly schedule: { everyMs: number } | null;
  private readonly logger = new Logger(ArtifactCleanupProcessor.name);

  constructor(
    private readonly artifacts: ArtifactsRepository,
    private readonly stats: CleanupStatsService,
    private readonly retention: SessionRetention,
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    @InjectConfig() config: AppConfig,
  ) {
    this.schedule = config.ENABLE_ARTIFACT_CLEANUP ? { everyMs: config.CLEANUP_INTERVAL_HOURS * 3_600_000 } : null;
  }

  async handle(): Promise<CleanupRun> {
    const started = Date.now();
    const retained = await this.retention.sweep();
    const cutoff = this.stats.cutoff();
    let deleted = 0;
    let freedBytes = 0;
    for (;;) {
      const batch = await this.artifacts.deleteDue(cutoff, BATCH);
      await Promise.all(batch.map((a) => this.storage.remove(a.storageKey)));
      deleted += batch.length;
      freedBytes += batch.reduce((sum, a) => sum + Number(a.storedBytes), 0);
      if (batch.length < BATCH) break;
    }
    const run: CleanupRun = { at: new Date().toISOString(), deleted, freedBytes, ...retained, durationMs: Date.now() - started };
    await this.stats.record(run);
    if (deleted) this.logger.log(`artifact cleanup deleted ${deleted} artifact(s), ${freedBytes} bytes`);
    return run;
  }
}
