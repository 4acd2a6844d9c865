import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, RequireUser, type Principal } from '../common/principal.js';
import { Admission, RateLimit } from '../rate-limit/rate-limit.guard.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import {
  CreateInviteBody,
  INVITE_TOKEN_PATTERN,
  InviteIdParam,
  MembersQuery,
  MemberUserParam,
  PutMemberBody,
  TransferOwnerBody,
} from './dto/members.dto.js';
import { InvitesService } from './invites.service.js';
import { MembersService } from './members.service.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import {
  CreatedInviteSchema,
  InviteAcceptedSchema,
  InvitePageSchema,
  MemberPageSchema,
  MemberSchema,
  SessionSchema,
} from '../contract/schemas.js';

@ApiTags('members')
@Admission()
@Controller('api/sessions/:key')
export class MembersController {
  constructor(
    private readonly members: MembersService,
    private readonly invites: InvitesService,
  ) {}

  @Get('members')
  @ApiOperationDoc({
    id: 'listMembers',
    summary: "List a session's members",
    description: 'The owner first, then the members in the order they were added, with their roles and who added them.',
    auth: 'optional',
    responses: { 200: { description: 'One page.', schema: MemberPageSchema } },
    errors: ['INVALID_CURSOR'],
  })
  list(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: MembersQuery }) query: MembersQuery,
  ) {
    return this.members.list(principal, key, query.limit, query.cursor);
  }

  /** 201 when the user became a member, 200 when their role changed or stayed. */
  @Put('members/:userId')
  @RateLimit('member-changes')
  @ApiOperationDoc({
    id: 'putMember',
    summary: 'Add a member or change their role',
    description: 'The owner only. 201 when the user became a member, 200 when their role changed or stayed.',
    auth: 'user',
    requestExample: { role: 'editor' },
    responses: {
      201: { description: 'Added.', schema: MemberSchema },
      200: { description: 'Role changed or unchanged.', schema: MemberSchema },
    },
    errors: ['NOT_SESSION_OWNER', 'READ_ONLY', 'FORBIDDEN', 'USER_NOT_FOUND', 'OWNER_ROLE_FIXED', 'MEMBER_LIMIT_REACHED'],
  })
  async put(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('userId', { schema: MemberUserParam }) userId: string,
    @Body({ schema: PutMemberBody }) body: PutMemberBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { member, created } = await this.members.put(principal, key, userId, body.role);
    void reply.status(created ? 201 : 200);
    return member;
  }

  @Delete('members/:userId')
  @RateLimit('member-changes')
  @ApiOperationDoc({
    id: 'removeMember',
    summary: 'Remove a member',
    description:
      'The owner removes anyone; a member may remove themselves. Their live access ends at once. The owner cannot be removed ' +
      '(422 OWNER_ROLE_FIXED): ownership passes to a member first.',
    auth: 'user',
    responses: { 204: { description: 'Removed.' } },
    errors: ['NOT_SESSION_OWNER', 'READ_ONLY', 'FORBIDDEN', 'MEMBER_NOT_FOUND', 'OWNER_ROLE_FIXED'],
  })
  @HttpCode(204)
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('userId', { schema: MemberUserParam }) userId: string,
  ): Promise<void> {
    await this.members.remove(principal, key, userId);
  }

  @Post('owner')
  @RateLimit('member-changes')
  @ApiOperationDoc({
    id: 'transferOwnership',
    summary: 'Pass ownership to a member',
    description: 'The owner only; the former owner stays as an editor.',
    auth: 'user',
    responses: { 200: { description: 'The session with its new owner.', schema: SessionSchema } },
    errors: ['NOT_SESSION_OWNER', 'READ_ONLY', 'FORBIDDEN', 'NOT_A_MEMBER'],
  })
  @HttpCode(200)
  transfer(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: TransferOwnerBody }) body: TransferOwnerBody,
  ) {
    return this.members.transfer(principal, key, body.userId);
  }

  /** The token is shown in this answer only. */
  @Post('invites')
  @RateLimit('member-changes')
  @ApiOperationDoc({
    id: 'createInvite',
    summary: 'Create an invitation',
    description: 'A link that makes whoever accepts it a member with the role given. The token is shown in this answer only.',
    auth: 'user',
    responses: { 201: { description: 'Created.', schema: CreatedInviteSchema } },
    errors: ['NOT_SESSION_OWNER', 'READ_ONLY', 'FORBIDDEN', 'MEMBER_LIMIT_REACHED', 'INVITE_LIMIT_REACHED'],
  })
  createInvite(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: CreateInviteBody }) body: CreateInviteBody,
  ) {
    return this.invites.create(principal, key, body);
  }

  @Get('invites')
  @ApiOperationDoc({
    id: 'listInvites',
    summary: "List a session's invitations",
    description: 'The owner only; newest first, without their tokens.',
    auth: 'user',
    responses: { 200: { description: 'One page.', schema: InvitePageSchema } },
    errors: ['NOT_SESSION_OWNER', 'READ_ONLY', 'FORBIDDEN', 'INVALID_CURSOR'],
  })
  listInvites(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: MembersQuery }) query: MembersQuery,
  ) {
    return this.invites.list(principal, key, query.limit, query.cursor);
  }

  @Delete('invites/:id')
  @RateLimit('member-changes')
  @ApiOperationDoc({
    id: 'revokeInvite',
    summary: 'Revoke an invitation',
    description: 'The owner only; the link stops working at once.',
    auth: 'user',
    responses: { 204: { description: 'Revoked.' } },
    errors: ['NOT_SESSION_OWNER', 'READ_ONLY', 'FORBIDDEN', 'NOT_FOUND'],
  })
  @HttpCode(204)
  async revokeInvite(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('id', { schema: InviteIdParam }) id: string,
  ): Promise<void> {
    await this.invites.revoke(principal, key, id);
  }
}

/** Accepting an invitation: its token names the session, so an unknown one counts as a probe like an unknown key. */
@ApiTags('members')
@Admission()
@Controller('api/invites')
export class InviteAcceptController {
  constructor(private readonly invites: InvitesService) {}

  @Post(':token/accept')
  @RateLimit('member-changes')
  @HttpCode(200)
  @RequireUser()
  @ApiParam({ name: 'token', schema: { type: 'string', pattern: INVITE_TOKEN_PATTERN.source } })
  @ApiOperationDoc({
    id: 'acceptInvite',
    summary: 'Accept an invitation',
    description: 'Makes the caller a member of the session the token names. An unknown token counts as a probe, like an unknown key.',
    auth: 'user',
    responses: { 200: { description: 'Accepted: the session and the role.', schema: InviteAcceptedSchema } },
    errors: ['INVITE_NOT_FOUND', 'INVITE_EXPIRED', 'MEMBER_LIMIT_REACHED', 'NOT_FOUND', 'BLOCKED', 'RATE_LIMITED'],
  })
  accept(@CurrentPrincipal() principal: Principal, @Param('token') token: string) {
    return this.invites.accept(principal, token);
  }
}
