import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { KeyProbeInterceptor } from './key-probe.interceptor.js';
import { RateLimitStatsService } from './rate-limit-stats.service.js';
import { RateLimitController } from './rate-limit.controller.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimiter } from './rate-limiter.js';

/** Global so feature controllers can use the guard and interceptor without importing each other. */
@Module({
  imports: [IdempotencyModule],
  controllers: [RateLimitController],
  providers: [KeyProbeInterceptor, RateLimiter, RateLimitGuard, RateLimitStatsService],
  exports: [IdempotencyModule, KeyProbeInterceptor, RateLimiter, RateLimitGuard],
})
export class RateLimitModule {}
