import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SnapshotsRepository } from '../../src/snapshots/snapshots.repository.js';
import { SnapshotsService } from '../../src/snapshots/snapshots.service.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';

describe('change log and snapshots', () => {
  let api: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  let reader: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    api = await startTestApp({ CHANGES_KEEP: '10' });
    owner = await createUser({ displayName: 'Owner' });
    reader = await createUser({ displayName: 'Reader' });
  });
  afterAll(async () => {
    await api.close();
    await closeTestDb();
  });

  const newSession = async (body: Record<string, unknown> = {}) =>
    (await api.request('POST', '/api/sessions', { body: { typeSlug: 'checklist', ...body }, token: owner.token })).body.key as string;
  const newSessionOf = async (token: string) =>
    (await api.request('POST', '/api/sessions', { body: { typeSlug: 'checklist' }, token })).body.key as string;
  const add = async (key: string, content: Record<string, unknown>) =>
    (await api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'checklist-item', content }, token: owner.token })).body;
  const changes = (key: string, query: string, token = owner.token) =>
    api.request('GET', `/api/sessions/${key}/changes${query}`, { token });

  describe('changes', () => {
    it('returns every change after since, block and session changes alike, in seq order', async () => {
      const key = await newSession();
      const item = await add(key, { text: 'milk', done: false });
      await api.request('PATCH', `/api/sessions/${key}`, { body: { version: 1, title: 'Groceries' }, token: owner.token });
      await api.request('PATCH', `/api/sessions/${key}/blocks/${item.id}`, {
        body: { version: 1, content: { text: 'milk', done: true } },
        token: owner.token,
      });
      const all = await changes(key, '?since=0');
      expect(all.status).toBe(200);
      expect(all.body.seq).toBe(3);
      expect(all.body.items).toEqual([
        {
          seq: 1,
          kind: 'block.created',
          block: expect.objectContaining({ id: item.id, version: 1 }),
          actor: { userId: owner.user.id, displayName: 'Owner' },
          at: expect.any(String),
        },
        {
          seq: 2,
          kind: 'session.updated',
          // Only what the save wrote: the title, and the metadata's new lastModified.
          session: { version: 2, title: 'Groceries', metadata: { lastModified: expect.any(String) } },
          actor: expect.any(Object),
          at: expect.any(String),
        },
        {
          seq: 3,
          kind: 'block.updated',
          block: expect.objectContaining({ version: 2, content: { text: 'milk', done: true } }),
          actor: expect.any(Object),
          at: expect.any(String),
        },
      ]);
      expect((await changes(key, '?since=2')).body.items.map((c: any) => c.seq)).toEqual([3]);
      expect((await changes(key, '?since=3')).body).toEqual({ items: [], seq: 3 });
      expect((await changes(key, '?since=1&limit=1')).body).toMatchObject({ items: [{ seq: 2 }], seq: 3 });
      expect((await changes(key, '?since=-1')).status).toBe(400);
    });

    it('answers 410 CHANGES_EXPIRED once the log no longer reaches back to since', async () => {
      const key = await newSession();
      const block = await add(key, { n: 0 });
      for (let v = 1; v < 64; v++) {
        await api.request('PATCH', `/api/sessions/${key}/blocks/${block.id}`, {
          body: { version: v, content: { n: v } },
          token: owner.token,
        });
      }
      // seq 64 triggers pruning down to CHANGES_KEEP (10); it runs after the write, so wait for it.
      const session = await testDb().session.findUniqueOrThrow({ where: { key } });
      for (let i = 0; i < 50 && (await testDb().change.count({ where: { sessionId: session.id } })) > 10; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(await testDb().change.count({ where: { sessionId: session.id } })).toBe(10);
      const expired = await changes(key, '?since=0');
      expect([expired.status, expired.body.code]).toEqual([410, 'CHANGES_EXPIRED']);
      expect((await changes(key, '?since=53')).status).toBe(410);
      const kept = await changes(key, '?since=54');
      expect(kept.body.items.map((c: any) => c.seq)).toEqual([55, 56, 57, 58, 59, 60, 61, 62, 63, 64]);
      expect((await changes(key, '?since=65')).body.code).toBe('CHANGES_EXPIRED');
    });

    it('hides the log of a private session from others, as if it did not exist', async () => {
      const key = await newSession({ visibility: 'private' });
      expect((await changes(key, '?since=0', reader.token)).body.code).toBe('SESSION_NOT_FOUND');
      expect((await changes('ZZ-', '?since=0')).body.code).toBe('INVALID_SESSION_KEY');
    });
  });

  describe('snapshots', () => {
    it('restores blocks, order, title and state with new versioned writes, leaving history intact', async () => {
      const key = await newSession({ title: 'Before', state: { step: 1 } });
      const a = await add(key, { text: 'a' });
      const b = await add(key, { text: 'b' });
      const c = await add(key, { text: 'c' });
      const snap = await api.request('POST', `/api/sessions/${key}/snapshots`, { body: { label: 'v1' }, token: owner.token });
      expect(snap.status).toBe(201);
      expect(snap.body).toMatchObject({ id: expect.any(String), seq: 3, label: 'v1', automatic: false, createdAt: expect.any(String) });

      const patchBlock = (id: string, version: number, body: Record<string, unknown>, path = '') =>
        api.request(path ? 'POST' : 'PATCH', `/api/sessions/${key}/blocks/${id}${path}`, {
          body: { version, ...body },
          token: owner.token,
        });
      await patchBlock(a.id, 1, { content: { text: 'A!' } });
      await patchBlock(c.id, 1, { beforeId: a.id }, '/move');
      await api.request('DELETE', `/api/sessions/${key}/blocks/${b.id}?version=1`, { token: owner.token });
      await add(key, { text: 'new' });
      await api.request('PATCH', `/api/sessions/${key}`, { body: { version: 1, title: 'After', state: { step: 2 } }, token: owner.token });
      const seqBefore = (await api.request('GET', `/api/sessions/${key}`, { token: owner.token })).body.seq;

      const restored = await api.request('POST', `/api/sessions/${key}/snapshots/${snap.body.id}/restore`, { token: owner.token });
      expect(restored.status).toBe(200);
      expect(restored.body).toMatchObject({ title: 'Before', state: { step: 1 } });
      expect(restored.body.blocks.map((x: any) => [x.id, x.content.text])).toEqual([
        [a.id, 'a'],
        [b.id, 'b'],
        [c.id, 'c'],
      ]);
      expect(restored.body.blocks[0].version).toBe(3);
      const log = await changes(key, `?since=${seqBefore}`);
      expect(log.body.items.map((x: any) => x.kind).sort()).toEqual(
        ['block.created', 'block.deleted', 'block.moved', 'block.updated', 'session.updated'].sort(),
      );
      expect(log.body.seq).toBe(restored.body.seq);
      const list = await api.request('GET', `/api/sessions/${key}/snapshots`, { token: owner.token });
      expect(list.body).toEqual({ items: [expect.objectContaining({ id: snap.body.id, label: 'v1' })], nextCursor: null });
    });

    it('takes automatic snapshots for the server (before generation jobs write)', async () => {
      const key = await newSession();
      await add(key, { text: 'before the job' });
      const auto = await api.app.get(SnapshotsService).takeAutomatic(key, 'before ai-generation');
      expect(auto).toMatchObject({ seq: 1, automatic: true, label: 'before ai-generation', createdBy: { userId: null } });
      const list = await api.request('GET', `/api/sessions/${key}/snapshots`, { token: owner.token });
      expect(list.body.items).toEqual([expect.objectContaining({ id: auto.id, automatic: true })]);
      await expect(api.app.get(SnapshotsService).takeAutomatic('NOPE42', 'x')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    });

    it('keeps snapshots for the period of the owner plan and refuses readers', async () => {
      const key = await newSession({ visibility: 'readonly' });
      const denied = await api.request('POST', `/api/sessions/${key}/snapshots`, { body: {}, token: reader.token });
      expect(denied.body.code).toBe('READ_ONLY');
      const snap = await api.request('POST', `/api/sessions/${key}/snapshots`, { token: owner.token });
      expect(snap.status).toBe(201);
      await testDb().snapshot.update({ where: { id: snap.body.id }, data: { createdAt: new Date(Date.now() - 8 * 24 * 3600_000) } });
      expect((await api.request('GET', `/api/sessions/${key}/snapshots`, { token: reader.token })).body.items).toEqual([]);
      await testDb().user.update({ where: { id: owner.user.id }, data: { plan: 'PRO' } });
      await api.request('PATCH', `/api/admin/users/${owner.user.id}`, { body: { plan: 'PRO' }, token: 'test-admin-token-0123456789' });
      expect((await api.request('GET', `/api/sessions/${key}/snapshots`, { token: reader.token })).body.items).toHaveLength(1);
      const free = await newSessionOf(reader.token);
      const freeSnap = await api.request('POST', `/api/sessions/${free}/snapshots`, { token: reader.token });
      await testDb().snapshot.update({ where: { id: freeSnap.body.id }, data: { createdAt: new Date(Date.now() - 8 * 24 * 3600_000) } });
      // The cleanup job's sweep: each session's snapshots by its owner's plan.
      expect(await api.app.get(SnapshotsRepository, { strict: false }).pruneExpired()).toBeGreaterThanOrEqual(1);
      expect(await testDb().snapshot.findUnique({ where: { id: freeSnap.body.id } })).toBeNull();
      expect(await testDb().snapshot.findUnique({ where: { id: snap.body.id } })).not.toBeNull();
      const missing = await api.request('POST', `/api/sessions/${key}/snapshots/00000000-0000-4000-8000-000000000000/restore`, {
        token: owner.token,
      });
      expect([missing.status, missing.body.code]).toEqual([404, 'SNAPSHOT_NOT_FOUND']);
    });
  });
});
