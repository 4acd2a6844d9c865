import { Injectable, Logger } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';
import { chooseKeyLength, keySpace } from './session-key.js';
import { SessionsRepository } from './sessions.repository.js';

const COLLISIONS_KEY = 'stats:sessions:key-collisions-retried';

export interface SessionStats {
  total: number;
  anonymous: number;
  currentKeyLength: number;
  byKeyLength: Record<string, number>;
  keySpaceFill: Record<string, number>;
  keyCollisionsRetried: number;
}

/** How full the key space is and how often key generation had to retry, cluster-wide. */
@Injectable()
export class SessionKeyStats {
  private readonly logger = new Logger(SessionKeyStats.name);

  constructor(
    private readonly sessions: SessionsRepository,
    private readonly redis: RedisService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  collisionRetried(): void {
    this.redis.client.incr(COLLISIONS_KEY).catch((error: Error) => this.logger.warn(`collision not counted: ${error.message}`));
  }

  async snapshot(): Promise<SessionStats> {
    const [counts, totals, collisions] = await Promise.all([
      this.sessions.countByKeyLength(),
      this.sessions.countAll(),
      this.redis.client.get(COLLISIONS_KEY).catch(() => null),
    ]);
    const lengths = [...counts.keys()].sort((a, b) => a - b);
    return {
      ...totals,
      currentKeyLength: chooseKeyLength(counts, this.config.SESSION_KEY_LENGTH, this.config.SESSION_KEY_MAX_FILL),
      byKeyLength: Object.fromEntries(lengths.map((l) => [String(l), counts.get(l) ?? 0])),
      keySpaceFill: Object.fromEntries(lengths.map((l) => [String(l), (counts.get(l) ?? 0) / keySpace(l)])),
      keyCollisionsRetried: Number(collisions ?? 0),
    };
  }
}
