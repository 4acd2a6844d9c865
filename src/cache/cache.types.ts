/**
 * What Tessera caches and for how long. TTLs bound how long an entry may live if an
 * invalidation is ever missed; correctness comes from tag generations, not from TTLs.
 */
export const CACHE_TTL_SECONDS = {
  session: 5 * 60,
  blocks: 60,
  /** The API promises a plan change reaches existing tokens within 60 s, so not the hour other data gets. */
  user: 60,
  theme: 24 * 3600,
} as const;

export type CacheType = keyof typeof CACHE_TTL_SECONDS;
export const CACHE_TYPES = Object.keys(CACHE_TTL_SECONDS) as CacheType[];

export interface CacheEntry {
  type: CacheType;
  key: string;
  /** Invalidating any of these tags makes the entry a miss. */
  tags?: readonly string[];
}
