import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { QueueRegistry } from '../../src/queues/queue.registry.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { sessionWithBlocks, waitForJob } from '../helpers/jobs.js';
import { scrape } from '../helpers/prometheus.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { ADMIN_TOKEN, isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';
import { currentRun, ensureMigrated } from '../helpers/test-environment.js';

const DAY = 86_400_000;

describe('queue stats, stuck queues, cleanup and the collaboration queue', () => {
  const apps: TestApp[] = [];
  const start = async (env: Record<string, string>, role: 'api' | 'worker' = 'api') => {
    const app = await startTestApp({ ENABLE_ARTIFACT_CLEANUP: 'true', ...env }, role);
    apps.push(app);
    return app;
  };
  let owner: Awaited<ReturnType<typeof createUser>>;
  let boss: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    await ensureMigrated();
    owner = await createUser();
    boss = await createUser({ plan: 'ENTERPRISE' });
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await closeTestDb();
  });

  const exportStats = async (app: TestApp) =>
    ((await app.request('GET', '/api/admin/queues/stats', { token: ADMIN_TOKEN })).body as Array<Record<string, any>>).find(
      (q) => q.name === 'export',
    )!;

  it('counts what waits, shows a queue nobody works as stuck (health degraded, still ready), then what completed; plans go first', async () => {
    const env = isolatedRedis('stats');
    const api = await start(env);
    const key = await sessionWithBlocks(api, owner.token, [{ type: 'text', content: { text: 'x' } }], { visibility: 'link' });
    const ids: Array<{ id: string; plan: string }> = [];
    for (const [user, plan] of [
      [owner, 'FREE'],
      [owner, 'FREE'],
      [owner, 'FREE'],
      [boss, 'ENTERPRISE'],
      [boss, 'ENTERPRISE'],
    ] as const) {
      const res = await api.request('POST', `/api/sessions/${key}/exports`, { token: user.token, body: { format: 'json' } });
      ids.push({ id: res.body.jobId, plan });
    }
    const waiting = await exportStats(api);
    expect(waiting).toMatchObject({
      concurrency: 12,
      workers: 0,
      waiting: 5,
      active: 0,
      completed: 0,
      failed: 0,
      delayed: 0,
      paused: 0,
      stuck: true,
    });
    const health = await api.request('GET', '/api/health');
    expect(health.body).toMatchObject({
      status: 'degraded',
      checks: { queues: { status: 'degraded', stuck: ['export'] }, database: { status: 'up' } },
    });
    expect((await api.request('GET', '/api/health/ready')).status).toBe(200);

    const worker = await start({ ...env, EXPORT_CONCURRENCY: '1' }, 'worker');
    expect((await worker.request('GET', `/api/sessions/${key}`)).status).toBe(404);
    expect((await worker.request('GET', '/api/health/ready')).status).toBe(200);
    const done = await Promise.all(ids.map(async ({ id, plan }) => ({ plan, job: await waitForJob(api, id, ADMIN_TOKEN) })));
    const finished = (plan: string) => done.filter((d) => d.plan === plan).map((d) => Date.parse(d.job.finishedAt));
    expect(Math.max(...finished('ENTERPRISE'))).toBeLessThanOrEqual(Math.min(...finished('FREE')));
    const after = await exportStats(api);
    expect(after).toMatchObject({ workers: 1, waiting: 0, active: 0, completed: 5, stuck: false });
  });

  it('deletes only the artifacts that are due, once, with two workers cleaning at the same time', async () => {
    const env = isolatedRedis('cleanup');
    const api = await start({ ...env, RUN_WORKERS: 'true' });
    const key = await sessionWithBlocks(api, owner.token, [{ type: 'text', content: { text: 'keep me' } }]);
    const artifactIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await api.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format: 'markdown' } });
      artifactIds.push((await waitForJob(api, res.body.jobId, owner.token)).result.artifactId);
    }
    await api.close();
    apps.splice(apps.indexOf(api), 1);
    const admin = await start(env);
    const due = artifactIds.slice(0, 4);
    await testDb().artifact.updateMany({ where: { id: { in: due } }, data: { createdAt: new Date(Date.now() - 31 * DAY) } });
    const stored = await testDb().artifact.findMany({ where: { id: { in: artifactIds } } });
    const pathOf = (id: string) => join(currentRun().artifactsDir, stored.find((a) => a.id === id)!.storageKey);
    expect(artifactIds.every((id) => existsSync(pathOf(id)))).toBe(true);

    const [one, two] = [await start(env, 'worker'), await start(env, 'worker')];
    expect((await two.request('GET', '/api/health/live')).status).toBe(200);
    const schedulers = await one.app.get(QueueRegistry).get('collaboration').getJobSchedulers();
    expect(schedulers.filter((s) => s.key === 'artifacts.cleanup' || s.name === 'artifacts.cleanup')).toHaveLength(1);
    const before = (await admin.request('GET', '/api/admin/cleanup/stats', { token: ADMIN_TOKEN })).body;
    // The schedule's first run came when the first worker started, before these were due. The
    // cleanup is database-wide, and suites running beside this one share the database: that run may
    // have found another suite's artifact due, so only what follows is counted from `before`.
    expect(before).toMatchObject({
      enabled: true,
      retentionDays: 30,
      intervalHours: 24,
      artifactsPendingDeletion: 4,
      lastRun: { deleted: before.deletedTotal },
    });
    expect(before.totalArtifacts).toBeGreaterThanOrEqual(6);
    expect(before.totalStorageBytes).toBeGreaterThanOrEqual(stored.reduce((sum, a) => sum + Number(a.storedBytes), 0));

    const runs = await Promise.all([1, 2, 3].map(() => admin.request('POST', '/api/admin/cleanup/run', { token: ADMIN_TOKEN })));
    expect(runs.map((r) => r.status)).toEqual([202, 202, 202]);
    const results = await Promise.all(runs.map((r) => waitForJob(admin, r.body.jobId, ADMIN_TOKEN)));
    expect(results.map((r) => r.state)).toEqual(['completed', 'completed', 'completed']);
    expect(results.reduce((sum, r) => sum + r.result.deleted, 0)).toBe(4);
    expect(await testDb().artifact.count({ where: { id: { in: due } } })).toBe(0);
    expect(due.some((id) => existsSync(pathOf(id)))).toBe(false);
    expect(await testDb().artifact.count({ where: { id: { in: artifactIds.slice(4) } } })).toBe(2);
    expect(artifactIds.slice(4).every((id) => existsSync(pathOf(id)))).toBe(true);
    const after = (await admin.request('GET', '/api/admin/cleanup/stats', { token: ADMIN_TOKEN })).body;
    expect(after).toMatchObject({
      artifactsPendingDeletion: 0,
      deletedTotal: before.deletedTotal + 4,
      lastRun: { deleted: expect.any(Number) },
    });
    const gone = await admin.request('GET', `/api/artifacts/${due[0]}`, { token: ADMIN_TOKEN });
    expect(gone.status).toBe(404);
  });

  it('sweeps changes past their age and expired snapshots from idle sessions, and ghosts from presence', async () => {
    const env = isolatedRedis('sweeps');
    const api = await start({ ...env, RUN_WORKERS: 'true' });
    const key = await sessionWithBlocks(
      api,
      owner.token,
      [1, 2, 3].map((n) => ({ type: 'text', content: { text: `b${n}` } })),
    );
    expect((await api.request('POST', `/api/sessions/${key}/snapshots`, { token: owner.token, body: {} })).status).toBe(201);
    const session = await testDb().session.findUniqueOrThrow({ where: { key } });
    await testDb().change.updateMany({ where: { sessionId: session.id, seq: { lte: 2 } }, data: { at: new Date(Date.now() - 8 * DAY) } });
    await testDb().snapshot.updateMany({ where: { sessionId: session.id }, data: { createdAt: new Date(Date.now() - 8 * DAY) } });
    const collaboration = api.app.get(QueueRegistry).get('collaboration');

    const changes = await collaboration.add('changes.sweep', {}, { jobId: crypto.randomUUID() });
    expect((await waitForJob(api, changes.id!, ADMIN_TOKEN)).result.deleted).toBeGreaterThanOrEqual(2);
    expect((await testDb().change.findMany({ where: { sessionId: session.id } })).map((c) => Number(c.seq))).toEqual([3]);
    expect((await api.request('GET', `/api/sessions/${key}/changes?since=0`, { token: owner.token })).body.code).toBe('CHANGES_EXPIRED');
    expect((await api.request('GET', `/api/sessions/${key}/changes?since=2`, { token: owner.token })).body.items).toHaveLength(1);

    // The sweep is database-wide and other suites share the database: what must hold is that this
    // session's expired snapshot is gone once a sweep has completed, whichever sweep took it.
    expect(await testDb().snapshot.count({ where: { sessionId: session.id } })).toBe(1);
    const snapshots = await collaboration.add('snapshots.sweep', {}, { jobId: crypto.randomUUID() });
    expect((await waitForJob(api, snapshots.id!, ADMIN_TOKEN)).state).toBe('completed');
    expect(await testDb().snapshot.count({ where: { sessionId: session.id } })).toBe(0);

    const member = await connect(api, { token: owner.token });
    await ack(member, 'session.join', { key });
    const redis = new Redis(currentRun().redisUrl, { keyPrefix: env.REDIS_PREFIX });
    const ghost = { memberId: 'socket:ghost', userId: null, displayName: 'Ghost', status: 'active', seen: Date.now() - 60_000 };
    await redis.hset(`presence:${key}`, 'ghost-socket', JSON.stringify(ghost));
    redis.disconnect();
    const announced = record(member, 'presence');
    const presence = await collaboration.add('presence.sweep', {}, { jobId: crypto.randomUUID() });
    expect((await waitForJob(api, presence.id!, ADMIN_TOKEN)).result).toMatchObject({ dropped: 1 });
    await until(() => announced.length > 0);
    expect(announced[0].members.map((m: { displayName: string }) => m.displayName)).toEqual([owner.user.displayName]);
    member.disconnect();
  });

  it('warms an edited session back into the cache, so the next reader hits it', async () => {
    const env = isolatedRedis('warm');
    const api = await start(env);
    const warmed = async () => (await scrape(api)).value('document_warmings_total', { result: 'warmed' });
    const key = await sessionWithBlocks(api, owner.token, [{ type: 'text', content: { text: 'first' } }]);
    const block = (await api.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items[0];
    const stats = async () => (await api.request('GET', '/api/admin/cache/stats', { token: ADMIN_TOKEN })).body.byType.blocks;
    const edited = await api.request('PATCH', `/api/sessions/${key}/blocks/${block.id}`, {
      token: owner.token,
      body: { version: block.version, content: { text: 'second' } },
    });
    expect(edited.status).toBe(200);
    // The warming waits 0.5 s for the rest of a burst, then loads the session once.
    const edit = Date.now();
    while ((await warmed()) < 1) {
      expect(Date.now() - edit).toBeLessThan(10_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const before = await stats();
    const read = await api.request('GET', `/api/sessions/${key}`, { token: owner.token });
    expect(read.body.blocks[0].content.text).toBe('second');
    await new Promise((resolve) => setTimeout(resolve, 1100)); // hit counters are flushed each second
    const after = await stats();
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(0);
  });
});
