import type { TestApp } from './test-app.js';

/** Polls GET /api/jobs/:id until the job reaches one of `states` (or the deadline passes). */
export async function waitForJob(app: TestApp, jobId: string, token?: string, states = ['completed', 'failed'], timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.request('GET', `/api/jobs/${jobId}`, { token });
    if (res.status === 200 && states.includes(res.body.state)) return res.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not reach ${states.join('|')}: ${JSON.stringify(res.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A session owned by the token's user, with blocks created over HTTP in order. */
export async function sessionWithBlocks(
  app: TestApp,
  token: string,
  blocks: Array<{ type: string; content: Record<string, unknown> }>,
  body: Record<string, unknown> = {},
) {
  const session = await app.request('POST', '/api/sessions', { token, body: { typeSlug: 'document', title: 'Launch plan', ...body } });
  if (session.status !== 201) throw new Error(`session: ${JSON.stringify(session.body)}`);
  for (const block of blocks) {
    const res = await app.request('POST', `/api/sessions/${session.body.key}/blocks`, { token, body: block });
    if (res.status !== 201) throw new Error(`block: ${JSON.stringify(res.body)}`);
  }
  return session.body.key as string;
}
