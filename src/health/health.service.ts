import { Injectable, Logger } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';
import { HealthIndicators, type Indicator } from './health.indicators.js';
import { HealthRepository } from './health.repository.js';
import { LifecycleState } from './lifecycle.state.js';

export interface DependencyCheck {
  status: 'up' | 'down';
  latencyMs: number;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  timestamp: string;
  draining: boolean;
  checks: { database: DependencyCheck; redis: DependencyCheck; [feature: string]: DependencyCheck | Indicator };
}

const CHECK_TIMEOUT_MS = 1500;
const NO_FEATURES: Promise<Record<string, Indicator>> = Promise.resolve({});

const logger = new Logger('Health');

/** Runs one probe with a deadline; why it failed goes to the log, not to the (public) answer. */
async function timed(name: string, probe: () => Promise<void>): Promise<DependencyCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)),
      ),
    ]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    logger.warn(`${name} check failed: ${(error as Error).message.split('\n')[0]}`);
    return { status: 'down', latencyMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

@Injectable()
export class HealthService {
  constructor(
    private readonly database: HealthRepository,
    private readonly redis: RedisService,
    private readonly lifecycle: LifecycleState,
    private readonly indicators: HealthIndicators,
  ) {}

  /**
   * Ready to take traffic: the database and Redis answer and the instance is not draining.
   * Probes come every few seconds, so only the dependencies are checked, not the features.
   */
  async ready(): Promise<{ ready: boolean; report: HealthReport }> {
    const report = await this.report({ features: false });
    const ready = report.checks.database.status === 'up' && report.checks.redis.status === 'up' && !this.lifecycle.draining;
    return { ready, report };
  }

  async report({ features: withFeatures = true } = {}): Promise<HealthReport> {
    const [database, redis, features] = await Promise.all([
      timed('database', () => this.database.ping()),
      timed('redis', () => this.redis.ping()),
      withFeatures ? this.indicators.run() : NO_FEATURES,
    ]);
    const allUp = [database, redis, ...Object.values(features)].every((check) => check.status === 'up');
    return {
      status: allUp ? 'ok' : 'degraded',
      timestamp: new Date().toISOString(),
      draining: this.lifecycle.draining,
      checks: { ...features, database, redis },
    };
  }
}
