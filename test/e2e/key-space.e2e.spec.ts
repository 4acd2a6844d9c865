import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, testDb } from '../helpers/factories.js';

describe('session key space', () => {
  let api: TestApp;
  // 0.0001 of 36^3 is 4.7 keys: the key space of 3 characters is "full" almost at once.
  beforeAll(async () => {
    api = await startTestApp({ SESSION_KEY_MAX_FILL: '0.0001' });
  });
  afterAll(async () => {
    await api.close();
    await closeTestDb();
  });

  it('grows keys to 4 characters once 3-character keys pass the fill, and keeps them unique', async () => {
    const responses = await Promise.all(
      Array.from({ length: 150 }, () => api.request('POST', '/api/sessions', { body: { typeSlug: 'document' } })),
    );
    expect(responses.every((r) => r.status === 201)).toBe(true);
    const keys = responses.map((r) => r.body.key as string);
    expect(new Set(keys).size).toBe(150);
    const fourChars = keys.filter((k) => k.length === 4).length;
    expect(fourChars).toBeGreaterThan(100);
    expect(keys.every((k) => k.length === 3 || k.length === 4)).toBe(true);
    const stored = await testDb().session.groupBy({ by: ['keyLength'], _count: { _all: true } });
    expect(stored.find((g) => g.keyLength === 4)?._count._all).toBeGreaterThanOrEqual(fourChars);
  });

  it('reports fill, lengths and retries to operators', async () => {
    const res = await api.request('GET', '/api/admin/sessions/stats', { token: ADMIN_TOKEN });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      total: expect.any(Number),
      anonymous: expect.any(Number),
      currentKeyLength: expect.any(Number),
      byKeyLength: expect.objectContaining({ '4': expect.any(Number) }),
      keySpaceFill: expect.objectContaining({ '4': expect.any(Number) }),
      keyCollisionsRetried: expect.any(Number),
    });
    expect(res.body.currentKeyLength).toBeGreaterThanOrEqual(4);
    expect(res.body.keySpaceFill['4']).toBeCloseTo(res.body.byKeyLength['4'] / 36 ** 4, 10);
  });
});
