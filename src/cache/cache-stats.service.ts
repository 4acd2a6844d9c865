import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';
import { countsByType, ratio } from './cache-stats.js';
import { CacheService } from './cache.service.js';
import { CACHE_TTL_SECONDS, CACHE_TYPES, type CacheType } from './cache.types.js';

/** Scanning stops here, so the stats route stays cheap on a huge cache; `keysCounted` says if it did. */
const MAX_SCANNED_KEYS = 200_000;
const MEMORY_SAMPLE = 200;

export interface CacheStats {
  hits: number;
  misses: number;
  hitRatio: number;
  keys: number;
  memoryBytes: number;
  byType: Record<CacheType, { hits: number; misses: number; hitRatio: number; keys: number; ttlSeconds: number }>;
  keysCounted: 'exact' | 'capped';
}

/** Cluster-wide cache figures: counters from Redis, key count by SCAN, memory from a sample. */
@Injectable()
export class CacheStatsService {
  constructor(
    private readonly cache: CacheService,
    private readonly redis: RedisService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async stats(): Promise<CacheStats> {
    await this.cache.flushCounters();
    const counts = countsByType(await this.redis.client.hgetall('cache:stats'));
    const { keysByType, sample, total, capped } = await this.scanValues();
    const memoryBytes = await this.estimateMemory(sample, total);
    const byType = {} as CacheStats['byType'];
    let hits = 0;
    let misses = 0;
    for (const type of CACHE_TYPES) {
      byType[type] = { ...counts[type], keys: keysByType[type], ttlSeconds: CACHE_TTL_SECONDS[type] };
      hits += counts[type].hits;
      misses += counts[type].misses;
    }
    return { hits, misses, hitRatio: ratio(hits, misses), keys: total, memoryBytes, byType, keysCounted: capped ? 'capped' : 'exact' };
  }

  private async scanValues() {
    const prefix = `${this.config.REDIS_PREFIX}cache:v:`;
    const keysByType = Object.fromEntries(CACHE_TYPES.map((t) => [t, 0])) as Record<CacheType, number>;
    const sample: string[] = [];
    let total = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = key.slice(prefix.length).split(':', 1)[0] as CacheType;
        if (type in keysByType) keysByType[type]++;
        if (sample.length < MEMORY_SAMPLE) sample.push(key.slice(this.config.REDIS_PREFIX.length));
        total++;
      }
    } while (cursor !== '0' && total < MAX_SCANNED_KEYS);
    return { keysByType, sample, total, capped: cursor !== '0' };
  }

  private async estimateMemory(sample: string[], total: number): Promise<number> {
    if (sample.length === 0) return 0;
    const pipeline = this.redis.client.pipeline();
    for (const key of sample) pipeline.memory('USAGE', key);
    const sizes = ((await pipeline.exec()) ?? []).map(([, size]) => Number(size ?? 0));
    const sampled = sizes.reduce((a, b) => a + b, 0);
    return Math.round((sampled / sample.length) * total);
  }
}
