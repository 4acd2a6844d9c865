import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { QueueRegistry } from '../../src/queues/queue.registry.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { chatAnswer } from '../helpers/fake-provider.js';
import { BLOCKS, jobSuiteResources, queuePrefix } from '../helpers/job-fixtures.js';
import { sessionWithBlocks, waitForJob } from '../helpers/jobs.js';
import { ensureBuilt, spawnTessera } from '../helpers/processes.js';
import { until } from '../helpers/sockets.js';
import { ADMIN_TOKEN } from '../helpers/test-app.js';
import { ensureMigrated } from '../helpers/test-environment.js';

/**
 * A `node dist/worker.js` stopped inside a job: politely (SIGTERM past its shutdown
 * budget: the job goes back to its queue) or not (SIGKILL: another worker takes it over
 * once its lock lapses). Either way the job completes once.
 */
describe('a worker process stopped mid-job', () => {
  let owner: Awaited<ReturnType<typeof createUser>>;
  const { start, fakeProvider, closeAll } = jobSuiteResources();
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    ensureBuilt();
    await ensureMigrated();
    owner = await createUser({ plan: 'ENTERPRISE' });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await closeAll();
    await closeTestDb();
  });

  /** `node dist/worker.js` with queues of its own. */
  const spawnWorker = async (prefix: string, env: Record<string, string>) => {
    const worker = await spawnTessera('worker', { QUEUE_PREFIX: prefix, ...env });
    child = worker.child;
    return worker;
  };

  it('on SIGTERM past its shutdown budget, hands the running job back (no attempt used) and exits 0 in time', async () => {
    const prefix = queuePrefix('handed-back');
    let started = false;
    const provider = await fakeProvider((_call, i) => {
      if (i === 0) {
        started = true;
        return { body: chatAnswer(BLOCKS), delayMs: 60_000 };
      }
      return { body: chatAnswer(BLOCKS) };
    });
    const { exited } = await spawnWorker(prefix, { AI_PROVIDER_URL: provider.url, DRAIN_DELAY_MS: '0', SHUTDOWN_TIMEOUT_MS: '3000' });
    const api = await start({ QUEUE_PREFIX: prefix, AI_PROVIDER_URL: provider.url });
    const key = await sessionWithBlocks(api, owner.token, []);
    const res = await api.request('POST', `/api/sessions/${key}/generate`, { token: owner.token, body: { prompt: 'stop politely' } });
    await until(() => started, 20_000);
    const stoppedAt = Date.now();
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
    // Handed back 2 s before the 3 s budget ends, not left for the lock to lapse.
    expect(Date.now() - stoppedAt).toBeLessThan(3000);
    expect((await api.request('GET', `/api/jobs/${res.body.jobId}`, { token: owner.token })).body.state).toBe('waiting');
    expect((await api.app.get(QueueRegistry).get('ai-generation').getJob(res.body.jobId))!.attemptsMade).toBe(0);

    await start({ QUEUE_PREFIX: prefix, AI_PROVIDER_URL: provider.url, RUN_WORKERS: 'true' });
    const job = await waitForJob(api, res.body.jobId, owner.token, ['completed', 'failed'], 20_000);
    expect([job.state, provider.calls.length]).toEqual(['completed', 2]);
    expect((await api.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items).toHaveLength(3);
  }, 60_000);

  it('hands the job to another worker, which completes it once', async () => {
    const prefix = queuePrefix('killed');
    let killed = false;
    const provider = await fakeProvider((_call, i) => {
      if (i === 0) {
        // The first worker is inside the job now: kill it where it stands.
        child!.kill('SIGKILL');
        killed = true;
        return { body: chatAnswer(BLOCKS), delayMs: 60_000 };
      }
      return { body: chatAnswer(BLOCKS) };
    });
    const { exited } = await spawnWorker(prefix, { AI_PROVIDER_URL: provider.url, JOB_LOCK_MS: '1000' });
    const api = await start({ QUEUE_PREFIX: prefix, AI_PROVIDER_URL: provider.url, JOB_LOCK_MS: '1000' });
    const key = await sessionWithBlocks(api, owner.token, []);
    const res = await api.request('POST', `/api/sessions/${key}/generate`, { token: owner.token, body: { prompt: 'survive a crash' } });
    await until(() => killed, 20_000);
    await exited;
    await start({ QUEUE_PREFIX: prefix, AI_PROVIDER_URL: provider.url, JOB_LOCK_MS: '1000', RUN_WORKERS: 'true' });
    const job = await waitForJob(api, res.body.jobId, owner.token, ['completed', 'failed'], 20_000);
    expect(job.state).toBe('completed');
    expect(provider.calls).toHaveLength(2);
    const blocks = (await api.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items;
    expect(blocks).toHaveLength(3);
    const stats = (await api.request('GET', '/api/admin/queues/stats', { token: ADMIN_TOKEN })).body;
    expect(stats.find((q: { name: string }) => q.name === 'ai-generation').stalled).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
