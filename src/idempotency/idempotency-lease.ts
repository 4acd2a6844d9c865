import { createHash, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';

/**
 * How long a run of a key holds it against others. A run that outlives it (or an instance
 * that died) lets a retry in: the record's primary key still lets only one of them commit.
 */
const LEASE_MS = 30_000;

/** Deletes the lease only if it is still ours (a late release never frees another run's). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

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
    const token = randomUUID();
    try {
      const set = await this.redis.client.set(name, token, 'PX', LEASE_MS, 'NX');
      if (set !== 'OK') return null;
    } catch (error) {
      this.logger.warn(`idempotency lease unavailable, running without it: ${(error as Error).message}`);
      return { release: () => undefined };
    }
    return {
      release: () => void this.redis.client.eval(RELEASE, 1, name, token).catch(() => undefined),
    };
  }
}
