import { Module } from '@nestjs/common';
import { BlocksModule } from '../blocks/blocks.module.js';
import { ChangesModule } from '../changes/changes.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { UndoController } from './undo.controller.js';
import { UndoRepository } from './undo.repository.js';
import { UndoService } from './undo.service.js';

/** Undo and redo of a user's own changes, over HTTP here and over the socket through the collaboration gateway. */
@Module({
  imports: [BlocksModule, ChangesModule, RateLimitModule, SessionsModule],
  controllers: [UndoController],
  providers: [UndoRepository, UndoService],
  exports: [UndoService],
})
export class UndoModule {}
