import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';

describe('blocks', () => {
  let api: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  let other: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    api = await startTestApp({ BLOCK_MAX_BYTES: '2048', SESSION_MAX_BLOCKS: '60' });
    owner = await createUser({ displayName: 'Owner' });
    other = await createUser({ displayName: 'Other' });
  });
  afterAll(async () => {
    await api.close();
    await closeTestDb();
  });

  const newSession = async (body: Record<string, unknown> = {}, token = owner.token): Promise<string> => {
    const res = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document', ...body }, token });
    expect(res.status).toBe(201);
    return res.body.key;
  };
  const addBlock = async (key: string, body: Record<string, unknown> = {}, token = owner.token) => {
    const res = await api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {}, ...body }, token });
    expect(res.status).toBe(201);
    return res.body;
  };
  const patch = (
    key: string,
    id: string,
    body: Record<string, unknown>,
    options: { token?: string; query?: string; headers?: Record<string, string> } = {},
  ) =>
    api.request('PATCH', `/api/sessions/${key}/blocks/${id}${options.query ?? ''}`, {
      body,
      token: options.token ?? owner.token,
      headers: options.headers,
    });
  const blocksOf = async (key: string) => (await api.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items;

  describe('create and order', () => {
    it('appends, inserts after and before, and the session shows the blocks in order', async () => {
      const key = await newSession();
      const a = await addBlock(key, { content: { text: 'a' } });
      const c = await addBlock(key, { content: { text: 'c' } });
      const b = await addBlock(key, { content: { text: 'b' }, afterId: a.id });
      const first = await addBlock(key, { content: { text: '0' }, beforeId: a.id });
      expect(a).toMatchObject({ sessionKey: key, type: 'text', version: 1, updatedBy: { userId: owner.user.id, displayName: 'Owner' } });
      const session = await api.request('GET', `/api/sessions/${key}`, { token: owner.token });
      expect(session.body.seq).toBe(4);
      expect(session.body.blocks.map((x: any) => x.content.text)).toEqual(['0', 'a', 'b', 'c']);
      expect((await blocksOf(key)).map((x: any) => x.id)).toEqual([first.id, a.id, b.id, c.id]);
    });

    it('gives 20 parallel inserts at one spot 20 distinct positions between the anchors, touching no sibling', async () => {
      const key = await newSession();
      const left = await addBlock(key, { content: { n: 'left' } });
      const right = await addBlock(key, { content: { n: 'right' } });
      const inserted = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          api.request('POST', `/api/sessions/${key}/blocks`, {
            body: { type: 'text', content: { i }, afterId: left.id },
            token: owner.token,
          }),
        ),
      );
      expect(inserted.map((r) => r.status)).toEqual(Array(20).fill(201));
      const positions = inserted.map((r) => r.body.position);
      expect(new Set(positions).size).toBe(20);
      const byte = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
      for (const p of positions) {
        expect(byte(p, left.position)).toBe(1);
        expect(byte(p, right.position)).toBe(-1);
      }
      const listed = await blocksOf(key);
      expect(listed).toHaveLength(22);
      expect(listed[0]).toMatchObject({ id: left.id, position: left.position, version: 1 });
      expect(listed[21]).toMatchObject({ id: right.id, position: right.position, version: 1 });
      const again = await blocksOf(key);
      expect(again.map((x: any) => x.position)).toEqual(listed.map((x: any) => x.position));
      expect([...listed.map((x: any) => x.position)].sort(byte)).toEqual(listed.map((x: any) => x.position));
    });

    it('moves one block by changing only its own row', async () => {
      const key = await newSession();
      const [a, b, c] = [await addBlock(key), await addBlock(key), await addBlock(key)];
      const moved = await api.request('POST', `/api/sessions/${key}/blocks/${c.id}/move`, {
        body: { version: 1, afterId: a.id },
        token: owner.token,
      });
      expect(moved.status).toBe(200);
      expect(moved.body.version).toBe(2);
      const listed = await blocksOf(key);
      expect(listed.map((x: any) => x.id)).toEqual([a.id, c.id, b.id]);
      expect(listed.filter((x: any) => x.id !== c.id).map((x: any) => x.version)).toEqual([1, 1]);
      const self = await api.request('POST', `/api/sessions/${key}/blocks/${c.id}/move`, {
        body: { version: 2, afterId: c.id },
        token: owner.token,
      });
      expect(self.body.code).toBe('INVALID_ANCHOR');
    });
  });

  describe('versioned writes', () => {
    it('lets exactly one of 50 parallel PATCHes from one version win', async () => {
      const key = await newSession();
      const block = await addBlock(key, { content: { text: 'start' } });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => patch(key, block.id, { version: 1, content: { text: `writer ${i}` } })),
      );
      const won = results.filter((r) => r.status === 200);
      const lost = results.filter((r) => r.status === 409);
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(49);
      for (const r of lost) {
        expect(r.body).toMatchObject({ code: 'VERSION_CONFLICT', current: { id: block.id, version: 2, content: won[0].body.content } });
      }
      const changes = await api.request('GET', `/api/sessions/${key}/changes?since=0`, { token: owner.token });
      expect(changes.body.items.map((c: any) => c.kind)).toEqual(['block.created', 'block.updated']);
    });

    it('loses no increment when 20 clients each add 10 with read-modify-write and retry, and seq has no gap', async () => {
      const key = await newSession();
      const block = await addBlock(key, { content: { count: 0 } });
      let attempts = 0;
      const client = async () => {
        let known = { version: 1, count: 0 };
        for (let done = 0, lost = 0; done < 10; attempts++) {
          const res = await patch(key, block.id, { version: known.version, content: { count: known.count + 1 } });
          if (res.status === 200) {
            done++;
            lost = 0;
            known = { version: res.body.version, count: res.body.content.count };
          } else {
            expect(res.status).toBe(409);
            known = { version: res.body.current.version, count: res.body.current.content.count };
            // As an editor client would: back off with jitter after a lost write, so 20 writers do not all retry in lockstep.
            lost++;
            await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(5 * 2 ** lost, 100)));
          }
        }
      };
      await Promise.all(Array.from({ length: 20 }, client));
      expect(attempts).toBeGreaterThan(200);
      const [stored] = await blocksOf(key);
      expect(stored.content.count).toBe(200);
      expect(stored.version).toBe(201);
      const log = await api.request('GET', `/api/sessions/${key}/changes?since=0`, { token: owner.token });
      expect(log.body.items.map((c: any) => c.seq)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
      expect(log.body.items.slice(1).map((c: any) => c.block.content.count)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(log.body.seq).toBe(201);
    }, 90_000);

    it('needs a base version (428), reads it from If-Match, and refuses two different ones', async () => {
      const key = await newSession();
      const block = await addBlock(key);
      expect((await patch(key, block.id, { content: { a: 1 } })).status).toBe(428);
      const viaHeader = await patch(key, block.id, { content: { a: 1 } }, { headers: { 'if-match': '"1"' } });
      expect(viaHeader.status).toBe(200);
      expect(viaHeader.headers.get('etag')).toBe('"2"');
      const both = await patch(key, block.id, { version: 2, content: {} }, { headers: { 'if-match': '"3"' } });
      expect(both.status).toBe(400);
      const noDelete = await api.request('DELETE', `/api/sessions/${key}/blocks/${block.id}`, { token: owner.token });
      expect(noDelete.status).toBe(428);
      const stale = await api.request('DELETE', `/api/sessions/${key}/blocks/${block.id}?version=1`, { token: owner.token });
      expect(stale.status).toBe(409);
      expect(stale.body.current.version).toBe(2);
      expect(
        (await api.request('DELETE', `/api/sessions/${key}/blocks/${block.id}`, { token: owner.token, headers: { 'if-match': '"2"' } }))
          .status,
      ).toBe(204);
      expect(await blocksOf(key)).toEqual([]);
      const gone = await patch(key, block.id, { version: 2, content: {} });
      expect(gone.body.code).toBe('BLOCK_NOT_FOUND');
    });

    it('enforces visibility, sizes, anchors and the block cap with stable codes', async () => {
      const readonly = await newSession({ visibility: 'readonly' });
      const hidden = await newSession({ visibility: 'private' });
      const ownBlock = await addBlock(readonly);
      const ro = await api.request('POST', `/api/sessions/${readonly}/blocks`, { body: { type: 'text', content: {} }, token: other.token });
      expect([ro.status, ro.body.code]).toEqual([403, 'READ_ONLY']);
      expect((await patch(readonly, ownBlock.id, { version: 1, content: {} }, { token: other.token })).body.code).toBe('READ_ONLY');
      const priv = await api.request('POST', `/api/sessions/${hidden}/blocks`, { body: { type: 'text', content: {} }, token: other.token });
      expect([priv.status, priv.body.code]).toEqual([404, 'SESSION_NOT_FOUND']);
      const key = await newSession();
      const big = await api.request('POST', `/api/sessions/${key}/blocks`, {
        body: { type: 'text', content: { text: 'x'.repeat(3000) } },
        token: owner.token,
      });
      expect([big.status, big.body.code]).toEqual([413, 'BLOCK_TOO_LARGE']);
      const anchor = await api.request('POST', `/api/sessions/${key}/blocks`, {
        body: { type: 'text', content: {}, afterId: ownBlock.id },
        token: owner.token,
      });
      expect([anchor.status, anchor.body.code]).toEqual([422, 'INVALID_ANCHOR']);
      const badType = await api.request('POST', `/api/sessions/${key}/blocks`, {
        body: { type: 'Not A Slug', content: [] },
        token: owner.token,
      });
      expect(badType.body.errors.map((e: any) => e.field).sort()).toEqual(['content', 'type']);
      await Promise.all(
        Array.from({ length: 60 }, () =>
          api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: owner.token }),
        ),
      );
      const full = await api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: owner.token });
      expect([full.status, full.body.code]).toEqual([409, 'BLOCK_LIMIT_REACHED']);
      expect(await testDb().block.count({ where: { session: { key } } })).toBe(60);
    });
  });

  describe('merge=fields', () => {
    it('merges a stale write whose fields nobody else changed, and refuses one that overlaps', async () => {
      const key = await newSession();
      const block = await addBlock(key, { content: { title: 'T', body: 'B', tags: ['x'] } });
      await patch(key, block.id, { version: 1, content: { title: 'T2', body: 'B', tags: ['x'] } });
      const merged = await patch(
        key,
        block.id,
        { version: 1, content: { title: 'T', body: 'B', tags: ['x', 'y'] } },
        { query: '?merge=fields' },
      );
      expect(merged.status).toBe(200);
      expect(merged.body).toMatchObject({ merged: true, version: 3, content: { title: 'T2', body: 'B', tags: ['x', 'y'] } });
      const removed = await patch(key, block.id, { version: 2, content: { title: 'T2', tags: ['x'] } }, { query: '?merge=fields' });
      expect(removed.body).toMatchObject({ merged: true, version: 4, content: { title: 'T2', tags: ['x', 'y'] } });
      expect(removed.body.content).not.toHaveProperty('body');
      const overlap = await patch(key, block.id, { version: 2, content: { title: 'T2', body: 'B', tags: [] } }, { query: '?merge=fields' });
      expect(overlap.status).toBe(409);
      expect(overlap.body.current.version).toBe(4);
      const plain = await patch(key, block.id, { version: 3, content: { title: 'T2', body: 'new' } });
      expect(plain.status).toBe(409);
    });
  });

  describe('batch', () => {
    it('applies every op in one transaction and answers the seq', async () => {
      const key = await newSession();
      const a = await addBlock(key);
      const newId = '4d1c1c9a-8a8e-4b8a-9d6b-3f6a2a1b0c0d';
      const res = await api.request('POST', `/api/sessions/${key}/blocks/batch`, {
        token: owner.token,
        body: {
          ops: [
            { op: 'create', id: newId, type: 'heading', content: { text: 'H' }, beforeId: a.id },
            { op: 'update', id: a.id, version: 1, content: { text: 'a' } },
            { op: 'move', id: newId, version: 1, afterId: a.id },
            { op: 'delete', id: a.id, version: 2 },
          ],
        },
      });
      expect(res.status).toBe(200);
      expect(res.body.seq).toBe(5);
      expect(res.body.items.map((i: any) => [i.id, i.version])).toEqual([
        [newId, 1],
        [a.id, 2],
        [newId, 2],
        [a.id, 2],
      ]);
      expect(res.body.items[3].deleted).toBe(true);
      expect((await blocksOf(key)).map((b: any) => b.id)).toEqual([newId]);
      const taken = await api.request('POST', `/api/sessions/${key}/blocks/batch`, {
        token: owner.token,
        body: { ops: [{ op: 'create', id: newId, type: 'text', content: {} }] },
      });
      expect([taken.status, taken.body.code, taken.body.opIndex]).toEqual([409, 'BLOCK_ID_TAKEN', 0]);
    });

    it('applies none of the ops when one is stale, naming it', async () => {
      const key = await newSession();
      const a = await addBlock(key, { content: { v: 'a' } });
      const b = await addBlock(key, { content: { v: 'b' } });
      const before = await api.request('GET', `/api/sessions/${key}`, { token: owner.token });
      const res = await api.request('POST', `/api/sessions/${key}/blocks/batch`, {
        token: owner.token,
        body: {
          ops: [
            { op: 'update', id: a.id, version: 1, content: { v: 'a2' } },
            { op: 'create', type: 'text', content: {} },
            { op: 'update', id: b.id, version: 7, content: { v: 'b2' } },
          ],
        },
      });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: 'VERSION_CONFLICT', opIndex: 2, current: { id: b.id, version: 1 } });
      const after = await api.request('GET', `/api/sessions/${key}`, { token: owner.token });
      expect(after.body.seq).toBe(before.body.seq);
      expect(after.body.blocks).toEqual(before.body.blocks);
      const log = await api.request('GET', `/api/sessions/${key}/changes?since=2`, { token: owner.token });
      expect(log.body).toEqual({ items: [], seq: 2 });
    });
  });

  describe('history', () => {
    it('lists earlier revisions newest first, paginated', async () => {
      const key = await newSession();
      const block = await addBlock(key, { content: { n: 0 } });
      for (let v = 1; v <= 4; v++) await patch(key, block.id, { version: v, content: { n: v } });
      const page = await api.request('GET', `/api/sessions/${key}/blocks/${block.id}/history?limit=3`, { token: owner.token });
      expect(page.body.items.map((r: any) => [r.version, r.content.n])).toEqual([
        [4, 3],
        [3, 2],
        [2, 1],
      ]);
      expect(page.body.items[0].updatedBy.userId).toBe(owner.user.id);
      const rest = await api.request('GET', `/api/sessions/${key}/blocks/${block.id}/history?limit=3&cursor=${page.body.nextCursor}`, {
        token: owner.token,
      });
      expect(rest.body).toMatchObject({ items: [{ version: 1, content: { n: 0 } }], nextCursor: null });
      const bad = await api.request('GET', `/api/sessions/${key}/blocks/${block.id}/history?cursor=abc`, { token: owner.token });
      expect(bad.body.code).toBe('INVALID_CURSOR');
    });
  });
});
