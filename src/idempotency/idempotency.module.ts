import { Module } from '@nestjs/common';
import { IdempotencyLeases } from './idempotency-lease.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';
import { IdempotencyRecordsRepository } from './idempotency.repository.js';

/** Idempotency keys of every write: the interceptor `@Admission()` applies, and the records the sweep deletes. */
@Module({
  providers: [IdempotencyInterceptor, IdempotencyLeases, IdempotencyRecordsRepository],
  exports: [IdempotencyInterceptor, IdempotencyLeases, IdempotencyRecordsRepository],
})
export class IdempotencyModule {}
