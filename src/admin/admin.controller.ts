import { Body, Controller, Delete, Get, HttpCode, Param, Patch } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { AuthService } from '../auth/auth.service.js';
import { ChangePlanBody } from '../auth/dto/auth.dto.js';
import { CurrentPrincipal, RequireAdmin, type Principal } from '../common/principal.js';
import type { UserProfile } from '../auth/user-profile.cache.js';
import { SessionKeyStats, type SessionStats } from '../sessions/session-key.stats.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { SessionStatsSchema, UserProfileSchema } from '../contract/schemas.js';

const UserIdParam = z.uuid({ message: 'must be a UUID' });

/** Operator routes (ADMIN_TOKEN). Each answers one operational question. */
@ApiTags('admin')
@RequireAdmin()
@Controller('api/admin')
export class AdminController {
  constructor(
    private readonly auth: AuthService,
    private readonly sessionStats: SessionKeyStats,
  ) {}

  /** Changes a user's plan; existing tokens act on the new plan within 60 s (at once on this cluster's cache). */
  @Patch('users/:id')
  @ApiOperationDoc({
    id: 'changeUserPlan',
    summary: "Change a user's plan",
    description: "Existing tokens act on the new plan within 60 s (at once on this cluster's cache).",
    auth: 'admin',
    responses: { 200: { description: 'The profile with its new plan.', schema: UserProfileSchema } },
    errors: ['USER_NOT_FOUND'],
  })
  changePlan(
    @Param('id', { schema: UserIdParam }) id: string,
    @Body({ schema: ChangePlanBody }) body: ChangePlanBody,
  ): Promise<UserProfile> {
    return this.auth.changePlan(id, body.plan);
  }

  /** Deletes a user and the sessions they own; their tokens are refused on every instance from the answer on, their sockets disconnected. */
  @Delete('users/:id')
  @HttpCode(204)
  @ApiOperationDoc({
    id: 'deleteUser',
    summary: 'Delete a user',
    description: 'Deletes the user and the sessions they own; their tokens are refused on every instance from this answer on.',
    auth: 'admin',
    responses: { 204: { description: 'Deleted.' } },
    errors: ['USER_NOT_FOUND'],
  })
  deleteUser(@CurrentPrincipal() principal: Principal, @Param('id', { schema: UserIdParam }) id: string): Promise<void> {
    return this.auth.deleteUser(id, principal);
  }

  /** How close the session key space is to growing, and how often key generation retried. */
  @Get('sessions/stats')
  @ApiOperationDoc({
    id: 'getSessionStats',
    summary: 'Session key space figures',
    description: 'How close the session key space is to growing, and how often key generation retried.',
    auth: 'admin',
    responses: {
      200: {
        description: 'The figures.',
        schema: SessionStatsSchema,
      },
    },
  })
  sessionsStats(): Promise<SessionStats> {
    return this.sessionStats.snapshot();
  }
}
