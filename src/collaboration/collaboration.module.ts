import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { BlocksModule } from '../blocks/blocks.module.js';
import { ChangesModule } from '../changes/changes.module.js';
import { HealthModule } from '../health/health.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { UndoModule } from '../undo/undo.module.js';
import { CollabHandshake } from './collab.handshake.js';
import { CollaborationGateway } from './collaboration.gateway.js';
import { RealtimeModule } from './realtime.module.js';
import { SessionRooms } from './session-rooms.js';
import { SocketAckFilter, SocketAckInterceptor, SocketEventsInFlight, SocketPayloadGuard } from './socket-ack.js';
import { SocketBackpressure } from './socket-backpressure.js';
import { SocketMetrics } from './socket.metrics.js';
import { WsStatsController } from './ws-stats.controller.js';
import { WsStatsService } from './ws-stats.service.js';

@Module({
  imports: [AuthModule, BlocksModule, ChangesModule, HealthModule, RateLimitModule, RealtimeModule, SessionsModule, UndoModule],
  controllers: [WsStatsController],
  providers: [
    CollabHandshake,
    CollaborationGateway,
    SessionRooms,
    SocketAckFilter,
    SocketAckInterceptor,
    SocketBackpressure,
    SocketEventsInFlight,
    SocketMetrics,
    SocketPayloadGuard,
    WsStatsService,
  ],
})
export class CollaborationModule {}
