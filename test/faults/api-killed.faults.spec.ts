import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  expectAcknowledgedKept,
  expectGapFree,
  sessionForWriters,
  startFollowers,
  startWriters,
  type Follower,
} from '../helpers/editing-load.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ensureBuilt, spawnTessera, whenReady, type TesseraProcess } from '../helpers/processes.js';
import { RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { isolatedRedis, request } from '../helpers/test-app.js';
import { ensureMigrated } from '../helpers/test-environment.js';

const WRITERS = 6;
const FOLLOWERS = 8;

/**
 * kill -9 of one of two API processes behind a readiness-gated balancer while clients
 * edit: requests in flight on it fail (they were never acknowledged, and are retried),
 * no acknowledged write is lost, and every follower resumes on the survivor without
 * missing a seq.
 */
describe('an API instance killed (SIGKILL) during editing', () => {
  const processes: TesseraProcess[] = [];
  let followers: Follower[] = [];
  let proxy: RoundRobinProxy;
  const env = {
    ...isolatedRedis('faults-kill'),
    DB_POOL_MAX: '5',
    RATE_LIMIT_POLICIES: JSON.stringify({ 'block-edits': { FREE: { limit: 1_000_000, windowSeconds: 60 } } }),
  };

  beforeAll(async () => {
    ensureBuilt();
    await ensureMigrated();
    proxy = await new RoundRobinProxy().start();
    for (let i = 0; i < 2; i++) {
      const api = await spawnTessera('api', env);
      processes.push(api);
      await whenReady(api);
      await proxy.add(api.url);
    }
  });
  afterAll(async () => {
    followers.forEach((f) => f.client.close());
    for (const p of processes) p.child.kill('SIGKILL');
    await proxy.close();
    await closeTestDb();
  });

  it('loses no acknowledged write, and every follower resumes with no missed seq', async () => {
    const { token } = await createUser();
    const { key, blocks } = await sessionForWriters(proxy.url, token, WRITERS);
    followers = await startFollowers(proxy.url, token, key, FOLLOWERS);
    const writers = startWriters(proxy.url, token, key, blocks, { retry: true });

    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [victim] = processes;
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await writers.stop();

    await expectAcknowledgedKept(proxy.url, token, key, writers.acknowledged);
    // Failures are only the writes in flight on the killed instance (at most one per writer,
    // the balancer stops sending there within its next readiness check), never a refusal.
    expect(writers.failures.every((f) => /^(0|502) /.test(f))).toBe(true);
    const final = (await request(proxy.url, 'GET', `/api/sessions/${key}`, { token })).body;
    await expectGapFree(followers, final.seq);
    expect(followers.filter((f) => f.connects > 1).length).toBeGreaterThanOrEqual(1);
  });
});
