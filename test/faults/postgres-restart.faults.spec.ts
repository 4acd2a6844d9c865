import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/database/embedded-postgres.js';
import { applyMigrations } from '../../src/database/migrator.js';
import { editThroughOutage } from '../helpers/outage-load.js';
import { freePort } from '../helpers/processes.js';
import { isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * PostgreSQL stopped and started again while clients write and read continuously (a
 * PostgreSQL of the test's own, from the embedded-postgres package). Every request
 * answers (no hang), with success or a clear 503, never another 5xx; service is back
 * within 15 s of the database; no acknowledged write is lost.
 */
describe('PostgreSQL restarted mid-load', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-faults-pg-'));
  const quiet = () => undefined;
  let port: number;
  let database: EmbeddedDatabase;
  let app: TestApp;

  beforeAll(async () => {
    port = await freePort();
    database = await startEmbeddedPostgres(dataDir, port, quiet);
    await applyMigrations(database.url);
    // A long group-commit tick: the outage cuts ticks of several writes, each of which must fail alone with 503.
    app = await startTestApp({
      ...isolatedRedis('faults-pg'),
      DATABASE_URL: database.url,
      DB_CONNECTION_TIMEOUT: '2000',
      GROUP_COMMIT_MAX_WAIT_MS: '10',
    });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await database?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers every request with success or 503, recovers within 15 s, and loses no acknowledged write', async () => {
    // A user of this database (the suite's factories write to the run's database, not this one).
    const registered = await app.request('POST', '/api/auth/register', {
      body: { email: `faults-${Date.now()}@example.test`, password: 'correct horse battery', displayName: 'Faults' },
    });
    const token = registered.body.accessToken as string;
    await editThroughOutage(app, token, async () => {
      await database.stop();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      database = await startEmbeddedPostgres(dataDir, port, quiet);
    });
  });
});
