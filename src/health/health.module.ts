import { Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';
import { HealthRepository } from './health.repository.js';
import { HealthIndicators } from './health.indicators.js';
import { HealthService } from './health.service.js';
import { LifecycleState } from './lifecycle.state.js';

@Module({
  controllers: [HealthController],
  providers: [HealthRepository, HealthService, HealthIndicators, LifecycleState],
  exports: [HealthIndicators, LifecycleState],
})
export class HealthModule {}
