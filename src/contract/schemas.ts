import { z } from 'zod';
import type { Actor } from './actor.js';
import type { BlockView } from './block.js';
import type { ChangeEvent } from './change.js';
import type { SessionView } from './session.js';

/**
 * The shapes clients see, as zod schemas: the OpenAPI document's response bodies are generated
 * from them, and the contract test checks every answer of the end-to-end suites against that
 * document. The interfaces beside them must agree (checked below at compile time).
 */

const timestamp = z.iso.datetime({ offset: true });
const uuid = z.uuid();
const sessionKey = z.string().regex(/^[A-Z0-9]{3,12}$/);
const jsonObject = z.record(z.string(), z.unknown());
const role = z.enum(['owner', 'editor', 'viewer']);
const visibility = z.enum(['link', 'readonly', 'private']);

export const ActorSchema = z
  .object({ userId: uuid.nullable(), displayName: z.string() })
  .meta({ id: 'Actor', description: 'Who made a change.' });

export const BlockSchema = z
  .object({
    id: uuid,
    sessionKey,
    type: z.string(),
    content: jsonObject,
    position: z.string().meta({ description: 'Opaque; sorts lexicographically in document order.' }),
    version: z.int().min(1),
    createdAt: timestamp,
    updatedAt: timestamp,
    updatedBy: ActorSchema,
  })
  .meta({ id: 'Block' });

/** A block write's answer: `merged` only when `?merge=fields` merged a stale write. */
export const BlockWriteSchema = BlockSchema.extend({ merged: z.boolean().optional() }).meta({ id: 'BlockWrite' });

export const BlockListSchema = z
  .object({ items: z.array(BlockSchema), nextCursor: z.null() })
  .meta({ id: 'BlockList', description: 'Every block of the session in position order; `nextCursor` is always null.' });

export const BatchResultSchema = z
  .object({ items: z.array(BlockWriteSchema.extend({ deleted: z.boolean().optional() })), seq: z.int().min(0) })
  .meta({ id: 'BatchResult', description: 'The blocks the ops wrote, in op order, and the session seq after the last.' });

const sessionFields = {
  key: sessionKey,
  typeSlug: z.string(),
  title: z.string(),
  themeId: uuid.nullable(),
  ownerId: uuid.nullable(),
  visibility,
  version: z.int().min(1),
  seq: z.int().min(0),
  metadata: jsonObject,
  state: jsonObject,
  createdAt: timestamp,
  updatedAt: timestamp,
  role: role.meta({ description: "The caller's role in the session." }),
};

export const SessionSchema = z.object(sessionFields).meta({ id: 'Session' });

export const SessionDocumentSchema = z
  .object({
    ...sessionFields,
    atSeq: z.int().min(0).optional().meta({ description: 'With `?atSeq=`: the change this read-only past view is right after.' }),
    blocks: z.array(BlockSchema),
  })
  .meta({ id: 'SessionDocument', description: 'A session with its blocks in position order.' });

export const SessionChangeSchema = z
  .object({
    version: z.int().min(1),
    title: z.string().optional(),
    state: jsonObject.optional(),
    metadata: jsonObject.optional(),
    visibility: visibility.optional(),
    themeId: uuid.nullable().optional(),
  })
  .meta({ id: 'SessionChange', description: 'The fields a session save changed, never the blocks.' });

export const ChangeEventSchema = z
  .object({
    seq: z.int().min(1),
    kind: z.enum(['block.created', 'block.updated', 'block.moved', 'block.deleted', 'session.updated', 'member.updated', 'member.removed']),
    block: BlockSchema.optional(),
    session: SessionChangeSchema.optional(),
    member: z.object({ userId: uuid, role: role.nullable() }).optional(),
    actor: ActorSchema,
    at: timestamp,
    undoOf: z.int().min(1).optional().meta({ description: 'On a change an undo or redo wrote: the seq of the change it inverts.' }),
  })
  .meta({ id: 'ChangeEvent' });

export const ChangesPageSchema = z
  .object({ items: z.array(ChangeEventSchema), seq: z.int().min(0).meta({ description: "The session's seq." }) })
  .meta({ id: 'ChangesPage' });

export const SessionDiffSchema = z
  .object({
    from: z.int().min(0),
    to: z.int().min(0),
    blocks: z.array(
      z.object({
        id: uuid,
        change: z.enum(['created', 'updated', 'moved', 'deleted']),
        // A Block, or null; plain objects here because OpenAPI 3.0 cannot make a referenced schema nullable.
        before: jsonObject.nullable().meta({ description: 'The block (a Block) right after `from`; null when it was created since.' }),
        after: jsonObject.nullable().meta({ description: 'The block (a Block) right after `to`; null when it was deleted since.' }),
      }),
    ),
    session: z.object({ before: jsonObject, after: jsonObject }).optional(),
  })
  .meta({ id: 'SessionDiff', description: 'What changed between two seqs: each block that differs, and the session fields when they do.' });

export const UndoResultSchema = z
  .object({ seq: z.int().min(1), changes: z.array(ChangeEventSchema) })
  .meta({ id: 'UndoResult', description: 'The changes the undo or redo wrote (each with `undoOf`), and the seq of the last.' });

const webhookFields = {
  id: uuid,
  url: z.string(),
  events: z.array(z.enum(['change', 'session.deleted', 'job.completed', 'job.failed'])),
  sessionKey: sessionKey.nullable().meta({ description: 'The session it follows; null: every session its owner owns.' }),
  enabled: z.boolean(),
  disabledReason: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
};

export const WebhookSchema = z.object(webhookFields).meta({ id: 'Webhook' });

export const CreatedWebhookSchema = z
  .object({
    ...webhookFields,
    secret: z.string().meta({ description: '`whsec_` and base64: the signing key, shown in this answer only.' }),
  })
  .meta({ id: 'CreatedWebhook' });

export const WebhookDeliverySchema = z
  .object({
    id: uuid,
    eventId: z.string().meta({ description: 'The `webhook-id` header: the same on every attempt of one event.' }),
    event: z.string(),
    seq: z.int().min(1).nullable(),
    attempt: z.int().min(1),
    status: z.enum(['delivered', 'failed', 'pending']).meta({
      description:
        '`pending`: not delivered yet (waiting, or held back for a retry): shown first on the first page, with the next attempt number, `at` when it is due, and no answer; its `id` cannot be redelivered.',
    }),
    responseStatus: z.int().nullable(),
    error: z.string().nullable(),
    responseExcerpt: z.string().nullable().meta({ description: 'The first KiB of the answer, at most.' }),
    durationMs: z.number().min(0),
    at: timestamp,
  })
  .meta({ id: 'WebhookDelivery' });

export const RedeliverySchema = z
  .object({ deliveryId: uuid, eventId: z.string() })
  .meta({ id: 'Redelivery', description: 'The attempt sent again, and its event (`webhook-id`).' });

/** `{items, nextCursor}`: one page of a list, newest first. */
export const pageOf = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).meta({ id });

export const SessionPageSchema = pageOf(SessionSchema, 'SessionPage');

export const RevisionSchema = z
  .object({ version: z.int().min(1), type: z.string(), content: z.unknown(), updatedAt: timestamp, updatedBy: ActorSchema })
  .meta({ id: 'BlockRevision' });
export const RevisionPageSchema = pageOf(RevisionSchema, 'BlockRevisionPage');

export const SnapshotSchema = z
  .object({
    id: uuid,
    seq: z.int().min(0),
    label: z.string().nullable(),
    automatic: z.boolean(),
    createdBy: ActorSchema,
    createdAt: timestamp,
  })
  .meta({ id: 'Snapshot' });
export const SnapshotPageSchema = pageOf(SnapshotSchema, 'SnapshotPage');

export const UserProfileSchema = z
  .object({ id: uuid, email: z.string(), displayName: z.string(), plan: z.enum(['FREE', 'PRO', 'ENTERPRISE']) })
  .meta({ id: 'UserProfile' });
export const AuthResultSchema = z
  .object({ user: UserProfileSchema, accessToken: z.string().meta({ description: 'A JWT, sent as `Authorization: Bearer <token>`.' }) })
  .meta({ id: 'AuthResult' });

export const ThemeSchema = z
  .object({ id: uuid, name: z.string(), tokens: z.unknown(), builtIn: z.boolean(), createdAt: timestamp })
  .meta({ id: 'Theme' });
export const ThemePageSchema = pageOf(ThemeSchema, 'ThemePage');

export const MemberSchema = z
  .object({ userId: uuid, displayName: z.string(), role, addedAt: timestamp, addedBy: uuid.nullable() })
  .meta({ id: 'Member' });
export const MemberPageSchema = pageOf(MemberSchema, 'MemberPage');
export const WebhookPageSchema = pageOf(WebhookSchema, 'WebhookPage');
export const WebhookDeliveryPageSchema = pageOf(WebhookDeliverySchema, 'WebhookDeliveryPage');

const inviteFields = {
  id: uuid,
  role: z.enum(['editor', 'viewer']),
  expiresAt: timestamp,
  maxUses: z.int().nullable(),
  uses: z.int().min(0),
  revoked: z.boolean(),
  createdAt: timestamp,
};
export const InviteSchema = z.object(inviteFields).meta({ id: 'Invite' });
export const InvitePageSchema = pageOf(InviteSchema, 'InvitePage');
const { revoked: _revoked, ...createdInviteFields } = inviteFields;
export const CreatedInviteSchema = z
  .object({ ...createdInviteFields, token: z.string(), url: z.string() })
  .meta({ id: 'CreatedInvite', description: 'The token and link are shown in this answer only.' });
export const InviteAcceptedSchema = z
  .object({ session: z.object({ key: sessionKey, title: z.string() }), role })
  .meta({ id: 'InviteAccepted' });

export const JobAcceptedSchema = z.object({ jobId: uuid }).meta({ id: 'JobAccepted', description: 'Follow it at `/api/jobs/{jobId}`.' });

export const JobSchema = z
  .object({
    id: uuid,
    queue: z.string(),
    name: z.string(),
    sessionKey: sessionKey.nullable(),
    state: z.enum(['waiting', 'active', 'completed', 'failed', 'delayed']),
    progress: z.number().min(0).max(100),
    result: z.unknown().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    attempts: z.int().min(0),
    maxAttempts: z.int().min(1),
    createdAt: timestamp,
    finishedAt: timestamp.optional(),
  })
  .meta({ id: 'Job' });

export const ArtifactSchema = z
  .object({
    id: uuid,
    sessionKey,
    kind: z.string(),
    contentType: z.string(),
    fileName: z.string(),
    sizeBytes: z.int().min(0),
    storedBytes: z.int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    createdAt: timestamp,
    expiresAt: timestamp,
  })
  .meta({ id: 'Artifact' });

export const DownloadUrlSchema = z
  .object({ url: z.string(), expiresAt: timestamp })
  .meta({ id: 'DownloadUrl', description: 'A signed URL: whoever holds it may download the content until it expires.' });

const dependencyCheck = z.object({ status: z.enum(['up', 'down']), latencyMs: z.number().min(0) });
export const HealthReportSchema = z
  .object({
    status: z.enum(['ok', 'degraded']),
    timestamp,
    draining: z.boolean(),
    checks: z.looseObject({ database: dependencyCheck, redis: dependencyCheck }),
  })
  .meta({ id: 'HealthReport' });
export const LivenessSchema = z.object({ status: z.literal('ok'), timestamp }).meta({ id: 'Liveness' });

const count = z.int().min(0);
const ratio = z.number().min(0).max(1);

export const SessionStatsSchema = z
  .object({
    total: count,
    anonymous: count,
    currentKeyLength: z.int().min(3).max(12),
    byKeyLength: z.record(z.string(), count),
    keySpaceFill: z.record(z.string(), z.number().min(0)),
    keyCollisionsRetried: count,
  })
  .meta({ id: 'SessionStats', description: 'Sessions by key length, how full each key length is, and key collisions retried.' });

export const QueueStatsSchema = z
  .object({
    name: z.string(),
    concurrency: count,
    workers: count,
    waiting: count,
    active: count,
    completed: count,
    failed: count,
    delayed: count,
    paused: count,
    isPaused: z.boolean(),
    stalled: count,
    oldestWaitingSeconds: z.number().min(0),
    stuck: z.boolean(),
  })
  .meta({ id: 'QueueStats' });

const cacheCounts = { hits: count, misses: count, hitRatio: ratio };
export const CacheStatsSchema = z
  .object({
    ...cacheCounts,
    keys: count,
    memoryBytes: count,
    byType: z.record(z.string(), z.object({ ...cacheCounts, keys: count, ttlSeconds: count })),
    keysCounted: z.enum(['exact', 'capped']),
  })
  .meta({ id: 'CacheStats' });

export const WsStatsSchema = z
  .object({
    serverId: z.string(),
    localConnections: count,
    clusterConnections: count,
    servers: count,
    rooms: count,
    uptime: z.number().min(0),
    serverList: z.array(z.object({ serverId: z.string(), connections: count, rooms: count, uptime: z.number().min(0) })),
  })
  .meta({ id: 'SocketStats' });

export const CleanupStatsSchema = z
  .object({
    enabled: z.boolean(),
    retentionDays: count,
    intervalHours: z.number().min(0),
    artifactsPendingDeletion: count,
    totalArtifacts: count,
    totalStorageBytes: count,
    totalStorageMB: z.number().min(0),
    deletedTotal: count,
    lastRun: z
      .object({
        at: timestamp,
        deleted: count,
        freedBytes: count,
        sessionsDeleted: count.optional(),
        idempotencyKeysDeleted: count.optional(),
        durationMs: z.number().min(0),
      })
      .nullable(),
  })
  .meta({ id: 'CleanupStats' });

const decisions = { allowed: count, limited: count, blocked: count };
export const RateLimitStatsSchema = z
  .object({
    ...decisions,
    byAction: z.record(z.string(), z.object(decisions)),
    topOffenders: z.array(z.object({ identity: z.string(), refusals: count })),
    fallbackDecisions: count,
  })
  .meta({ id: 'RateLimitStats' });

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
/** Compile-time proof that the schemas and the contract's interfaces describe the same values. */
export type ContractAgrees = [
  Assert<Same<z.infer<typeof ActorSchema>, Actor>>,
  Assert<Same<Omit<z.infer<typeof BlockSchema>, 'content'>, Omit<BlockView, 'content'>>>,
  Assert<Same<Omit<z.infer<typeof SessionSchema>, 'metadata' | 'state'>, Omit<SessionView, 'metadata' | 'state' | 'blocks'>>>,
  Assert<Same<z.infer<typeof ChangeEventSchema>['kind'], ChangeEvent['kind']>>,
];
