import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

/** Drops the run's database, every Redis key under its prefix (SCAN, never KEYS) and its artifact directory. */
export default async function globalTeardown() {
  const raw = process.env.TESSERA_TEST_RUN;
  if (!raw) return;
  const run = JSON.parse(raw);
  await rm(dirname(run.artifactsDir), { recursive: true, force: true });
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
