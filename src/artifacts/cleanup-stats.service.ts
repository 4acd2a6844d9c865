import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';
import { ArtifactsRepository } from './artifacts.repository.js';

export interface CleanupRun {
  at: string;
  /** Artifacts deleted, and the stored bytes that freed. */
  deleted: number;
  freedBytes: number;
  /** Ownerless sessions past SESSION_RETENTION_DAYS, and Idempotency-Key bindings past 24 h. */
  sessionsDeleted?: number;
  idempotencyKeysDeleted?: number;
  durationMs: number;
}

export interface CleanupStats {
  enabled: boolean;
  retentionDays: number;
  intervalHours: number;
  /** Past retention, or of a deleted session: the next run deletes these. */
  artifactsPendingDeletion: number;
  totalArtifacts: number;
  totalStorageBytes: number;
  totalStorageMB: number;
  /** Artifacts deleted by cleanup since counting began, cluster-wide. */
  deletedTotal: number;
  lastRun: CleanupRun | null;
}

const STATS_KEY = 'stats:cleanup';

/** What the store holds, what is due, and what cleanup has done (recorded in Redis by whichever worker ran it). */
@Injectable()
export class CleanupStatsService {
  constructor(
    private readonly artifacts: ArtifactsRepository,
    private readonly redis: RedisService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  cutoff(): Date {
    return new Date(Date.now() - this.config.ARTIFACT_RETENTION_DAYS * 86_400_000);
  }

  async stats(): Promise<CleanupStats> {
    const [totals, recorded] = await Promise.all([this.artifacts.totals(this.cutoff()), this.redis.client.hgetall(STATS_KEY)]);
    return {
      enabled: this.config.ENABLE_ARTIFACT_CLEANUP,
      retentionDays: this.config.ARTIFACT_RETENTION_DAYS,
      intervalHours: this.config.CLEANUP_INTERVAL_HOURS,
      artifactsPendingDeletion: totals.due,
      totalArtifacts: totals.total,
      totalStorageBytes: totals.storedBytes,
      totalStorageMB: Math.round((totals.storedBytes / 1048576) * 100) / 100,
      deletedTotal: Number(recorded.deletedTotal ?? 0),
      lastRun: recorded.lastRun ? (JSON.parse(recorded.lastRun) as CleanupRun) : null,
    };
  }

  async record(run: CleanupRun): Promise<void> {
    await this.redis.client.multi().hset(STATS_KEY, 'lastRun', JSON.stringify(run)).hincrby(STATS_KEY, 'deletedTotal', run.deleted).exec();
  }
}
