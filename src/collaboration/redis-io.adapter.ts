import type { IncomingMessage, ServerResponse } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import { catchError, defer, EMPTY, filter, type Observable } from 'rxjs';
import type { Server, ServerOptions, Socket } from 'socket.io';
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

  /**
   * The gateway's handlers on the socket as one plain listener per event. Nest's own binding
   * builds an RxJS pipeline per event and socket (fromEvent, mergeMap, takeUntil on a shared
   * disconnect stream) that an idle socket kept alive: ~40 KiB of closures and subscribers
   * per connection, most of what an idle socket cost. The contract is Nest's: the payload
   * and ack mapped alike, a non-null result acked (or emitted, as `{event, data}`), a thrown
   * or failed handler logged without silencing the event, and a result still pending when
   * the socket disconnects dropped (its interceptors' finalizers run then).
   */
  override bindMessageHandlers(
    socket: Socket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    for (const { message, callback, isAckHandledManually } of handlers) {
      socket.on(message as string, (...args: unknown[]) => {
        const mapped: { data: unknown; ack?: unknown } = this.mapPayload(args.length > 1 ? args : args[0]);
        const { data, ack } = mapped;
        const answering = defer(() => transform(callback(data, ack)))
          .pipe(
            filter((response) => response !== null && response !== undefined),
            catchError((error: unknown) => {
              this.logger.error(error);
              return EMPTY;
            }),
          )
          .subscribe((response) => {
            const { event, data: payload } = response as { event?: string; data?: unknown };
            if (event) socket.emit(event, payload);
            else if (!isAckHandledManually && typeof ack === 'function') (ack as (answer: unknown) => void)(response);
          });
        if (answering.closed) return;
        const drop = () => answering.unsubscribe();
        socket.once('disconnect', drop);
        answering.add(() => socket.off('disconnect', drop));
      });
    }
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
