import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { jsonText, type JsonText } from '../common/json-text.js';
import { opsCount, RateLimit, Admission } from '../rate-limit/rate-limit.guard.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { PageQuery } from '../common/pagination.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { versionFrom } from '../sessions/version-precondition.js';
import { BlocksService } from './blocks.service.js';
import { ApiIdempotencyKey, Idempotent } from '../idempotency/idempotency.interceptor.js';
import type { BlockView } from '../contract/block.js';
import {
  BatchBody,
  BlockIdParam,
  CreateBlockBody,
  DeleteBlockQuery,
  MoveBlockBody,
  UpdateBlockBody,
  UpdateBlockQuery,
} from './dto/block.dto.js';

const IF_MATCH = { name: 'If-Match', required: false, description: 'The base version, "<n>", instead of body `version`.' };

@ApiTags('blocks')
@ApiBearerAuth()
@Admission()
@Controller('api/sessions/:key/blocks')
export class BlocksController {
  constructor(private readonly blocks: BlocksService) {}

  /** `{items, nextCursor: null}`: every block in position order, sent as the text the database wrote. */
  @Get()
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    return jsonText(reply, await this.blocks.list(principal, key));
  }

  @Post()
  @RateLimit('block-edits')
  @Idempotent('with-write')
  @ApiIdempotencyKey()
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: CreateBlockBody }) body: CreateBlockBody,
  ): Promise<BlockView> {
    return (await this.blocks.create(principal, key, body)).block;
  }

  /** All ops in one transaction, or none (409 with `opIndex`). */
  @Post('batch')
  @RateLimit('block-edits', { cost: opsCount })
  @ApiIdempotencyKey()
  @HttpCode(200)
  batch(@CurrentPrincipal() principal: Principal, @Param('key', SessionKeyPipe) key: string, @Body({ schema: BatchBody }) body: BatchBody) {
    return this.blocks.batch(principal, key, body.ops);
  }

  @Patch(':id')
  @RateLimit('block-edits')
  @Idempotent('with-write')
  @ApiIdempotencyKey()
  @ApiHeader(IF_MATCH)
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('id', { schema: BlockIdParam }) id: string,
    @Body({ schema: UpdateBlockBody }) body: UpdateBlockBody,
    @Query({ schema: UpdateBlockQuery }) query: UpdateBlockQuery,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BlockView> {
    const { block } = await this.blocks.update(principal, key, id, versionFrom(body.version, ifMatch), body, query.merge === 'fields');
    void reply.header('etag', `"${block.version}"`);
    return block;
  }

  @Post(':id/move')
  @RateLimit('block-edits')
  @Idempotent('with-write')
  @ApiIdempotencyKey()
  @HttpCode(200)
  @ApiHeader(IF_MATCH)
  async move(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('id', { schema: BlockIdParam }) id: string,
    @Body({ schema: MoveBlockBody }) body: MoveBlockBody,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BlockView> {
    const { block } = await this.blocks.move(principal, key, id, versionFrom(body.version, ifMatch), body);
    void reply.header('etag', `"${block.version}"`);
    return block;
  }

  @Delete(':id')
  @RateLimit('block-edits')
  @Idempotent('with-write')
  @ApiIdempotencyKey()
  @HttpCode(204)
  @ApiHeader(IF_MATCH)
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('id', { schema: BlockIdParam }) id: string,
    @Query({ schema: DeleteBlockQuery }) query: DeleteBlockQuery,
    @Headers('if-match') ifMatch: string | undefined,
  ): Promise<void> {
    await this.blocks.delete(principal, key, id, versionFrom(query.version, ifMatch));
  }

  /** Earlier revisions, newest first (the last BLOCK_HISTORY_KEEP are kept). */
  @Get(':id/history')
  history(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('id', { schema: BlockIdParam }) id: string,
    @Query({ schema: PageQuery }) query: PageQuery,
  ) {
    return this.blocks.history(principal, key, id, query);
  }
}
