import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { jsonText, type JsonText } from '../common/json-text.js';
import { opsCount, RateLimit, Admission } from '../rate-limit/rate-limit.guard.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { PageQuery } from '../common/pagination.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { versionFrom } from '../sessions/version-precondition.js';
import { BlocksService } from './blocks.service.js';
import { Idempotent } from '../idempotency/idempotency.interceptor.js';
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
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { EXAMPLE_BLOCK } from '../common/openapi/examples.js';
import { BatchResultSchema, BlockListSchema, BlockSchema, BlockWriteSchema, RevisionPageSchema } from '../contract/schemas.js';

const IF_MATCH = { name: 'If-Match', required: false };

@ApiTags('blocks')
@Admission()
@Controller('api/sessions/:key/blocks')
export class BlocksController {
  constructor(private readonly blocks: BlocksService) {}

  /** `{items, nextCursor: null}`: every block in position order, sent as the text the database wrote. */
  @Get()
  @ApiOperationDoc({
    id: 'listBlocks',
    summary: "List a session's blocks",
    description: 'Every block of the session in position order, whole (`nextCursor` is always null): the per-session block cap bounds it.',
    auth: 'optional',
    responses: { 200: { description: 'The blocks.', schema: BlockListSchema } },
  })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    return jsonText(reply, await this.blocks.list(principal, key));
  }

  @Post()
  @RateLimit('block-edits')
  @ApiOperationDoc({
    id: 'createBlock',
    summary: 'Add a block',
    description: 'Adds a block at version 1 after `afterId`, before `beforeId`, or at the end.',
    auth: 'optional',
    requestExample: { type: 'heading', content: { text: 'Agenda', level: 1 } },
    responses: { 201: { description: 'Created.', schema: BlockSchema, example: EXAMPLE_BLOCK } },
    errors: ['READ_ONLY', 'INVALID_ANCHOR', 'BLOCK_ID_TAKEN', 'BLOCK_LIMIT_REACHED', 'BLOCK_TOO_LARGE', 'SESSION_TOO_LARGE'],
  })
  @Idempotent('with-write')
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
  @HttpCode(200)
  @ApiOperationDoc({
    id: 'batchBlocks',
    summary: 'Apply several block writes at once',
    description:
      'Creates, updates, moves and deletes in one transaction: all or none. A refused op rolls the others back and is named by `opIndex` in the problem.',
    auth: 'optional',
    requestExample: {
      ops: [
        { op: 'create', type: 'text', content: { text: 'First point' } },
        { op: 'update', id: EXAMPLE_BLOCK.id, version: 1, content: { text: 'Agenda (draft)', level: 1 } },
      ],
    },
    responses: {
      200: {
        description: 'Every op applied.',
        schema: BatchResultSchema,
        example: {
          items: [
            {
              ...EXAMPLE_BLOCK,
              id: '5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f',
              type: 'text',
              content: { text: 'First point' },
              position: 'a1',
            },
            { ...EXAMPLE_BLOCK, version: 2, content: { text: 'Agenda (draft)', level: 1 } },
          ],
          seq: 3,
        },
      },
    },
    errors: [
      'VERSION_CONFLICT',
      'READ_ONLY',
      'BLOCK_NOT_FOUND',
      'BLOCK_ID_TAKEN',
      'INVALID_ANCHOR',
      'BLOCK_LIMIT_REACHED',
      'BLOCK_TOO_LARGE',
      'SESSION_TOO_LARGE',
    ],
    conflict: { current: [BlockSchema] },
  })
  batch(@CurrentPrincipal() principal: Principal, @Param('key', SessionKeyPipe) key: string, @Body({ schema: BatchBody }) body: BatchBody) {
    return this.blocks.batch(principal, key, body.ops);
  }

  @Patch(':id')
  @RateLimit('block-edits')
  @Idempotent('with-write')
  @ApiHeader(IF_MATCH)
  @ApiOperationDoc({
    id: 'updateBlock',
    summary: 'Update a block',
    description:
      'Replaces type and/or content, based on `version` (or If-Match). A stale version is 409 VERSION_CONFLICT with the stored block in `current`; ' +
      'with `merge=fields`, a stale write that touched only fields nobody else changed is merged (`merged: true`).',
    auth: 'optional',
    requestExample: { version: 1, content: { text: 'Agenda for Monday', level: 1 } },
    responses: {
      200: {
        description: 'Written, at version + 1.',
        schema: BlockWriteSchema,
        example: { ...EXAMPLE_BLOCK, version: 2, content: { text: 'Agenda for Monday', level: 1 } },
        headers: { ETag: { description: 'The new version.' } },
      },
    },
    errors: ['VERSION_CONFLICT', 'PRECONDITION_REQUIRED', 'READ_ONLY', 'BLOCK_NOT_FOUND', 'BLOCK_TOO_LARGE', 'SESSION_TOO_LARGE'],
    conflict: { current: [BlockSchema] },
  })
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
  @HttpCode(200)
  @ApiHeader(IF_MATCH)
  @ApiOperationDoc({
    id: 'moveBlock',
    summary: 'Move a block',
    description: 'Moves the block after `afterId`, before `beforeId`, or to the end; a move is a write (version + 1).',
    auth: 'optional',
    responses: { 200: { description: 'Moved.', schema: BlockSchema, headers: { ETag: { description: 'The new version.' } } } },
    errors: ['VERSION_CONFLICT', 'PRECONDITION_REQUIRED', 'READ_ONLY', 'BLOCK_NOT_FOUND', 'INVALID_ANCHOR'],
    conflict: { current: [BlockSchema] },
  })
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
  @HttpCode(204)
  @ApiHeader(IF_MATCH)
  @ApiOperationDoc({
    id: 'deleteBlock',
    summary: 'Delete a block',
    description: 'Deletes the block, based on If-Match or `?version=`.',
    auth: 'optional',
    responses: { 204: { description: 'Deleted.' } },
    errors: ['VERSION_CONFLICT', 'PRECONDITION_REQUIRED', 'READ_ONLY', 'BLOCK_NOT_FOUND'],
    conflict: { current: [BlockSchema] },
  })
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
  @ApiOperationDoc({
    id: 'listBlockHistory',
    summary: "List a block's earlier revisions",
    description: 'Earlier revisions, newest first (the last BLOCK_HISTORY_KEEP are kept).',
    auth: 'optional',
    responses: { 200: { description: 'One page.', schema: RevisionPageSchema } },
    errors: ['BLOCK_NOT_FOUND', 'INVALID_CURSOR'],
  })
  history(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('id', { schema: BlockIdParam }) id: string,
    @Query({ schema: PageQuery }) query: PageQuery,
  ) {
    return this.blocks.history(principal, key, id, query);
  }
}
