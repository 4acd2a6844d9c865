import { Module } from '@nestjs/common';
import { BlocksModule } from '../blocks/blocks.module.js';
import { ChangesModule } from '../changes/changes.module.js';
import { RealtimeModule } from '../collaboration/realtime.module.js';
import { SnapshotsModule } from '../snapshots/snapshots.module.js';
import { SweepChangesProcessor } from './change-log.processor.js';
import { DocumentWarmListener } from './document-warm.listener.js';
import { WarmDocumentProcessor } from './document-warm.processor.js';
import { SweepPresenceProcessor } from './presence.processor.js';
import { SweepSnapshotsProcessor } from './snapshots.processor.js';

/** The `collaboration` queue: the side effects of editing that need not hold up a request. */
@Module({
  imports: [BlocksModule, ChangesModule, RealtimeModule, SnapshotsModule],
  providers: [DocumentWarmListener, SweepChangesProcessor, SweepSnapshotsProcessor, SweepPresenceProcessor, WarmDocumentProcessor],
  exports: [SweepChangesProcessor, SweepSnapshotsProcessor, SweepPresenceProcessor, WarmDocumentProcessor],
})
export class MaintenanceModule {}
