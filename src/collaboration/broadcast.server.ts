import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';
import { NAMESPACE } from './collab.protocol.js';
import { CollabServer } from './collab.server.js';
import { closeClients, createRoomAdapter } from './redis-io.adapter.js';

/**
 * For a process without a gateway (the worker): a Socket.IO server that accepts no
 * connections but publishes to sessions' rooms through the same Redis adapter, so changes
 * and job events made here reach the clients connected to the API instances.
 */
@Injectable()
export class BroadcastServer implements OnModuleInit, OnApplicationShutdown {
  private io?: Server;
  private clients: Redis[] = [];

  constructor(
    private readonly redis: RedisService,
    private readonly server: CollabServer,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    const { adapter, clients } = createRoomAdapter(this.redis, this.config);
    this.clients = clients;
    this.io = new Server({ adapter, serveClient: false });
    this.server.attach(this.io.of(NAMESPACE));
  }

  async onApplicationShutdown(): Promise<void> {
    // No engine or HTTP server to close here (Server.close() assumes one): only the adapter and its connections.
    await Promise.resolve(this.io?.of(NAMESPACE).adapter.close()).catch(() => undefined);
    await closeClients(this.clients);
  }
}
