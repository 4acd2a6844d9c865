import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js';

/** Any JSON a client could send, including the awkward corners (unicode, big numbers, deep nesting). */
const anyJson = fc.jsonValue({ maxDepth: 6, stringUnit: 'binary' });
const anyBody = fc.oneof(
  anyJson,
  fc.dictionary(
    fc.constantFrom(
      'typeSlug',
      'title',
      'state',
      'metadata',
      'visibility',
      'themeId',
      'version',
      'email',
      'password',
      'displayName',
      'plan',
      'name',
      'tokens',
      'type',
      'content',
      'afterId',
      'beforeId',
      'ops',
      'label',
      'userId',
      'ip',
      'x',
    ),
    anyJson,
  ),
);
const anyKey = fc.oneof(fc.stringMatching(/^[A-Z0-9]{3,12}$/), fc.string({ maxLength: 20 }).map(encodeURIComponent));

describe('hostile input never produces a 5xx', () => {
  let api: TestApp;
  let key: string;
  let blockId: string;
  beforeAll(async () => {
    api = await startTestApp();
    key = (await api.request('POST', '/api/sessions', { body: { typeSlug: 'document' } })).body.key;
    blockId = (await api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} } })).body.id;
  });
  afterAll(() => api.close());

  const routes: ((k: string) => [string, string, string | undefined])[] = [
    () => ['POST', '/api/sessions', undefined],
    (k) => ['PUT', `/api/sessions/${k}`, undefined],
    (k) => ['PATCH', `/api/sessions/${k}`, undefined],
    () => ['POST', '/api/auth/register', undefined],
    () => ['POST', '/api/auth/login', undefined],
    () => ['POST', '/api/admin/themes', ADMIN_TOKEN],
    () => ['PATCH', '/api/admin/users/6f1c9a8e-0000-4000-8000-000000000000', ADMIN_TOKEN],
    (k) => ['POST', `/api/sessions/${k}/blocks`, undefined],
    (k) => ['POST', `/api/sessions/${k}/blocks/batch`, undefined],
    (k) => ['PATCH', `/api/sessions/${k}/blocks/${blockId}?merge=fields`, undefined],
    (k) => ['POST', `/api/sessions/${k}/blocks/${blockId}/move`, undefined],
    (k) => ['POST', `/api/sessions/${k}/snapshots`, undefined],
    () => ['POST', '/api/admin/rate-limits/reset', ADMIN_TOKEN],
  ];

  it('bodies of any shape, on every write route', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(routes.length - 1), anyBody, fc.boolean(), async (route, body, existing) => {
        const [method, path, token] = routes[route](existing ? key : 'QQQQQQQQQQQQ');
        const res = await api.request(method, path, { body, token });
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
  });

  it('well-formed requests carrying hostile values reach the database without a 5xx', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 120 }),
      fc.constantFrom('\ud800', 'a\udfffb', 'nul\u0000', '😀'.repeat(60), "'; DROP TABLE sessions; --", '\u202e', 'x'.repeat(250)),
    );
    const object = fc.dictionary(text, anyJson, { maxKeys: 5 });
    await fc.assert(
      fc.asyncProperty(text, object, object, text, async (title, state, metadata, name) => {
        const created = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document', title, state } });
        expect(created.status).toBeLessThan(500);
        const saved = await api.request('PATCH', `/api/sessions/${key}`, { body: { state, metadata }, headers: { 'if-match': '"1"' } });
        expect(saved.status).toBeLessThan(500);
        const registered = await api.request('POST', '/api/auth/register', {
          body: { email: `${Date.now()}${Math.random()}@x.test`, password: 'long enough', displayName: name || 'n' },
        });
        expect(registered.status).toBeLessThan(500);
        const theme = await api.request('POST', '/api/admin/themes', {
          token: ADMIN_TOKEN,
          body: { name: name || 'n', tokens: { [name]: title } },
        });
        expect(theme.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });

  it('batches of well-formed ops with hostile ids, versions, anchors and content', async () => {
    const id = fc.oneof(fc.constant(blockId), fc.uuid(), fc.constant('00000000-0000-0000-0000-000000000000'));
    const content = fc.dictionary(fc.string({ unit: 'binary', maxLength: 20 }), anyJson, { maxKeys: 4 });
    const op = fc.oneof(
      fc.record(
        { op: fc.constant('create'), id, type: fc.constant('text'), content, afterId: id },
        { requiredKeys: ['op', 'type', 'content'] },
      ),
      fc.record({ op: fc.constant('update'), id, version: fc.integer({ min: 1, max: 2 ** 31 - 1 }), content }),
      fc.record(
        { op: fc.constant('move'), id, version: fc.integer({ min: 1, max: 5 }), beforeId: id },
        { requiredKeys: ['op', 'id', 'version'] },
      ),
      fc.record({ op: fc.constant('delete'), id, version: fc.integer({ min: 1, max: 5 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops) => {
        const res = await api.request('POST', `/api/sessions/${key}/blocks/batch`, { body: { ops } });
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });

  it('keys, queries and headers of any shape', async () => {
    await fc.assert(
      fc.asyncProperty(anyKey, fc.string({ maxLength: 40 }), fc.string({ maxLength: 300 }), async (k, query, header) => {
        const safeHeader = header.replace(/[^\x20-\x7e]/g, '');
        const responses = await Promise.all([
          api.request('GET', `/api/sessions/${k}`),
          api.request('GET', `/api/sessions?limit=${encodeURIComponent(query)}&cursor=${encodeURIComponent(query)}`, {
            token: ADMIN_TOKEN,
          }),
          api.request('GET', `/api/themes?cursor=${encodeURIComponent(query)}`),
          api.request('PATCH', `/api/sessions/${key}`, { body: { title: 'x' }, headers: { 'if-match': safeHeader } }),
          api.request('POST', '/api/sessions', {
            body: { typeSlug: 'document' },
            headers: { 'idempotency-key': safeHeader, 'x-request-id': safeHeader },
          }),
          api.request('GET', '/api/auth/me', { headers: { authorization: safeHeader } }),
          api.request('GET', `/api/sessions/${k}/changes?since=${encodeURIComponent(query)}`),
          api.request('GET', `/api/sessions/${key}/blocks/${blockId}/history?cursor=${encodeURIComponent(query)}`),
          api.request('DELETE', `/api/sessions/${key}/blocks/${encodeURIComponent(query)}?version=${encodeURIComponent(query)}`),
          api.request('PATCH', `/api/sessions/${key}/blocks/${blockId}`, { body: { content: {} }, headers: { 'if-match': safeHeader } }),
        ]);
        for (const res of responses) expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });
});
