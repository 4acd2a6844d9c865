import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js';

describe('themes', () => {
  let api: TestApp;
  beforeAll(async () => {
    api = await startTestApp();
  });
  afterAll(() => api.close());

  it('lists the built-in themes and fetches one', async () => {
    const list = await api.request('GET', '/api/themes');
    expect(list.status).toBe(200);
    expect(list.body.items.filter((t: { builtIn: boolean }) => t.builtIn).map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(['Paper', 'Slate', 'Sunrise']),
    );
    const one = await api.request('GET', `/api/themes/${list.body.items[0].id}`);
    expect(one.body).toEqual(list.body.items[0]);
    expect((await api.request('GET', '/api/themes/00000000-0000-4000-8000-00000000ffff')).body.code).toBe('THEME_NOT_FOUND');
    expect((await api.request('GET', '/api/themes/nope')).status).toBe(400);
  });

  it('lets operators add a theme, once per name', async () => {
    const name = `Ocean ${Date.now()}`;
    const created = await api.request('POST', '/api/admin/themes', {
      token: ADMIN_TOKEN,
      body: { name, tokens: { background: '#003', accent: '#0af' } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name, builtIn: false, tokens: { background: '#003' } });
    const again = await api.request('POST', '/api/admin/themes', { token: ADMIN_TOKEN, body: { name, tokens: {} } });
    expect([again.status, again.body.code]).toEqual([409, 'THEME_NAME_TAKEN']);
    expect((await api.request('POST', '/api/admin/themes', { body: { name: 'x', tokens: {} } })).status).toBe(401);
    const session = await api.request('POST', '/api/sessions', { body: { typeSlug: 'presentation', themeId: created.body.id } });
    expect(session.body.themeId).toBe(created.body.id);
  });

  it('pages by name without gaps or repeats, and validates limit and cursor', async () => {
    // Other suites add themes concurrently, so compare only the themes known to exist before the walk.
    const known = ['Paper', 'Slate', 'Sunrise'];
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await api.request('GET', `/api/themes?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      walked.push(...page.body.items.map((t: { name: string }) => t.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(new Set(walked).size).toBe(walked.length);
    expect(walked.filter((n) => known.includes(n))).toEqual(known);
    expect((await api.request('GET', '/api/themes?limit=0')).body.code).toBe('VALIDATION_FAILED');
    expect((await api.request('GET', '/api/themes?cursor=%%%')).body.code).toBe('INVALID_CURSOR');
    // "AA" decodes to a NUL, which PostgreSQL refuses in a string (found by the hostile-input suite).
    expect((await api.request('GET', '/api/themes?cursor=AA')).body.code).toBe('INVALID_CURSOR');
  });
});
