import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { sessionWithBlocks, waitForJob } from '../helpers/jobs.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const BLOCKS = [
  { type: 'heading', content: { text: 'Goals <b>now</b>', level: 1 } },
  { type: 'text', content: { text: 'Ship it & tell <script>alert(1)</script> everyone' } },
  { type: 'checklist-item', content: { text: 'Write the brief', checked: true } },
  { type: 'checklist-item', content: { text: 'Book the room', checked: false } },
  { type: 'code', content: { code: 'const a = "```";', language: 'js' } },
  { type: 'sticky-note', content: { colour: 'yellow' } },
];

describe('exports end to end (real workers, artifacts, signed URLs)', () => {
  let app: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  let key: string;

  beforeAll(async () => {
    app = await startTestApp({ RUN_WORKERS: 'true', SIGNED_URL_TTL_SECONDS: '2' });
    owner = await createUser({ displayName: 'Ada' });
    key = await sessionWithBlocks(app, owner.token, BLOCKS, { visibility: 'private' });
  });
  afterAll(async () => {
    await app.close();
    await closeTestDb();
  });

  async function exportAs(format: string) {
    const res = await app.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format } });
    expect(res.status).toBe(202);
    expect(res.body.jobId).toMatch(/^[0-9a-f-]{36}$/);
    const job = await waitForJob(app, res.body.jobId, owner.token);
    expect(job).toMatchObject({ id: res.body.jobId, queue: 'export', state: 'completed', progress: 100, attempts: 1, sessionKey: key });
    const artifact = await app.request('GET', `/api/artifacts/${job.result.artifactId}`, { token: owner.token });
    expect(artifact.status).toBe(200);
    const download = await app.request('GET', `/api/artifacts/${job.result.artifactId}/download`, { token: owner.token });
    expect(download.status).toBe(200);
    const plain = await fetch(`${app.url}${download.body.url}`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.status).toBe(200);
    const text = await plain.text();
    return { job, artifact: artifact.body, download: download.body, text, plain };
  }

  it('renders json with every block in order, stored gzip-compressed, and reports progress to the room', async () => {
    const socket = await connect(app, { token: owner.token });
    expect((await ack(socket, 'session.join', { key })).ok).toBe(true);
    const events = record(socket, 'job');
    const { job, artifact, text, plain } = await exportAs('json');
    const parsed = JSON.parse(text);
    expect(parsed.session.key).toBe(key);
    expect(parsed.blocks.map((b: { type: string }) => b.type)).toEqual(BLOCKS.map((b) => b.type));
    expect(job.result).toMatchObject({ format: 'json', seq: BLOCKS.length });
    expect(artifact).toMatchObject({
      sessionKey: key,
      kind: 'export',
      contentType: 'application/json; charset=utf-8',
      sizeBytes: Buffer.byteLength(text),
    });
    expect(artifact.storedBytes).toBeLessThan(artifact.sizeBytes);
    expect(new Date(artifact.expiresAt).getTime() - new Date(artifact.createdAt).getTime()).toBe(30 * 86_400_000);
    expect(plain.headers.get('content-disposition')).toMatch(/^attachment; filename="[A-Z0-9]+-\d{8}-\d{4}\.json"$/);
    await until(() => events.some((e) => e.state === 'completed'));
    expect(events[0]).toMatchObject({ jobId: job.id, queue: 'export', state: 'active' });
    expect(events.at(-1)).toMatchObject({
      jobId: job.id,
      state: 'completed',
      progress: 100,
      result: { artifactId: job.result.artifactId },
    });
    expect(events.map((e) => e.progress)).toEqual([...events.map((e) => e.progress)].sort((a, b) => a - b));
    socket.disconnect();
  });

  it('sends the stored gzip bytes to clients that accept gzip', async () => {
    const { download, text } = await exportAs('markdown');
    const raw = await new Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      void import('node:http').then(({ get }) =>
        get(`${app.url}${download.url}`, { headers: { 'accept-encoding': 'gzip, deflate' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        }).on('error', reject),
      );
    });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(raw.body).toString()).toBe(text);
    expect(text).toContain('# Launch plan');
    expect(text).toContain('## Goals \\<b\\>now\\</b\\>');
    expect(text).toContain('- [x] Write the brief\n- [ ] Book the room');
    expect(text).toContain('````js\nconst a = "```";\n````');
    expect(text).toContain('"colour": "yellow"');
  });

  it('renders a self-contained HTML page with every text escaped', async () => {
    const { text, plain } = await exportAs('html');
    expect(plain.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(plain.headers.get('content-security-policy')).toContain('sandbox');
    expect(text).toMatch(/^<!doctype html>/);
    expect(text).toContain('<h2>Goals &lt;b&gt;now&lt;/b&gt;</h2>');
    expect(text).toContain('Ship it &amp; tell &lt;script&gt;alert(1)&lt;/script&gt; everyone');
    expect(text).not.toMatch(/<script|src="http|href="http/);
    expect(text).toContain('<li class="done">Write the brief</li>');
  });

  it('refuses tampered, incomplete and expired download URLs with 403', async () => {
    const { download } = await exportAs('json');
    const url = new URL(download.url, app.url);
    const signature = url.searchParams.get('signature')!;
    const tampered = new URL(url);
    tampered.searchParams.set('signature', `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`);
    const later = new URL(url);
    later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    const other = new URL(url.toString().replace(/artifacts\/[0-9a-f-]+/, `artifacts/${crypto.randomUUID()}`));
    const missing = new URL(url);
    missing.searchParams.delete('signature');
    for (const [bad, code] of [
      [tampered, 'INVALID_SIGNATURE'],
      [later, 'INVALID_SIGNATURE'],
      [other, 'INVALID_SIGNATURE'],
      [missing, 'INVALID_SIGNATURE'],
    ] as const) {
      const res = await fetch(bad);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(((await res.json()) as { code: string }).code).toBe(code);
    }
    await new Promise((resolve) => setTimeout(resolve, Date.parse(download.expiresAt) - Date.now() + 50));
    const expired = await fetch(url);
    expect(expired.status).toBe(403);
    expect(((await expired.json()) as { code: string }).code).toBe('URL_EXPIRED');
  });

  it('hides jobs and artifacts of sessions the caller cannot read', async () => {
    const { job } = await exportAs('json');
    const stranger = await createUser();
    expect((await app.request('GET', `/api/jobs/${job.id}`, { token: stranger.token })).body.code).toBe('JOB_NOT_FOUND');
    expect((await app.request('GET', `/api/artifacts/${job.result.artifactId}`, { token: stranger.token })).body.code).toBe(
      'ARTIFACT_NOT_FOUND',
    );
    expect((await app.request('GET', `/api/artifacts/${job.result.artifactId}/download`)).body.code).toBe('ARTIFACT_NOT_FOUND');
    expect((await app.request('POST', `/api/sessions/${key}/exports`, { token: stranger.token, body: { format: 'json' } })).status).toBe(
      404,
    );
    expect((await app.request('GET', `/api/jobs/${crypto.randomUUID()}`, { token: owner.token })).body.code).toBe('JOB_NOT_FOUND');
    expect((await app.request('GET', '/api/jobs/42', { token: owner.token })).body.code).toBe('VALIDATION_FAILED');
  });

  it('queues a retried request once (Idempotency-Key) and refuses the key with another body', async () => {
    const send = (format: string) =>
      app.request('POST', `/api/sessions/${key}/exports`, {
        token: owner.token,
        body: { format },
        headers: { 'idempotency-key': 'export-once-1' },
      });
    // Concurrent copies: one queues the job; each other one gets the same jobId or, while the first runs, 409 IN_USE.
    const answers = await Promise.all([send('json'), send('json'), send('json')]);
    const accepted = answers.filter((r) => r.status === 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    for (const r of answers.filter((r) => r.status !== 202)) expect(r.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    const jobId = accepted[0].body.jobId as string;
    expect(new Set(accepted.map((r) => r.body.jobId))).toEqual(new Set([jobId]));
    const retried = await send('json');
    expect(retried).toMatchObject({ status: 202, body: { jobId } });
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    const reused = await send('html');
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const job = await waitForJob(app, jobId, owner.token);
    expect(job.state).toBe('completed');
  });

  it('validates the request', async () => {
    const bad = await app.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format: 'pdf' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('format');
    const extra = await app.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format: 'json', x: 1 } });
    expect(extra.status).toBe(400);
    const badKey = await app.request('POST', `/api/sessions/${key}/exports`, {
      token: owner.token,
      body: { format: 'json' },
      headers: { 'idempotency-key': 'a'.repeat(300) },
    });
    expect(badKey.body.code).toBe('VALIDATION_FAILED');
  });
});
