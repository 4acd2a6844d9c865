import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { isolatedRedis, RELAXED_LIMITS, startTestApp, type ApiResponse, type TestApp } from '../helpers/test-app.js';

/**
 * Past views (`?atSeq=`) and diffs replay the change log and are never cached: a flood of them from
 * one caller is bounded by its own `time-travel` window, and nobody else's reads notice it.
 */
describe('time travel under a flood', () => {
  const LIMIT = 5;
  let api: TestApp;

  beforeAll(async () => {
    api = await startTestApp({
      ...isolatedRedis('time-travel-limit'),
      RATE_LIMIT_POLICIES: JSON.stringify({ ...RELAXED_LIMITS, 'time-travel': { FREE: { limit: LIMIT, windowSeconds: 3600 } } }),
    });
  });
  afterAll(async () => {
    await api.close();
    await closeTestDb();
  });

  /** A session of the owner's with a few changes in its log, readable by anyone with the link. */
  async function sessionWithHistory(token: string): Promise<{ key: string; seq: number }> {
    const key = (await api.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token })).body.key as string;
    let seq = 0;
    for (const text of ['one', 'two', 'three']) {
      const created = await api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { text } }, token });
      expect(created.status).toBe(201);
      seq += 1;
    }
    return { key, seq };
  }

  const statuses = (answers: ApiResponse[]) => answers.map((r) => r.status).sort((x, y) => x - y);

  it('answers a flood of past views and diffs from one user with 429 past the limit, and nobody else’s reads notice', async () => {
    const owner = await createUser();
    const flooder = await createUser();
    const { key, seq } = await sessionWithHistory(owner.token);
    const flood = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 2 === 0
          ? api.request('GET', `/api/sessions/${key}?atSeq=${1 + (i % seq)}`, { token: flooder.token })
          : api.request('GET', `/api/sessions/${key}/diff?from=0&to=${seq}`, { token: flooder.token }),
      ),
    );
    expect(statuses(flood)).toEqual([...Array<number>(LIMIT).fill(200), ...Array<number>(12 - LIMIT).fill(429)]);
    for (const refused of flood.filter((r) => r.status === 429)) {
      expect(refused.body.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.headers.get('ratelimit-limit')).toBe(String(LIMIT));
      expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    }
    const allowed = flood.find((r) => r.status === 200)!;
    expect(allowed.headers.get('ratelimit-limit')).toBe(String(LIMIT));

    // Still refused for the flooder, a malformed seq too (it asks for the past all the same) ...
    expect((await api.request('GET', `/api/sessions/${key}?atSeq=1`, { token: flooder.token })).status).toBe(429);
    expect((await api.request('GET', `/api/sessions/${key}?atSeq=x`, { token: flooder.token })).status).toBe(429);
    // ... whose present view is not limited ...
    const present = await api.request('GET', `/api/sessions/${key}`, { token: flooder.token });
    expect(present.status).toBe(200);
    expect(present.headers.get('ratelimit-limit')).toBeNull();
    expect(present.body.blocks).toHaveLength(3);
    // ... and the owner's past views and diffs are theirs alone.
    const past = await api.request('GET', `/api/sessions/${key}?atSeq=1`, { token: owner.token });
    expect(past.status).toBe(200);
    expect(past.body).toMatchObject({ atSeq: 1, blocks: [{ content: { text: 'one' } }] });
    const diff = await api.request('GET', `/api/sessions/${key}/diff?from=1&to=${seq}`, { token: owner.token });
    expect(diff.status).toBe(200);
    expect(diff.body.blocks.map((b: { change: string }) => b.change)).toEqual(['created', 'created']);
  });
});
