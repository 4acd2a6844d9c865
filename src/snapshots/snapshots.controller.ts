import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiIdempotencyKey } from '../idempotency/idempotency.interceptor.js';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Admission, RateLimit } from '../rate-limit/rate-limit.guard.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { PageQuery } from '../common/pagination.js';
import type { FastifyReply } from 'fastify';
import { jsonText, type JsonText } from '../common/json-text.js';
import { documentBody } from '../sessions/document.reader.js';
import { roleIn } from '../sessions/session-access.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { CreateSnapshotBody, SnapshotIdParam } from './snapshots.dto.js';
import { SnapshotsService, type SnapshotView } from './snapshots.service.js';

@ApiTags('snapshots')
@ApiBearerAuth()
@Admission()
@Controller('api/sessions/:key/snapshots')
export class SnapshotsController {
  constructor(private readonly snapshots: SnapshotsService) {}

  /** A manual snapshot; the ones jobs take are not limited. */
  @Post()
  @ApiIdempotencyKey()
  @RateLimit('snapshots', { countOnly: 201 })
  create(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: CreateSnapshotBody }) body: CreateSnapshotBody,
  ): Promise<SnapshotView> {
    return this.snapshots.create(principal, key, body?.label);
  }

  /** Newest first; kept 7, 30 or 365 days by the owner's plan. */
  @Get()
  list(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: PageQuery }) query: PageQuery,
  ) {
    return this.snapshots.list(principal, key, query.limit, query.cursor);
  }

  /** Versioned writes back to the snapshot, broadcast as changes; answers the restored session with its blocks. */
  @Post(':id/restore')
  @ApiIdempotencyKey()
  @HttpCode(200)
  async restore(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('id', { schema: SnapshotIdParam }) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    const document = await this.snapshots.restore(principal, key, id);
    return jsonText(reply, documentBody(document, roleIn(document.head, principal)!));
  }
}
