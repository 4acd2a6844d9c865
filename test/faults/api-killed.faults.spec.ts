import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  expectAcknowledgedKept,
  expectGapFree,
  expectSessionSaveKept,
  sessionForWriters,
  startFollowers,
  startSessionSaver,
  startWriters,
  type Follower,
} from '../helpers/editing-load.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ApiFleet } from '../helpers/api-fleet.js';
import { request } from '../helpers/test-app.js';

const WRITERS = 6;
const FOLLOWERS = 8;

/**
 * kill -9 of one of two API processes behind a readiness-gated balancer while clients
 * edit blocks and save the session's state: requests in flight on it fail (they were never acknowledged, and are retried),
 * no acknowledged write is lost, and every follower resumes on the survivor without
 * missing a seq.
 */
describe('an API instance killed (SIGKILL) during editing', () => {
  let followers: Follower[] = [];
  let fleet: ApiFleet;

  beforeAll(async () => {
    // A long group-commit tick: the writers' edits share statements, so the kill cuts ticks of several writes.
    fleet = await ApiFleet.start('faults-kill', { GROUP_COMMIT_MAX_WAIT_MS: '10' });
    await Promise.all([fleet.add(), fleet.add()]);
  });
  afterAll(async () => {
    followers.forEach((f) => f.client.close());
    await fleet.close();
    await closeTestDb();
  });

  it('loses no acknowledged write, and every follower resumes with no missed seq', async () => {
    const { token } = await createUser();
    const { key, blocks } = await sessionForWriters(fleet.url, token, WRITERS);
    followers = await startFollowers(fleet.url, token, key, FOLLOWERS);
    const writers = startWriters(fleet.url, token, key, blocks, { retry: true });
    const saver = startSessionSaver(fleet.url, token, key, { retry: true });

    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [victim] = fleet.processes;
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await Promise.all([writers.stop(), saver.stop()]);

    await expectAcknowledgedKept(fleet.url, token, key, writers.acknowledged);
    await expectSessionSaveKept(fleet.url, token, key, saver.acknowledged);
    // Failures are only the writes in flight on the killed instance (at most one per writer,
    // the balancer stops sending there within its next readiness check), never a refusal.
    expect([...writers.failures, ...saver.failures].every((f) => /^(0|502) /.test(f))).toBe(true);
    const final = (await request(fleet.url, 'GET', `/api/sessions/${key}`, { token })).body;
    await expectGapFree(followers, final.seq);
    expect(followers.filter((f) => f.connects > 1).length).toBeGreaterThanOrEqual(1);
  });
});
