import { z } from 'zod';
import { SESSION_KEY_PATTERN } from '../../common/session-key-format.js';
import { PageQuery } from '../../common/pagination.js';
import { WEBHOOK_URL_MAX_LENGTH } from '../webhook-address.guard.js';

/** The events a webhook can subscribe to. */
export const WEBHOOK_EVENTS = ['change', 'session.deleted', 'job.completed', 'job.failed'] as const;

const url = z.string().min(1).max(WEBHOOK_URL_MAX_LENGTH);
const events = z
  .array(z.enum(WEBHOOK_EVENTS))
  .min(1)
  .max(WEBHOOK_EVENTS.length)
  .refine((list) => new Set(list).size === list.length, 'must not repeat an event');

export const CreateWebhookBody = z
  // null, as a webhook reads back, is every session as an absent key is.
  .object({ url, events, sessionKey: z.string().regex(SESSION_KEY_PATTERN, 'must be a session key').nullish() })
  .strict();
export type CreateWebhookBody = z.infer<typeof CreateWebhookBody>;

export const UpdateWebhookBody = z
  .object({ url: url.optional(), events: events.optional(), enabled: z.boolean().optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'must change something');
export type UpdateWebhookBody = z.infer<typeof UpdateWebhookBody>;

export const WebhookIdParam = z.uuid();
export const DeliveriesQuery = PageQuery;
export type DeliveriesQuery = z.infer<typeof DeliveriesQuery>;
