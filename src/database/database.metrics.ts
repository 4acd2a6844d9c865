import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.service.js';
import { PrismaService } from './prisma.service.js';

/** The database pool of this process: connections open, idle, and requests waiting for one. */
@Injectable()
export class DatabaseMetrics {
  constructor(metrics: Metrics, prisma: PrismaService, @InjectConfig() config: AppConfig) {
    metrics.gauge({
      name: 'db_pool_connections',
      help: 'Database pool connections of this process, by state (total, idle, waiting: queries waiting for a connection)',
      labelNames: ['state'],
      collect() {
        this.set({ state: 'total' }, prisma.pool.totalCount);
        this.set({ state: 'idle' }, prisma.pool.idleCount);
        this.set({ state: 'waiting' }, prisma.pool.waitingCount);
      },
    });
    metrics.gauge({ name: 'db_pool_max', help: 'Largest size of the database pool (DB_POOL_MAX)' }).set(config.DB_POOL_MAX);
  }
}
