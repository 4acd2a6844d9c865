import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { UserProfileCache } from '../../src/auth/user-profile.cache.js';
import { ERROR_CATALOG } from '../../src/errors/error-catalog.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { queuePrefix } from '../helpers/job-fixtures.js';
import { sessionWithBlocks, waitForJob } from '../helpers/jobs.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { ADMIN_TOKEN, isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';
import { currentRun } from '../helpers/test-environment.js';

const DAY = 86_400_000;
const freshKey = () =>
  `L${randomBytes(8)
    .toString('hex')
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '')
    .slice(0, 7)}`;
const disconnected = (socket: Socket) => new Promise<string>((resolve) => socket.once('disconnect', resolve));

describe('lifecycle: deleted users, jobs bound to their session, catalog job errors, retention', () => {
  const open: Array<{ close(): unknown }> = [];
  const start = async (env: Record<string, string> = {}, role?: 'api' | 'worker') => {
    const app = await startTestApp({ ENABLE_ARTIFACT_CLEANUP: 'true', ...env }, role);
    open.push(app);
    return app;
  };
  const track = (socket: Socket) => {
    open.push({ close: () => socket.disconnect() });
    return socket;
  };

  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    [a, b] = [await start(), await start()];
  });
  afterAll(async () => {
    for (const o of open.reverse()) await o.close();
    await closeTestDb();
  });

  describe('deleted users', () => {
    it('refuses the token on the other instance at once, over HTTP and at the handshake, and disconnects its sockets there', async () => {
      const email = `gone-${randomUUID()}@example.test`;
      const registered = await a.request('POST', '/api/auth/register', { body: { email, password: 'correct horse' } });
      expect(registered.status).toBe(201);
      const token: string = registered.body.accessToken;
      expect((await b.request('GET', '/api/auth/me', { token })).status).toBe(200); // B caches the profile
      const owned = await b.request('POST', '/api/sessions', { token, body: { typeSlug: 'document', title: 'Mine' } });
      expect(owned.status).toBe(201);

      const own = track(await connect(b, { token }));
      const guest = track(await connect(b));
      expect(await ack(guest, 'session.join', { key: owned.body.key })).toMatchObject({ ok: true });
      const revoked = record(guest, 'session.revoked');
      const ownGone = disconnected(own);

      const deleted = await a.request('DELETE', '/api/auth/me', { token });
      expect(deleted.status).toBe(204);

      const me = await b.request('GET', '/api/auth/me', { token });
      expect(me.status).toBe(401);
      expect(me.body.code).toBe('INVALID_TOKEN');
      const create = await b.request('POST', '/api/sessions', { token, body: { typeSlug: 'document' } });
      expect(create).toMatchObject({ status: 401, body: { code: 'INVALID_TOKEN' } });
      await expect(connect(b, { token })).rejects.toMatchObject({ data: { code: 'INVALID_TOKEN' } });
      expect(await ownGone).toBe('io server disconnect');

      // The user's sessions went with them, announced like any deletion.
      expect((await b.request('GET', `/api/sessions/${owned.body.key}`)).status).toBe(404);
      await until(() => revoked.length > 0);
      expect(revoked[0]).toEqual({ key: owned.body.key, reason: 'deleted' });
      expect(guest.connected).toBe(true);
      const login = await b.request('POST', '/api/auth/login', { body: { email, password: 'correct horse' } });
      expect(login.status).toBe(401);
      expect((await a.request('DELETE', '/api/auth/me', { token })).status).toBe(401);
    });

    it('lets operators delete a user: 204, then 404 USER_NOT_FOUND; users may not', async () => {
      const target = await createUser();
      const other = await createUser();
      expect((await b.request('GET', '/api/auth/me', { token: target.token })).status).toBe(200);
      const byUser = await a.request('DELETE', `/api/admin/users/${target.user.id}`, { token: other.token });
      expect(byUser.status).toBe(403);
      expect((await a.request('DELETE', `/api/admin/users/${target.user.id}`)).status).toBe(401);
      expect((await a.request('DELETE', '/api/admin/users/not-a-uuid', { token: ADMIN_TOKEN })).status).toBe(400);

      expect((await a.request('DELETE', `/api/admin/users/${target.user.id}`, { token: ADMIN_TOKEN })).status).toBe(204);
      expect(await b.request('GET', '/api/auth/me', { token: target.token })).toMatchObject({
        status: 401,
        body: { code: 'INVALID_TOKEN' },
      });
      const again = await a.request('DELETE', `/api/admin/users/${target.user.id}`, { token: ADMIN_TOKEN });
      expect(again).toMatchObject({ status: 404, body: { code: 'USER_NOT_FOUND' } });
      expect((await b.request('GET', '/api/auth/me', { token: other.token })).status).toBe(200);
    });

    it('never serves a profile that a read started before the delete stored after it', async () => {
      const target = await createUser();
      const stale = { id: target.user.id, email: target.user.email, displayName: target.user.displayName, plan: target.user.plan };
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // B's read has looked at the cache and is loading from the database when the delete commits on A...
      const slowRead = b.app.get(UserProfileCache).getOrLoad(target.user.id, async () => {
        await gate;
        return stale;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await a.request('DELETE', `/api/admin/users/${target.user.id}`, { token: ADMIN_TOKEN })).status).toBe(204);
      // ...and stores what it read only afterwards.
      release();
      expect(await slowRead).toEqual(stale);
      const me = await b.request('GET', '/api/auth/me', { token: target.token });
      expect(me).toMatchObject({ status: 401, body: { code: 'INVALID_TOKEN' } });
    });

    it('answers a create by a user deleted while the request was in flight with INVALID_TOKEN, not a 500', async () => {
      const target = await createUser();
      await testDb().user.delete({ where: { id: target.user.id } });
      const principal = { kind: 'user' as const, userId: target.user.id, plan: 'FREE' as const, displayName: 'Gone', ip: '127.0.0.1' };
      await expect(b.app.get(SessionsService).create(principal, { typeSlug: 'document' })).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
      await expect(b.app.get(SessionsService).create(principal, { typeSlug: 'document' }, 'idem-gone')).rejects.toMatchObject({
        code: 'INVALID_TOKEN',
      });
    });
  });

  describe('jobs and artifacts belong to the session, not to its key', () => {
    it('answers 404 for the job, the artifact and its download once the session is deleted, even after the key is taken again', async () => {
      const app = await start({ RUN_WORKERS: 'true', QUEUE_PREFIX: queuePrefix('lifecycle-bound') });
      const owner = await createUser();
      const key = freshKey();
      expect((await app.request('PUT', `/api/sessions/${key}`, { token: owner.token, body: { typeSlug: 'document' } })).status).toBe(201);
      const queued = await app.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format: 'markdown' } });
      const job = await waitForJob(app, queued.body.jobId, owner.token);
      expect(job.state).toBe('completed');
      const artifactId: string = job.result.artifactId;
      expect((await app.request('GET', `/api/artifacts/${artifactId}`, { token: owner.token })).status).toBe(200);
      const url: string = (await app.request('GET', `/api/artifacts/${artifactId}/download`, { token: owner.token })).body.url;
      expect((await app.request('GET', url)).status).toBe(200);

      expect((await app.request('DELETE', `/api/sessions/${key}`, { token: owner.token })).status).toBe(204);
      expect((await app.request('PUT', `/api/sessions/${key}`, { token: owner.token, body: { typeSlug: 'document' } })).status).toBe(201);

      for (const token of [owner.token, undefined]) {
        expect(await app.request('GET', `/api/jobs/${job.id}`, { token })).toMatchObject({ status: 404, body: { code: 'JOB_NOT_FOUND' } });
        expect(await app.request('GET', `/api/artifacts/${artifactId}`, { token })).toMatchObject({
          status: 404,
          body: { code: 'ARTIFACT_NOT_FOUND' },
        });
        expect((await app.request('GET', `/api/artifacts/${artifactId}/download`, { token })).status).toBe(404);
      }
      expect(await app.request('GET', url)).toMatchObject({ status: 404, body: { code: 'ARTIFACT_NOT_FOUND' } });
    });

    it('fails a job queued for a session deleted before it ran, without touching the new session under its key', async () => {
      const prefix = queuePrefix('lifecycle-requeued');
      const api = await start({ QUEUE_PREFIX: prefix });
      const owner = await createUser();
      const key = await sessionWithBlocks(api, owner.token, [{ type: 'text', content: { text: 'old' } }]);
      const queued = await api.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format: 'json' } });
      expect(queued.status).toBe(202);
      expect((await api.request('DELETE', `/api/sessions/${key}`, { token: owner.token })).status).toBe(204);
      expect((await api.request('PUT', `/api/sessions/${key}`, { token: owner.token, body: { typeSlug: 'document' } })).status).toBe(201);
      await start({ QUEUE_PREFIX: prefix, RUN_WORKERS: 'true' });

      const job = await waitForJob(api, queued.body.jobId, ADMIN_TOKEN);
      expect(job).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'SESSION_NOT_FOUND', message: expect.any(String) } });
      expect((await api.request('GET', `/api/jobs/${job.id}`, { token: owner.token })).status).toBe(404);
      const session = await testDb().session.findUniqueOrThrow({ where: { key } });
      expect(await testDb().artifact.count({ where: { sessionId: session.id } })).toBe(0);
    });
  });

  it("shows a failed job's error from the catalog, never the storage's own text", async () => {
    const notADirectory = join(currentRun().artifactsDir, `file-${randomUUID()}`);
    writeFileSync(notADirectory, 'not a directory');
    const app = await start({
      RUN_WORKERS: 'true',
      QUEUE_PREFIX: queuePrefix('lifecycle-failing'),
      ARTIFACTS_DIR: join(notADirectory, 'artifacts'),
      JOB_ATTEMPTS: '2',
      JOB_BACKOFF_MS: '50',
    });
    const owner = await createUser();
    const key = await sessionWithBlocks(app, owner.token, [{ type: 'text', content: { text: 'unstorable' } }]);
    const socket = track(await connect(app, { token: owner.token }));
    await ack(socket, 'session.join', { key });
    const events = record(socket, 'job');
    const queued = await app.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format: 'html' } });
    const job = await waitForJob(app, queued.body.jobId, owner.token);
    const shown = { code: 'SERVICE_UNAVAILABLE', message: ERROR_CATALOG.SERVICE_UNAVAILABLE.detail };
    expect(job).toMatchObject({ state: 'failed', attempts: 2, error: shown });
    await until(() => events.some((e) => e.state === 'failed'));
    expect(events.filter((e) => e.error).map((e) => e.error)).toEqual([shown, shown]);
    const everything = JSON.stringify([job, events]);
    expect(everything).not.toMatch(/ENOTDIR|EEXIST|not a directory|mkdir|file-|\/tmp|at .*\.ts/);
  });

  describe('nothing grows without bound', () => {
    it('deletes ownerless sessions untouched past retention (keys freed, rooms told) and sweeps idempotency records past 24 h', async () => {
      const env = isolatedRedis('lifecycle-retention');
      const app = await start({ ...env, RUN_WORKERS: 'true' });
      // The schedule's first run comes when the worker starts: wait for it before anything is made due.
      for (let i = 0; i < 200; i++) {
        if ((await app.request('GET', '/api/admin/cleanup/stats', { token: ADMIN_TOKEN })).body.lastRun) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const owner = await createUser();
      const [abandoned, recent, owned] = [freshKey(), freshKey(), freshKey()];
      for (const key of [abandoned, recent])
        expect((await app.request('PUT', `/api/sessions/${key}`, { body: { typeSlug: 'document' } })).status).toBe(201);
      expect((await app.request('PUT', `/api/sessions/${owned}`, { token: owner.token, body: { typeSlug: 'document' } })).status).toBe(201);
      const idem = `idem-${randomUUID()}`;
      const first = await app.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, headers: { 'idempotency-key': idem } });
      expect(first.status).toBe(201);
      const leftover = `idem-${randomUUID()}`;
      expect(
        (await app.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, headers: { 'idempotency-key': leftover } })).status,
      ).toBe(201);
      const replay = await app.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, headers: { 'idempotency-key': idem } });
      expect(replay).toMatchObject({ status: 200, body: { key: first.body.key } });

      const old = new Date(Date.now() - 91 * DAY);
      await testDb().session.updateMany({ where: { key: { in: [abandoned, owned] } }, data: { updatedAt: old } });
      await testDb().idempotencyKey.updateMany({
        where: { key: { in: [idem, leftover] } },
        data: { createdAt: new Date(Date.now() - 25 * 3_600_000) },
      });
      const guest = track(await connect(app));
      expect(await ack(guest, 'session.join', { key: abandoned })).toMatchObject({ ok: true });
      const revoked = record(guest, 'session.revoked');

      // Past 24 h a retry is a new request, before any sweep.
      const late = await app.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, headers: { 'idempotency-key': idem } });
      expect(late.status).toBe(201);
      expect(late.body.key).not.toBe(first.body.key);

      const run = await app.request('POST', '/api/admin/cleanup/run', { token: ADMIN_TOKEN });
      const done = await waitForJob(app, run.body.jobId, ADMIN_TOKEN);
      expect(done.state).toBe('completed');
      expect(done.result.sessionsDeleted).toBeGreaterThanOrEqual(1);
      expect(done.result.idempotencyKeysDeleted).toBeGreaterThanOrEqual(1);

      expect((await app.request('GET', `/api/sessions/${abandoned}`)).status).toBe(404);
      expect((await app.request('GET', `/api/sessions/${recent}`)).status).toBe(200);
      expect((await app.request('GET', `/api/sessions/${owned}`, { token: owner.token })).status).toBe(200);
      await until(() => revoked.length > 0);
      expect(revoked[0]).toEqual({ key: abandoned, reason: 'deleted' });
      expect(await testDb().idempotencyKey.count({ where: { key: leftover } })).toBe(0);
      expect(await testDb().idempotencyKey.count({ where: { key: idem } })).toBe(1);
      expect((await app.request('PUT', `/api/sessions/${abandoned}`, { body: { typeSlug: 'document' } })).status).toBe(201);
    });
  });
});
