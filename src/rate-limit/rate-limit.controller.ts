import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ipIdentity, normaliseIp, RequireAdmin } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { RateLimitStatsService, type RateLimitStats } from './rate-limit-stats.service.js';
import { RateLimiter } from './rate-limiter.js';
import { EventBus } from '../events/event-bus.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { RateLimitStatsSchema } from '../contract/schemas.js';

const ResetBody = z
  .union([
    z.object({ userId: z.uuid({ message: 'must be a UUID' }) }).strict(),
    z.object({ ip: z.union([z.ipv4(), z.ipv6(), z.cidrv6()]) }).strict(),
  ])
  .meta({ id: 'RateLimitResetBody' });
type ResetBody = z.infer<typeof ResetBody>;

@ApiTags('admin')
@RequireAdmin()
@Controller('api/admin/rate-limits')
export class RateLimitController {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly statsService: RateLimitStatsService,
    private readonly events: EventBus,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** Allowed, limited and blocked decisions by action, and who was refused most. */
  @Get('stats')
  @ApiOperationDoc({
    id: 'getRateLimitStats',
    summary: 'Rate limit figures',
    description: 'Allowed, limited and blocked decisions by action, and who was refused most.',
    auth: 'admin',
    responses: {
      200: { description: 'The figures.', schema: RateLimitStatsSchema },
    },
  })
  stats(): Promise<RateLimitStats> {
    return this.statsService.stats();
  }

  /** Clears the windows, offences and blocks of one user (with the failed logins naming their account) or IP (as the server reports it; an IPv6 address stands for its prefix). */
  @Post('reset')
  @HttpCode(200)
  @ApiOperationDoc({
    id: 'resetRateLimits',
    summary: 'Reset the limits of a user or IP',
    description:
      'Clears the windows, offences and blocks of one user (with the failed logins naming their account) or IP (an IPv6 address stands for its prefix).',
    auth: 'admin',
    requestExample: { ip: '203.0.113.7' },
    responses: { 200: { description: 'Reset: the identity whose windows were cleared.', schema: z.object({ reset: z.string() }) } },
  })
  async reset(@Body({ schema: ResetBody }) body: ResetBody): Promise<{ reset: string }> {
    const identity =
      'userId' in body ? `user:${body.userId}` : `ip:${ipIdentity(normaliseIp(body.ip), this.config.RATE_LIMIT_IPV6_PREFIX)}`;
    await this.limiter.reset(identity);
    if ('userId' in body) await this.events.emit('rate-limits.reset', { userId: body.userId });
    return { reset: identity };
  }
}
