import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';

/**
 * How long a run of a key holds it against others. A run that outlives it (or an instance
 * that died) lets a retry in: the record's primary key still lets only one of them commit.
 */
const LEASE_MS = 15_000;

/** A held lease: released once the run has answered. */
export interface Lease {
  release(): void;
}

/**
 * The in-flight marker of an idempotency key, cluster-wide: a Redis key set while one run of
 * (caller, key) is under way, so a retry that arrives meanwhile, on any instance, is told to
 * wait (409 IDEMPOTENCY_KEY_IN_USE) instead of racing it.
 */
@Injectable()
export class IdempotencyLeases {
  private readonly logger = new Logger(IdempotencyLeases.name);

  constructor(private readonly redis: RedisService) {}

  /**
   * The lease, or null while another run holds it. With Redis away a run goes ahead without
   * one: the record's primary key alone keeps the write to one run.
   */
  async take(scope: string, key: string): Promise<Lease | null> {
    const name = `idem:${createHash('sha256').update(`${scope}\n${key}`).digest('base64url')}`;
    try {
      const set = await this.redis.client.set(name, '1', 'PX', LEASE_MS, 'NX');
      if (set !== 'OK') return null;
    } catch (error) {
      this.logger.warn(`idempotency lease unavailable, running without it: ${(error as Error).message}`);
      return { release: () => undefined };
    }
    // A plain DEL: a run that outlived its lease may free a later run's, which only lets a
    // retry race that run; the record's primary key still keeps the write to one run, so a
    // compare-and-delete script would buy nothing but a script call per write.
    return { release: () => void this.redis.client.del(name).catch(() => undefined) };
  }
}
