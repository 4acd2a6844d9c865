import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { checkRunContract } from './contract-check.mjs';

/**
 * Checks every answer the suites' apps gave against the OpenAPI document (a failure fails the run,
 * naming each operation and status), then drops the run's database, every Redis key under its
 * prefix (SCAN, never KEYS) and its directory.
 */
export default async function globalTeardown() {
  const raw = process.env.TESSERA_TEST_RUN;
  if (!raw) return;
  const run = JSON.parse(raw);
  try {
    const { checked } = await checkRunContract(run);
    if (checked > 0) console.log(`\nOpenAPI contract: ${checked} answers checked against the document.`);
  } finally {
    await cleanUp(run);
  }
}

async function cleanUp(run) {
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
