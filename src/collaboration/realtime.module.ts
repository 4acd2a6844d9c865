import { Module } from '@nestjs/common';
import { ChangeBroadcaster } from './change-broadcaster.js';
import { CollabServer } from './collab.server.js';
import { JobBroadcaster } from './job-broadcaster.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { SweepPresenceProcessor } from './presence.processor.js';
import { PresenceService } from './presence.service.js';
import { UserRevocationListener } from './user-revocation.listener.js';

/**
 * What reaches sessions' rooms: changes, conflicts, revocations, presence and job events; and the
 * disconnection of deleted users.
 * The API attaches it to its gateway; a worker process to a broadcast-only server.
 */
@Module({
  imports: [SessionsModule],
  providers: [ChangeBroadcaster, CollabServer, JobBroadcaster, PresenceService, SweepPresenceProcessor, UserRevocationListener],
  exports: [CollabServer, PresenceService],
})
export class RealtimeModule {}
