import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Header, Headers, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OwnAuthorization } from '../auth/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { Metrics } from './metrics.service.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Prometheus scrape endpoint: open, or `Authorization: Bearer <METRICS_TOKEN>` when that is set. */
@ApiExcludeController()
@OwnAuthorization()
@Controller('metrics')
export class MetricsController {
  private readonly tokenDigest?: Buffer;

  constructor(
    private readonly metrics: Metrics,
    @InjectConfig() config: AppConfig,
  ) {
    this.tokenDigest = config.METRICS_TOKEN ? digest(config.METRICS_TOKEN) : undefined;
  }

  @Get()
  @Header('cache-control', 'no-store')
  async scrape(@Headers('authorization') authorization: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    if (this.tokenDigest) {
      const token = /^Bearer (\S{1,4096})$/i.exec(authorization?.trim() ?? '')?.[1];
      if (!token) throw new AppError('METRICS_TOKEN_REQUIRED');
      if (!timingSafeEqual(digest(token), this.tokenDigest)) throw new AppError('INVALID_TOKEN', 'This is not the metrics token.');
    }
    void reply.header('content-type', this.metrics.contentType);
    return this.metrics.scrape();
  }
}
