import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HealthIndicators, type Indicator } from '../health/health.indicators.js';
import { QueueStatsService } from './queue-stats.service.js';

/** Probes come every few seconds from every pod; one look at the queues serves them for this long. */
const REUSE_MS = 5000;

/** A stuck queue (jobs waiting, nobody taking them) shows as `degraded` in `/api/health`. */
@Injectable()
export class QueueHealth implements OnModuleInit {
  private last?: { at: number; indicator: Promise<Indicator> };

  constructor(
    private readonly stats: QueueStatsService,
    private readonly indicators: HealthIndicators,
  ) {}

  onModuleInit(): void {
    this.indicators.register('queues', () => this.check());
  }

  private check(): Promise<Indicator> {
    if (!this.last || Date.now() - this.last.at > REUSE_MS) {
      this.last = { at: Date.now(), indicator: this.look() };
    }
    return this.last.indicator;
  }

  private async look(): Promise<Indicator> {
    const queues = await this.stats.stats();
    const stuck = queues.filter((q) => q.stuck).map((q) => q.name);
    return { status: stuck.length ? 'degraded' : 'up', stuck };
  }
}
