import { Injectable } from '@nestjs/common';
import { RedisService } from './redis.service.js';

/**
 * Small read-through JSON cache over Redis. A Redis outage degrades to a miss (reads) or
 * a skipped fill (writes), never a failed request; invalidations must succeed.
 */
@Injectable()
export class JsonCache {
  constructor(private readonly redis: RedisService) {}

  private async get<T>(key: string): Promise<T | null> {
    const raw = await this.redis.client.get(`cache:${key}`).catch(() => null);
    return raw === null ? null : (JSON.parse(raw) as T);
  }

  private async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.redis.client.set(`cache:${key}`, JSON.stringify(value), 'EX', ttlSeconds).catch(() => undefined);
  }

  async getOrLoad<T>(key: string, ttlSeconds: number, load: () => Promise<T | null>): Promise<T | null> {
    const cached = await this.get<T>(key);
    if (cached !== null) return cached;
    const value = await load();
    if (value !== null) await this.set(key, value, ttlSeconds);
    return value;
  }

  async drop(key: string): Promise<void> {
    await this.redis.client.del(`cache:${key}`);
  }
}
