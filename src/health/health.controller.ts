import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AppError } from '../errors/app-error.js';
import { HealthService, type HealthReport } from './health.service.js';
import { LifecycleState } from './lifecycle.state.js';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly lifecycle: LifecycleState,
  ) {}

  /** Overall state for people and dashboards: always 200, `degraded` when a dependency is down. */
  @Get(['health', 'api/health'])
  report(): Promise<HealthReport> {
    return this.health.report();
  }

  /** Liveness: the process answers. Never depends on the database or Redis. */
  @Get('api/health/live')
  live(): { status: 'ok'; timestamp: string } {
    return { status: 'ok', timestamp: new Date().toISOString() };
  }

  /** Readiness: dependencies up and not draining, else 503 NOT_READY with the checks. */
  @Get('api/health/ready')
  async ready(): Promise<HealthReport> {
    const { ready, report } = await this.health.ready();
    if (!ready) {
      throw new AppError('NOT_READY', this.lifecycle.draining ? 'This instance is shutting down.' : 'A dependency is down.', {
        checks: report.checks,
        draining: this.lifecycle.draining,
      });
    }
    return report;
  }
}
