import type { Principal } from '../common/principal.js';

/** The six queues (docs/api.md, Background jobs); BullMQ keys carry QUEUE_PREFIX, so environments never share them. */
export const QUEUE_NAMES = ['ai-generation', 'thinking', 'image-generation', 'export', 'collaboration', 'webhooks'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Every job Tessera runs. Each has exactly one handler, checked when a worker starts. */
export const JobName = {
  Export: 'export.render',
  Generate: 'ai.generate',
  Think: 'thinking.run',
  Image: 'image.generate',
  SweepChanges: 'changes.sweep',
  SweepSnapshots: 'snapshots.sweep',
  SweepPresence: 'presence.sweep',
  CleanupArtifacts: 'artifacts.cleanup',
  DeliverWebhook: 'webhook.deliver',
  RedeliverWebhook: 'webhook.redeliver',
  SweepWebhooks: 'webhooks.sweep',
  DeliverWebhookEvent: 'webhook.event',
} as const;
export type JobName = (typeof JobName)[keyof typeof JobName];

/** Jobs a caller asks for; the others are Tessera's own upkeep. */
export type RequestedJobName = typeof JobName.Export | typeof JobName.Generate | typeof JobName.Think | typeof JobName.Image;

export const QUEUE_OF: Readonly<Record<JobName, QueueName>> = {
  [JobName.Export]: 'export',
  [JobName.Generate]: 'ai-generation',
  [JobName.Think]: 'thinking',
  [JobName.Image]: 'image-generation',
  [JobName.SweepChanges]: 'collaboration',
  [JobName.SweepSnapshots]: 'collaboration',
  [JobName.SweepPresence]: 'collaboration',
  [JobName.CleanupArtifacts]: 'collaboration',
  [JobName.DeliverWebhook]: 'webhooks',
  [JobName.RedeliverWebhook]: 'webhooks',
  [JobName.SweepWebhooks]: 'webhooks',
  [JobName.DeliverWebhookEvent]: 'webhooks',
};

export type ExportFormat = 'json' | 'markdown' | 'html';
export type GenerationMode = 'blocks' | 'outline';

/** What a job requested by someone carries: the session, and who asked (checked again when it runs). */
export interface RequestedJob {
  sessionKey: string;
  /** The session itself: a job belongs to it, not to its key (which a new session may take once it is deleted). */
  sessionId: string;
  principal: Principal;
  /** Hash of the request, so a reused Idempotency-Key with another body is refused. */
  requestHash: string;
}

export interface ExportJob extends RequestedJob {
  format: ExportFormat;
  /** Chosen when the job is queued, so a retried job writes the same artifact. */
  artifactId: string;
}

export interface GenerateJob extends RequestedJob {
  prompt: string;
  mode: GenerationMode;
  /** Ids of the blocks this job writes derive from it: a retry finds its own blocks instead of duplicating them. */
  seed: string;
  /** A section of a thinking job: write after this block, and take no snapshot of its own. */
  afterId?: string;
  section?: { index: number; heading: string };
}

export interface ThinkJob extends RequestedJob {
  goal: string;
  seed: string;
  step?: 'plan' | 'waiting';
}

export interface ImageJob extends RequestedJob {
  prompt: string;
  artifactId: string;
  blockId: string;
}

export interface JobPayloads {
  [JobName.Export]: ExportJob;
  [JobName.Generate]: GenerateJob;
  [JobName.Think]: ThinkJob;
  [JobName.Image]: ImageJob;
  [JobName.SweepChanges]: Record<string, never>;
  [JobName.SweepSnapshots]: Record<string, never>;
  [JobName.SweepPresence]: Record<string, never>;
  [JobName.CleanupArtifacts]: Record<string, never>;
  [JobName.DeliverWebhook]: WebhookLaneJob;
  [JobName.RedeliverWebhook]: { webhookId: string; deliveryId: string };
  [JobName.SweepWebhooks]: Record<string, never>;
  [JobName.DeliverWebhookEvent]: { eventId: string };
}

/** One webhook's lane of one session: its changes are delivered in seq order by whoever holds its lease. */
export interface WebhookLaneJob {
  webhookId: string;
  sessionId: string;
}
