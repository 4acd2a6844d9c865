import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { WsStatsService, type WsStats } from './ws-stats.service.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { WsStatsSchema } from '../contract/schemas.js';

@ApiTags('admin')
@RequireAdmin()
@Controller('api/admin/ws')
export class WsStatsController {
  constructor(private readonly ws: WsStatsService) {}

  /** This instance's sockets, and the cluster's (servers that reported in the last 30 s). */
  @Get('stats')
  @ApiOperationDoc({
    id: 'getSocketStats',
    summary: 'Socket figures',
    description: "This instance's sockets, and the cluster's (servers that reported in the last 30 s).",
    auth: 'admin',
    responses: { 200: { description: 'The figures.', schema: WsStatsSchema } },
  })
  stats(): Promise<WsStats> {
    return this.ws.stats();
  }
}
