import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { jsonText, type JsonText } from '../common/json-text.js';
import { Admission } from '../rate-limit/rate-limit.guard.js';
import { DiffQuery } from './dto/history.dto.js';
import { SessionKeyPipe } from './session-key.pipe.js';
import { TimeTravel } from './time-travel.service.js';

/** What changed in a session between two seqs. */
@ApiTags('sessions')
@ApiBearerAuth()
@Admission()
@Controller('api/sessions/:key/diff')
export class SessionHistoryController {
  constructor(private readonly timeTravel: TimeTravel) {}

  /** `{from, to, blocks: [{id, change, before, after}], session?: {before, after}}`; 410 CHANGES_EXPIRED past the kept log. */
  @Get()
  async diff(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: DiffQuery }) query: DiffQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    return jsonText(reply, await this.timeTravel.diff(principal, key, query.from, query.to));
  }
}
