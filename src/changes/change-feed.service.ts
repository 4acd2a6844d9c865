import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ipIdentity, type Principal } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { OnAppEvent } from '../events/app-events.js';
import { LifecycleState } from '../health/lifecycle.state.js';
import { Metrics } from '../metrics/metrics.service.js';
import { SessionAccess } from '../sessions/session-access.service.js';
import { ChangeFeedChannel, type FeedMessage } from './change-feed.channel.js';
import { FeedStream, type FeedEnd } from './change-feed.stream.js';
import { ChangesService } from './changes.service.js';

/** Changes per read of the log (a page also ends at CHANGES_MAX_PAGE_BYTES). */
const PAGE_LIMIT = 1000;
/** Live messages kept while the backlog is read; past this they are read from the log instead. */
const EARLY_MAX = 1024;
/** Retry-After of a refused stream (a reader's own streams end when it closes them). */
const RETRY_AFTER_SECONDS = 5;

/**
 * Change feeds (server-sent events): one stream per reader, each following its session's
 * channel from its `since`. Bounded per instance (SSE_MAX_STREAMS) and per user or IP on the
 * instance (SSE_MAX_STREAMS_PER_CLIENT); one heartbeat timer serves every stream; on
 * shutdown the streams end (readers resume elsewhere with Last-Event-ID).
 */
@Injectable()
export class ChangeFeedService implements BeforeApplicationShutdown {
  private readonly streams = new Set<FeedStream>();
  private readonly perClient = new Map<string, number>();
  private heartbeat?: NodeJS.Timeout;
  private readonly ends;

  constructor(
    private readonly changes: ChangesService,
    private readonly access: SessionAccess,
    private readonly channel: ChangeFeedChannel,
    private readonly lifecycle: LifecycleState,
    @InjectConfig() private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    const streams = this.streams;
    metrics.gauge({
      name: 'change_feed_streams',
      help: 'Open change feeds (server-sent events) on this instance',
      collect() {
        this.set(streams.size);
      },
    });
    this.ends = metrics.counter({
      name: 'change_feed_ends_total',
      help: 'Change feeds ended, by reason (closed, access, deleted, expired, slow, draining)',
      labelNames: ['reason'],
    });
  }

  /**
   * Answers the request with the feed of `key` after `after` (none: from now on): the refusal (404, 410, 429, 503)
   * as problem+json before anything is sent, else a stream that lasts until either side ends it.
   */
  async open(principal: Principal, key: string, after: number | undefined, reply: FastifyReply): Promise<void> {
    if (this.lifecycle.draining) throw new AppError('SERVER_DRAINING');
    if (this.streams.size >= this.config.SSE_MAX_STREAMS)
      throw this.refusal(reply, 'SERVER_FULL', 'This instance serves the most change feeds it may.');
    const client = clientOf(principal, this.config.RATE_LIMIT_IPV6_PREFIX);
    const held = this.perClient.get(client) ?? 0;
    if (held >= this.config.SSE_MAX_STREAMS_PER_CLIENT) {
      throw this.refusal(
        reply,
        'RATE_LIMITED',
        `At most ${this.config.SSE_MAX_STREAMS_PER_CLIENT} change feeds per caller on one instance.`,
      );
    }
    this.perClient.set(client, held + 1);
    let opened = false;
    let unlisten: (() => Promise<void>) | undefined;
    try {
      const { id } = await this.access.require(principal, key, 'read');
      const live: { stream?: FeedStream } = {};
      const early: FeedMessage[] = [];
      unlisten = await this.channel.listen(key, (message) => {
        if (live.stream) live.stream.receive(message);
        else if (early.length < EARLY_MAX || message.type !== 'change') early.push(message);
      });
      // Subscribed before reading: whatever commits from here on arrives live, or is in this page.
      const since = after ?? (await this.access.require(principal, key, 'read', { fresh: true })).head.seq;
      const first = await this.changes.follow(principal, key, id, since, PAGE_LIMIT);
      const response = this.hijack(reply);
      const stop = unlisten;
      const stream = new FeedStream(
        response,
        principal,
        key,
        id,
        since,
        (after) => this.changes.follow(principal, key, id, after, PAGE_LIMIT),
        this.config.SSE_MAX_BUFFERED_BYTES,
        (reason) => this.ended(stream, client, reason, stop),
      );
      live.stream = stream;
      this.streams.add(stream);
      opened = true;
      this.beat();
      for (const message of early) stream.receive(message);
      stream.start(first);
    } finally {
      if (!opened) {
        this.release(client);
        await unlisten?.();
      }
    }
  }

  @OnAppEvent('app.closing')
  closeAll(): void {
    for (const stream of this.streams) stream.close('draining');
  }

  beforeApplicationShutdown(): void {
    this.closeAll();
  }

  private hijack(reply: FastifyReply) {
    reply.hijack();
    const response = reply.raw;
    const headers = Object.entries(reply.getHeaders()).filter(
      (entry): entry is [string, string | number | string[]] => entry[1] !== undefined,
    );
    response.writeHead(200, {
      ...Object.fromEntries(headers),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // Proxies that buffer responses (nginx) pass this one through as it is written.
      'x-accel-buffering': 'no',
      // A stream ends only when its reader goes or the instance drains: its connection goes with it, never back to a pool.
      connection: 'close',
    });
    response.socket?.setNoDelay(true);
    // Headers leave now, not with the first change: a reader of a quiet session knows it is connected.
    response.flushHeaders();
    return response;
  }

  private ended(stream: FeedStream, client: string, reason: FeedEnd, unlisten: () => Promise<void>): void {
    this.streams.delete(stream);
    this.release(client);
    this.ends.inc({ reason });
    void unlisten();
    if (this.streams.size === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  private beat(): void {
    this.heartbeat ??= setInterval(() => {
      for (const stream of this.streams) stream.heartbeat();
    }, this.config.SSE_HEARTBEAT_MS).unref();
  }

  private release(client: string): void {
    const held = (this.perClient.get(client) ?? 1) - 1;
    if (held > 0) this.perClient.set(client, held);
    else this.perClient.delete(client);
  }

  private refusal(reply: FastifyReply, code: 'RATE_LIMITED' | 'SERVER_FULL', detail: string): AppError {
    void reply.header('retry-after', RETRY_AFTER_SECONDS);
    return new AppError(code, detail, { retryAfter: RETRY_AFTER_SECONDS });
  }
}

/** Whose streams count together: a user's (wherever they connect from), an IP's for anyone else. */
function clientOf(principal: Principal, ipv6Prefix: number): string {
  return principal.kind === 'user' ? `user:${principal.userId}` : `ip:${ipIdentity(principal.ip, ipv6Prefix)}`;
}
