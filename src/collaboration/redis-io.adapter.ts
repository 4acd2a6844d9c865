import type { IncomingMessage, ServerResponse } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { PROBLEM_CONTENT_TYPE } from '../errors/http-exception.filter.js';
import { toProblem } from '../errors/problem.js';
import { closeRedis, RedisService } from '../redis/redis.service.js';
import { withChangeBatches } from './change-batch.js';

/**
 * Socket.IO over the sharded Redis adapter with dynamic subscriptions (Redis 7): each
 * session's room has its own channel, so a broadcast reaches only the instances that hold
 * members of that session, not the whole cluster.
 */
export class RedisIoAdapter extends IoAdapter {
  private readonly clients: Redis[] = [];

  constructor(
    private readonly app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const redis = this.app.get(RedisService);
    const server = super.createIOServer(port, {
      ...options,
      path: '/socket.io',
      pingInterval: this.config.WS_PING_INTERVAL,
      pingTimeout: this.config.WS_PING_TIMEOUT,
      // WebSocket only unless asked: a polling session spans many requests, which a load balancer must pin to one instance.
      transports: this.config.WS_POLLING ? ['polling', 'websocket'] : ['websocket'],
      maxHttpBufferSize: this.config.BODY_LIMIT,
      // Compress messages over 1 KiB, without keeping a zlib context per connection between
      // messages: with context takeover an idle socket cost ~250 KiB of RSS instead of ~41.
      perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10 },
      cors: { origin: true, credentials: true },
    } as ServerOptions);
    if (!this.config.WS_POLLING) server.engine.use(refusePolling);
    const { adapter, clients } = createRoomAdapter(redis, this.config);
    this.clients.push(...clients);
    server.adapter(adapter);
    return server;
  }

  override async close(server: Server): Promise<void> {
    await super.close(server);
    await closeClients(this.clients);
  }
}

/**
 * The sharded Redis adapter (which also delivers batches of changes, see change-batch) on
 * its own two connections. They are owned by the caller, not by RedisService: they must
 * outlive the modules until the Socket.IO server has closed.
 */
export function createRoomAdapter(
  redis: RedisService,
  config: AppConfig,
): { adapter: ReturnType<typeof createShardedAdapter>; clients: Redis[] } {
  const pub = quiet(redis.create('socket.io:pub', { prefixed: false, owned: false, pipelined: true }), ['spublish', 'publish']);
  const sub = quiet(redis.create('socket.io:sub', { prefixed: false, owned: false, waitForRedis: true }), [
    'ssubscribe',
    'sunsubscribe',
    'subscribe',
    'unsubscribe',
  ]);
  const adapter = withChangeBatches(
    createShardedAdapter(pub, sub, { channelPrefix: `${config.REDIS_PREFIX}socket.io`, subscriptionMode: 'dynamic' }),
  );
  return { adapter, clients: [pub, sub] };
}

export async function closeClients(clients: Redis[]): Promise<void> {
  await Promise.all(clients.map(closeRedis));
}

/**
 * The adapter does not await its Redis commands; while Redis is away (or as the client
 * closes) they would reject unhandled. A broadcast lost then is recovered by clients from
 * the gap-free seq; the subscriber waits for Redis and resubscribes on its own.
 */
function quiet(
  client: Redis,
  commands: ReadonlyArray<'spublish' | 'publish' | 'ssubscribe' | 'sunsubscribe' | 'subscribe' | 'unsubscribe'>,
): Redis {
  for (const command of commands) {
    const original = (client[command] as (...args: unknown[]) => Promise<unknown>).bind(client);
    Object.assign(client, { [command]: (...args: unknown[]) => original(...args).catch(() => undefined) });
  }
  return client;
}

/**
 * Engine.IO answers a transport it does not offer with an opaque 400 (`Transport unknown`);
 * a client that tries HTTP long-polling first (python-socketio's default) is told what to
 * do instead: a problem naming WS_POLLING. WebSocket handshakes pass on.
 */
function refusePolling(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
  if (new URL(req.url ?? '/', 'http://localhost').searchParams.get('transport') !== 'polling') return next();
  const { problem } = toProblem(new AppError('WS_POLLING'));
  res.writeHead(problem.status, { 'content-type': PROBLEM_CONTENT_TYPE });
  res.end(JSON.stringify(problem));
}
