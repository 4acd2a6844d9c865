import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';

describe('sessions', () => {
  let api: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  let other: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    api = await startTestApp();
    owner = await createUser({ displayName: 'Owner' });
    other = await createUser({ displayName: 'Other' });
  });
  afterAll(async () => {
    await api.close();
    await closeTestDb();
  });

  const create = (body: Record<string, unknown>, token?: string, headers?: Record<string, string>) =>
    api.request('POST', '/api/sessions', { body, token, headers });

  describe('create', () => {
    it('generates a key and returns the whole session', async () => {
      const res = await create({ typeSlug: 'presentation', title: 'Q3 review', state: { slide: 1 } }, owner.token);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        key: expect.stringMatching(/^[A-Z0-9]{3,12}$/),
        typeSlug: 'presentation',
        title: 'Q3 review',
        themeId: null,
        ownerId: owner.user.id,
        visibility: 'link',
        version: 1,
        seq: 0,
        metadata: { created: res.body.createdAt, lastModified: res.body.createdAt },
        state: { slide: 1 },
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        role: 'owner',
      });
      const stored = await testDb().session.findUnique({ where: { key: res.body.key } });
      expect(stored).toMatchObject({ ownerId: owner.user.id, keyLength: res.body.key.length });
    });

    it('gives 200 parallel creates 200 distinct keys', async () => {
      const responses = await Promise.all(Array.from({ length: 200 }, () => create({ typeSlug: 'checklist' })));
      expect(responses.map((r) => r.status)).toEqual(Array(200).fill(201));
      const keys = new Set(responses.map((r) => r.body.key));
      expect(keys.size).toBe(200);
      expect(await testDb().session.count({ where: { key: { in: [...keys] } } })).toBe(200);
    });

    it('rejects an unknown session type and a missing theme', async () => {
      const type = await create({ typeSlug: 'spreadsheet' });
      expect(type.status).toBe(400);
      expect(type.body.code).toBe('INVALID_SESSION_TYPE');
      const theme = await create({ typeSlug: 'document', themeId: '7d7c4a52-5a8e-4c4e-9a53-2f1f0e0e0e0e' });
      expect(theme.body.code).toBe('INVALID_THEME');
    });

    it('keeps anonymous sessions ownerless and "link"', async () => {
      const res = await create({ typeSlug: 'document' });
      expect(res.body).toMatchObject({ ownerId: null, visibility: 'link' });
      const refused = await create({ typeSlug: 'document', visibility: 'private' });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([{ field: 'visibility', message: expect.any(String) }]);
    });

    it('accepts a built-in theme', async () => {
      const themes = await api.request('GET', '/api/themes');
      const res = await create({ typeSlug: 'document', themeId: themes.body.items[0].id });
      expect(res.status).toBe(201);
      expect(res.body.themeId).toBe(themes.body.items[0].id);
    });
  });

  describe('Idempotency-Key', () => {
    it('returns the same session, 200 with Idempotent-Replayed: true, on a retry from the same caller', async () => {
      const headers = { 'idempotency-key': `retry-${Date.now()}` };
      const first = await create({ typeSlug: 'document', title: 'once' }, owner.token, headers);
      const retry = await create({ typeSlug: 'document', title: 'once' }, owner.token, headers);
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      expect(retry.status).toBe(200);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.body.key).toBe(first.body.key);
    });

    it('creates exactly one session under 30 concurrent retries', async () => {
      const headers = { 'idempotency-key': `burst-${Date.now()}` };
      const responses = await Promise.all(
        Array.from({ length: 30 }, () => create({ typeSlug: 'document', title: 'burst' }, owner.token, headers)),
      );
      expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
      expect(responses.filter((r) => r.status === 200)).toHaveLength(29);
      expect(new Set(responses.map((r) => r.body.key)).size).toBe(1);
      expect(await testDb().session.count({ where: { title: 'burst', ownerId: owner.user.id } })).toBe(1);
    });

    it('is scoped to the caller and refuses reuse with a different request', async () => {
      const headers = { 'idempotency-key': `scoped-${Date.now()}` };
      const mine = await create({ typeSlug: 'document' }, owner.token, headers);
      const theirs = await create({ typeSlug: 'document' }, other.token, headers);
      expect(theirs.status).toBe(201);
      expect(theirs.body.key).not.toBe(mine.body.key);
      const changed = await create({ typeSlug: 'checklist' }, owner.token, headers);
      expect(changed.status).toBe(422);
      expect(changed.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('expires after 24 hours', async () => {
      const headers = { 'idempotency-key': `old-${Date.now()}` };
      const first = await create({ typeSlug: 'document' }, owner.token, headers);
      await testDb().idempotencyKey.updateMany({
        where: { key: headers['idempotency-key'] },
        data: { createdAt: new Date(Date.now() - 25 * 3600_000) },
      });
      const later = await create({ typeSlug: 'document' }, owner.token, headers);
      expect(later.status).toBe(201);
      expect(later.body.key).not.toBe(first.body.key);
    });
  });

  describe('instantiate (PUT)', () => {
    it('creates a held key exactly once under 50 parallel PUTs', async () => {
      const key = `P${Date.now().toString(36).toUpperCase()}`.slice(0, 10);
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          api.request('PUT', `/api/sessions/${key}`, { body: { typeSlug: 'document', title: `attempt ${i}` } }),
        ),
      );
      expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
      expect(responses.filter((r) => r.status === 200)).toHaveLength(49);
      const winner = responses.find((r) => r.status === 201)!.body;
      for (const r of responses) expect(r.body).toEqual(winner);
      expect(await testDb().session.count({ where: { key } })).toBe(1);
    });

    it("hides someone else's private session, as GET does", async () => {
      const hidden = await create({ typeSlug: 'document', visibility: 'private' }, owner.token);
      const put = await api.request('PUT', `/api/sessions/${hidden.body.key}`, { token: other.token, body: { typeSlug: 'document' } });
      expect([put.status, put.body.code]).toEqual([404, 'SESSION_NOT_FOUND']);
      const mine = await api.request('PUT', `/api/sessions/${hidden.body.key}`, { token: owner.token, body: { typeSlug: 'document' } });
      expect(mine.status).toBe(200);
    });

    it('returns an existing session unchanged', async () => {
      const created = await create({ typeSlug: 'document', title: 'original' });
      const put = await api.request('PUT', `/api/sessions/${created.body.key}`, { body: { typeSlug: 'checklist', title: 'other' } });
      expect(put.status).toBe(200);
      expect(put.body).toEqual(created.body);
    });
  });

  describe('read', () => {
    it('returns the session with its blocks and an ETag', async () => {
      const created = await create({ typeSlug: 'document', title: 'read me' });
      const res = await api.request('GET', `/api/sessions/${created.body.key}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe('"1"');
      expect(res.body).toEqual({ ...created.body, blocks: [] });
    });

    it('answers 404 for an unknown key and 400 for a malformed one', async () => {
      const unknown = await api.request('GET', '/api/sessions/ZZZZZZZZZZZZ');
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('SESSION_NOT_FOUND');
      for (const bad of ['abc', 'AB', 'ABCDEFGHIJKLM', 'AB%2DC', 'A%20BC']) {
        const res = await api.request('GET', `/api/sessions/${bad}`);
        expect([res.status, res.body.code]).toEqual([400, 'INVALID_SESSION_KEY']);
      }
    });
  });

  describe('save (PATCH)', () => {
    it('bumps version and seq, replaces state and shallow-merges metadata', async () => {
      const created = await create({ typeSlug: 'document', state: { a: 1, b: 2 } });
      const key = created.body.key;
      const first = await api.request('PATCH', `/api/sessions/${key}`, {
        body: { version: 1, title: 'Renamed', metadata: { tags: ['x'], color: 'red' } },
      });
      expect(first.status).toBe(200);
      expect(first.headers.get('etag')).toBe('"2"');
      const second = await api.request('PATCH', `/api/sessions/${key}`, {
        body: { state: { c: 3 }, metadata: { color: 'blue' } },
        headers: { 'if-match': '"2"' },
      });
      expect(second.status).toBe(200);
      expect(second.body).toMatchObject({ title: 'Renamed', version: 3, seq: 2, state: { c: 3 } });
      expect(second.body.metadata).toEqual({
        created: created.body.metadata.created,
        lastModified: second.body.updatedAt,
        tags: ['x'],
        color: 'blue',
      });
      expect(Date.parse(second.body.metadata.lastModified)).toBeGreaterThanOrEqual(Date.parse(created.body.metadata.lastModified));
    });

    it('refuses a stale version with 409 and the current session', async () => {
      const created = await create({ typeSlug: 'document' });
      const key = created.body.key;
      await api.request('PATCH', `/api/sessions/${key}`, { body: { version: 1, title: 'first' } });
      const stale = await api.request('PATCH', `/api/sessions/${key}`, { body: { version: 1, title: 'second' } });
      expect(stale.status).toBe(409);
      expect(stale.body).toMatchObject({ code: 'VERSION_CONFLICT', status: 409, current: { key, version: 2, title: 'first' } });
      expect(stale.body.current.blocks).toBeUndefined();
    });

    it('lets exactly one of 20 concurrent saves from one version win', async () => {
      const created = await create({ typeSlug: 'document' });
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          api.request('PATCH', `/api/sessions/${created.body.key}`, { body: { version: 1, title: `writer ${i}` } }),
        ),
      );
      expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
      expect(responses.filter((r) => r.status === 409)).toHaveLength(19);
      const stored = await testDb().session.findUnique({ where: { key: created.body.key } });
      expect(stored?.version).toBe(2);
      expect(stored?.title).toBe(responses.find((r) => r.status === 200)!.body.title);
    });

    it('refuses out-of-range versions and server-owned metadata with 400', async () => {
      const created = await create({ typeSlug: 'document' });
      const path = `/api/sessions/${created.body.key}`;
      for (const body of [
        { version: 2 ** 31 },
        { version: 0 },
        { version: 1.5 },
        { version: '1' },
        { version: 1, metadata: { created: 'x' } },
      ]) {
        const res = await api.request('PATCH', path, { body });
        expect([res.status, res.body.code]).toEqual([400, 'VALIDATION_FAILED']);
      }
      expect((await api.request('PATCH', path, { body: {}, headers: { 'if-match': '"99999999999"' } })).status).toBe(400);
    });

    it('needs a base version (428)', async () => {
      const created = await create({ typeSlug: 'document' });
      const res = await api.request('PATCH', `/api/sessions/${created.body.key}`, { body: { title: 'blind' } });
      expect([res.status, res.body.code]).toEqual([428, 'PRECONDITION_REQUIRED']);
    });
  });

  describe('visibility and ownership', () => {
    it('readonly: others read but cannot write; private: others see nothing', async () => {
      const created = await create({ typeSlug: 'document', visibility: 'readonly' }, owner.token);
      const key = created.body.key;
      expect((await api.request('GET', `/api/sessions/${key}`, { token: other.token })).status).toBe(200);
      const write = await api.request('PATCH', `/api/sessions/${key}`, { token: other.token, body: { version: 1, title: 'nope' } });
      expect([write.status, write.body.code]).toEqual([403, 'READ_ONLY']);
      const own = await api.request('PATCH', `/api/sessions/${key}`, { token: owner.token, body: { version: 1, visibility: 'private' } });
      expect(own.status).toBe(200);
      for (const token of [other.token, undefined]) {
        const hidden = await api.request('GET', `/api/sessions/${key}`, { token });
        expect([hidden.status, hidden.body.code]).toEqual([404, 'SESSION_NOT_FOUND']);
      }
      expect((await api.request('GET', `/api/sessions/${key}`, { token: ADMIN_TOKEN })).status).toBe(200);
    });

    it('only the owner changes visibility or deletes; ownerless sessions any key holder deletes', async () => {
      const owned = await create({ typeSlug: 'document' }, owner.token);
      const change = await api.request('PATCH', `/api/sessions/${owned.body.key}`, {
        token: other.token,
        body: { version: 1, visibility: 'readonly' },
      });
      expect([change.status, change.body.code]).toEqual([403, 'NOT_SESSION_OWNER']);
      const del = await api.request('DELETE', `/api/sessions/${owned.body.key}`, { token: other.token });
      expect([del.status, del.body.code]).toEqual([403, 'NOT_SESSION_OWNER']);
      expect((await api.request('DELETE', `/api/sessions/${owned.body.key}`, { token: owner.token })).status).toBe(204);
      expect((await api.request('GET', `/api/sessions/${owned.body.key}`)).status).toBe(404);

      const ownerless = await create({ typeSlug: 'document' });
      expect((await api.request('DELETE', `/api/sessions/${ownerless.body.key}`, { token: other.token })).status).toBe(204);
      expect((await api.request('DELETE', `/api/sessions/${ownerless.body.key}`)).status).toBe(404);
    });

    it('frees a deleted key for a new session', async () => {
      const created = await create({ typeSlug: 'document' });
      await api.request('DELETE', `/api/sessions/${created.body.key}`);
      const again = await api.request('PUT', `/api/sessions/${created.body.key}`, { body: { typeSlug: 'checklist' } });
      expect(again.status).toBe(201);
      expect(again.body.typeSlug).toBe('checklist');
    });
  });

  describe('list', () => {
    it("pages through the caller's own sessions, newest first", async () => {
      const lister = await createUser();
      const made: string[] = [];
      for (let i = 0; i < 5; i++)
        made.push((await create({ typeSlug: i % 2 ? 'checklist' : 'document', title: `s${i}` }, lister.token)).body.key);
      const page1 = await api.request('GET', '/api/sessions?limit=2', { token: lister.token });
      expect(page1.status).toBe(200);
      expect(page1.body.items.map((s: { key: string }) => s.key)).toEqual([made[4], made[3]]);
      const page2 = await api.request('GET', `/api/sessions?limit=2&cursor=${page1.body.nextCursor}`, { token: lister.token });
      const page3 = await api.request('GET', `/api/sessions?limit=2&cursor=${page2.body.nextCursor}`, { token: lister.token });
      expect(page2.body.items.map((s: { key: string }) => s.key)).toEqual([made[2], made[1]]);
      expect(page3.body).toEqual({ items: [expect.objectContaining({ key: made[0] })], nextCursor: null });
      const typed = await api.request('GET', '/api/sessions?typeSlug=checklist', { token: lister.token });
      expect(typed.body.items.map((s: { key: string }) => s.key)).toEqual([made[3], made[1]]);
    });

    it('lists everything for operators and refuses anonymous callers', async () => {
      for (const token of [owner.token, other.token, undefined]) await create({ typeSlug: 'document' }, token);
      const admin = await api.request('GET', '/api/sessions?limit=2', { token: ADMIN_TOKEN });
      expect(admin.body.items).toHaveLength(2);
      expect(admin.body.nextCursor).toEqual(expect.any(String));
      const owners = new Set<string | null>();
      let cursor: string | null = null;
      do {
        const page: any = await api.request('GET', `/api/sessions?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token: ADMIN_TOKEN });
        for (const s of page.body.items) owners.add(s.ownerId);
        cursor = page.body.nextCursor;
      } while (cursor && owners.size < 3);
      expect([...owners]).toEqual(expect.arrayContaining([owner.user.id, other.user.id, null]));
      const anonymous = await api.request('GET', '/api/sessions');
      expect([anonymous.status, anonymous.body.code]).toEqual([401, 'AUTH_REQUIRED']);
    });

    it('validates limit and cursor', async () => {
      for (const limit of ['0', '101', 'ten']) {
        const res = await api.request('GET', `/api/sessions?limit=${limit}`, { token: owner.token });
        expect([res.status, res.body.code]).toEqual([400, 'VALIDATION_FAILED']);
      }
      const farPast = Buffer.from(JSON.stringify(['-200000-01-01T00:00:00.000Z', '3f9f6f77-1111-4c4e-9a53-2f1f0e0e0e0e'])).toString(
        'base64url',
      );
      for (const cursor of ['garbage', Buffer.from('["x","y"]').toString('base64url'), farPast]) {
        const res = await api.request('GET', `/api/sessions?cursor=${cursor}`, { token: owner.token });
        expect([res.status, res.body.code]).toEqual([400, 'INVALID_CURSOR']);
      }
    });
  });
});
