import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { Admission } from '../rate-limit/rate-limit.guard.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { ChangeFeedService } from './change-feed.service.js';
import { ChangeFeedQuery, feedStart } from './changes.dto.js';

/** A session's changes as server-sent events, for clients that cannot hold a socket. */
@ApiTags('sessions')
@Admission()
@Controller('api/sessions/:key/events')
export class ChangeFeedController {
  constructor(private readonly feeds: ChangeFeedService) {}

  /**
   * `text/event-stream`: every change after `since` (or `Last-Event-ID`) as `id: <seq>`,
   * `event: change`, `data: <ChangeEvent>`, then live ones; `event: revoked` when the reader
   * loses access. 410 CHANGES_EXPIRED when the log no longer reaches back that far.
   */
  @Get()
  @ApiProduces('text/event-stream')
  @ApiOperationDoc({
    id: 'followSessionChanges',
    summary: "Follow a session's changes (server-sent events)",
    description:
      'A `text/event-stream` of every change after `since` (or the `Last-Event-ID` header, which wins), gap-free and in seq ' +
      'order, then live ones: `id: <seq>`, `event: change`, `data: <ChangeEvent>`; a comment line keeps it open. ' +
      '`event: revoked` ends it when the reader loses access. 410 CHANGES_EXPIRED when the log no longer reaches back to `since`.',
    auth: 'optional',
    responses: { 200: { description: 'The stream (text/event-stream).' } },
    errors: ['CHANGES_EXPIRED', 'RATE_LIMITED', 'SERVER_FULL', 'SERVER_DRAINING'],
  })
  async follow(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: ChangeFeedQuery }) query: ChangeFeedQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.feeds.open(principal, key, feedStart(query.since, lastEventId), reply);
  }
}
