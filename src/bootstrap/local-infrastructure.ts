import { loadConfig, type AppConfig } from '../config/app-config.js';
import { startEmbeddedPostgres } from '../database/embedded-postgres.js';
import { ensureLocalRedis } from '../redis/local-redis-server.js';

export interface Infrastructure {
  config: AppConfig;
  /** True when this process runs its own embedded database (and so migrates it). */
  embeddedDatabase: boolean;
  stop(): Promise<void>;
}

/**
 * Fills in what is not configured: an embedded PostgreSQL for a missing DATABASE_URL and
 * a local Redis for a missing REDIS_URL. Configured URLs are used as they are.
 */
export async function prepareInfrastructure(config: AppConfig, log: (line: string) => void): Promise<Infrastructure> {
  const stops: (() => Promise<void>)[] = [];
  let stopped: Promise<void> | undefined;
  const overrides: Record<string, string> = {};
  try {
    if (!config.DATABASE_URL) {
      const db = await startEmbeddedPostgres(`${config.DATA_DIR}`, config.EMBEDDED_POSTGRES_PORT, log);
      stops.push(() => db.stop());
      overrides.DATABASE_URL = db.url;
    }
    if (!config.REDIS_URL) {
      const redis = await ensureLocalRedis(log);
      stops.push(() => redis.stop());
      overrides.REDIS_URL = redis.url;
    }
  } catch (error) {
    await Promise.allSettled(stops.map((stop) => stop()));
    throw error;
  }
  return {
    config: Object.keys(overrides).length
      ? Object.freeze({ ...loadConfig({ ...process.env, ...overrides }), jwtSecret: config.jwtSecret })
      : config,
    embeddedDatabase: Boolean(overrides.DATABASE_URL),
    // Once, however many callers (a signal during a failing boot, say) ask.
    stop: () =>
      (stopped ??= (async () => {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      })()),
  };
}
