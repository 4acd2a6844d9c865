import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { chooseKeyLength, generateSessionKey, MAX_KEY_LENGTH } from './session-key.js';
import { SessionsRepository } from './sessions.repository.js';

/** How stale this instance's view of the key space may get; other instances' creates show up after it. */
const RECOUNT_AFTER_MS = 1000;
/** After this many collisions in one create, try one character longer regardless of the fill. */
const COLLISIONS_BEFORE_ESCALATION = 4;

/**
 * Proposes candidate keys. Uniqueness is the database's job (unique index, insert that
 * does nothing on conflict, retry); this only keeps collisions rare by growing the key
 * length once the live keys of a length pass SESSION_KEY_MAX_FILL of its space.
 */
@Injectable()
export class SessionKeyGenerator {
  private counts = new Map<number, number>();
  private countedAt = 0;
  private recount?: Promise<void>;

  constructor(
    private readonly sessions: SessionsRepository,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** The length new keys get now. */
  async currentLength(): Promise<number> {
    if (Date.now() - this.countedAt > RECOUNT_AFTER_MS) {
      this.recount ??= this.sessions
        .countByKeyLength()
        .then((counts) => {
          this.counts = counts;
          this.countedAt = Date.now();
        })
        .finally(() => (this.recount = undefined));
      await this.recount;
    }
    return chooseKeyLength(this.counts, this.config.SESSION_KEY_LENGTH, this.config.SESSION_KEY_MAX_FILL);
  }

  /** A candidate for the `attempt`-th try (0-based) of one create. */
  async candidate(attempt: number): Promise<string> {
    const base = await this.currentLength();
    const length = Math.min(MAX_KEY_LENGTH, base + Math.floor(attempt / COLLISIONS_BEFORE_ESCALATION));
    return generateSessionKey(length);
  }

  /** Counts a key this instance just took, so its own creates see the fill grow at once. */
  taken(key: string): void {
    this.counts.set(key.length, (this.counts.get(key.length) ?? 0) + 1);
  }
}
