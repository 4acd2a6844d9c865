import { Global, Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';
import { HealthRepository } from './health.repository.js';
import { HealthService } from './health.service.js';
import { LifecycleState } from './lifecycle.state.js';

@Global()
@Module({
  controllers: [HealthController],
  providers: [HealthRepository, HealthService, LifecycleState],
  exports: [LifecycleState],
})
export class HealthModule {}
