import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TesseraClient } from '../../src/client/tessera-client.js';
import { expectAcknowledgedKept, expectGapFree, sessionForWriters, startFollowers, startWriters } from '../helpers/editing-load.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ApiFleet } from '../helpers/api-fleet.js';
import { until } from '../helpers/sockets.js';
import { request } from '../helpers/test-app.js';

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
  const clients: TesseraClient[] = [];
  let fleet: ApiFleet;

  beforeAll(async () => {
    fleet = await ApiFleet.start('rollout-spec', {
      DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    });
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await fleet.close();
    await closeTestDb();
  });

  it('loses no write and no change while an instance drains and is replaced', async () => {
    const [first] = await Promise.all([fleet.add(), fleet.add()]);
    const { token } = await createUser();
    const { key, blocks } = await sessionForWriters(fleet.url, token, WRITERS);

    const followers = await startFollowers(fleet.url, token, key, LISTENERS);
    clients.push(...followers.map((f) => f.client));
    const writers = startWriters(fleet.url, token, key, blocks);

    await new Promise((resolve) => setTimeout(resolve, 1000));
    const stoppedAt = Date.now();
    first.child.kill('SIGTERM');
    // Readiness fails at once: the balancer stops sending before the instance stops serving.
    await until(() => !fleet.proxy.ready.includes(new URL(first.url).origin), 1000);
    const replacement = fleet.add();
    expect(await first.exited).toBe(0);
    const stoppedIn = Date.now() - stoppedAt;
    fleet.proxy.remove(first.url);
    await replacement;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await writers.stop();

    expect(writers.failures).toEqual([]);
    expect(stoppedIn).toBeGreaterThanOrEqual(DRAIN_DELAY_MS);
    expect(stoppedIn).toBeLessThan(DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS);
    await expectAcknowledgedKept(fleet.url, token, key, writers.acknowledged);

    // Every follower resumed (the drained ones on another instance) and saw every change once, in order.
    const session = (await request(fleet.url, 'GET', `/api/sessions/${key}`, { token })).body;
    await expectGapFree(followers, session.seq);
    const moved = followers.filter((f) => f.connects > 1);
    expect(moved.length).toBeGreaterThanOrEqual(1);
    expect(moved.every((f) => f.drained === 1)).toBe(true);
    const edits = [...writers.acknowledged.values()].reduce((sum, a) => sum + a.version - 1, 0);
    expect(edits).toBeGreaterThan(WRITERS * 5);
  }, 120_000);
});
