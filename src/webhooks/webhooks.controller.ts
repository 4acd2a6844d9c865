import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '../common/pagination.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { CreateWebhookBody, DeliveriesQuery, UpdateWebhookBody, WebhookIdParam } from './dto/webhooks.dto.js';
import { WebhooksService } from './webhooks.service.js';

/** Signed-in users' (and operators') webhooks and their delivery logs; anonymous callers: 401. */
@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('api/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /** 201 with `secret`, shown only here. */
  @Post()
  create(@CurrentPrincipal() principal: Principal, @Body({ schema: CreateWebhookBody }) body: CreateWebhookBody) {
    return this.webhooks.create(principal, body);
  }

  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query({ schema: PageQuery }) query: PageQuery) {
    return this.webhooks.list(principal, query.limit, query.cursor);
  }

  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id', { schema: WebhookIdParam }) id: string) {
    return this.webhooks.get(principal, id);
  }

  @Patch(':id')
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', { schema: WebhookIdParam }) id: string,
    @Body({ schema: UpdateWebhookBody }) body: UpdateWebhookBody,
  ) {
    return this.webhooks.update(principal, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@CurrentPrincipal() principal: Principal, @Param('id', { schema: WebhookIdParam }) id: string): Promise<void> {
    await this.webhooks.delete(principal, id);
  }

  /** 202: the attempt's change is sent once more, with its webhook-id. */
  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  redeliver(
    @CurrentPrincipal() principal: Principal,
    @Param('id', { schema: WebhookIdParam }) id: string,
    @Param('deliveryId', { schema: WebhookIdParam }) deliveryId: string,
  ) {
    return this.webhooks.redeliver(principal, id, deliveryId);
  }

  /** The latest attempts, newest first. */
  @Get(':id/deliveries')
  deliveries(
    @CurrentPrincipal() principal: Principal,
    @Param('id', { schema: WebhookIdParam }) id: string,
    @Query({ schema: DeliveriesQuery }) query: DeliveriesQuery,
  ) {
    return this.webhooks.deliveries(principal, id, query.limit, query.cursor);
  }
}
