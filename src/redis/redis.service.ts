import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { DEFAULT_REDIS_URL } from './local-redis-server.js';

/**
 * Redis connections, one per concern, all under REDIS_PREFIX. Commands fail fast while
 * Redis is away (one retry, then an error the caller maps to 503 or degrades on).
 */
@Injectable()
export class RedisService implements OnModuleDestroy {
  private readonly logger = new Logger(RedisService.name);
  private readonly clients: Redis[] = [];
  /** General-purpose client: stats, short-lived state, caching. */
  readonly client: Redis;

  constructor(@InjectConfig() private readonly config: AppConfig) {
    this.client = this.create('main');
  }

  /**
   * A dedicated connection (e.g. a subscriber), closed with the module unless `owned: false`
   * (the caller closes it). `prefixed: false` for pub/sub, whose channels carry REDIS_PREFIX
   * themselves; `pipelined: true` for a publisher that only publishes.
   */
  create(
    name: string,
    {
      prefixed = true,
      owned = true,
      waitForRedis = false,
      pipelined = prefixed,
    }: { prefixed?: boolean; owned?: boolean; waitForRedis?: boolean; pipelined?: boolean } = {},
  ): Redis {
    const client = new Redis(this.config.REDIS_URL ?? DEFAULT_REDIS_URL, {
      keyPrefix: prefixed ? this.config.REDIS_PREFIX : undefined,
      connectionName: `tessera:${name}`,
      // A subscriber waits for Redis to come back instead of failing its (un)subscriptions.
      maxRetriesPerRequest: waitForRedis ? null : 1,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      // The commands of one event-loop turn (many requests' decisions, reads, invalidations
      // and publishes) leave in one write: a busy instance pays one syscall per turn, not one
      // per command. Not for subscriber connections, whose commands change their mode.
      enableAutoPipelining: pipelined,
    });
    let reported = false;
    client.on('error', (error: Error) => {
      if (!reported) this.logger.warn(`redis (${name}) unavailable: ${error.message}`);
      reported = true;
    });
    client.on('ready', () => {
      reported = false;
    });
    if (owned) this.clients.push(client);
    return client;
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.clients.map(closeRedis));
  }
}

/**
 * QUIT (pending replies first), else a hard disconnect. Never a disconnect of a connection
 * already ended: ioredis would arm a 2 s timer waiting for a close that has happened, and
 * that timer alone keeps a finished process (or test run) alive.
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => undefined);
  if (!ended(client)) client.disconnect();
}

const ended = (client: Redis): boolean => client.status === 'end';
