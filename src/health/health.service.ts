import { Injectable } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';
import { HealthRepository } from './health.repository.js';
import { LifecycleState } from './lifecycle.state.js';

export interface DependencyCheck {
  status: 'up' | 'down';
  latencyMs: number;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  timestamp: string;
  draining: boolean;
  checks: { database: DependencyCheck; redis: DependencyCheck };
}

const CHECK_TIMEOUT_MS = 1500;

async function timed(probe: () => Promise<void>): Promise<DependencyCheck> {
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
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      error: (error as Error).message.split('\n')[0].slice(0, 200),
    };
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
  ) {}

  async report(): Promise<HealthReport> {
    const [database, redis] = await Promise.all([timed(() => this.database.ping()), timed(() => this.redis.ping())]);
    return {
      status: database.status === 'up' && redis.status === 'up' ? 'ok' : 'degraded',
      timestamp: new Date().toISOString(),
      draining: this.lifecycle.draining,
      checks: { database, redis },
    };
  }
}
