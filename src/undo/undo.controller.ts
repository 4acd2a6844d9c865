import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { Admission, RateLimit } from '../rate-limit/rate-limit.guard.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { UndoService, type UndoResult } from './undo.service.js';

/** Undo and redo of the caller's own changes in a session. */
@ApiTags('sessions')
@ApiBearerAuth()
@Admission()
@Controller('api/sessions/:key')
export class UndoController {
  constructor(private readonly undo: UndoService) {}

  /** Undoes the caller's latest step not yet undone: 200 `{seq, changes}`; 409 NOTHING_TO_UNDO, or VERSION_CONFLICT with `current`. */
  @Post('undo')
  @HttpCode(200)
  @RateLimit('block-edits')
  undoLatest(@CurrentPrincipal() principal: Principal, @Param('key', SessionKeyPipe) key: string): Promise<UndoResult> {
    return this.undo.invert(principal, key, 'undo');
  }

  /** Redoes the caller's latest undo, unless they edited since: 200 `{seq, changes}`; 409 NOTHING_TO_REDO, or VERSION_CONFLICT. */
  @Post('redo')
  @HttpCode(200)
  @RateLimit('block-edits')
  redoLatest(@CurrentPrincipal() principal: Principal, @Param('key', SessionKeyPipe) key: string): Promise<UndoResult> {
    return this.undo.invert(principal, key, 'redo');
  }
}
