import { CACHE_TYPES, type CacheType } from './cache.types.js';

export interface TypeCounts {
  hits: number;
  misses: number;
}

/**
 * Hit and miss counters per type. Counted in memory and flushed to one Redis hash in a
 * single pipeline, so the figures are cluster-wide without a Redis write per read.
 */
export class CacheCounters {
  private pending = new Map<string, number>();

  count(type: CacheType, outcome: 'hits' | 'misses', n = 1): void {
    const field = `${type}:${outcome}`;
    this.pending.set(field, (this.pending.get(field) ?? 0) + n);
  }

  /** Takes the counts not yet flushed; put them back with `restore` if the flush failed. */
  take(): Map<string, number> {
    const taken = this.pending;
    this.pending = new Map();
    return taken;
  }

  restore(counts: Map<string, number>): void {
    for (const [field, n] of counts) this.pending.set(field, (this.pending.get(field) ?? 0) + n);
  }
}

export function countsByType(hash: Record<string, string>): Record<CacheType, TypeCounts & { hitRatio: number }> {
  const byType = {} as Record<CacheType, TypeCounts & { hitRatio: number }>;
  for (const type of CACHE_TYPES) {
    const hits = Number(hash[`${type}:hits`] ?? 0);
    const misses = Number(hash[`${type}:misses`] ?? 0);
    byType[type] = { hits, misses, hitRatio: ratio(hits, misses) };
  }
  return byType;
}

export const ratio = (hits: number, misses: number) => (hits + misses === 0 ? 0 : Math.round((hits / (hits + misses)) * 10_000) / 10_000);
