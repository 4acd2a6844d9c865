import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';
import { CollabServer } from './collab.server.js';

const SERVERS_KEY = 'ws:servers';
const HEARTBEAT_MS = 10_000;
/** A server that has not reported for this long is gone: a dead instance drops out within a minute. */
const DEAD_AFTER_MS = 30_000;

interface ServerReport {
  serverId: string;
  connections: number;
  rooms: number;
  startedAt: number;
  seen: number;
}

export interface WsStats {
  serverId: string;
  localConnections: number;
  clusterConnections: number;
  servers: number;
  rooms: number;
  uptime: number;
  serverList: Array<{ serverId: string; connections: number; rooms: number; uptime: number }>;
}

/** Each instance reports its sockets to one Redis hash every 10 s; the cluster figures are read from it (at most that old). */
@Injectable()
export class WsStatsService implements OnModuleInit, OnModuleDestroy {
  readonly serverId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly startedAt = Date.now();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisService,
    private readonly server: CollabServer,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    void this.report().catch(() => undefined);
    this.timer = setInterval(() => void this.report().catch(() => undefined), HEARTBEAT_MS).unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.client.hdel(SERVERS_KEY, this.serverId).catch(() => undefined);
  }

  async stats(): Promise<WsStats> {
    await this.report();
    const now = Date.now();
    const reports = Object.values(await this.redis.client.hgetall(SERVERS_KEY)).map((raw) => JSON.parse(raw) as ServerReport);
    const dead = reports.filter((r) => r.seen < now - DEAD_AFTER_MS);
    if (dead.length) await this.redis.client.hdel(SERVERS_KEY, ...dead.map((r) => r.serverId));
    const live = reports.filter((r) => r.seen >= now - DEAD_AFTER_MS);
    const local = this.local();
    return {
      serverId: this.serverId,
      localConnections: local.connections,
      clusterConnections: live.reduce((n, r) => n + r.connections, 0),
      servers: live.length,
      rooms: await this.clusterRooms(),
      uptime: Math.round((now - this.startedAt) / 1000),
      serverList: live.map((r) => ({
        serverId: r.serverId,
        connections: r.connections,
        rooms: r.rooms,
        uptime: Math.round((now - r.startedAt) / 1000),
      })),
    };
  }

  private async report(): Promise<void> {
    const report: ServerReport = { serverId: this.serverId, ...this.local(), startedAt: this.startedAt, seen: Date.now() };
    await this.redis.client.hset(SERVERS_KEY, this.serverId, JSON.stringify(report));
  }

  private local(): { connections: number; rooms: number } {
    if (!this.server.started) return { connections: 0, rooms: 0 };
    const namespace = this.server.namespace;
    const rooms = [...namespace.adapter.rooms.keys()].filter((room) => room.startsWith('s:')).length;
    return { connections: namespace.sockets.size, rooms };
  }

  /** Sessions with live members anywhere: their presence hashes (an operator's route, so SCAN is fine). */
  private async clusterRooms(): Promise<number> {
    let count = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.client.scan(cursor, 'MATCH', `${this.config.REDIS_PREFIX}presence:*`, 'COUNT', 1000);
      cursor = next;
      count += keys.length;
    } while (cursor !== '0');
    return count;
  }
}
