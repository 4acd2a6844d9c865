import { z } from 'zod';
import { QUEUE_NAMES, type QueueName } from './queue.names.js';

/** At most `max` jobs of the queue start per `durationMs`, across every worker of the cluster. */
export type QueueLimit = { max: number; durationMs: number } | null;

/**
 * Protects what each queue calls: the generation providers' request rates, the disk for
 * exports. Collaboration jobs are Tessera's own upkeep and run unlimited.
 */
export const DEFAULT_QUEUE_LIMITS: Record<QueueName, QueueLimit> = {
  'ai-generation': { max: 50, durationMs: 1000 },
  thinking: { max: 20, durationMs: 1000 },
  'image-generation': { max: 10, durationMs: 1000 },
  export: { max: 100, durationMs: 1000 },
  collaboration: null,
  // Deliveries per second from the whole cluster: receivers are other people's servers.
  webhooks: { max: 200, durationMs: 1000 },
};

const limit = z
  .object({ max: z.number().int().min(1), durationMs: z.number().int().min(1).max(3_600_000) })
  .strict()
  .nullable();

/** QUEUE_LIMITS: JSON like {"ai-generation": {"max": 5, "durationMs": 1000}, "export": null}. */
export const queueLimitOverrides = z.partialRecord(z.enum(QUEUE_NAMES), limit);
export type QueueLimitOverrides = z.infer<typeof queueLimitOverrides>;

export function queueLimit(queue: QueueName, overrides: QueueLimitOverrides): QueueLimit {
  return overrides[queue] === undefined ? DEFAULT_QUEUE_LIMITS[queue] : (overrides[queue] ?? null);
}
