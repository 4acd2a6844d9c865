import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TesseraClient } from '../../src/client/tessera-client.js';
import { expectAcknowledgedKept, expectGapFree, sessionForWriters, startFollowers, startWriters } from '../helpers/editing-load.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ensureBuilt, spawnTessera, whenReady, type TesseraProcess } from '../helpers/processes.js';
import { RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { until } from '../helpers/sockets.js';
import { isolatedRedis, request } from '../helpers/test-app.js';
import { ensureMigrated } from '../helpers/test-environment.js';

const DRAIN_DELAY_MS = 1500;
const SHUTDOWN_TIMEOUT_MS = 5000;
const WRITERS = 6;
const LISTENERS = 8;

/**
 * A rolling update as Kubernetes runs one: two API processes behind a readiness-gated
 * round-robin balancer, clients writing over HTTP and following over Socket.IO; one
 * process gets SIGTERM and a new one replaces it.
 */
describe('rolling restart behind a load balancer', () => {
  const processes: TesseraProcess[] = [];
  const clients: TesseraClient[] = [];
  let proxy: RoundRobinProxy;
  const env = {
    ...isolatedRedis('rollout-spec'),
    DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    DB_POOL_MAX: '5',
    RATE_LIMIT_POLICIES: JSON.stringify({ 'block-edits': { FREE: { limit: 1_000_000, windowSeconds: 60 } } }),
  };
  const startApi = async () => {
    const api = await spawnTessera('api', env);
    processes.push(api);
    await whenReady(api);
    await proxy.add(api.url);
    return api;
  };

  beforeAll(async () => {
    ensureBuilt();
    await ensureMigrated();
    proxy = await new RoundRobinProxy().start();
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    for (const p of processes) p.child.kill('SIGKILL');
    await proxy.close();
    await closeTestDb();
  });

  it('loses no write and no change while an instance drains and is replaced', async () => {
    const [first] = await Promise.all([startApi(), startApi()]);
    const { token } = await createUser();
    const { key, blocks } = await sessionForWriters(proxy.url, token, WRITERS);

    const followers = await startFollowers(proxy.url, token, key, LISTENERS);
    clients.push(...followers.map((f) => f.client));
    const writers = startWriters(proxy.url, token, key, blocks);

    await new Promise((resolve) => setTimeout(resolve, 1000));
    const stoppedAt = Date.now();
    first.child.kill('SIGTERM');
    // Readiness fails at once: the balancer stops sending before the instance stops serving.
    await until(() => !proxy.ready.includes(new URL(first.url).origin), 1000);
    const replacement = startApi();
    expect(await first.exited).toBe(0);
    const stoppedIn = Date.now() - stoppedAt;
    proxy.remove(first.url);
    await replacement;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await writers.stop();

    expect(writers.failures).toEqual([]);
    expect(stoppedIn).toBeGreaterThanOrEqual(DRAIN_DELAY_MS);
    expect(stoppedIn).toBeLessThan(DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS);
    await expectAcknowledgedKept(proxy.url, token, key, writers.acknowledged);

    // Every follower resumed (the drained ones on another instance) and saw every change once, in order.
    const session = (await request(proxy.url, 'GET', `/api/sessions/${key}`, { token })).body;
    await expectGapFree(followers, session.seq);
    const moved = followers.filter((f) => f.connects > 1);
    expect(moved.length).toBeGreaterThanOrEqual(1);
    expect(moved.every((f) => f.drained === 1)).toBe(true);
    const edits = [...writers.acknowledged.values()].reduce((sum, a) => sum + a.version - 1, 0);
    expect(edits).toBeGreaterThan(WRITERS * 5);
  }, 60_000);
});
