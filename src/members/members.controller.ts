import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiIdempotencyKey } from '../idempotency/idempotency.interceptor.js';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal, RequireUser, type Principal } from '../common/principal.js';
import { Admission } from '../rate-limit/rate-limit.guard.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { CreateInviteBody, InviteIdParam, MembersQuery, MemberUserParam, PutMemberBody, TransferOwnerBody } from './dto/members.dto.js';
import { InvitesService } from './invites.service.js';
import { MembersService } from './members.service.js';

@ApiTags('members')
@ApiBearerAuth()
@Admission()
@Controller('api/sessions/:key')
export class MembersController {
  constructor(
    private readonly members: MembersService,
    private readonly invites: InvitesService,
  ) {}

  @Get('members')
  list(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: MembersQuery }) query: MembersQuery,
  ) {
    return this.members.list(principal, key, query.limit, query.cursor);
  }

  /** 201 when the user became a member, 200 when their role changed or stayed. */
  @Put('members/:userId')
  @ApiIdempotencyKey()
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
  @ApiIdempotencyKey()
  @HttpCode(204)
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Param('userId', { schema: MemberUserParam }) userId: string,
  ): Promise<void> {
    await this.members.remove(principal, key, userId);
  }

  @Post('owner')
  @ApiIdempotencyKey()
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
  @ApiIdempotencyKey()
  createInvite(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: CreateInviteBody }) body: CreateInviteBody,
  ) {
    return this.invites.create(principal, key, body);
  }

  @Get('invites')
  listInvites(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Query({ schema: MembersQuery }) query: MembersQuery,
  ) {
    return this.invites.list(principal, key, query.limit, query.cursor);
  }

  @Delete('invites/:id')
  @ApiIdempotencyKey()
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
@ApiBearerAuth()
@Admission()
@Controller('api/invites')
export class InviteAcceptController {
  constructor(private readonly invites: InvitesService) {}

  @Post(':token/accept')
  @ApiIdempotencyKey()
  @HttpCode(200)
  @RequireUser()
  accept(@CurrentPrincipal() principal: Principal, @Param('token') token: string) {
    return this.invites.accept(principal, token);
  }
}
