import { Redis } from 'ioredis';
import pg from 'pg';

/** Drops the run's database and every Redis key under its prefix (SCAN, never KEYS). */
export default async function globalTeardown() {
  const raw = process.env.TESSERA_TEST_RUN;
  if (!raw) return;
  const run = JSON.parse(raw);
  const admin = new pg.Client({ connectionString: run.adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(run.databaseName)} WITH (FORCE)`);
  await admin.end();
  const redis = new Redis(run.redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${run.redisPrefix}*`, 'COUNT', 500);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
