import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import type { ChangeEvent } from '../contract/change.js';
import type { Visibility } from '../contract/session.js';
import { OnAppEvent, type CommittedChange, type SessionDeletedEvent, type UserDeletedEvent } from '../events/app-events.js';
import { closeRedis, RedisService } from '../redis/redis.service.js';

/** Who may receive a change, as the change's own statement saw the session row. */
export interface FeedAudience {
  visibility: Visibility;
  ownerId?: string | null;
  memberRoles?: unknown;
}

/** What a session's feed channel carries. */
export type FeedMessage =
  | {
      type: 'change';
      sessionId: string;
      change: ChangeEvent;
      audience: FeedAudience;
      /** The change lowered visibility or changed these users' roles: it still goes to who read before it. */
      visibilityLowered?: boolean;
      rolesChanged?: string[];
    }
  | { type: 'deleted' }
  /** Redis was away: messages may have been lost, so every stream reads the log from its last seq. */
  | { type: 'resync' }
  | { type: 'user.deleted'; userId: string };

export type FeedListener = (message: FeedMessage) => void;

const USERS_CHANNEL = 'feed-users';

/**
 * The committed changes of every session, on a Redis channel per session (sharded pub/sub,
 * like the socket rooms), so a change feed on any instance follows changes committed on any
 * other, the workers included. Each process publishes what it commits; an instance subscribes
 * to a session's channel only while it serves a feed of that session.
 */
@Injectable()
export class ChangeFeedChannel implements OnApplicationShutdown {
  private readonly logger = new Logger(ChangeFeedChannel.name);
  private subscriber?: Redis;
  private publisher?: Redis;
  private readonly listeners = new Map<string, Set<FeedListener>>();
  private readonly userListeners = new Set<FeedListener>();

  constructor(
    private readonly redis: RedisService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  @OnAppEvent('change.committed')
  onChange(event: CommittedChange): void {
    const { sessionId, change, visibility, ownerId, memberRoles, visibilityLowered, rolesChanged } = event;
    this.publish(this.channelOf(event.sessionKey), {
      type: 'change',
      sessionId,
      change,
      audience: { visibility, ownerId, memberRoles },
      visibilityLowered,
      rolesChanged,
    });
  }

  @OnAppEvent('session.deleted')
  onDeleted(event: SessionDeletedEvent): void {
    this.publish(this.channelOf(event.key), { type: 'deleted' });
  }

  @OnAppEvent('user.deleted')
  onUserDeleted(event: UserDeletedEvent): void {
    this.publish(this.prefixed(USERS_CHANNEL), { type: 'user.deleted', userId: event.userId });
  }

  /** Calls `listener` with every message of the session's channel from the moment this resolves, until the returned function is called. */
  async listen(sessionKey: string, listener: FeedListener): Promise<() => Promise<void>> {
    const channel = this.channelOf(sessionKey);
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    this.userListeners.add(listener);
    try {
      await this.connection().ssubscribe(channel);
    } catch (error) {
      await this.unlisten(channel, listener);
      throw error;
    }
    return () => this.unlisten(channel, listener);
  }

  async onApplicationShutdown(): Promise<void> {
    // The subscriber has nothing to finish: cut at once (a QUIT can wait behind its unsubscribes).
    this.subscriber?.disconnect();
    if (this.publisher) await closeRedis(this.publisher);
  }

  private async unlisten(channel: string, listener: FeedListener): Promise<void> {
    this.userListeners.delete(listener);
    const set = this.listeners.get(channel);
    set?.delete(listener);
    if (!set || set.size > 0) return;
    this.listeners.delete(channel);
    await this.subscriber?.sunsubscribe(channel).catch(() => undefined);
  }

  private connection(): Redis {
    if (this.subscriber) return this.subscriber;
    const subscriber = this.redis.create('change-feed', { prefixed: false, owned: false, waitForRedis: true });
    let connected = false;
    subscriber.on('ready', () => {
      // After an outage, whatever was published meanwhile is read from the log.
      if (connected) for (const listener of this.userListeners) listener({ type: 'resync' });
      connected = true;
    });
    subscriber.on('smessage', (channel: string, text: string) => this.dispatch(channel, text));
    subscriber.on('message', (channel: string, text: string) => this.dispatch(channel, text));
    void subscriber.subscribe(this.prefixed(USERS_CHANNEL)).catch(() => undefined);
    this.subscriber = subscriber;
    return subscriber;
  }

  private dispatch(channel: string, text: string): void {
    let message: FeedMessage;
    try {
      message = JSON.parse(text) as FeedMessage;
    } catch {
      return;
    }
    const targets = message.type === 'user.deleted' ? this.userListeners : this.listeners.get(channel);
    for (const listener of targets ?? []) listener(message);
  }

  private publish(channel: string, message: FeedMessage): void {
    const text = JSON.stringify(message);
    // Its own connection without the key prefix: SPUBLISH declares its channel a key, which a prefixed client would prefix again.
    this.publisher ??= this.redis.create('change-feed-publisher', { prefixed: false, owned: false, pipelined: true });
    const sent = message.type === 'user.deleted' ? this.publisher.publish(channel, text) : this.publisher.spublish(channel, text);
    sent.catch((error: Error) => this.logger.warn(`publishing to ${channel} failed: ${error.message}`));
  }

  private channelOf(sessionKey: string): string {
    return this.prefixed(`feed:${sessionKey}`);
  }

  private prefixed(name: string): string {
    return `${this.config.REDIS_PREFIX}${name}`;
  }
}
