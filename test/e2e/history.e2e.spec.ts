import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { TesseraClient, TesseraError } from '../../src/client/tessera-client.js';
import { currentRun } from '../helpers/test-environment.js';

type Block = { id: string; type: string; content: Record<string, unknown>; position: string; version: number; [k: string]: unknown };
interface Doc {
  version: number;
  title: string;
  state: Record<string, unknown>;
  metadata: Record<string, unknown>;
  visibility: string;
  themeId: string | null;
  blocks: Map<string, Block>;
}

const ordered = (blocks: Map<string, Block>) =>
  [...blocks.values()].sort((x, y) => (x.position < y.position ? -1 : x.position > y.position ? 1 : 0));

/** What a client that follows `change` events holds: the session's fields and its blocks, change by change. */
function apply(doc: Doc, change: any): Doc {
  const next: Doc = { ...doc, blocks: new Map(doc.blocks) };
  switch (change.kind) {
    case 'block.created':
    case 'block.updated':
    case 'block.moved':
      next.blocks.set(change.block.id, change.block);
      break;
    case 'block.deleted':
      next.blocks.delete(change.block.id);
      break;
    case 'session.updated': {
      const { version, metadata, ...fields } = change.session;
      Object.assign(next, fields, { version });
      if (metadata) next.metadata = { ...doc.metadata, ...metadata };
      break;
    }
  }
  return next;
}

/** A small seeded generator, so a failing run can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('time travel and diff, two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  let stranger: Awaited<ReturnType<typeof createUser>>;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const env = { REDIS_PREFIX: `${currentRun().redisPrefix}history-spec:` };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    owner = await createUser({ displayName: 'Owner' });
    stranger = await createUser({ displayName: 'Stranger' });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const open = async (app: TestApp, token = owner.token) => {
    const socket = await connect(app, { token });
    sockets.push(socket);
    return socket;
  };
  const newSession = async (body: Record<string, unknown> = {}, token = owner.token) =>
    (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document', ...body }, token })).body.key as string;

  it('shows the session at every seq exactly as a client following the changes saw it, and diffs between any two', async () => {
    const random = prng(Number(process.env.HISTORY_SEED ?? 22));
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
    const key = await newSession({ title: 'Start', state: { step: 0 } });
    const follower = await open(b);
    const seen = record<any>(follower, 'change');
    expect(await ack(follower, 'session.join', { key })).toMatchObject({ ok: true });
    const writerSocket = await open(a);
    expect(await ack(writerSocket, 'session.join', { key })).toMatchObject({ ok: true });

    const start = (await a.request('GET', `/api/sessions/${key}`, { token: owner.token })).body;
    const docs: Doc[] = [
      {
        version: start.version,
        title: start.title,
        state: start.state,
        metadata: start.metadata,
        visibility: start.visibility,
        themeId: start.themeId,
        blocks: new Map(),
      },
    ];
    // The follower's document after each seq, built from the changes in seq order.
    const catchUp = async (seq: number) => {
      await until(() => seen.length >= seq, 10_000);
      const bySeq = [...seen].sort((x, y) => x.seq - y.seq);
      for (let s = docs.length; s <= seq; s++) {
        expect(bySeq[s - 1].seq).toBe(s);
        docs.push(apply(docs[s - 1], bySeq[s - 1]));
      }
    };
    const snapshots: string[] = [];
    let undone = 0;
    let n = 0;
    const app = () => (n++ % 2 ? a : b);
    const blocks = () => ordered(docs[docs.length - 1].blocks);
    const write = async (method: string, path: string, body?: unknown) => {
      const res = await app().request(method, `/api/sessions/${key}${path}`, { body, token: owner.token });
      expect([200, 201, 204]).toContain(res.status);
      return res;
    };

    for (let step = 0; step < 80; step++) {
      const current = blocks();
      const roll = random();
      const some = current.length > 0 ? pick(current) : null;
      const anchor = current.length > 1 && random() < 0.7 ? { afterId: pick(current).id } : {};
      if (!some || roll < 0.2) {
        if (random() < 0.5) await write('POST', '/blocks', { type: 'text', content: { text: `b${step}`, n: step }, ...anchor });
        else
          expect(await ack(writerSocket, 'block.create', { key, type: 'text', content: { text: `s${step}` }, ...anchor })).toMatchObject({
            ok: true,
          });
      } else if (roll < 0.38) {
        await write('PATCH', `/blocks/${some.id}`, { version: some.version, content: { text: `u${step}`, at: { step } } });
      } else if (roll < 0.5) {
        const other = pick(current);
        if (other.id !== some.id) await write('POST', `/blocks/${some.id}/move`, { version: some.version, beforeId: other.id });
        else await write('POST', `/blocks/${some.id}/move`, { version: some.version });
      } else if (roll < 0.57) {
        await write('DELETE', `/blocks/${some.id}?version=${some.version}`);
      } else if (roll < 0.67) {
        const ops: unknown[] = [{ op: 'create', type: 'heading', content: { text: `h${step}` } }];
        ops.push({ op: 'update', id: some.id, version: some.version, type: 'quote', content: { text: `q${step}` } });
        const third = current.find((x) => x.id !== some.id);
        if (third) ops.push({ op: 'move', id: third.id, version: third.version, afterId: some.id });
        await write('POST', '/blocks/batch', { ops });
      } else if (roll < 0.75) {
        const doc = docs[docs.length - 1];
        const body =
          random() < 0.5
            ? { version: doc.version, title: `Title ${step}`, metadata: { [`k${step % 3}`]: step } }
            : { version: doc.version, state: { step, list: [step, 'x'] } };
        await write('PATCH', '', body);
      } else if (roll < 0.85) {
        // An undo, sometimes redone at once: one user alone never conflicts with themselves.
        for (const direction of random() < 0.5 ? ['undo'] : ['undo', 'redo']) {
          const res = await app().request('POST', `/api/sessions/${key}/${direction}`, { token: owner.token });
          expect(res.status === 200 ? 200 : res.body.code).toBe(res.status === 200 ? 200 : `NOTHING_TO_${direction.toUpperCase()}`);
          undone += res.status === 200 ? 1 : 0;
        }
      } else if (roll < 0.93 || snapshots.length === 0) {
        snapshots.push((await write('POST', '/snapshots', { label: `at ${step}` })).body.id);
      } else {
        await write('POST', `/snapshots/${pick(snapshots)}/restore`);
      }
      await catchUp((await a.request('GET', `/api/sessions/${key}`, { token: owner.token })).body.seq);
    }
    const last = docs.length - 1;
    expect(last).toBeGreaterThan(60);
    expect(undone).toBeGreaterThan(3);

    for (let seq = 0; seq <= last; seq++) {
      const res = await (seq % 2 ? a : b).request('GET', `/api/sessions/${key}?atSeq=${seq}`, { token: owner.token });
      expect(res.status).toBe(200);
      const doc = docs[seq];
      expect({ seq, ...res.body }).toMatchObject({
        seq,
        atSeq: seq,
        key,
        role: 'owner',
        version: doc.version,
        title: doc.title,
        state: doc.state,
        metadata: doc.metadata,
        visibility: doc.visibility,
        themeId: doc.themeId,
      });
      expect({ seq, blocks: res.body.blocks }).toEqual({ seq, blocks: ordered(doc.blocks) });
    }

    // Diffs between pairs of seqs, checked against the two documents the follower held.
    const pairs: Array<[number, number]> = [
      [0, last],
      [last, last],
      [0, 1],
    ];
    for (let i = 0; i < 25; i++) {
      const x = Math.floor(random() * (last + 1));
      const y = Math.floor(random() * (last + 1));
      pairs.push([Math.min(x, y), Math.max(x, y)]);
    }
    for (const [from, to] of pairs) {
      const res = await (from % 2 ? a : b).request('GET', `/api/sessions/${key}/diff?from=${from}&to=${to}`, { token: owner.token });
      expect(res.status).toBe(200);
      const before = docs[from];
      const after = docs[to];
      const expected: unknown[] = [];
      for (const id of [...new Set([...before.blocks.keys(), ...after.blocks.keys()])].sort()) {
        const x = before.blocks.get(id) ?? null;
        const y = after.blocks.get(id) ?? null;
        const change = !x
          ? 'created'
          : !y
            ? 'deleted'
            : x.type !== y.type || JSON.stringify(x.content) !== JSON.stringify(y.content)
              ? 'updated'
              : x.position !== y.position
                ? 'moved'
                : null;
        if (change) expected.push({ id, change, before: x, after: y });
      }
      expect({ from, to, blocks: res.body.blocks }).toEqual({ from, to, blocks: expected });
      const saved = [...seen].some((c) => c.seq > from && c.seq <= to && c.kind === 'session.updated');
      const fields = (d: Doc) => ({
        version: d.version,
        title: d.title,
        state: d.state,
        metadata: d.metadata,
        visibility: d.visibility,
        themeId: d.themeId,
      });
      expect(res.body.session).toEqual(saved ? { before: fields(before), after: fields(after) } : undefined);
    }
  });

  it('answers 400 past the current seq or for a malformed one, 410 once the log no longer reaches back, and keeps the current view', async () => {
    const key = await newSession({ title: 'Now' });
    const first = (
      await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { v: 1 } }, token: owner.token })
    ).body;
    for (let v = 1; v <= 5; v++) {
      await a.request('PATCH', `/api/sessions/${key}/blocks/${first.id}`, {
        body: { version: v, content: { v: v + 1 } },
        token: owner.token,
      });
    }
    const at = (query: string, app = a, token: string | undefined = owner.token) =>
      app.request('GET', `/api/sessions/${key}${query}`, { token });
    expect((await at('?atSeq=1')).body.blocks).toEqual([expect.objectContaining({ id: first.id, version: 1, content: { v: 1 } })]);
    // The past view never replaces the current one (in the cache or anywhere).
    expect((await at('')).body).toMatchObject({ seq: 6, blocks: [{ version: 6, content: { v: 6 } }] });
    expect((await at('')).body.atSeq).toBeUndefined();
    expect((await at('?atSeq=1', b)).body.blocks[0].version).toBe(1);
    expect((await at('', b)).body.blocks[0].version).toBe(6);

    expect(await at('?atSeq=7')).toMatchObject({ status: 400, body: { code: 'SEQ_OUT_OF_RANGE' } });
    expect(await at('?atSeq=999999999999999')).toMatchObject({ status: 400, body: { code: 'SEQ_OUT_OF_RANGE' } });
    expect(await at('/diff?from=999999999999999&to=999999999999999')).toMatchObject({ status: 400, body: { code: 'SEQ_OUT_OF_RANGE' } });
    expect(await at('/diff?from=0&to=999999999999999')).toMatchObject({ status: 400, body: { code: 'SEQ_OUT_OF_RANGE' } });
    for (const bad of ['-1', 'abc', '', '1.5', '99999999999999999999']) {
      expect(await at(`?atSeq=${bad}`)).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ field: 'atSeq' }] } });
    }
    expect(await at('/diff?from=3&to=2')).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ field: 'to' }] } });
    expect(await at('/diff?from=3&to=9')).toMatchObject({ status: 400, body: { code: 'SEQ_OUT_OF_RANGE' } });
    expect(await at('/diff?from=1')).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect(await at('/diff?from=1&to=2&x=1')).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });

    // Readers only: a private session is unknown to others, a link session readable by anyone with the key.
    expect((await at('?atSeq=1', a, undefined)).status).toBe(200);
    await a.request('PATCH', `/api/sessions/${key}`, { body: { version: 1, visibility: 'private' }, token: owner.token });
    expect(await at('?atSeq=1', a, stranger.token)).toMatchObject({ status: 404, body: { code: 'SESSION_NOT_FOUND' } });
    expect(await at('/diff?from=0&to=1', a, stranger.token)).toMatchObject({ status: 404, body: { code: 'SESSION_NOT_FOUND' } });

    // The log pruned up to seq 3 (as retention does): seq 3 and later are still reachable, before not.
    const session = await testDb().session.findUniqueOrThrow({ where: { key } });
    await testDb().change.deleteMany({ where: { sessionId: session.id, seq: { lte: 2 } } });
    expect((await at('?atSeq=3')).body.blocks[0]).toMatchObject({ version: 3, content: { v: 3 } });
    expect((await at('?atSeq=7')).body).toMatchObject({ atSeq: 7, title: 'Now', visibility: 'private', blocks: [{ version: 6 }] });
    for (const query of ['?atSeq=2', '?atSeq=0', '/diff?from=1&to=7', '/diff?from=0&to=0']) {
      expect(await at(query)).toMatchObject({ status: 410, body: { code: 'CHANGES_EXPIRED' } });
    }
    expect((await at('/diff?from=3&to=7')).body).toEqual({
      from: 3,
      to: 7,
      blocks: [
        {
          id: first.id,
          change: 'updated',
          before: expect.objectContaining({ version: 3, content: { v: 3 } }),
          after: expect.objectContaining({ version: 6, content: { v: 6 } }),
        },
      ],
      session: {
        before: expect.objectContaining({ version: 1, visibility: 'link' }),
        after: expect.objectContaining({ version: 2, visibility: 'private' }),
      },
    });

    // Changes written before the log kept what they overwrote (rows from before the migration): the
    // history that needs them answers 410, never a guess, and so does an undo of them.
    const forget = (seq: number) =>
      testDb().$executeRaw`UPDATE changes SET prior = NULL WHERE session_id = ${session.id}::uuid AND seq = ${seq}`;
    await forget(5);
    expect((await at('?atSeq=5')).body.blocks[0]).toMatchObject({ version: 5, content: { v: 5 } });
    expect(await at('/diff?from=5&to=6')).toMatchObject({ status: 200, body: { blocks: [{ change: 'updated' }] } });
    for (const query of ['?atSeq=4', '/diff?from=4&to=5']) {
      expect(await at(query)).toMatchObject({ status: 410, body: { code: 'CHANGES_EXPIRED' } });
    }
    await forget(7);
    expect(await at('?atSeq=7')).toMatchObject({ status: 200, body: { visibility: 'private' } });
    for (const query of ['?atSeq=6', '/diff?from=6&to=7']) {
      expect(await at(query)).toMatchObject({ status: 410, body: { code: 'CHANGES_EXPIRED' } });
    }
    expect(await a.request('POST', `/api/sessions/${key}/undo`, { token: owner.token })).toMatchObject({
      status: 410,
      body: { code: 'CHANGES_EXPIRED' },
    });
    expect((await at('')).body).toMatchObject({ seq: 7, version: 2, visibility: 'private' });
  });

  describe('undo and redo', () => {
    const http = (app: TestApp, key: string, token: string | undefined = owner.token) => ({
      get: async () => (await app.request('GET', `/api/sessions/${key}`, { token: owner.token })).body,
      create: async (content: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
        (await app.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content, ...extra }, token })).body,
      update: (id: string, version: number, content: Record<string, unknown>) =>
        app.request('PATCH', `/api/sessions/${key}/blocks/${id}`, { body: { version, content }, token }),
      undo: () => app.request('POST', `/api/sessions/${key}/undo`, { token }),
      redo: () => app.request('POST', `/api/sessions/${key}/redo`, { token }),
    });
    const contents = (doc: any) => doc.blocks.map((x: any) => x.content.t);

    it('undoes and redoes the caller’s own steps, move, update and delete alike, and a new edit clears the redo', async () => {
      const key = await newSession({ title: 'Undo' });
      const [onA, onB] = [http(a, key), http(b, key)];
      const first = await onA.create({ t: 'one' });
      const second = await onA.create({ t: 'two' });
      const third = await onA.create({ t: 'three' });
      expect((await onA.update(second.id, 1, { t: 'TWO' })).status).toBe(200);
      const moved = await a.request('POST', `/api/sessions/${key}/blocks/${first.id}/move`, {
        body: { version: 1, afterId: third.id },
        token: owner.token,
      });
      expect(moved.body.version).toBe(2);
      expect(contents(await onA.get())).toEqual(['TWO', 'three', 'one']);

      // Undo of the move (seq 5), on the other instance: back in place, as a new versioned write.
      const undoMove = await onB.undo();
      expect(undoMove).toMatchObject({ status: 200, body: { seq: 6 } });
      expect(undoMove.body.changes).toEqual([
        expect.objectContaining({
          seq: 6,
          kind: 'block.moved',
          undoOf: 5,
          block: expect.objectContaining({ id: first.id, position: first.position, version: 3 }),
        }),
      ]);
      expect(contents(await onA.get())).toEqual(['one', 'TWO', 'three']);
      // Undo of the update (seq 4): the content it overwrote comes back.
      expect((await onA.undo()).body.changes).toEqual([
        expect.objectContaining({
          kind: 'block.updated',
          undoOf: 4,
          block: expect.objectContaining({ content: { t: 'two' }, version: 3 }),
        }),
      ]);
      expect(contents(await onA.get())).toEqual(['one', 'two', 'three']);
      // Redo: the update again, then the move again.
      expect((await onB.redo()).body.changes).toEqual([
        expect.objectContaining({ kind: 'block.updated', undoOf: 7, block: expect.objectContaining({ content: { t: 'TWO' } }) }),
      ]);
      expect((await onA.redo()).body.changes).toEqual([expect.objectContaining({ kind: 'block.moved', undoOf: 6 })]);
      expect(await onA.redo()).toMatchObject({ status: 409, body: { code: 'NOTHING_TO_REDO' } });
      expect(contents(await onA.get())).toEqual(['TWO', 'three', 'one']);
      // Undo (seq 10), then a new edit: the redo is gone.
      expect((await onA.undo()).body.seq).toBe(10);
      expect((await onA.update(third.id, 1, { t: 'THREE' })).status).toBe(200);
      expect(await onB.redo()).toMatchObject({ status: 409, body: { code: 'NOTHING_TO_REDO' } });

      // Undo of a delete: the block comes back as it was, id, content, position and version.
      const removed = await a.request('DELETE', `/api/sessions/${key}/blocks/${second.id}?version=4`, { token: owner.token });
      expect(removed.status).toBe(204);
      const back = await onB.undo();
      expect(back.body.changes).toEqual([
        expect.objectContaining({
          kind: 'block.created',
          block: expect.objectContaining({ id: second.id, content: { t: 'TWO' }, position: second.position, version: 4 }),
        }),
      ]);
      expect((await onA.get()).blocks.map((x: any) => x.id)).toEqual([first.id, second.id, third.id]);

      // The log shows what each undo inverted; history is only ever added to.
      const log = (await a.request('GET', `/api/sessions/${key}/changes?since=0`, { token: owner.token })).body.items;
      expect(log.map((c: any) => c.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
      expect(log.filter((c: any) => c.undoOf !== undefined).map((c: any) => [c.seq, c.undoOf])).toEqual([
        [6, 5],
        [7, 4],
        [8, 7],
        [9, 6],
        [10, 9],
        [13, 12],
      ]);

      // Undo everything, step by step, back to the empty session; then nothing is left.
      for (let i = 0; i < 20; i++) if ((await onA.undo()).status !== 200) break;
      expect(await onA.undo()).toMatchObject({ status: 409, body: { code: 'NOTHING_TO_UNDO' } });
      expect((await onA.get()).blocks).toEqual([]);
    });

    it('takes concurrent undos of one user on two instances one at a time, each its own step', async () => {
      const key = await newSession();
      const [onA, onB] = [http(a, key), http(b, key)];
      for (const t of ['one', 'two', 'three', 'four']) await onA.create({ t });
      const undos = await Promise.all([onA.undo(), onB.undo(), onA.undo(), onB.undo()]);
      expect(undos.map((u) => u.status)).toEqual([200, 200, 200, 200]);
      expect(undos.map((u) => u.body.changes[0].undoOf).sort()).toEqual([1, 2, 3, 4]);
      expect((await onA.get()).blocks).toEqual([]);
      expect(await onB.undo()).toMatchObject({ status: 409, body: { code: 'NOTHING_TO_UNDO' } });
      const redos = await Promise.all([onA.redo(), onB.redo()]);
      expect(redos.map((r) => r.status)).toEqual([200, 200]);
      expect(contents(await onA.get())).toEqual(['one', 'two']);
    });

    it('answers a conflict, not an error, when the place a deleted block goes back to is taken', async () => {
      const key = await newSession();
      const onA = http(a, key);
      const gone = await onA.create({ t: 'gone' });
      const other = await onA.create({ t: 'other' });
      expect((await a.request('DELETE', `/api/sessions/${key}/blocks/${gone.id}?version=1`, { token: owner.token })).status).toBe(204);
      // Another block in exactly that place (a fixture: the API never hands out a position twice).
      await testDb().block.update({ where: { id: other.id }, data: { position: gone.position } });
      expect(await onA.undo()).toMatchObject({ status: 409, body: { code: 'VERSION_CONFLICT', current: null } });
      expect((await onA.get()).blocks.map((x: any) => x.id)).toEqual([other.id]);
    });

    it('undoes a batch as one step, and refuses an undo that would overwrite another user’s later edit, undoing nothing', async () => {
      const key = await newSession();
      const editor = await createUser({ displayName: 'Editor' });
      const [mine, theirs] = [http(a, key), http(b, key, editor.token)];
      const block = await mine.create({ t: 'mine' });
      const other = await mine.create({ t: 'other' });
      const batch = (version: number, suffix: string) =>
        a.request('POST', `/api/sessions/${key}/blocks/batch`, {
          body: {
            ops: [
              { op: 'update', id: block.id, version, content: { t: `mine${suffix}` } },
              { op: 'update', id: other.id, version, content: { t: `other${suffix}` } },
            ],
          },
          token: owner.token,
        });
      expect((await batch(1, ' 2')).status).toBe(200);
      const whole = await mine.undo();
      expect(whole.body.changes.map((c: any) => [c.block.content.t, c.undoOf])).toEqual([
        ['other', 4],
        ['mine', 3],
      ]);
      expect(contents(await mine.get())).toEqual(['mine', 'other']);

      expect((await batch(3, ' 3')).status).toBe(200);
      expect((await theirs.update(other.id, 4, { t: 'theirs' })).status).toBe(200);
      const before = await mine.get();
      const refused = await mine.undo();
      expect(refused).toMatchObject({
        status: 409,
        body: { code: 'VERSION_CONFLICT', current: { id: other.id, version: 5, content: { t: 'theirs' } } },
      });
      const after = await mine.get();
      expect(after.seq).toBe(before.seq);
      expect(contents(after)).toEqual(['mine 3', 'theirs']);
      // Their undo is of their own edit; the versions the batch left are still gone, so mine is still refused.
      expect((await theirs.undo()).body.changes).toEqual([
        expect.objectContaining({ block: expect.objectContaining({ content: { t: 'other 3' } }) }),
      ]);
      expect(await mine.undo()).toMatchObject({ status: 409, body: { code: 'VERSION_CONFLICT' } });
      expect(contents(await mine.get())).toEqual(['mine 3', 'other 3']);

      // Who may undo: signed-in writers only.
      expect(await a.request('POST', `/api/sessions/${key}/undo`)).toMatchObject({ status: 401, body: { code: 'AUTH_REQUIRED' } });
      expect(await a.request('POST', `/api/sessions/${key}/redo`)).toMatchObject({ status: 401, body: { code: 'AUTH_REQUIRED' } });
      const visibility = await a.request('PATCH', `/api/sessions/${key}`, {
        body: { version: 1, visibility: 'readonly' },
        token: owner.token,
      });
      expect(visibility.status).toBe(200);
      expect(await theirs.undo()).toMatchObject({ status: 403, body: { code: 'READ_ONLY' } });
      expect(await http(a, 'ZZZZZZ9').undo()).toMatchObject({ status: 404, body: { code: 'SESSION_NOT_FOUND' } });
      // The visibility change was the owner's latest step: an undo opens the session again.
      expect((await mine.undo()).body.changes).toEqual([
        expect.objectContaining({
          kind: 'session.updated',
          undoOf: visibility.body.seq,
          session: expect.objectContaining({ visibility: 'link' }),
        }),
      ]);
    });

    it('undoes a restore and a session save as one step each, and over the socket with an ack', async () => {
      const key = await newSession({ title: 'Before', state: { a: 1 } });
      const onA = http(a, key);
      const kept = await onA.create({ t: 'kept' });
      const snapshot = (await a.request('POST', `/api/sessions/${key}/snapshots`, { body: {}, token: owner.token })).body;
      await onA.create({ t: 'later' });
      await onA.update(kept.id, 1, { t: 'changed' });
      expect((await a.request('POST', `/api/sessions/${key}/snapshots/${snapshot.id}/restore`, { token: owner.token })).status).toBe(200);
      expect(contents(await onA.get())).toEqual(['kept']);
      const saved = await a.request('PATCH', `/api/sessions/${key}`, {
        body: { version: 1, title: 'After', state: { b: 2 } },
        token: owner.token,
      });
      expect(saved.status).toBe(200);

      const socket = await open(b);
      const follower = await open(a);
      expect(await ack(follower, 'session.join', { key })).toMatchObject({ ok: true });
      const seen = record<any>(follower, 'change');
      const undoSave = await ack(socket, 'session.undo', { key });
      expect(undoSave).toMatchObject({
        ok: true,
        changes: [{ kind: 'session.updated', session: { version: 3, title: 'Before', state: { a: 1 } } }],
      });
      expect(await onA.get()).toMatchObject({ title: 'Before', state: { a: 1 }, version: 3 });
      const undoRestore = await ack(socket, 'session.undo', { key });
      expect(undoRestore.ok).toBe(true);
      expect(undoRestore.changes.length).toBeGreaterThan(1);
      expect(contents(await onA.get())).toEqual(['changed', 'later']);
      await until(() => seen.length === 1 + undoRestore.changes.length);
      expect(seen.every((c) => typeof c.undoOf === 'number')).toBe(true);
      expect(await ack(socket, 'session.redo', { key })).toMatchObject({ ok: true });
      expect(contents(await onA.get())).toEqual(['kept']);
      expect(await ack(socket, 'session.undo', { key: 'bad key' })).toMatchObject({ ok: false, code: 'INVALID_SESSION_KEY' });
      expect(await ack(socket, 'session.undo', { key, extra: 1 })).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
      const anonymous = await connect(b, {});
      sockets.push(anonymous);
      // The typed client's feed undoes and redoes too, with the same refusals.
      const client = new TesseraClient({ url: a.url, token: owner.token });
      await client.connect();
      try {
        const feed = await client.join(key);
        expect((await feed.undo()).changes.every((c) => typeof c.undoOf === 'number')).toBe(true);
        expect(contents(await onA.get())).toEqual(['changed', 'later']);
        await feed.redo();
        // The save undone first is the last to redo.
        expect((await feed.redo()).changes).toEqual([
          expect.objectContaining({ kind: 'session.updated', session: expect.objectContaining({ title: 'After', state: { b: 2 } }) }),
        ]);
        const refused = feed.redo();
        await expect(refused).rejects.toEqual(expect.any(TesseraError));
        await expect(refused).rejects.toMatchObject({ code: 'NOTHING_TO_REDO' });
      } finally {
        client.close();
      }
      expect(await ack(anonymous, 'session.undo', { key })).toMatchObject({ ok: false, code: 'AUTH_REQUIRED' });
    });
  });
});
