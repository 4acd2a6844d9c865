import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { jsonText, type JsonText } from '../common/json-text.js';
import { Admission } from '../rate-limit/rate-limit.guard.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { ChangesQuery } from './changes.dto.js';
import { ChangesService } from './changes.service.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { ChangesPageSchema } from '../contract/schemas.js';

/** A session's change log, for a client catching up after a disconnect. */
@ApiTags('sessions')
@Admission()
@Controller('api/sessions/:key/changes')
export class ChangesController {
  constructor(private readonly changes: ChangesService) {}

  /** Every change after `since`, in seq order (a ChangesPage); 410 CHANGES_EXPIRED when the log no longer reaches back that far. */
  @Get()
  @ApiOperationDoc({
    id: 'listChanges',
    summary: "List a session's changes since a seq",
    description:
      'Every change after `since`, in seq order, for a client catching up after a disconnect; a page ends early at `limit` or CHANGES_MAX_PAGE_BYTES ' +
      '(ask again from the last seq). 410 CHANGES_EXPIRED when the log no longer reaches back that far: reload the session.',
    auth: 'optional',
    responses: { 200: { description: 'The changes, and the session seq.', schema: ChangesPageSchema } },
    errors: ['CHANGES_EXPIRED'],
  })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: ChangesQuery }) query: ChangesQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    return jsonText(reply, [await this.changes.pageFor(principal, key, query.since, query.limit)]);
  }
}
