import { Injectable } from '@nestjs/common';
import { RATE_LIMITED_ACTIONS } from './rate-limit.policies.js';
import { OFFENDERS_KEY, RateLimiter, STATS_KEY } from './rate-limiter.js';

type Counts = { allowed: number; limited: number; blocked: number };

export interface RateLimitStats extends Counts {
  byAction: Record<string, Counts>;
  topOffenders: Array<{ identity: string; refusals: number }>;
  /** Decisions this instance took in memory because Redis was unreachable. */
  fallbackDecisions: number;
}

/** Cluster-wide counts kept by the decision scripts themselves, so they are exact too. */
@Injectable()
export class RateLimitStatsService {
  constructor(private readonly limiter: RateLimiter) {}

  async stats(): Promise<RateLimitStats> {
    const [hash, offenders] = await Promise.all([
      this.limiter.redis.hgetall(STATS_KEY),
      this.limiter.redis.zrevrange(OFFENDERS_KEY, 0, 9, 'WITHSCORES'),
    ]);
    const totals: Counts = { allowed: 0, limited: 0, blocked: 0 };
    const byAction: Record<string, Counts> = {};
    for (const action of [...RATE_LIMITED_ACTIONS, 'session-lookup']) {
      const counts = {
        allowed: Number(hash[`${action}:allowed`] ?? 0),
        limited: Number(hash[`${action}:limited`] ?? 0),
        blocked: Number(hash[`${action}:blocked`] ?? 0),
      };
      byAction[action] = counts;
      totals.allowed += counts.allowed;
      totals.limited += counts.limited;
      totals.blocked += counts.blocked;
    }
    const topOffenders = [];
    for (let i = 0; i < offenders.length; i += 2) topOffenders.push({ identity: offenders[i], refusals: Number(offenders[i + 1]) });
    return { ...totals, byAction, topOffenders, fallbackDecisions: this.limiter.fallbackDecisions };
  }
}
