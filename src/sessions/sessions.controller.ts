import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Put, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { KeyFreeWhenCreated } from '../rate-limit/key-probe.interceptor.js';
import { Admission, RateLimit } from '../rate-limit/rate-limit.guard.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { CreateSessionBody, InstantiateSessionBody, ListSessionsQuery, SaveSessionBody } from './dto/session.dto.js';
import { SessionKeyPipe } from './session-key.pipe.js';
import { SessionsService } from './sessions.service.js';
import { IdempotencyKey } from '../common/idempotency-key.js';
import { Idempotent } from '../idempotency/idempotency.interceptor.js';
import { jsonText, type JsonText } from '../common/json-text.js';
import { DocumentReader, documentBody } from './document.reader.js';
import { versionFrom } from './version-precondition.js';
import { roleIn } from './session-access.js';
import type { SessionView } from '../contract/session.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { EXAMPLE_DOCUMENT, EXAMPLE_SESSION } from '../common/openapi/examples.js';
import { SessionDocumentSchema, SessionPageSchema, SessionSchema } from '../contract/schemas.js';
import { GetSessionQuery } from './dto/history.dto.js';
import { TimeTravel } from './time-travel.service.js';

@ApiTags('sessions')
@Admission()
@Controller('api/sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly reader: DocumentReader,
    private readonly timeTravel: TimeTravel,
  ) {}

  /** Its Idempotency-Key answers the same session (200) rather than replaying the 201: its own rule, older than the others'. */
  @Post()
  @Idempotent(false)
  @RateLimit('session-creates', { countOnly: 201 })
  @ApiOperationDoc({
    id: 'createSession',
    summary: 'Create a session',
    description:
      'Creates a session under a new key the server generates. Anonymous callers may create one (it has no owner and stays `link`). ' +
      'A retry with the same Idempotency-Key from the same caller within 24 h answers the same session with 200 and ' +
      '`Idempotent-Replayed: true`.',
    auth: 'optional',
    requestExample: { typeSlug: 'document', title: 'Team notes' },
    responses: {
      201: { description: 'Created.', schema: SessionSchema, example: EXAMPLE_SESSION },
      200: {
        description: 'A retry of an earlier create with the same Idempotency-Key: that session.',
        schema: SessionSchema,
        headers: { 'Idempotent-Replayed': { description: '`true`: the answer of a retry.' } },
      },
    },
    errors: ['INVALID_SESSION_TYPE', 'INVALID_THEME', 'IDEMPOTENCY_KEY_REUSED', 'SESSION_TOO_LARGE'],
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'A retry with the same key within 24 h returns the same session (200, `Idempotent-Replayed: true`).',
  })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body({ schema: CreateSessionBody }) body: CreateSessionBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SessionView> {
    const { session, created } = await this.sessions.create(principal, body, idempotencyKey);
    void reply.status(created ? 201 : 200);
    if (!created) void reply.header('idempotent-replayed', 'true');
    return session;
  }

  @Get()
  @ApiOperationDoc({
    id: 'listSessions',
    summary: "List the caller's sessions",
    description:
      'The sessions the caller owns (with `member=true`: those they are a member of), newest first; an operator sees all ' +
      '(`member=true` with the admin token: 400 VALIDATION_FAILED, an operator is a member of no session).',
    auth: 'user',
    responses: { 200: { description: 'One page.', schema: SessionPageSchema } },
    errors: ['INVALID_CURSOR'],
  })
  list(@CurrentPrincipal() principal: Principal, @Query({ schema: ListSessionsQuery }) query: ListSessionsQuery) {
    return this.sessions.list(principal, query);
  }

  /** Counts toward session creation only when it creates (201); opening an existing session (200) does not. */
  @Put(':key')
  @KeyFreeWhenCreated()
  @RateLimit('session-creates', { countOnly: 201 })
  @ApiOperationDoc({
    id: 'instantiateSession',
    summary: 'Create a session under a key, or open it',
    description:
      'Idempotent: creates the session under this key (201) or answers the existing one unchanged (200). Concurrent calls create it once.',
    auth: 'optional',
    requestExample: { typeSlug: 'checklist', title: 'Launch' },
    responses: {
      201: { description: 'Created.', schema: SessionSchema },
      200: { description: 'The session existed: unchanged.', schema: SessionSchema },
    },
    errors: ['INVALID_SESSION_TYPE', 'INVALID_THEME', 'FORBIDDEN', 'SESSION_TOO_LARGE'],
  })
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

  /**
   * The session with its blocks, sent as the JSON text the database wrote (and the cache kept), never re-serialized.
   * With `atSeq`: as it was right after that change (read-only, `atSeq` echoed, never cached).
   */
  @Get(':key')
  @RateLimit('time-travel', { only: asksForThePast })
  @ApiOperationDoc({
    id: 'getSession',
    summary: 'Get a session with its blocks',
    description:
      'The session and its blocks in position order, as the caller may see them. `ETag` carries the version. ' +
      'With `atSeq=n`: as they were right after change n (read-only, never cached, `atSeq` echoed); 410 CHANGES_EXPIRED when ' +
      'n is older than the kept log, 400 SEQ_OUT_OF_RANGE past the current seq; past views are rate limited (`time-travel`), ' +
      'present ones are not.',
    auth: 'optional',
    responses: {
      200: {
        description: 'The session.',
        schema: SessionDocumentSchema,
        example: EXAMPLE_DOCUMENT,
        headers: { ETag: { description: 'The session version, `"<n>"` (not sent with `atSeq`).' } },
      },
    },
    errors: ['SEQ_OUT_OF_RANGE', 'CHANGES_EXPIRED'],
  })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: GetSessionQuery }) query: GetSessionQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JsonText> {
    if (query.atSeq !== undefined) return jsonText(reply, await this.timeTravel.documentAt(principal, key, query.atSeq));
    const document = await this.reader.document(principal, key);
    void reply.header('etag', `"${document.head.version}"`);
    return jsonText(reply, documentBody(document, roleIn(document.head, principal)!));
  }

  @Patch(':key')
  @RateLimit('session-saves')
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiOperationDoc({
    id: 'updateSession',
    summary: "Save a session's fields",
    description:
      'Writes title, state, metadata (merged shallowly), theme or visibility, based on `version` (or If-Match). ' +
      'A stale version is 409 VERSION_CONFLICT with `current`. Only the owner changes visibility.',
    auth: 'optional',
    requestExample: { version: 1, title: 'Team notes, week 19' },
    responses: {
      200: {
        description: 'Saved: the session with its new version.',
        schema: SessionSchema,
        headers: { ETag: { description: 'The new version.' } },
      },
    },
    errors: [
      'VERSION_CONFLICT',
      'PRECONDITION_REQUIRED',
      'READ_ONLY',
      'FORBIDDEN',
      'NOT_SESSION_OWNER',
      'INVALID_THEME',
      'SESSION_TOO_LARGE',
      'METADATA_TOO_LARGE',
    ],
    conflict: { current: [SessionSchema] },
  })
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
  @RateLimit('session-saves')
  @HttpCode(204)
  @ApiOperationDoc({
    id: 'deleteSession',
    summary: 'Delete a session',
    description:
      'Deletes the session with its blocks, jobs and artifacts. The owner (or an operator) only; any key holder when it has no owner.',
    auth: 'optional',
    responses: { 204: { description: 'Deleted.' } },
    errors: ['NOT_SESSION_OWNER', 'FORBIDDEN', 'READ_ONLY'],
  })
  async delete(@CurrentPrincipal() principal: Principal, @Param('key', SessionKeyPipe) key: string): Promise<void> {
    await this.sessions.delete(principal, key);
  }
}

/** A read of the session as it was (`?atSeq=`, in any form): it replays the log, so it takes from the `time-travel` window. */
function asksForThePast(query: unknown): boolean {
  return typeof query === 'object' && query !== null && 'atSeq' in query;
}
