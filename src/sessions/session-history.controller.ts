import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { SessionDiffSchema } from '../contract/schemas.js';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { jsonText, type JsonText } from '../common/json-text.js';
import { Admission, RateLimit } from '../rate-limit/rate-limit.guard.js';
import { DiffQuery } from './dto/history.dto.js';
import { SessionKeyPipe } from './session-key.pipe.js';
import { TimeTravel } from './time-travel.service.js';

/** What changed in a session between two seqs. */
@ApiTags('sessions')
@Admission()
@Controller('api/sessions/:key/diff')
export class SessionHistoryController {
  constructor(private readonly timeTravel: TimeTravel) {}

  /** `{from, to, blocks: [{id, change, before, after}], session?: {before, after}}`; 410 CHANGES_EXPIRED past the kept log. */
  @Get()
  @RateLimit('time-travel')
  @ApiOperationDoc({
    id: 'diffSession',
    summary: 'What changed between two seqs',
    description:
      'Each block that differs between right after change `from` and right after change `to` (created, updated, moved or deleted, ' +
      'with its state before and after), and the session fields when they changed. 410 when `from` is older than the kept log. ' +
      'Rate limited with past views (`time-travel`).',
    auth: 'optional',
    responses: { 200: { description: 'The differences.', schema: SessionDiffSchema } },
    errors: ['SEQ_OUT_OF_RANGE', 'CHANGES_EXPIRED'],
  })
  async diff(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: DiffQuery }) query: DiffQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    return jsonText(reply, await this.timeTravel.diff(principal, key, query.from, query.to));
  }
}
