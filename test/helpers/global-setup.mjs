import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * One throwaway database, one Redis prefix (queues included) and one artifact directory per test run, described to the workers
 * in TESSERA_TEST_RUN. Workers migrate it (the runner's advisory lock serialises them).
 */
export default async function globalSetup() {
  const postgres = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const redis = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const databaseName = `tessera_test_${runId}`;
  const admin = new pg.Client({ connectionString: postgres });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(databaseName)}`);
  await admin.end();
  const url = new URL(postgres);
  url.pathname = `/${databaseName}`;
  process.env.TESSERA_TEST_RUN = JSON.stringify({
    databaseUrl: url.toString(),
    databaseName,
    adminUrl: postgres,
    redisUrl: redis,
    redisPrefix: `tessera-test:${runId}:`,
    artifactsDir: join(tmpdir(), `tessera-test-${runId}`, 'artifacts'),
  });
}
