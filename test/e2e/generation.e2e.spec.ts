import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { sessionWithBlocks, waitForJob } from '../helpers/jobs.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

describe('generation jobs with the built-in local providers', () => {
  let app: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    app = await startTestApp({ RUN_WORKERS: 'true' });
    owner = await createUser({ plan: 'PRO' });
  });
  afterAll(async () => {
    await app.close();
    await closeTestDb();
  });

  const blocksOf = async (key: string) =>
    (await app.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items as any[];

  it('writes generated blocks as versioned changes after an automatic snapshot, and everyone sees them', async () => {
    const key = await sessionWithBlocks(app, owner.token, [{ type: 'text', content: { text: 'Existing' } }]);
    const viewer = await createUser();
    const socket = await connect(app, { token: viewer.token });
    expect((await ack(socket, 'session.join', { key })).ok).toBe(true);
    const changes = record(socket, 'change');
    const jobs = record(socket, 'job');
    const res = await app.request('POST', `/api/sessions/${key}/generate`, {
      token: owner.token,
      body: { prompt: 'Launch plan for the mobile banking app', mode: 'blocks' },
    });
    expect(res.status).toBe(202);
    const job = await waitForJob(app, res.body.jobId, owner.token);
    expect(job).toMatchObject({ queue: 'ai-generation', state: 'completed', attempts: 1 });
    const blocks = await blocksOf(key);
    expect(blocks[0].content.text).toBe('Existing');
    expect(blocks.slice(1).map((b) => b.id)).toEqual(job.result.blockIds);
    expect(blocks[1]).toMatchObject({ type: 'heading', content: { text: 'Launch plan for the mobile banking app', level: 1 } });
    expect(blocks.some((b) => b.type === 'checklist-item' && /banking/.test(b.content.text))).toBe(true);
    expect(blocks[1].updatedBy.userId).toBe(owner.user.id);
    await until(() => changes.length === job.result.blockIds.length && jobs.some((j) => j.state === 'completed'));
    expect(changes.map((c) => c.seq)).toEqual(job.result.blockIds.map((_: string, i: number) => i + 2));
    const snapshot = await testDb().snapshot.findUniqueOrThrow({ where: { id: job.result.snapshotId } });
    expect(snapshot).toMatchObject({ automatic: true, seq: 1n });
    socket.disconnect();
  });

  it('gives the same output for the same prompt (outline mode)', async () => {
    const [a, b] = [await sessionWithBlocks(app, owner.token, []), await sessionWithBlocks(app, owner.token, [])];
    const body = { prompt: 'Quarterly planning for the design team', mode: 'outline' };
    const jobs = await Promise.all([a, b].map((key) => app.request('POST', `/api/sessions/${key}/generate`, { token: owner.token, body })));
    await Promise.all(jobs.map((j) => waitForJob(app, j.body.jobId, owner.token)));
    const [first, second] = [await blocksOf(a), await blocksOf(b)];
    const shape = (blocks: any[]) => blocks.map((x) => [x.type, x.content]);
    expect(shape(first)).toEqual(shape(second));
    expect(first.filter((x) => x.type === 'heading').length).toBe(5);
    expect(first.filter((x) => x.type === 'list-item').length).toBe(12);
  });

  it('runs a thinking job as a flow: headings first, each section written by its own child job after its heading', async () => {
    const key = await sessionWithBlocks(app, owner.token, []);
    const res = await app.request('POST', `/api/sessions/${key}/think`, {
      token: owner.token,
      body: { goal: 'Plan the offsite for the support team in spring' },
    });
    expect(res.status).toBe(202);
    const job = await waitForJob(app, res.body.jobId, owner.token);
    expect(job).toMatchObject({ queue: 'thinking', state: 'completed' });
    const sections = job.result.sections as Array<{ heading: string; headingId: string; jobId: string; blockIds: string[] }>;
    expect(sections.length).toBeGreaterThanOrEqual(3);
    for (const section of sections) {
      const child = await waitForJob(app, section.jobId, owner.token);
      expect(child).toMatchObject({ queue: 'ai-generation', state: 'completed' });
      expect(section.blockIds.length).toBeGreaterThan(0);
    }
    const expected = sections.flatMap((s) => [s.headingId, ...s.blockIds]);
    expect((await blocksOf(key)).map((b) => b.id)).toEqual(expected);
    expect(await testDb().snapshot.count({ where: { id: job.result.snapshotId } })).toBe(1);
  });

  it('draws an image from the prompt: an SVG artifact and an image block', async () => {
    const key = await sessionWithBlocks(app, owner.token, [{ type: 'text', content: { text: 'Cover' } }]);
    const res = await app.request('POST', `/api/sessions/${key}/images`, {
      token: owner.token,
      body: { prompt: 'A lighthouse at dawn <over> the sea' },
    });
    const job = await waitForJob(app, res.body.jobId, owner.token);
    expect(job).toMatchObject({
      queue: 'image-generation',
      state: 'completed',
      result: { contentType: 'image/svg+xml', provider: 'local' },
    });
    const blocks = await blocksOf(key);
    expect(blocks.at(-1)).toMatchObject({ id: job.result.blockId, type: 'image', content: { artifactId: job.result.artifactId } });
    const download = await app.request('GET', `/api/artifacts/${job.result.artifactId}/download`, { token: owner.token });
    const svg = await (await fetch(`${app.url}${download.body.url}`)).text();
    expect(svg).toMatch(/^<\?xml[^]*<svg [^]*<\/svg>\n$/);
    expect(svg).toContain('A lighthouse at dawn &lt;over&gt; the sea');
    expect(svg).not.toMatch(/<script|href=/);
    const html = await app.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format: 'html' } });
    const exported = await waitForJob(app, html.body.jobId, owner.token);
    const link = await app.request('GET', `/api/artifacts/${exported.result.artifactId}/download`, { token: owner.token });
    expect(await (await fetch(`${app.url}${link.body.url}`)).text()).toContain('<img src="data:image/svg+xml;base64,');
  });

  it('refuses generation into a session the caller may only read', async () => {
    const key = await sessionWithBlocks(app, owner.token, [], { visibility: 'readonly' });
    const other = await createUser();
    const refused = await app.request('POST', `/api/sessions/${key}/generate`, { token: other.token, body: { prompt: 'x' } });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('READ_ONLY');
    expect((await app.request('POST', `/api/sessions/${key}/images`, { token: other.token, body: { prompt: '' } })).status).toBe(400);
  });
});
