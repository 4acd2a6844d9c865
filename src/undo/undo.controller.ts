import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { BlockSchema, SessionSchema, UndoResultSchema } from '../contract/schemas.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { Admission, RateLimit } from '../rate-limit/rate-limit.guard.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { UndoService, type UndoResult } from './undo.service.js';

/** Undo and redo of the caller's own changes in a session. */
@ApiTags('sessions')
@Admission()
@Controller('api/sessions/:key')
export class UndoController {
  constructor(private readonly undo: UndoService) {}

  /** Undoes the caller's latest step not yet undone: 200 `{seq, changes}`; 409 NOTHING_TO_UNDO, or VERSION_CONFLICT with `current`. */
  @Post('undo')
  @ApiOperationDoc({
    id: 'undoChange',
    summary: "Undo the caller's latest change",
    description:
      "Inverts the caller's latest step in the session not yet undone (a batch or a restore is one step) as new versioned writes, " +
      'each marked `undoOf`. If someone changed those blocks since, 409 VERSION_CONFLICT with `current` and nothing is undone.',
    auth: 'user',
    responses: { 200: { description: 'Undone.', schema: UndoResultSchema } },
    errors: [
      'READ_ONLY',
      'FORBIDDEN',
      'NOTHING_TO_UNDO',
      'VERSION_CONFLICT',
      'CHANGES_EXPIRED',
      'SESSION_TOO_LARGE',
      'BLOCK_LIMIT_REACHED',
    ],
    // A block or the session someone changed since; null when a block the step wrote is gone.
    conflict: { current: [BlockSchema, SessionSchema], nullable: true },
  })
  @HttpCode(200)
  @RateLimit('block-edits')
  undoLatest(@CurrentPrincipal() principal: Principal, @Param('key', SessionKeyPipe) key: string): Promise<UndoResult> {
    return this.undo.invert(principal, key, 'undo');
  }

  /** Redoes the caller's latest undo, unless they edited since: 200 `{seq, changes}`; 409 NOTHING_TO_REDO, or VERSION_CONFLICT. */
  @Post('redo')
  @ApiOperationDoc({
    id: 'redoChange',
    summary: "Redo the caller's latest undo",
    description:
      'Applies again what the caller last undid, unless they edited the session since. Same rules as undo: a later change by ' +
      'someone else to those blocks is 409 VERSION_CONFLICT and nothing is redone.',
    auth: 'user',
    responses: { 200: { description: 'Redone.', schema: UndoResultSchema } },
    errors: [
      'READ_ONLY',
      'FORBIDDEN',
      'NOTHING_TO_REDO',
      'VERSION_CONFLICT',
      'CHANGES_EXPIRED',
      'SESSION_TOO_LARGE',
      'BLOCK_LIMIT_REACHED',
    ],
    // A block or the session someone changed since; null when a block the step wrote is gone.
    conflict: { current: [BlockSchema, SessionSchema], nullable: true },
  })
  @HttpCode(200)
  @RateLimit('block-edits')
  redoLatest(@CurrentPrincipal() principal: Principal, @Param('key', SessionKeyPipe) key: string): Promise<UndoResult> {
    return this.undo.invert(principal, key, 'redo');
  }
}
