import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { KeyFreeWhenCreated } from '../rate-limit/key-probe.interceptor.js';
import { Admission, RateLimit } from '../rate-limit/rate-limit.guard.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { CreateSessionBody, InstantiateSessionBody, ListSessionsQuery, SaveSessionBody } from './dto/session.dto.js';
import { SessionKeyPipe } from './session-key.pipe.js';
import { SessionsService } from './sessions.service.js';
import { IdempotencyKey } from '../common/idempotency-key.js';
import { ApiIdempotencyKey, Idempotent } from '../idempotency/idempotency.interceptor.js';
import { jsonText, type JsonText } from '../common/json-text.js';
import { DocumentReader, documentBody } from './document.reader.js';
import { versionFrom } from './version-precondition.js';
import { roleIn } from './session-access.js';
import type { SessionView } from '../contract/session.js';

@ApiTags('sessions')
@ApiBearerAuth()
@Admission()
@Controller('api/sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly reader: DocumentReader,
  ) {}

  /** Its Idempotency-Key answers the same session (200) rather than replaying the 201: its own rule, older than the others'. */
  @Post()
  @Idempotent(false)
  @RateLimit('session-creates', { countOnly: 201 })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'A retry with the same key within 24 h returns the same session (200).',
  })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body({ schema: CreateSessionBody }) body: CreateSessionBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SessionView> {
    const { session, created } = await this.sessions.create(principal, body, idempotencyKey);
    void reply.status(created ? 201 : 200);
    return session;
  }

  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query({ schema: ListSessionsQuery }) query: ListSessionsQuery) {
    return this.sessions.list(principal, query);
  }

  /** Counts toward session creation only when it creates (201); opening an existing session (200) does not. */
  @Put(':key')
  @ApiIdempotencyKey()
  @KeyFreeWhenCreated()
  @RateLimit('session-creates', { countOnly: 201 })
  async instantiate(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: InstantiateSessionBody }) body: InstantiateSessionBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SessionView> {
    const { session, created } = await this.sessions.instantiate(principal, key, body);
    void reply.status(created ? 201 : 200);
    return session;
  }

  /** The session with its blocks, sent as the JSON text the database wrote (and the cache kept), never re-serialized. */
  @Get(':key')
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    const document = await this.reader.document(principal, key);
    void reply.header('etag', `"${document.head.version}"`);
    return jsonText(reply, documentBody(document, roleIn(document.head, principal)!));
  }

  @Patch(':key')
  @ApiIdempotencyKey()
  @ApiHeader({ name: 'If-Match', required: false, description: 'The base version, "<n>", instead of body `version`.' })
  async save(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: SaveSessionBody }) body: SaveSessionBody,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SessionView> {
    const session = await this.sessions.save(principal, key, versionFrom(body.version, ifMatch), body);
    void reply.header('etag', `"${session.version}"`);
    return session;
  }

  @Delete(':key')
  @ApiIdempotencyKey()
  @HttpCode(204)
  async delete(@CurrentPrincipal() principal: Principal, @Param('key', SessionKeyPipe) key: string): Promise<void> {
    await this.sessions.delete(principal, key);
  }
}
