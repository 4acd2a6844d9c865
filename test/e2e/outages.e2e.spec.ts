import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { applyMigrations } from '../../src/database/migrator.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { currentRun } from '../helpers/test-environment.js';

describe('dependency outages: clear 503s, degraded health, recovery', () => {
  const run = currentRun();
  const name = `${run.databaseName}_outage`;
  const admin = new pg.Client({ connectionString: run.adminUrl });
  let api: TestApp;

  const setConnections = async (allow: boolean) => {
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} ALLOW_CONNECTIONS ${allow}`);
    if (!allow) await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
  };

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    const url = new URL(run.databaseUrl);
    url.pathname = `/${name}`;
    await applyMigrations(url.toString());
    api = await startTestApp({ DATABASE_URL: url.toString(), DB_CONNECTION_TIMEOUT: '1000' });
  });
  afterAll(async () => {
    await api.close();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
    await closeTestDb();
  });

  it('answers 503 while PostgreSQL refuses connections, and recovers after', async () => {
    const created = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document' } });
    expect(created.status).toBe(201);
    await setConnections(false);
    try {
      const read = await api.request('GET', `/api/sessions/${created.body.key}`);
      expect([read.status, read.body.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect(read.body.requestId).toBe(read.headers.get('x-request-id'));
      expect(JSON.stringify(read.body)).not.toMatch(/postgres|pg_|ALLOW|terminat|node_modules/i);
      const health = await api.request('GET', '/api/health');
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: 'degraded', checks: { database: { status: 'down' }, redis: { status: 'up' } } });
      const ready = await api.request('GET', '/api/health/ready');
      expect([ready.status, ready.body.code]).toEqual([503, 'NOT_READY']);
      expect((await api.request('GET', '/api/health/live')).status).toBe(200);
    } finally {
      await setConnections(true);
    }
    const again = await api.request('GET', `/api/sessions/${created.body.key}`);
    expect(again.status).toBe(200);
    expect((await api.request('GET', '/api/health/ready')).status).toBe(200);
  });

  it('keeps serving with Redis unreachable, and says degraded', async () => {
    const noRedis = await startTestApp({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const created = await noRedis.request('POST', '/api/sessions', { body: { typeSlug: 'document' } });
      expect(created.status).toBe(201);
      // Block writes and reads go around the cache: nothing is lost and nothing stale is served.
      const key = created.body.key;
      const block = await noRedis.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n: 1 } } });
      expect(block.status).toBe(201);
      const patched = await noRedis.request('PATCH', `/api/sessions/${key}/blocks/${block.body.id}`, {
        body: { version: 1, content: { n: 2 } },
      });
      expect(patched.status).toBe(200);
      const read = await noRedis.request('GET', `/api/sessions/${key}`);
      expect(read.body).toMatchObject({ seq: 2, blocks: [{ version: 2, content: { n: 2 } }] });
      expect((await noRedis.request('GET', `/api/sessions/${key}/changes?since=0`)).body.seq).toBe(2);
      const { token, user } = await createUser();
      const me = await noRedis.request('GET', '/api/auth/me', { token });
      expect([me.status, me.body.id]).toEqual([200, user.id]);
      const change = await noRedis.request('PATCH', `/api/admin/users/${user.id}`, { token: ADMIN_TOKEN, body: { plan: 'PRO' } });
      // Stored, but not acknowledged while the cached plan cannot be dropped; a retry is safe.
      expect([change.status, change.body.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      const health = await noRedis.request('GET', '/health');
      expect(health.body).toMatchObject({ status: 'degraded', checks: { redis: { status: 'down' }, database: { status: 'up' } } });
      expect((await noRedis.request('GET', '/api/health/ready')).status).toBe(503);
    } finally {
      await noRedis.close();
    }
  });
});
