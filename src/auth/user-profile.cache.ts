import { Injectable } from '@nestjs/common';
import { JsonCache } from '../redis/json-cache.js';
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
  constructor(private readonly cache: JsonCache) {}

  getOrLoad(id: string, load: () => Promise<UserProfile | null>): Promise<UserProfile | null> {
    return this.cache.getOrLoad(`user:${id}`, TTL_SECONDS, load);
  }

  /** Must succeed: a plan change is acknowledged only once the cached plan is gone. */
  drop(id: string): Promise<void> {
    return this.cache.drop(`user:${id}`);
  }
}
