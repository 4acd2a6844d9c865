import { Body, Controller, Delete, Get, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AppError } from '../errors/app-error.js';
import { RateLimit, RateLimitGuard, sendLimitHeaders } from '../rate-limit/rate-limit.guard.js';
import { AuthService, type AuthResult } from './auth.service.js';
import { LoginBody, RegisterBody } from './dto/auth.dto.js';
import { CurrentPrincipal, RequireUser, type Principal } from '../common/principal.js';
import type { UserProfile } from './user-profile.cache.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { EXAMPLE_AUTH } from '../common/openapi/examples.js';
import { AuthResultSchema, UserProfileSchema } from '../contract/schemas.js';

@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** Every attempt counts toward the IP's registrations, a taken email too (it would tell which addresses have accounts). */
  @Post('register')
  @UseGuards(RateLimitGuard)
  @RateLimit('registrations', { perIp: true })
  @ApiOperationDoc({
    id: 'register',
    summary: 'Create an account',
    description: "Creates a user (plan FREE) and answers an access token. Every attempt counts toward the IP's registrations.",
    auth: 'none',
    requestExample: { email: 'ada@example.com', password: 'correct horse battery', displayName: 'Ada' },
    responses: { 201: { description: 'Registered.', schema: AuthResultSchema, example: EXAMPLE_AUTH } },
    errors: ['EMAIL_TAKEN'],
  })
  register(@Body({ schema: RegisterBody }) body: RegisterBody): Promise<AuthResult> {
    return this.auth.register(body);
  }

  @Post('login')
  @HttpCode(200)
  @ApiOperationDoc({
    id: 'login',
    summary: 'Log in',
    description:
      'Answers an access token. Unknown email and wrong password get the same 401; failed logins are limited per IP and per account.',
    auth: 'none',
    requestExample: { email: 'ada@example.com', password: 'correct horse battery' },
    responses: { 200: { description: 'Logged in.', schema: AuthResultSchema, example: EXAMPLE_AUTH } },
    errors: ['INVALID_CREDENTIALS', 'RATE_LIMITED', 'BLOCKED'],
  })
  async login(
    @CurrentPrincipal() principal: Principal,
    @Body({ schema: LoginBody }) body: LoginBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AuthResult> {
    const outcome = await this.auth.login(body, principal);
    sendLimitHeaders(reply, outcome.decision);
    if ('error' in outcome) throw outcome.error;
    return outcome.result;
  }

  @Get('me')
  @RequireUser()
  @ApiOperationDoc({
    id: 'getMe',
    summary: 'Get my profile',
    description: "The caller's id, email, display name and plan (the stored plan, not the token's claim).",
    auth: 'user',
    responses: { 200: { description: 'The profile.', schema: UserProfileSchema } },
  })
  async me(@CurrentPrincipal() principal: Principal): Promise<UserProfile> {
    const profile = principal.kind === 'user' ? await this.auth.profile(principal.userId) : null;
    if (!profile) throw new AppError('INVALID_TOKEN');
    return profile;
  }

  /** Deletes the caller's account and the sessions it owns; the token (and every other of the account) is refused from the answer on. */
  @Delete('me')
  @HttpCode(204)
  @RequireUser()
  @ApiOperationDoc({
    id: 'deleteMe',
    summary: 'Delete my account',
    description: 'Deletes the account and the sessions it owns; every token of the account is refused from this answer on.',
    auth: 'user',
    responses: { 204: { description: 'Deleted.' } },
  })
  async deleteMe(@CurrentPrincipal() principal: Principal): Promise<void> {
    if (principal.kind !== 'user') throw new AppError('AUTH_REQUIRED');
    await this.auth.deleteUser(principal.userId, principal).catch((error: unknown) => {
      throw error instanceof AppError && error.code === 'USER_NOT_FOUND' ? new AppError('INVALID_TOKEN') : error;
    });
  }
}
