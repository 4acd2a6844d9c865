import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AppError } from '../errors/app-error.js';
import { HealthService, type HealthReport } from './health.service.js';
import { LifecycleState } from './lifecycle.state.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { HealthReportSchema, LivenessSchema } from '../contract/schemas.js';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly lifecycle: LifecycleState,
  ) {}

  /** Overall state for people and dashboards: always 200, `degraded` when a dependency is down. */
  @Get(['health', 'api/health'])
  @ApiOperationDoc({
    id: 'getHealth',
    summary: 'Overall health',
    description: 'For people and dashboards: always 200, `degraded` when a dependency is down. Served at `/health` too.',
    auth: 'none',
    responses: { 200: { description: 'The report.', schema: HealthReportSchema } },
  })
  report(): Promise<HealthReport> {
    return this.health.report();
  }

  /** Liveness: the process answers. Never depends on the database or Redis. */
  @Get('api/health/live')
  @ApiOperationDoc({
    id: 'getLiveness',
    summary: 'Liveness probe',
    description: 'The process answers; never depends on the database or Redis.',
    auth: 'none',
    responses: { 200: { description: 'Alive.', schema: LivenessSchema } },
  })
  live(): { status: 'ok'; timestamp: string } {
    return { status: 'ok', timestamp: new Date().toISOString() };
  }

  /** Readiness: dependencies up and not draining, else 503 NOT_READY with the checks. */
  @Get('api/health/ready')
  @ApiOperationDoc({
    id: 'getReadiness',
    summary: 'Readiness probe',
    description: 'Dependencies up and not draining; else 503 NOT_READY with `checks` and `draining`.',
    auth: 'none',
    responses: { 200: { description: 'Ready.', schema: HealthReportSchema } },
    errors: ['NOT_READY'],
  })
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
