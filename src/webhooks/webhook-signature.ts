import { createHmac, randomBytes } from 'node:crypto';
import { derivedUuid } from '../common/ids.js';

/** What a webhook secret starts with, as Standard Webhooks write them. */
const SECRET_PREFIX = 'whsec_';
/** Random bytes in a new secret (Standard Webhooks asks for 24 to 64). */
const SECRET_BYTES = 32;

/** A new signing secret: `whsec_` and the base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

/** The headers that sign one delivery attempt (Standard Webhooks): `id` is the event's, the same on every retry. */
export interface WebhookSignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Signs `body` as Standard Webhooks do: `v1,` and the base64 HMAC-SHA256 of
 * `<id>.<timestamp>.<body>`, keyed with the secret's bytes (the base64 after `whsec_`).
 * `timestamp` is in unix seconds, the time of this attempt.
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): WebhookSignatureHeaders {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
}

/** The `webhook-id` of one change for one webhook: the same on every attempt, so receivers deduplicate on it. */
export const changeMessageId = (webhookId: string, sessionId: string, seq: number): string =>
  `msg_${derivedUuid('webhook', webhookId, sessionId, String(seq)).replaceAll('-', '')}`;

/** The `webhook-id` of a kept event (`job.*`, `session.deleted`), from its row id. */
export const eventMessageId = (eventRowId: string): string => `msg_${eventRowId.replaceAll('-', '')}`;
