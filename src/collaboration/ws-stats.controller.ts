import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { WsStatsService, type WsStats } from './ws-stats.service.js';

@ApiTags('admin')
@ApiBearerAuth()
@RequireAdmin()
@Controller('api/admin/ws')
export class WsStatsController {
  constructor(private readonly ws: WsStatsService) {}

  /** This instance's sockets, and the cluster's (servers that reported in the last 30 s). */
  @Get('stats')
  stats(): Promise<WsStats> {
    return this.ws.stats();
  }
}
