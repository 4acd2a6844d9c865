import { z } from 'zod';
import { queueLimitOverrides } from '../queues/queue.limits.js';
import { policyOverrides } from '../rate-limit/rate-limit.policies.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));
const csv = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** A JSON-valued setting: empty means `{}`. */
const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .default('')
    .transform((raw, ctx) => {
      if (raw.trim() === '') return {};
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

/**
 * Every setting Tessera reads, with the defaults of the API contract. Parsed once at
 * boot; settings used by later features are validated here too, so a typo fails fast.
 */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: int(0, 65535).default(3001),
    HOST: z.string().default('0.0.0.0'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    BODY_LIMIT: int(1024).default(1024 * 1024),
    TRUST_PROXY: bool.default(false),
    PUBLIC_URL: optionalString.pipe(z.url().optional()),

    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
        .optional(),
    ),
    EMBEDDED_POSTGRES_PORT: int(1, 65535).default(54329),
    DATA_DIR: z.string().default('.data'),
    DB_POOL_MIN: int(0, 1000).default(2),
    DB_POOL_MAX: int(1, 1000).default(20),
    DB_CONNECTION_TIMEOUT: int(1).default(5000),
    DB_IDLE_TIMEOUT: int(0).default(30000),
    DB_STATEMENT_TIMEOUT: int(0).default(15000),
    GROUP_COMMIT_MAX_BATCH: int(1, 1000).default(64),
    GROUP_COMMIT_MAX_WAIT_MS: int(0, 100).default(1),

    REDIS_URL: optionalString.pipe(
      z
        .string()
        .regex(/^rediss?:\/\//, 'must be a redis:// URL')
        .optional(),
    ),
    REDIS_PREFIX: z.string().min(1).max(64).default('tessera:'),
    CACHE_MAX_VALUE_BYTES: int(0).default(1024 * 1024),
    QUEUE_PREFIX: z.string().min(1).max(64).default('tessera'),

    JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
    JWT_PRIVATE_KEY: optionalString,
    JWT_PUBLIC_KEY: optionalString,
    JWT_EXPIRES_IN_SECONDS: int(60).default(7 * 24 * 3600),
    ADMIN_TOKEN: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
    PASSWORD_HASH_COST: int(10, 20).default(15),

    SESSION_KEY_LENGTH: int(3, 12).default(3),
    SESSION_KEY_MAX_FILL: z.coerce.number().gt(0).max(0.9).default(0.25),
    SESSION_RETENTION_DAYS: int(1).default(90),
    SESSION_TYPES: csv.pipe(z.array(z.string().regex(/^[a-z][a-z0-9-]{1,39}$/, 'each type must be a lowercase slug'))),
    SESSION_MAX_MEMBERS: int(1).default(100),
    SESSION_MAX_SEATS_PER_IP: int(1).default(10),
    SESSION_MEMBER_LIMIT: int(1, 10_000).default(1000),
    SESSION_INVITE_LIMIT: int(1, 10_000).default(100),
    SESSION_MAX_BYTES: int(64 * 1024).default(8 * 1024 * 1024),
    SESSION_METADATA_MAX_BYTES: int(1024).default(64 * 1024),
    BLOCK_MAX_BYTES: int(256).default(64 * 1024),
    BLOCK_HISTORY_KEEP: int(1).default(50),
    SESSION_MAX_BLOCKS: int(1, 100_000).default(5000),
    CHANGES_KEEP: int(10).default(1000),
    CHANGES_MAX_AGE_HOURS: int(1).default(7 * 24),
    CHANGES_MAX_PAGE_BYTES: int(64 * 1024).default(4 * 1024 * 1024),

    WS_MAX_CONNECTIONS: int(1).default(10000),
    WS_PING_INTERVAL: int(1000).default(25000),
    WS_PING_TIMEOUT: int(1000).default(20000),
    WS_POLLING: bool.default(false),
    WS_MAX_BUFFERED_BYTES: int(64 * 1024).default(4 * 1024 * 1024),
    SSE_HEARTBEAT_MS: int(1000).default(15_000),
    SSE_MAX_STREAMS: int(1).default(5000),
    SSE_MAX_STREAMS_PER_CLIENT: int(1).default(20),
    SSE_MAX_BUFFERED_BYTES: int(64 * 1024).default(4 * 1024 * 1024),
    DRAIN_DELAY_MS: int(0).default(5000),
    SHUTDOWN_TIMEOUT_MS: int(3000).default(20000),

    RUN_WORKERS: bool.default(false),
    AI_GENERATION_CONCURRENCY: int(1).default(15),
    THINKING_QUEUE_CONCURRENCY: int(1).default(8),
    IMAGE_GENERATION_CONCURRENCY: int(1).default(5),
    EXPORT_CONCURRENCY: int(1).default(12),
    COLLABORATION_CONCURRENCY: int(1).default(100),
    WEBHOOK_CONCURRENCY: int(1).default(20),
    JOB_ATTEMPTS: int(1, 20).default(3),
    JOB_BACKOFF_MS: int(1).default(2000),
    JOB_TIMEOUT_SECONDS: int(1).default(300),
    JOB_LOCK_MS: int(1000).default(30000),
    JOB_KEEP_COMPLETED_HOURS: int(1).default(24),
    JOB_KEEP_COMPLETED: int(1).default(1000),
    JOB_KEEP_FAILED_DAYS: int(1).default(7),
    JOB_KEEP_FAILED: int(1).default(5000),
    QUEUE_STUCK_SECONDS: int(10).default(300),
    QUEUE_LIMITS: json(queueLimitOverrides),
    AI_PROVIDER_URL: optionalString.pipe(z.url().optional()),
    AI_API_KEY: optionalString,
    AI_MODEL: z.string().default('gpt-4o-mini'),
    IMAGE_PROVIDER_URL: optionalString.pipe(z.url().optional()),
    IMAGE_API_KEY: optionalString,
    IMAGE_MODEL: z.string().default('gpt-image-1'),
    PROVIDER_TIMEOUT_MS: int(100).default(60000),

    WEBHOOK_ALLOW_PRIVATE: bool.default(false),
    WEBHOOK_MAX_PER_USER: int(1, 1000).default(25),
    WEBHOOK_OWNER_CONCURRENCY: int(1, 1000).default(16),
    WEBHOOK_TIMEOUT_MS: int(100, 60_000).default(10_000),
    WEBHOOK_RETRY_BASE_MS: int(10).default(10_000),
    WEBHOOK_RETRY_MAX_MS: int(10).default(3_600_000),
    WEBHOOK_DISABLE_AFTER_MS: int(100).default(24 * 3_600_000),
    WEBHOOK_SWEEP_SECONDS: int(0, 86_400).default(60),

    ARTIFACTS_DIR: z.string().default('.data/artifacts'),
    ARTIFACT_RETENTION_DAYS: int(1).default(30),
    SIGNED_URL_TTL_SECONDS: int(1).default(3600),
    SIGNED_URL_SECRET: optionalString,
    CLEANUP_INTERVAL_HOURS: int(1).default(24),
    ENABLE_ARTIFACT_CLEANUP: bool.default(true),

    RATE_LIMIT_ENABLED: bool.default(true),
    RATE_LIMIT_POLICIES: json(policyOverrides),
    RATE_LIMIT_BLOCK_AFTER: int(1).default(20),
    RATE_LIMIT_BLOCK_WINDOW_SECONDS: int(1).default(600),
    RATE_LIMIT_BLOCK_SECONDS: int(1).default(900),
    KEY_PROBE_LIMIT: int(1).default(30),
    KEY_PROBE_WINDOW_SECONDS: int(1).default(60),
    KEY_PROBE_BLOCK_SECONDS: int(1).default(900),
    KEY_PROBE_WAIT_MS: int(0, 30_000).default(2000),
    RATE_LIMIT_IPV6_PREFIX: int(1, 128).default(64),
    METRICS_TOKEN: optionalString,
  })
  .superRefine((env, ctx) => {
    if (env.DB_POOL_MIN > env.DB_POOL_MAX) {
      ctx.addIssue({ code: 'custom', path: ['DB_POOL_MIN'], message: 'must not exceed DB_POOL_MAX' });
    }
    if (env.NODE_ENV === 'production' && !env.JWT_SECRET && !env.JWT_PRIVATE_KEY) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'is required in production' });
    }
    // The embedded database and the local redis-server are for a developer's machine; in
    // production a missing URL is a deployment mistake, said at once rather than found later.
    for (const name of ['DATABASE_URL', 'REDIS_URL'] as const) {
      if (env.NODE_ENV === 'production' && !env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'is required in production' });
    }
    if (Boolean(env.JWT_PRIVATE_KEY) !== Boolean(env.JWT_PUBLIC_KEY)) {
      ctx.addIssue({ code: 'custom', path: ['JWT_PUBLIC_KEY'], message: 'must be set together with JWT_PRIVATE_KEY' });
    }
  });

export type Env = z.infer<typeof envSchema>;
