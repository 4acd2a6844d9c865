import { Injectable } from '@nestjs/common';
import { CacheService } from '../cache/cache.service.js';
import type { Plan } from '../generated/prisma/enums.js';

export interface UserProfile {
  id: string;
  email: string;
  displayName: string;
  plan: Plan;
}

const entry = (id: string) => ({ type: 'user' as const, key: id, tags: [`user:${id}`] });

/** The user's stored profile and plan, shared by every instance, invalidated on change. */
@Injectable()
export class UserProfileCache {
  constructor(private readonly cache: CacheService) {}

  getOrLoad(id: string, load: () => Promise<UserProfile | null>): Promise<UserProfile | null> {
    return this.cache.getOrSet(entry(id), load);
  }

  /** Must succeed: a plan change is acknowledged only once the cached plan is invalid everywhere. */
  drop(id: string): Promise<void> {
    return this.cache.invalidate(entry(id).tags);
  }
}
