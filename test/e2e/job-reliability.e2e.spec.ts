import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { derivedUuid } from '../../src/common/ids.js';
import { ERROR_CATALOG } from '../../src/errors/error-catalog.js';
import { QueueRegistry } from '../../src/queues/queue.registry.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { chatAnswer } from '../helpers/fake-provider.js';
import { BLOCKS, jobSuiteResources, queuePrefix } from '../helpers/job-fixtures.js';
import { sessionWithBlocks, waitForJob } from '../helpers/jobs.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { ADMIN_TOKEN } from '../helpers/test-app.js';
import { ensureMigrated } from '../helpers/test-environment.js';

describe('job reliability: retries, refusals, timeouts', () => {
  let owner: Awaited<ReturnType<typeof createUser>>;
  const { start, fakeProvider, closeAll } = jobSuiteResources();

  beforeAll(async () => {
    await ensureMigrated();
    owner = await createUser({ plan: 'ENTERPRISE' });
  });
  afterAll(async () => {
    await closeAll();
    await closeTestDb();
  });

  it('retries a failing provider with exponential backoff and tells the room about each failed attempt', async () => {
    const provider = await fakeProvider((_call, i) => (i < 2 ? { status: 503, body: { error: 'busy' } } : { body: chatAnswer(BLOCKS) }));
    const app = await start({
      RUN_WORKERS: 'true',
      QUEUE_PREFIX: queuePrefix('retry'),
      AI_PROVIDER_URL: provider.url,
      JOB_BACKOFF_MS: '300',
    });
    const key = await sessionWithBlocks(app, owner.token, []);
    const socket = await connect(app, { token: owner.token });
    await ack(socket, 'session.join', { key });
    const events = record(socket, 'job');
    const res = await app.request('POST', `/api/sessions/${key}/generate`, { token: owner.token, body: { prompt: 'hello' } });
    const job = await waitForJob(app, res.body.jobId, owner.token);
    expect(job).toMatchObject({ state: 'completed', attempts: 3, maxAttempts: 3, result: { provider: 'openai-compatible' } });
    expect(provider.calls).toHaveLength(3);
    expect(provider.calls[1].at - provider.calls[0].at).toBeGreaterThanOrEqual(300);
    expect(provider.calls[2].at - provider.calls[1].at).toBeGreaterThanOrEqual(600);
    expect(provider.calls[0].body).toMatchObject({ model: 'gpt-4o-mini', response_format: { type: 'json_object' } });
    await until(() => events.some((e) => e.state === 'completed'));
    const delayed = events.filter((e) => e.state === 'delayed');
    expect(delayed).toHaveLength(2);
    // The provider's own answer is logged, never shown.
    expect(delayed[0].error).toEqual({ code: 'SERVICE_UNAVAILABLE', message: ERROR_CATALOG.SERVICE_UNAVAILABLE.detail });
    const blocks = (await app.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items;
    expect(blocks.map((b: { type: string }) => b.type)).toEqual(['heading', 'text', 'checklist-item']);
    socket.disconnect();
  });

  it('fails at once when the provider refuses (no retry can fix a 401), and when a job runs past its timeout', async () => {
    const provider = await fakeProvider((call) =>
      call.body.messages[1].content.includes('slow')
        ? { body: chatAnswer(BLOCKS), delayMs: 3000 }
        : { status: 401, body: { error: 'bad key' } },
    );
    const app = await start({
      RUN_WORKERS: 'true',
      QUEUE_PREFIX: queuePrefix('refuse'),
      AI_PROVIDER_URL: provider.url,
      JOB_TIMEOUT_SECONDS: '1',
      JOB_BACKOFF_MS: '100',
    });
    const key = await sessionWithBlocks(app, owner.token, []);
    const refused = await app.request('POST', `/api/sessions/${key}/generate`, { token: owner.token, body: { prompt: 'hello' } });
    const failed = await waitForJob(app, refused.body.jobId, owner.token);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1 });
    expect(failed.error).toEqual({ code: 'SERVICE_UNAVAILABLE', message: ERROR_CATALOG.SERVICE_UNAVAILABLE.detail });
    expect(JSON.stringify(failed)).not.toContain('bad key');
    const slow = await app.request('POST', `/api/sessions/${key}/generate`, { token: owner.token, body: { prompt: 'slow' } });
    const timedOut = await waitForJob(app, slow.body.jobId, owner.token);
    expect(timedOut).toMatchObject({
      state: 'failed',
      attempts: 3,
      error: { code: 'SERVICE_UNAVAILABLE', message: 'The job did not finish within 1 s.' },
    });
    expect((await app.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items).toHaveLength(0);
  });

  it('fails a queued job whose requester lost write access before it ran, without retrying', async () => {
    const prefix = queuePrefix('revoked');
    const api = await start({ QUEUE_PREFIX: prefix });
    const writer = await createUser();
    const key = await sessionWithBlocks(api, owner.token, []);
    const res = await api.request('POST', `/api/sessions/${key}/generate`, { token: writer.token, body: { prompt: 'mine now' } });
    expect(res.status).toBe(202);
    expect(
      (await api.request('PATCH', `/api/sessions/${key}`, { token: owner.token, body: { visibility: 'readonly', version: 1 } })).status,
    ).toBe(200);
    await start({ QUEUE_PREFIX: prefix, RUN_WORKERS: 'true' });
    const job = await waitForJob(api, res.body.jobId, writer.token);
    expect(job).toMatchObject({ state: 'failed', attempts: 1 });
    expect(job.error).toEqual({ code: 'READ_ONLY', message: ERROR_CATALOG.READ_ONLY.detail });
  });

  it('writes a job output once even when the job runs again after it committed', async () => {
    const app = await start({ RUN_WORKERS: 'true', QUEUE_PREFIX: queuePrefix('replay') });
    const key = await sessionWithBlocks(app, owner.token, []);
    const ai = app.app.get(QueueRegistry).get('ai-generation');
    const seed = derivedUuid('replay', key);
    const data = {
      sessionKey: key,
      principal: { kind: 'admin', ip: '127.0.0.1' },
      requestHash: 'x',
      prompt: 'Same work twice',
      mode: 'blocks',
      seed,
    };
    const first = await ai.add('ai.generate', data, { jobId: crypto.randomUUID() });
    await waitForJob(app, first.id!, ADMIN_TOKEN);
    const again = await ai.add('ai.generate', { ...data, snapshotId: 'taken' }, { jobId: crypto.randomUUID() });
    const second = await waitForJob(app, again.id!, ADMIN_TOKEN);
    expect(second.state).toBe('completed');
    const blocks = (await app.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items;
    expect(blocks.map((b: { id: string }) => b.id)).toEqual(second.result.blockIds);
  });
});
