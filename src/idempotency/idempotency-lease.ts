import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';

/**
 * How long a run of a key holds it against others. A run that outlives it (or an instance
 * that died) lets a retry in: the record's primary key still lets only one of them commit.
 */
export const LEASE_MS = 15_000;

/** A held lease: released once the run has answered. */
export interface Lease {
  release(): void;
}

/** The Redis key (under the prefix) of the lease of (caller, key). */
export const leaseName = (scope: string, key: string) => `idem:${createHash('sha256').update(`${scope}\n${key}`).digest('base64url')}`;

/**
 * What admission decided of a call's lease, when it took it with its rate-limit or key-probe
 * decision (one Redis round trip for both): `taken`, `held` by another run, or `unavailable`.
 */
export type AdmittedLease = 'taken' | 'held' | 'unavailable';

/** The lease admission decided for a call, by the call's handle and the lease's name. */
const admitted = new WeakMap<object, { name: string; outcome: AdmittedLease }>();

/** Hands the lease admission took for a call (see `admitted`) to its run. */
export function admitLease(handle: object, name: string, outcome: AdmittedLease): void {
  admitted.set(handle, { name, outcome });
}

/**
 * The in-flight marker of an idempotency key, cluster-wide: a Redis key set while one run of
 * (caller, key) is under way, so a retry that arrives meanwhile, on any instance, is told to
 * wait (409 IDEMPOTENCY_KEY_IN_USE) instead of racing it. A call admitted through the rate
 * limiter or the key-probe guard took it in that same script; any other call takes it here.
 */
@Injectable()
export class IdempotencyLeases {
  private readonly logger = new Logger(IdempotencyLeases.name);

  constructor(private readonly redis: RedisService) {}

  /**
   * The lease, or null while another run holds it. With Redis away a run goes ahead without
   * one: the record's primary key alone keeps the write to one run.
   */
  async take(scope: string, key: string, handle?: object): Promise<Lease | null> {
    const name = leaseName(scope, key);
    const decided = handle && admitted.get(handle);
    if (decided && decided.name === name) {
      admitted.delete(handle);
      if (decided.outcome === 'held') return null;
      return decided.outcome === 'taken' ? this.held(name) : { release: () => undefined };
    }
    try {
      const set = await this.redis.client.set(name, '1', 'PX', LEASE_MS, 'NX');
      if (set !== 'OK') return null;
    } catch (error) {
      this.logger.warn(`idempotency lease unavailable, running without it: ${(error as Error).message}`);
      return { release: () => undefined };
    }
    return this.held(name);
  }

  private held(name: string): Lease {
    // A plain DEL, not awaited: it leaves with the commands of the turn the answer is sent in.
    // A run that outlived its lease may free a later run's, which only lets a retry race that
    // run; the record's primary key still keeps the write to one run, so a compare-and-delete
    // script would buy nothing but a script call per write.
    return { release: () => void this.redis.client.del(name).catch(() => undefined) };
  }
}
