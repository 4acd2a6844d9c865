import { Module } from '@nestjs/common';
import { BroadcastServer } from './broadcast.server.js';
import { RealtimeModule } from './realtime.module.js';

/** The worker's side of collaboration: it publishes to rooms and holds no sockets. */
@Module({ imports: [RealtimeModule], providers: [BroadcastServer] })
export class BroadcastModule {}
