import { Injectable } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';
import type { Plan } from '../generated/prisma/enums.js';

export interface UserProfile {
  id: string;
  email: string;
  displayName: string;
  plan: Plan;
}

/** How long a plan change may take to reach tokens issued before it (API: at most 60 s). */
const TTL_SECONDS = 60;

/** The user's stored profile and plan, shared by every instance, dropped on change. */
@Injectable()
export class UserProfileCache {
  constructor(private readonly redis: RedisService) {}

  async get(id: string): Promise<UserProfile | null> {
    const raw = await this.redis.client.get(this.key(id)).catch(() => null);
    return raw ? (JSON.parse(raw) as UserProfile) : null;
  }

  async set(profile: UserProfile): Promise<void> {
    await this.redis.client.set(this.key(profile.id), JSON.stringify(profile), 'EX', TTL_SECONDS).catch(() => undefined);
  }

  /** Must succeed: a plan change is only acknowledged once no instance can read the old plan past its TTL. */
  async drop(id: string): Promise<void> {
    await this.redis.client.del(this.key(id));
  }

  private key(id: string): string {
    return `user:${id}`;
  }
}
