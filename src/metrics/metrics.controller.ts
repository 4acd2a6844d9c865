import { Controller, Get, Header, Headers, Res } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { bearerToken, SharedSecret } from '../common/bearer.js';
import { OwnAuthorization } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { Metrics } from './metrics.service.js';
import { z } from 'zod';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';

/** Prometheus scrape endpoint: open, or `Authorization: Bearer <METRICS_TOKEN>` when that is set. */
@ApiTags('metrics')
@OwnAuthorization()
@Controller('metrics')
export class MetricsController {
  private readonly token?: SharedSecret;

  constructor(
    private readonly metrics: Metrics,
    @InjectConfig() config: AppConfig,
  ) {
    this.token = SharedSecret.of(config.METRICS_TOKEN);
  }

  @Get()
  @Header('cache-control', 'no-store')
  @ApiProduces('text/plain')
  @ApiOperationDoc({
    id: 'scrapeMetrics',
    summary: 'Prometheus metrics',
    description: "The process's metrics in Prometheus' text format. Open, or `Authorization: Bearer <METRICS_TOKEN>` when that is set.",
    auth: 'metrics',
    responses: { 200: { description: 'The metrics.', schema: z.string() } },
    errors: ['METRICS_TOKEN_REQUIRED', 'INVALID_TOKEN'],
  })
  async scrape(@Headers('authorization') authorization: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    if (this.token) {
      const token = bearerToken(authorization);
      if (!token) throw new AppError('METRICS_TOKEN_REQUIRED');
      if (!this.token.matches(token)) throw new AppError('INVALID_TOKEN', 'This is not the metrics token.');
    }
    void reply.header('content-type', this.metrics.contentType);
    return this.metrics.scrape();
  }
}
