import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { jsonText, type JsonText } from '../common/json-text.js';
import { Admission } from '../rate-limit/rate-limit.guard.js';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { BlocksService } from './blocks.service.js';
import { DocumentReader, documentBody } from './document.reader.js';
import { ChangesQuery } from './dto/block.dto.js';

/** The reads of a session as a whole: its fields with its blocks, and its change log. */
@ApiTags('sessions')
@ApiBearerAuth()
@Admission()
@Controller('api/sessions/:key')
export class DocumentsController {
  constructor(
    private readonly reader: DocumentReader,
    private readonly blocks: BlocksService,
  ) {}

  /** The session with its blocks, sent as the JSON text the database wrote (and the cache kept), never re-serialized. */
  @Get()
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    const document = await this.reader.document(principal, key);
    void reply.header('etag', `"${document.head.version}"`);
    return jsonText(reply, documentBody(document));
  }

  /** Every change after `since`, in seq order (a ChangesPage); 410 CHANGES_EXPIRED when the log no longer reaches back that far. */
  @Get('changes')
  async changes(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: ChangesQuery }) query: ChangesQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    return jsonText(reply, [await this.blocks.changes(principal, key, query.since, query.limit)]);
  }
}
