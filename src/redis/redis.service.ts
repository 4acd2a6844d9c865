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

  /** A dedicated connection (e.g. a subscriber), closed with the module. */
  create(name: string): Redis {
    const client = new Redis(this.config.REDIS_URL ?? DEFAULT_REDIS_URL, {
      keyPrefix: this.config.REDIS_PREFIX,
      connectionName: `tessera:${name}`,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    let reported = false;
    client.on('error', (error: Error) => {
      if (!reported) this.logger.warn(`redis (${name}) unavailable: ${error.message}`);
      reported = true;
    });
    client.on('ready', () => {
      reported = false;
    });
    this.clients.push(client);
    return client;
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(
      this.clients.map(async (c) => {
        if (c.status !== 'ready') return c.disconnect();
        await c.quit().catch(() => c.disconnect());
      }),
    );
  }
}
