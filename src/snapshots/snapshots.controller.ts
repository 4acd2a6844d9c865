import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
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
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { SessionDocumentSchema, SnapshotPageSchema, SnapshotSchema } from '../contract/schemas.js';

@ApiTags('snapshots')
@Admission()
@Controller('api/sessions/:key/snapshots')
export class SnapshotsController {
  constructor(private readonly snapshots: SnapshotsService) {}

  /** A manual snapshot; the ones jobs take are not limited. */
  @Post()
  @RateLimit('snapshots', { countOnly: 201 })
  @ApiOperationDoc({
    id: 'createSnapshot',
    summary: 'Take a snapshot',
    description: 'A restore point of the whole session now, with an optional label. Manual snapshots are rate limited.',
    auth: 'optional',
    responses: { 201: { description: 'Taken.', schema: SnapshotSchema } },
    errors: ['READ_ONLY'],
  })
  create(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: CreateSnapshotBody }) body: CreateSnapshotBody,
  ): Promise<SnapshotView> {
    return this.snapshots.create(principal, key, body?.label);
  }

  /** Newest first; kept 7, 30 or 365 days by the owner's plan. */
  @Get()
  @ApiOperationDoc({
    id: 'listSnapshots',
    summary: "List a session's snapshots",
    description: "Newest first; kept 7, 30 or 365 days by the owner's plan.",
    auth: 'optional',
    responses: { 200: { description: 'One page.', schema: SnapshotPageSchema } },
    errors: ['INVALID_CURSOR'],
  })
  list(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: PageQuery }) query: PageQuery,
  ) {
    return this.snapshots.list(principal, key, query.limit, query.cursor);
  }

  /** Versioned writes back to the snapshot, broadcast as changes; answers the restored session with its blocks. */
  @Post(':id/restore')
  @RateLimit('session-saves')
  @HttpCode(200)
  @ApiOperationDoc({
    id: 'restoreSnapshot',
    summary: 'Restore a snapshot',
    description:
      'Writes the session back to the snapshot as ordinary versioned writes (broadcast as changes); answers the restored session.',
    auth: 'optional',
    responses: { 200: { description: 'Restored.', schema: SessionDocumentSchema } },
    errors: ['SNAPSHOT_NOT_FOUND', 'READ_ONLY', 'SESSION_TOO_LARGE', 'BLOCK_LIMIT_REACHED'],
  })
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
