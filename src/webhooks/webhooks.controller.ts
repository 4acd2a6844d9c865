import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { PageQuery } from '../common/pagination.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import {
  CreatedWebhookSchema,
  RedeliverySchema,
  WebhookDeliveryPageSchema,
  WebhookPageSchema,
  WebhookSchema,
} from '../contract/schemas.js';
import { Admission, RateLimit } from '../rate-limit/rate-limit.guard.js';
import { CreateWebhookBody, DeliveriesQuery, UpdateWebhookBody, WebhookIdParam } from './dto/webhooks.dto.js';
import { WebhooksService } from './webhooks.service.js';

/** Signed-in users' (and operators') webhooks and their delivery logs; anonymous callers: 401. */
@ApiTags('webhooks')
@Admission()
@Controller('api/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /** 201 with `secret`, shown only here. */
  @Post()
  @RateLimit('webhook-changes')
  @ApiOperationDoc({
    id: 'createWebhook',
    summary: 'Create a webhook',
    description:
      'Signed deliveries of `change` (every committed change, in seq order per session), `session.deleted` (after the session’s ' +
      'last change; a webhook on that one session ends with it), `job.completed` and `job.failed` to an ' +
      'http(s) URL on a public address, for one session the caller owns or, without `sessionKey` (or with null), every session they own ' +
      '(operators: any). The signing `secret` is in this answer only.',
    auth: 'user',
    requestExample: { url: 'https://hooks.example.com/tessera', events: ['change'], sessionKey: 'K7Q' },
    responses: { 201: { description: 'Created.', schema: CreatedWebhookSchema } },
    errors: ['WEBHOOK_URL_FORBIDDEN', 'WEBHOOK_LIMIT_REACHED', 'SESSION_NOT_FOUND', 'INVALID_SESSION_KEY'],
  })
  create(@CurrentPrincipal() principal: Principal, @Body({ schema: CreateWebhookBody }) body: CreateWebhookBody) {
    return this.webhooks.create(principal, body);
  }

  @Get()
  @ApiOperationDoc({
    id: 'listWebhooks',
    summary: 'List webhooks',
    description: "The caller's webhooks (operators: every webhook), newest first.",
    auth: 'user',
    responses: { 200: { description: 'One page.', schema: WebhookPageSchema } },
    errors: ['INVALID_CURSOR'],
  })
  list(@CurrentPrincipal() principal: Principal, @Query({ schema: PageQuery }) query: PageQuery) {
    return this.webhooks.list(principal, query.limit, query.cursor);
  }

  @Get(':id')
  @ApiOperationDoc({
    id: 'getWebhook',
    summary: 'Get a webhook',
    description: 'Without its secret. Another user’s webhook is 404, as if unknown.',
    auth: 'user',
    responses: { 200: { description: 'The webhook.', schema: WebhookSchema } },
    errors: ['WEBHOOK_NOT_FOUND'],
  })
  get(@CurrentPrincipal() principal: Principal, @Param('id', { schema: WebhookIdParam }) id: string) {
    return this.webhooks.get(principal, id);
  }

  @Patch(':id')
  @RateLimit('webhook-changes')
  @ApiOperationDoc({
    id: 'updateWebhook',
    summary: 'Change a webhook',
    description: 'Its URL (checked again), events, or `enabled` (re-enabling one that was disabled resumes where it stopped).',
    auth: 'user',
    requestExample: { enabled: true },
    responses: { 200: { description: 'The webhook as changed.', schema: WebhookSchema } },
    errors: ['WEBHOOK_NOT_FOUND', 'WEBHOOK_URL_FORBIDDEN'],
  })
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', { schema: WebhookIdParam }) id: string,
    @Body({ schema: UpdateWebhookBody }) body: UpdateWebhookBody,
  ) {
    return this.webhooks.update(principal, id, body);
  }

  @Delete(':id')
  @RateLimit('webhook-changes')
  @HttpCode(204)
  @ApiOperationDoc({
    id: 'deleteWebhook',
    summary: 'Delete a webhook',
    description: 'Deliveries stop at once; its delivery log goes with it.',
    auth: 'user',
    responses: { 204: { description: 'Deleted.' } },
    errors: ['WEBHOOK_NOT_FOUND'],
  })
  async delete(@CurrentPrincipal() principal: Principal, @Param('id', { schema: WebhookIdParam }) id: string): Promise<void> {
    await this.webhooks.delete(principal, id);
  }

  /** 202: the attempt's event is sent once more, with its webhook-id. */
  @Post(':id/deliveries/:deliveryId/redeliver')
  @RateLimit('webhook-changes')
  @HttpCode(202)
  @ApiOperationDoc({
    id: 'redeliverWebhookDelivery',
    summary: 'Send a logged delivery again',
    description:
      'Queues the event of a logged attempt (a change, `session.deleted`, `job.completed` or `job.failed`) once more, with the same ' +
      '`webhook-id` and body; the new attempt joins the log. A change must still be in the change log.',
    auth: 'user',
    responses: { 202: { description: 'Queued.', schema: RedeliverySchema } },
    errors: ['WEBHOOK_NOT_FOUND', 'DELIVERY_NOT_FOUND', 'CHANGES_EXPIRED'],
  })
  redeliver(
    @CurrentPrincipal() principal: Principal,
    @Param('id', { schema: WebhookIdParam }) id: string,
    @Param('deliveryId', { schema: WebhookIdParam }) deliveryId: string,
  ) {
    return this.webhooks.redeliver(principal, id, deliveryId);
  }

  /** The latest attempts, newest first. */
  @Get(':id/deliveries')
  @ApiOperationDoc({
    id: 'listWebhookDeliveries',
    summary: "List a webhook's delivery attempts",
    description: 'The latest attempts, newest first, with the receiver’s status and a short excerpt of its answer.',
    auth: 'user',
    responses: { 200: { description: 'One page.', schema: WebhookDeliveryPageSchema } },
    errors: ['WEBHOOK_NOT_FOUND', 'INVALID_CURSOR'],
  })
  deliveries(
    @CurrentPrincipal() principal: Principal,
    @Param('id', { schema: WebhookIdParam }) id: string,
    @Query({ schema: DeliveriesQuery }) query: DeliveriesQuery,
  ) {
    return this.webhooks.deliveries(principal, id, query.limit, query.cursor);
  }
}
