import { Body, Controller, Delete, Get, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AppError } from '../errors/app-error.js';
import { RateLimit, RateLimitGuard, sendLimitHeaders } from '../rate-limit/rate-limit.guard.js';
import { AuthService, type AuthResult } from './auth.service.js';
import { LoginBody, RegisterBody } from './dto/auth.dto.js';
import { CurrentPrincipal, RequireUser, type Principal } from '../common/principal.js';
import type { UserProfile } from './user-profile.cache.js';

@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** Every attempt counts toward the IP's registrations, a taken email too (it would tell which addresses have accounts). */
  @Post('register')
  @UseGuards(RateLimitGuard)
  @RateLimit('registrations', { perIp: true })
  register(@Body({ schema: RegisterBody }) body: RegisterBody): Promise<AuthResult> {
    return this.auth.register(body);
  }

  @Post('login')
  @HttpCode(200)
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
  @ApiBearerAuth()
  async me(@CurrentPrincipal() principal: Principal): Promise<UserProfile> {
    const profile = principal.kind === 'user' ? await this.auth.profile(principal.userId) : null;
    if (!profile) throw new AppError('INVALID_TOKEN');
    return profile;
  }

  /** Deletes the caller's account and the sessions it owns; the token (and every other of the account) is refused from the answer on. */
  @Delete('me')
  @HttpCode(204)
  @RequireUser()
  @ApiBearerAuth()
  async deleteMe(@CurrentPrincipal() principal: Principal): Promise<void> {
    if (principal.kind !== 'user') throw new AppError('AUTH_REQUIRED');
    await this.auth.deleteUser(principal.userId, principal).catch((error: unknown) => {
      throw error instanceof AppError && error.code === 'USER_NOT_FOUND' ? new AppError('INVALID_TOKEN') : error;
    });
  }
}
