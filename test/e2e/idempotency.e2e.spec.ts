import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { SessionRetention } from '../../src/sessions/session-retention.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { ack, connect, record } from '../helpers/sockets.js';
import { startTestApp, type ApiResponse, type TestApp } from '../helpers/test-app.js';

type User = Awaited<ReturnType<typeof createUser>>;

/** Two instances on one database and Redis: a retry may reach either. */
describe('idempotency keys on every write', () => {
  let a: TestApp;
  let b: TestApp;
  let owner: User;
  let other: User;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestApp(), startTestApp()]);
    owner = await createUser({ displayName: 'Owner' });
    other = await createUser({ displayName: 'Other' });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const send = (app: TestApp, method: string, path: string, key: string | undefined, body?: unknown, token = owner.token) =>
    app.request(method, path, { body, token, headers: key === undefined ? {} : { 'idempotency-key': key } });
  const newSession = async (token = owner.token): Promise<string> => {
    const res = await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token });
    expect(res.status).toBe(201);
    return res.body.key as string;
  };
  const addBlock = async (key: string, content: Record<string, unknown> = { n: 0 }) => {
    const res = await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content }, token: owner.token });
    expect(res.status).toBe(201);
    return res.body as { id: string; version: number };
  };
  const seqOf = async (key: string) => (await testDb().session.findUniqueOrThrow({ where: { key } })).seq;
  const expectReplayOf = (replay: ApiResponse, first: ApiResponse) => {
    expect(replay.status).toBe(first.status);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(first.headers.get('idempotent-replayed')).toBeNull();
  };

  it('replays a PATCH on the same and on the other instance, and writes it once', async () => {
    const key = await newSession();
    const block = await addBlock(key);
    const idem = randomUUID();
    const path = `/api/sessions/${key}/blocks/${block.id}`;
    const first = await send(a, 'PATCH', path, idem, { version: 1, content: { n: 1 } });
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toBe('"2"');
    const seq = await seqOf(key);
    expectReplayOf(await send(a, 'PATCH', path, idem, { version: 1, content: { n: 1 } }), first);
    expectReplayOf(await send(b, 'PATCH', path, idem, { version: 1, content: { n: 1 } }), first);
    expect(await seqOf(key)).toBe(seq);
    expect((await testDb().block.findUniqueOrThrow({ where: { id: block.id } })).version).toBe(2);
    // Recorded by the write's own statement (its outcome), not by a transaction around it.
    expect(await testDb().idempotencyRecord.findFirstOrThrow({ where: { key: idem } })).toMatchObject({ status: 0 });
  });

  it('replays a merged write as merged', async () => {
    const key = await newSession();
    const block = await addBlock(key, { a: 0, b: 0 });
    const path = `/api/sessions/${key}/blocks/${block.id}`;
    expect((await send(a, 'PATCH', path, undefined, { version: 1, content: { a: 1, b: 0 } })).status).toBe(200);
    const idem = randomUUID();
    const merged = await send(a, 'PATCH', `${path}?merge=fields`, idem, { version: 1, content: { a: 0, b: 2 } });
    expect(merged).toMatchObject({ status: 200, body: { merged: true, version: 3, content: { a: 1, b: 2 } } });
    expectReplayOf(await send(b, 'PATCH', `${path}?merge=fields`, idem, { version: 1, content: { a: 0, b: 2 } }), merged);
    expect((await testDb().block.findUniqueOrThrow({ where: { id: block.id } })).version).toBe(3);
  });

  it('refuses the key with another body, path or method (422), and another caller has keys of their own', async () => {
    const key = await newSession();
    const [x, y] = [await addBlock(key), await addBlock(key)];
    const idem = randomUUID();
    expect((await send(a, 'PATCH', `/api/sessions/${key}/blocks/${x.id}`, idem, { version: 1, content: { n: 1 } })).status).toBe(200);
    const reused = [
      await send(b, 'PATCH', `/api/sessions/${key}/blocks/${x.id}`, idem, { version: 1, content: { n: 2 } }),
      await send(b, 'PATCH', `/api/sessions/${key}/blocks/${y.id}`, idem, { version: 1, content: { n: 1 } }),
      await send(a, 'DELETE', `/api/sessions/${key}/blocks/${x.id}?version=2`, idem),
    ];
    for (const res of reused) expect(res).toMatchObject({ status: 422, body: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    expect((await testDb().block.findUniqueOrThrow({ where: { id: y.id } })).version).toBe(1);
    // The same key from another caller is another key.
    await a.request('PUT', `/api/sessions/${key}/members/${other.user.id}`, { body: { role: 'editor' }, token: owner.token });
    const theirs = await send(b, 'PATCH', `/api/sessions/${key}/blocks/${y.id}`, idem, { version: 1, content: { n: 9 } }, other.token);
    expect(theirs.status).toBe(200);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
  });

  it('refuses keys that are not 1 to 255 visible ASCII characters (400)', async () => {
    const key = await newSession();
    const block = await addBlock(key);
    for (const bad of ['has space', 'x'.repeat(256), 'é']) {
      const res = await send(a, 'PATCH', `/api/sessions/${key}/blocks/${block.id}`, bad, { version: 1, content: { n: 1 } });
      expect(res).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    }
    expect((await testDb().block.findUniqueOrThrow({ where: { id: block.id } })).version).toBe(1);
  });

  it('replays every write route once: blocks, batch, session, snapshots, restore, members, invites, jobs', async () => {
    const key = await newSession();
    const block = await addBlock(key);
    const moved = await addBlock(key);
    const gone = await addBlock(key);
    const base = `/api/sessions/${key}`;
    const snapshot = await a.request('POST', `${base}/snapshots`, { body: { label: 'before' }, token: owner.token });
    const writes: Array<[string, string, unknown]> = [
      ['POST', `${base}/blocks`, { id: randomUUID(), type: 'text', content: { made: true } }],
      ['POST', `${base}/blocks/${moved.id}/move`, { version: 1, beforeId: block.id }],
      ['DELETE', `${base}/blocks/${gone.id}?version=1`, undefined],
      ['POST', `${base}/blocks/batch`, { ops: [{ op: 'update', id: block.id, version: 1, content: { n: 5 } }] }],
      ['PATCH', base, { version: 1, title: 'Renamed' }],
      ['POST', `${base}/snapshots`, { label: 'again' }],
      ['POST', `${base}/snapshots/${snapshot.body.id}/restore`, undefined],
      ['PUT', `${base}/members/${other.user.id}`, { role: 'viewer' }],
      ['POST', `${base}/invites`, { role: 'viewer' }],
      ['DELETE', `${base}/members/${other.user.id}`, undefined],
      ['POST', `${base}/exports`, { format: 'json' }],
      ['PUT', `/api/sessions/${key}`, { typeSlug: 'document' }],
    ];
    // This session's own rows: other suites create snapshots and invites in the same database meanwhile.
    const sessionId = (await testDb().session.findUniqueOrThrow({ where: { key } })).id;
    const counts = async () => [
      await testDb().snapshot.count({ where: { sessionId } }),
      await testDb().sessionInvite.count({ where: { sessionId } }),
    ];
    for (const [method, path, body] of writes) {
      const idem = randomUUID();
      const first = await send(a, method, path, idem, body);
      expect([method, path, first.status]).toEqual([method, path, expect.any(Number)]);
      expect(first.status).toBeLessThan(300);
      const seq = await seqOf(key);
      const before = await counts();
      const replay = await send(b, method, path, idem, body);
      expect([method, path, replay.status]).toEqual([method, path, first.status]);
      expectReplayOf(replay, first);
      expect(await seqOf(key)).toBe(seq);
      expect(await counts()).toEqual(before);
    }
    const deleted = await send(a, 'DELETE', base, 'delete-once');
    expect(deleted.status).toBe(204);
    expectReplayOf(await send(b, 'DELETE', base, 'delete-once'), deleted);
  });

  it('records an answer over 256 KiB without its body, and does not record a refusal that long', async () => {
    const key = await newSession();
    const big = 'x'.repeat(60_000);
    for (let i = 0; i < 5; i++) await addBlock(key, { big, i });
    const snapshot = await a.request('POST', `/api/sessions/${key}/snapshots`, { body: {}, token: owner.token });
    const path = `/api/sessions/${key}/snapshots/${snapshot.body.id}/restore`;
    const restored = await send(a, 'POST', path, 'big-restore');
    expect(restored.status).toBe(200);
    expect(restored.body.blocks).toHaveLength(5);
    const replay = await send(b, 'POST', path, 'big-restore');
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toBeUndefined();
    const record = await testDb().idempotencyRecord.findFirstOrThrow({ where: { key: 'big-restore' } });
    expect(record.body).toBeNull();
    // A stale save of a session whose state is 300 KB: its 409 carries the state, too long to keep.
    const session = await send(a, 'PATCH', `/api/sessions/${key}`, undefined, { version: 1, state: { big: 'y'.repeat(300_000) } });
    expect(session.status).toBe(200);
    const stale = await send(a, 'PATCH', `/api/sessions/${key}`, 'stale-save', { version: 1, title: 'late' });
    expect(stale).toMatchObject({ status: 409, body: { code: 'VERSION_CONFLICT' } });
    expect(await testDb().idempotencyRecord.count({ where: { key: 'stale-save' } })).toBe(0);
  });

  it('answers 409 IDEMPOTENCY_KEY_IN_USE with Retry-After while the first request runs, then replays it', async () => {
    const key = await newSession();
    const block = await addBlock(key);
    const path = `/api/sessions/${key}/blocks/${block.id}`;
    const idem = randomUUID();
    // The first request waits for the session row, which a transaction of the test holds.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = testDb().$transaction(
      async (tx) => {
        await tx.$executeRaw`SELECT 1 FROM sessions WHERE key = ${key} FOR UPDATE`;
        locked();
        await held;
      },
      { timeout: 20_000 },
    );
    await isLocked;
    const first = send(a, 'PATCH', path, idem, { version: 1, content: { n: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const during = await send(b, 'PATCH', path, idem, { version: 1, content: { n: 1 } });
    expect(during).toMatchObject({ status: 409, body: { code: 'IDEMPOTENCY_KEY_IN_USE' } });
    expect(Number(during.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    release();
    await holder;
    const answered = await first;
    expect(answered.status).toBe(200);
    expectReplayOf(await send(b, 'PATCH', path, idem, { version: 1, content: { n: 1 } }), answered);
    expect((await testDb().block.findUniqueOrThrow({ where: { id: block.id } })).version).toBe(2);
  });

  it('records a VERSION_CONFLICT and replays it, even once the write would now apply', async () => {
    const key = await newSession();
    const block = await addBlock(key);
    const path = `/api/sessions/${key}/blocks/${block.id}`;
    const idem = randomUUID();
    const refused = await send(a, 'PATCH', path, idem, { version: 2, content: { n: 2 } });
    expect(refused).toMatchObject({ status: 409, body: { code: 'VERSION_CONFLICT', current: { version: 1 } } });
    expect((await send(a, 'PATCH', path, undefined, { version: 1, content: { n: 1 } })).status).toBe(200);
    const replay = await send(b, 'PATCH', path, idem, { version: 2, content: { n: 2 } });
    expect(replay).toMatchObject({ status: 409, body: { code: 'VERSION_CONFLICT', current: { version: 1 } } });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await testDb().block.findUniqueOrThrow({ where: { id: block.id } })).version).toBe(2);
  });

  it('does not record an answer that failed for a dependency (5xx): the retry runs afresh', async () => {
    // An instance whose statements give up after 300 ms: a write stuck behind a lock fails as a database outage.
    const impatient = await startTestApp({ DB_STATEMENT_TIMEOUT: '300' });
    try {
      const key = await newSession();
      const block = await addBlock(key);
      const path = `/api/sessions/${key}/blocks/${block.id}`;
      const idem = randomUUID();
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = testDb().$transaction(
        async (tx) => {
          await tx.$executeRaw`SELECT 1 FROM sessions WHERE key = ${key} FOR UPDATE`;
          locked();
          await held;
        },
        { timeout: 20_000 },
      );
      await isLocked;
      const failed = await send(impatient, 'PATCH', path, idem, { version: 1, content: { n: 1 } });
      release();
      await holder;
      expect(failed).toMatchObject({ status: 503, body: { code: 'SERVICE_UNAVAILABLE' } });
      expect(await testDb().idempotencyRecord.count({ where: { key: idem } })).toBe(0);
      const retried = await send(b, 'PATCH', path, idem, { version: 1, content: { n: 1 } });
      expect(retried.status).toBe(200);
      expect(retried.headers.get('idempotent-replayed')).toBeNull();
    } finally {
      await impatient.close();
    }
  });

  it('a create carries its own id: taken, here or in another session, is 409 BLOCK_ID_TAKEN and touches nothing', async () => {
    const mine = await newSession();
    const theirs = await newSession(other.token);
    const id = randomUUID();
    const created = await a.request('POST', `/api/sessions/${mine}/blocks`, {
      body: { id, type: 'text', content: { a: 1 } },
      token: owner.token,
    });
    expect(created).toMatchObject({ status: 201, body: { id, sessionKey: mine, version: 1 } });
    for (const [key, token] of [
      [mine, owner.token],
      [theirs, other.token],
    ] as const) {
      const seq = await seqOf(key);
      const taken = await a.request('POST', `/api/sessions/${key}/blocks`, { body: { id, type: 'text', content: { b: 2 } }, token });
      expect(taken).toMatchObject({ status: 409, body: { code: 'BLOCK_ID_TAKEN' } });
      expect(JSON.stringify(taken.body)).not.toContain('"a":1');
      expect(await seqOf(key)).toBe(seq);
    }
    const stored = await testDb().block.findUniqueOrThrow({ where: { id } });
    expect(stored).toMatchObject({ content: { a: 1 }, version: 1 });
    expect(await testDb().block.count({ where: { session: { key: theirs } } })).toBe(0);
  });

  it('replays socket write acks (seq included) on either instance, and refuses the key on events that are not writes', async () => {
    const key = await newSession();
    const block = await addBlock(key);
    const [one, two] = await Promise.all([connect(a, { token: owner.token }), connect(b, { token: owner.token })]);
    sockets.push(one, two);
    const idem = randomUUID();
    const update = { key, id: block.id, version: 1, content: { n: 1 }, idempotencyKey: idem };
    const watcher = await connect(b, { token: owner.token });
    sockets.push(watcher);
    expect(await ack(watcher, 'session.join', { key })).toMatchObject({ ok: true });
    const conflicts = record(watcher, 'block.conflict');
    const first = await ack(one, 'block.update', update);
    expect(first).toMatchObject({ ok: true, block: { version: 2 }, seq: expect.any(Number) });
    expect(await ack(two, 'block.update', update)).toEqual(first);
    expect(await ack(one, 'block.update', update)).toEqual(first);
    // A replay is not a race: nobody is told of a conflict.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(conflicts).toEqual([]);
    expect(await ack(two, 'block.update', { ...update, content: { n: 2 } })).toMatchObject({ ok: false, code: 'IDEMPOTENCY_KEY_REUSED' });
    const id = randomUUID();
    const create = { key, id, type: 'text', content: {}, idempotencyKey: randomUUID() };
    const made = await ack(one, 'block.create', create);
    expect(made).toMatchObject({ ok: true, block: { id } });
    expect(await ack(two, 'block.create', create)).toEqual(made);
    const removal = { key, id, version: 1, idempotencyKey: randomUUID() };
    const removed = await ack(two, 'block.delete', removal);
    expect(await ack(one, 'block.delete', removal)).toEqual(removed);
    expect(await testDb().block.count({ where: { session: { key } } })).toBe(1);
    expect((await testDb().block.findUniqueOrThrow({ where: { id: block.id } })).version).toBe(2);
    expect(await ack(one, 'session.join', { key, idempotencyKey: 'x' })).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
    expect(await ack(one, 'block.update', { ...update, idempotencyKey: 'no spaces' })).toMatchObject({
      ok: false,
      code: 'VALIDATION_FAILED',
    });
  });

  it('session.undo and session.redo sent twice with one key undo (redo) once: the second ack is the first, on either instance', async () => {
    const key = await newSession();
    const block = await addBlock(key);
    for (const [version, n] of [
      [1, 1],
      [2, 2],
    ]) {
      const res = await send(a, 'PATCH', `/api/sessions/${key}/blocks/${block.id}`, undefined, { version, content: { n } });
      expect(res.status).toBe(200);
    }
    const [one, two] = await Promise.all([connect(a, { token: owner.token }), connect(b, { token: owner.token })]);
    sockets.push(one, two);
    const contentNow = async () => (await testDb().block.findUniqueOrThrow({ where: { id: block.id } })).content;
    const undo = { key, idempotencyKey: randomUUID() };
    const first = await ack(one, 'session.undo', undo);
    expect(first).toMatchObject({ ok: true, seq: expect.any(Number), changes: [expect.objectContaining({ undoOf: expect.any(Number) })] });
    expect(await contentNow()).toEqual({ n: 1 });
    const seq = await seqOf(key);
    expect(await ack(two, 'session.undo', undo)).toEqual(first);
    expect(await ack(one, 'session.undo', undo)).toEqual(first);
    expect(await contentNow()).toEqual({ n: 1 });
    expect(await seqOf(key)).toBe(seq);
    expect(await ack(two, 'session.redo', { key, idempotencyKey: undo.idempotencyKey })).toMatchObject({
      ok: false,
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    const redo = { key, idempotencyKey: randomUUID() };
    const redone = await ack(two, 'session.redo', redo);
    expect(redone).toMatchObject({ ok: true });
    expect(await ack(one, 'session.redo', redo)).toEqual(redone);
    expect(await contentNow()).toEqual({ n: 2 });
    // Without a key each undo is a new one: the key is what made the repeat harmless.
    expect(await ack(one, 'session.undo', { key })).toMatchObject({ ok: true });
    expect(await ack(one, 'session.undo', { key })).toMatchObject({ ok: true });
    expect(await contentNow()).toEqual({ n: 0 });
  });

  it('forgets a record after 24 h (a retry runs afresh) and the sweep deletes it', async () => {
    const key = await newSession();
    const block = await addBlock(key);
    const path = `/api/sessions/${key}/blocks/${block.id}`;
    const idem = randomUUID();
    expect((await send(a, 'PATCH', path, idem, { version: 1, content: { n: 1 } })).status).toBe(200);
    const stale = `stale-${randomUUID()}`;
    expect((await send(a, 'PATCH', path, stale, { version: 2, content: { n: 2 } })).status).toBe(200);
    await testDb().idempotencyRecord.updateMany({
      where: { key: { in: [idem, stale] } },
      data: { createdAt: new Date(Date.now() - 25 * 3_600_000) },
    });
    const late = await send(b, 'PATCH', path, idem, { version: 1, content: { n: 1 } });
    expect(late).toMatchObject({ status: 409, body: { code: 'VERSION_CONFLICT' } });
    expect(late.headers.get('idempotent-replayed')).toBeNull();
    // A create under a key whose record is past 24 h (not yet swept) runs afresh.
    const reusedKey = `old-create-${randomUUID()}`;
    const first = await send(a, 'POST', `/api/sessions/${key}/blocks`, reusedKey, { type: 'text', content: { n: 1 } });
    expect(first.status).toBe(201);
    await testDb().idempotencyRecord.updateMany({ where: { key: reusedKey }, data: { createdAt: new Date(Date.now() - 25 * 3_600_000) } });
    const fresh = await send(b, 'POST', `/api/sessions/${key}/blocks`, reusedKey, { type: 'text', content: { n: 2 } });
    expect(fresh.status).toBe(201);
    expect(fresh.body.id).not.toBe(first.body.id);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    const run = await a.app.get(SessionRetention).sweep();
    expect(run.idempotencyKeysDeleted).toBeGreaterThanOrEqual(1);
    expect(await testDb().idempotencyRecord.count({ where: { key: stale } })).toBe(0);
    expect(await testDb().idempotencyRecord.count({ where: { key: idem } })).toBe(1);
  });
});
