import { Injectable } from '@nestjs/common';

/** What a feature reports about itself in `/api/health`; `degraded` shows there but never fails readiness. */
export interface Indicator {
  status: 'up' | 'degraded';
  [detail: string]: unknown;
}

/**
 * Checks other modules add to the health report (queues, for one), so health needs to
 * know none of them. Only the database and Redis decide readiness.
 */
@Injectable()
export class HealthIndicators {
  private readonly checks = new Map<string, () => Promise<Indicator>>();

  register(name: string, check: () => Promise<Indicator>): void {
    this.checks.set(name, check);
  }

  async run(): Promise<Record<string, Indicator>> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [
        name,
        await check().catch(() => ({ status: 'degraded' as const, error: 'check failed' })),
      ]),
    );
    return Object.fromEntries(entries) as Record<string, Indicator>;
  }
}
