import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { CacheService } from '../../src/cache/cache.service.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { waitForJob } from '../helpers/jobs.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { ADMIN_TOKEN, isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * What a client saves comes back with its keys in the order it wrote them, on every path that
 * reads it. `toEqual` ignores key order, so values are compared as JSON text. None of the keys
 * is integer-like (JavaScript puts those first whatever the text says), and none of the orders
 * is the one PostgreSQL's jsonb would print (shorter keys first, then bytewise).
 */
const STATE = { zeta: 1, alpha: { 'task-b': true, 'task-a': false }, mid: [{ y: 1, x: 2 }] };
const STATE_2 = { omega: 'o', beta: { zz: [{ q: 1, b: 2 }], aa: null }, b: 'short' };
const META_1 = { zeta: 'z', alpha: { 'task-b': 1, 'task-a': 2 } };
const META_2 = { omega: { y: true, x: false }, zeta: 'z2' };
const CONTENT_1 = { zeta: 1, alpha: { 'task-b': true, 'task-a': false }, mid: [{ y: 1, x: 2 }] };
const CONTENT_2 = { status: 'open', alpha: { 'task-b': false, 'task-a': true }, items: [{ y: 'why', x: 'ex' }], mid: 0 };
const CONTENT_3 = { waypoint: { lng: 4.9, lat: 52.4 }, colour: 'yellow', a: [] };
const CONTENT_4 = { zz: { kk: { second: 2, first: 1 } }, aa: 'a' };

/** The JSON text of a value: what this suite compares, since its key order is the point. */
const json = (value: unknown) => JSON.stringify(value);
const expectSame = (actual: unknown, expected: unknown) => expect(json(actual)).toBe(json(expected));

/** The session's metadata as it must read: the server's two keys first, then the client's in the order they were first sent. */
const withServerKeys = (metadata: Record<string, unknown>, client: Record<string, unknown>) => ({
  created: metadata.created,
  lastModified: metadata.lastModified,
  ...client,
});

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

describe('key order of state, metadata and block content on every read path', () => {
  let api: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // Workers for exports and generation; not the artifact cleanup, which would run at once on
    // this prefix and delete other suites' artifacts that are due.
    api = await startTestApp({ ...isolatedRedis('json-fidelity'), RUN_WORKERS: 'true', ENABLE_ARTIFACT_CLEANUP: 'false' });
    owner = await createUser({ displayName: 'Ada' });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await api.close();
    await closeTestDb();
  });

  const call = (method: string, path: string, body?: unknown) => api.request(method, path, { body, token: owner.token });
  const newSession = async (body: Record<string, unknown> = {}) => {
    const res = await call('POST', '/api/sessions', { typeSlug: 'document', ...body });
    expect(res.status).toBe(201);
    return res.body;
  };
  /** A socket of the owner in the session's room, and the `change` and `block.conflict` events it receives. */
  const joined = async (key: string) => {
    const socket = await connect(api, { token: owner.token });
    sockets.push(socket);
    const changes = record(socket, 'change');
    const conflicts = record(socket, 'block.conflict');
    expect((await ack(socket, 'session.join', { key })).ok).toBe(true);
    return { socket, changes, conflicts };
  };
  /** Every change of the session, as GET /changes and a socket joining with `since: 0` show them. */
  const logged = async (key: string) => {
    const page = await call('GET', `/api/sessions/${key}/changes?since=0`);
    expect(page.status).toBe(200);
    const socket = await connect(api, { token: owner.token });
    sockets.push(socket);
    const join = await ack(socket, 'session.join', { key, since: 0 });
    socket.close();
    expect(join.missed.map((c: { seq: number }) => c.seq)).toEqual(page.body.items.map((c: { seq: number }) => c.seq));
    return { page: page.body.items, missed: join.missed };
  };
  const documentHits = async () => {
    await api.app.get(CacheService).flushCounters();
    return (await api.request('GET', '/api/admin/cache/stats', { token: ADMIN_TOKEN })).body.byType.blocks?.hits ?? 0;
  };

  it('keeps session state and metadata in order through saves, merges, conflicts, lists, the cache, /changes and socket events', async () => {
    const created = await newSession({ state: STATE });
    expectSame(created.state, STATE);
    const key = created.key as string;
    const live = await joined(key);

    const put = await call('PUT', `/api/sessions/ORD${Date.now().toString(36).slice(-7).toUpperCase()}`, {
      typeSlug: 'document',
      state: STATE_2,
    });
    expect(put.status).toBe(201);
    expectSame(put.body.state, STATE_2);

    const first = await call('PATCH', `/api/sessions/${key}`, { version: 1, state: STATE_2, metadata: META_1 });
    expect(first.status).toBe(200);
    expectSame(first.body.state, STATE_2);
    expectSame(first.body.metadata, withServerKeys(first.body.metadata, META_1));
    // A merge: keys it already has keep their place (with the new value), new ones follow in the order sent.
    const second = await call('PATCH', `/api/sessions/${key}`, { version: 2, metadata: META_2 });
    expect(second.status).toBe(200);
    const merged = { zeta: META_2.zeta, alpha: META_1.alpha, omega: META_2.omega };
    expectSame(second.body.metadata, withServerKeys(second.body.metadata, merged));
    expectSame(second.body.state, STATE_2);
    const third = await call('PATCH', `/api/sessions/${key}`, { version: 3, state: STATE });
    expect(third.status).toBe(200);
    const metadata = withServerKeys(third.body.metadata, merged);
    expectSame(third.body.metadata, metadata);

    const stale = await call('PATCH', `/api/sessions/${key}`, { version: 1, title: 'late' });
    expect(stale.status).toBe(409);
    expectSame(stale.body.current.state, STATE);
    expectSame(stale.body.current.metadata, metadata);

    // A miss fills the cache (unless warming after the writes already did), the reads after it are hits.
    const hits = await documentHits();
    for (const path of [`/api/sessions/${key}`, `/api/sessions/${key}`, `/api/sessions/${key}/blocks`]) {
      const read = await call('GET', path);
      expect(read.status).toBe(200);
      if (path.endsWith('/blocks')) continue;
      expectSame(read.body.state, STATE);
      expectSame(read.body.metadata, metadata);
    }
    expect((await documentHits()) - hits).toBeGreaterThanOrEqual(2);

    const list = await call('GET', '/api/sessions?limit=100');
    const listed = list.body.items.find((s: { key: string }) => s.key === key);
    expectSame(listed.state, STATE);
    expectSame(listed.metadata, metadata);

    // What each save wrote, as the change log and the sockets tell it.
    const expected = [{ state: STATE_2, metadata: META_1 }, { metadata: META_2 }, { state: STATE, metadata: {} }];
    await until(() => live.changes.length === 3);
    const { page, missed } = await logged(key);
    for (const changes of [live.changes, page, missed]) {
      expect(changes.map((c: { kind: string }) => c.kind)).toEqual(['session.updated', 'session.updated', 'session.updated']);
      for (const [i, change] of changes.entries()) {
        const { state, metadata: sent } = expected[i];
        if (state) expectSame(change.session.state, state);
        else expect(change.session.state).toBeUndefined();
        expectSame(change.session.metadata, { ...sent, lastModified: change.session.metadata.lastModified });
      }
    }
  });

  it('keeps block content in order through create, update, merge, batch, move and conflicts, on every read of it', async () => {
    const { key } = await newSession();
    const live = await joined(key);
    /** What was sent for each block version: `${id}@${version}`. */
    const sent = new Map<string, Record<string, unknown>>();
    const remember = (block: { id: string; version: number }, content: Record<string, unknown>) => {
      expectSame((block as { content?: unknown }).content, content);
      sent.set(`${block.id}@${block.version}`, content);
    };

    const a = await call('POST', `/api/sessions/${key}/blocks`, { type: 'sticky-note', content: CONTENT_1 });
    expect(a.status).toBe(201);
    remember(a.body, CONTENT_1);
    const id = a.body.id as string;
    const updated = await call('PATCH', `/api/sessions/${key}/blocks/${id}`, { version: 1, content: CONTENT_2 });
    expect(updated.status).toBe(200);
    remember(updated.body, CONTENT_2);

    // Two writers from version 2: one changes `status`, the other (merging) `alpha` and adds `added`.
    const theirs = { ...CONTENT_2, status: 'done' };
    const first = await call('PATCH', `/api/sessions/${key}/blocks/${id}`, { version: 2, content: theirs });
    remember(first.body, theirs);
    const stale = await call('PATCH', `/api/sessions/${key}/blocks/${id}`, { version: 2, content: CONTENT_4 });
    expect(stale.status).toBe(409);
    expectSame(stale.body.current.content, theirs);
    const mine = { ...CONTENT_2, alpha: { 'task-b': true, 'task-c': 0, 'task-a': true }, added: { y: 1, x: 0 } };
    const merge = await api.request('PATCH', `/api/sessions/${key}/blocks/${id}?merge=fields`, {
      body: { version: 2, content: mine },
      token: owner.token,
    });
    expect(merge.status).toBe(200);
    expect(merge.body.merged).toBe(true);
    remember(merge.body, { status: 'done', alpha: mine.alpha, items: CONTENT_2.items, mid: 0, added: mine.added });

    const batch = await call('POST', `/api/sessions/${key}/blocks/batch`, {
      ops: [
        { op: 'create', type: 'sticky-note', content: CONTENT_3 },
        { op: 'update', id, version: 4, content: CONTENT_4 },
      ],
    });
    expect(batch.status).toBe(200);
    remember(batch.body.items[0], CONTENT_3);
    remember(batch.body.items[1], CONTENT_4);
    const other = batch.body.items[0].id as string;
    const moved = await call('POST', `/api/sessions/${key}/blocks/${other}/move`, { version: 1, beforeId: id });
    expect(moved.status).toBe(200);
    remember(moved.body, CONTENT_3);
    const document = [
      { id: other, content: CONTENT_3 },
      { id, content: CONTENT_4 },
    ];

    // Read twice: a miss that fills the cache (or warming did), then hits.
    const hits = await documentHits();
    for (let i = 0; i < 2; i++) {
      const session = await call('GET', `/api/sessions/${key}`);
      const blocks = await call('GET', `/api/sessions/${key}/blocks`);
      for (const items of [session.body.blocks, blocks.body.items]) {
        expectSame(
          items.map((b: { id: string; content: unknown }) => ({ id: b.id, content: b.content })),
          document,
        );
      }
    }
    expect((await documentHits()) - hits).toBeGreaterThanOrEqual(3);

    const history = await call('GET', `/api/sessions/${key}/blocks/${id}/history`);
    expect(history.body.items.map((r: { version: number }) => r.version)).toEqual([4, 3, 2, 1]);
    for (const revision of history.body.items) expectSame(revision.content, sent.get(`${id}@${revision.version}`));

    await until(() => live.changes.length === 7 && live.conflicts.length === 1);
    expectSame(live.conflicts[0].current.content, theirs);
    const { page, missed } = await logged(key);
    for (const changes of [live.changes, page, missed]) {
      expect(changes.length).toBe(7);
      for (const { block } of changes) expectSame(block.content, sent.get(`${block.id}@${block.version}`));
    }
  });

  it('takes a snapshot of state and blocks as written, and a restore brings back their order, even when only the order changed', async () => {
    const { key } = await newSession({ state: STATE });
    const a = (await call('POST', `/api/sessions/${key}/blocks`, { type: 'sticky-note', content: CONTENT_1 })).body;
    const b = (await call('POST', `/api/sessions/${key}/blocks`, { type: 'sticky-note', content: CONTENT_3 })).body;
    const taken = await call('POST', `/api/sessions/${key}/snapshots`, { label: 'before' });
    expect(taken.status).toBe(201);
    const list = await call('GET', `/api/sessions/${key}/snapshots`);
    expect(list.body.items.map((s: { id: string }) => s.id)).toEqual([taken.body.id]);

    // Afterwards: other state, block A with the same values in the reverse order, B changed, C added.
    const reversed = Object.fromEntries(Object.entries(CONTENT_1).reverse());
    expect(json(reversed)).not.toBe(json(CONTENT_1));
    expect((await call('PATCH', `/api/sessions/${key}`, { version: 1, state: STATE_2 })).status).toBe(200);
    expect((await call('PATCH', `/api/sessions/${key}/blocks/${a.id}`, { version: 1, content: reversed })).status).toBe(200);
    expect((await call('PATCH', `/api/sessions/${key}/blocks/${b.id}`, { version: 1, content: CONTENT_2 })).status).toBe(200);
    expect((await call('POST', `/api/sessions/${key}/blocks`, { type: 'sticky-note', content: CONTENT_4 })).status).toBe(201);
    expectSame((await call('GET', `/api/sessions/${key}`)).body.blocks[0].content, reversed);

    const restored = await call('POST', `/api/sessions/${key}/snapshots/${taken.body.id}/restore`, {});
    expect(restored.status).toBe(200);
    const expected = [
      { id: a.id, content: CONTENT_1 },
      { id: b.id, content: CONTENT_3 },
    ];
    const read = await call('GET', `/api/sessions/${key}`);
    for (const session of [restored.body, read.body]) {
      expectSame(session.state, STATE);
      expectSame(
        session.blocks.map((x: { id: string; content: unknown }) => ({ id: x.id, content: x.content })),
        expected,
      );
    }
  });

  it('exports state, metadata and content in order in every format, and jobs that write leave them so', async () => {
    const { key } = await newSession({ state: STATE });
    const saved = await call('PATCH', `/api/sessions/${key}`, { version: 1, metadata: META_1 });
    const metadata = withServerKeys(saved.body.metadata, META_1);
    expect((await call('POST', `/api/sessions/${key}/blocks`, { type: 'sticky-note', content: CONTENT_1 })).status).toBe(201);

    const exported = async (format: string) => {
      const res = await call('POST', `/api/sessions/${key}/exports`, { format });
      expect(res.status).toBe(202);
      const job = await waitForJob(api, res.body.jobId, owner.token);
      expect(job.state).toBe('completed');
      const download = await call('GET', `/api/artifacts/${job.result.artifactId}/download`);
      const file = await fetch(`${api.url}${download.body.url}`, { headers: { 'accept-encoding': 'identity' } });
      expect(file.status).toBe(200);
      return file.text();
    };
    const file = JSON.parse(await exported('json'));
    expectSame(file.session.state, STATE);
    expectSame(file.session.metadata, metadata);
    expectSame(file.blocks[0].content, CONTENT_1);
    // Blocks of a type exports do not know are written out as their JSON.
    const pretty = JSON.stringify(CONTENT_1, null, 2);
    expect(await exported('markdown')).toContain(`\`\`\`json\n${pretty}\n\`\`\``);
    expect(await exported('html')).toContain(`<pre><code>${escapeHtml(pretty)}</code></pre>`);

    const job = await call('POST', `/api/sessions/${key}/generate`, { prompt: 'a launch checklist', mode: 'blocks' });
    expect(job.status).toBe(202);
    const done = await waitForJob(api, job.body.jobId, owner.token);
    expect(done.state).toBe('completed');
    const read = await call('GET', `/api/sessions/${key}`);
    expectSame(read.body.state, STATE);
    expectSame(read.body.metadata, metadata);
    expectSame(read.body.blocks[0].content, CONTENT_1);
    const generated = read.body.blocks.slice(1);
    expect(generated.length).toBeGreaterThan(2);
    for (const { type, content } of generated) {
      const order: Record<string, string[]> = { heading: ['text', 'level'], 'checklist-item': ['text', 'checked'] };
      expect(Object.keys(content)).toEqual(order[type] ?? ['text']);
    }
  });
});
