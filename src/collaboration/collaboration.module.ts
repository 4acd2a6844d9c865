import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { BlocksModule } from '../blocks/blocks.module.js';
import { HealthModule } from '../health/health.module.js';
import { ChangeBroadcaster } from './change-broadcaster.js';
import { CollabHandshake } from './collab.handshake.js';
import { CollabServer } from './collab.server.js';
import { CollaborationGateway } from './collaboration.gateway.js';
import { PresenceService } from './presence.service.js';
import { WsStatsController } from './ws-stats.controller.js';
import { WsStatsService } from './ws-stats.service.js';

@Module({
  imports: [AuthModule, BlocksModule, HealthModule],
  controllers: [WsStatsController],
  providers: [ChangeBroadcaster, CollabHandshake, CollabServer, CollaborationGateway, PresenceService, WsStatsService],
  exports: [CollabServer],
})
export class CollaborationModule {}
