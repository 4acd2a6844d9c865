import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { scrape } from '../helpers/prometheus.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Block updates arriving together share one statement (group commit). The writes here are
 * sent at once against an instance whose tick is long (100 ms), so each burst is one batch;
 * every write must still get exactly the answer it would have got alone.
 */
describe('group commit of block and session writes', () => {
  let api: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  let stranger: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    api = await startTestApp({
      GROUP_COMMIT_MAX_WAIT_MS: '100',
      GROUP_COMMIT_MAX_BATCH: '64',
      SESSION_MAX_BYTES: '65536',
      SESSION_MAX_BLOCKS: '6',
    });
    owner = await createUser();
    stranger = await createUser();
  });
  afterAll(async () => {
    await api.close();
    await closeTestDb();
  });

  const newSession = async (body: Record<string, unknown> = {}) => {
    const res = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document', ...body }, token: owner.token });
    expect(res.status).toBe(201);
    return res.body.key as string;
  };
  const addBlock = async (key: string, content: Record<string, unknown> = {}) => {
    const res = await api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content }, token: owner.token });
    expect(res.status).toBe(201);
    return res.body as { id: string; version: number };
  };
  const patch = (key: string, id: string, body: Record<string, unknown>, token = owner.token) =>
    api.request('PATCH', `/api/sessions/${key}/blocks/${id}`, { body, token });
  const changesOf = async (key: string) => {
    const res = await api.request('GET', `/api/sessions/${key}/changes?since=0&limit=500`, { token: owner.token });
    expect(res.status).toBe(200);
    return res.body.items as Array<{ seq: number; kind: string; block: { id: string; version: number; content: unknown } }>;
  };
  /** Statements that carried more than one write. */
  const sharedBatches = async () => {
    const metrics = await scrape(api);
    return metrics.value('block_write_batch_size_count') - metrics.value('block_write_batch_size_bucket', { le: '1' });
  };

  it('gives each write of a tick with winners and losers across sessions its own answer, and each session gap-free seqs', async () => {
    const sessions = await Promise.all([0, 1, 2, 3].map(() => newSession()));
    const privateKey = await newSession({ visibility: 'private' });
    const privateBlock = await addBlock(privateKey, { n: 'private' });
    const blocks = [];
    for (const key of sessions) for (let i = 0; i < 3; i++) blocks.push({ key, ...(await addBlock(key, { n: i })) });
    const before = await sharedBatches();

    // Per block: two writers on its version (one must win, the other gets 409 with the winner's
    // block), and one on a stale version. Plus writes that are refused for other reasons.
    const writes = blocks.flatMap((b) => [
      { b, body: { version: b.version, content: { by: 'first', id: b.id } } },
      { b, body: { version: b.version, content: { by: 'second', id: b.id } } },
      { b, body: { version: b.version + 7, content: { by: 'stale' } } },
    ]);
    const answers = await Promise.all([
      ...writes.map((w) => patch(w.b.key, w.b.id, w.body)),
      patch(privateKey, privateBlock.id, { version: 1, content: { by: 'stranger' } }, stranger.token),
      patch(sessions[0], '00000000-0000-4000-8000-000000000000', { version: 1, content: {} }),
    ]);
    expect(await sharedBatches()).toBeGreaterThan(before);

    const [strangerAnswer, missingBlock] = answers.slice(writes.length);
    expect(strangerAnswer.status).toBe(404);
    expect(strangerAnswer.body.code).toBe('SESSION_NOT_FOUND');
    expect(missingBlock.status).toBe(404);
    expect(missingBlock.body.code).toBe('BLOCK_NOT_FOUND');

    for (const [i, b] of blocks.entries()) {
      const [first, second, stale] = answers.slice(i * 3, i * 3 + 3);
      const won = [first, second].filter((a) => a.status === 200);
      const lost = [first, second].filter((a) => a.status === 409);
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(won[0].body).toMatchObject({ id: b.id, version: b.version + 1 });
      expect(lost[0].body.code).toBe('VERSION_CONFLICT');
      expect(lost[0].body.current).toEqual(won[0].body);
      expect(stale.status).toBe(409);
      // Decided before or after the winner of its block committed: either is the truth at that moment.
      expect([b.version, b.version + 1]).toContain(stale.body.current.version);
    }

    for (const key of sessions) {
      const changes = await changesOf(key);
      expect(changes.map((c) => c.seq)).toEqual(changes.map((_, i) => i + 1));
      const updates = changes.filter((c) => c.kind === 'block.updated');
      expect(updates).toHaveLength(3);
      const stored = (await api.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items;
      for (const update of updates) {
        expect(stored.find((s: { id: string }) => s.id === update.block.id)).toMatchObject({
          version: update.block.version,
          content: update.block.content,
        });
      }
    }
    const untouched = (await api.request('GET', `/api/sessions/${privateKey}/blocks`, { token: owner.token })).body.items;
    expect(untouched[0]).toMatchObject({ version: 1, content: { n: 'private' } });
  });

  it('holds writes of one tick to the session budget together: those that fit win, the one that would pass it is 413', async () => {
    const key = await newSession();
    const blocks = await Promise.all([0, 1, 2].map(() => addBlock(key, { n: 0 })));
    // Each write adds ~25 KB; two fit the 64 KiB budget, three do not.
    const big = (i: number) => ({ text: String(i).repeat(25_000) });
    const answers = await Promise.all(blocks.map((b, i) => patch(key, b.id, { version: b.version, content: big(i) })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 413]);
    expect(answers.find((a) => a.status === 413)!.body.code).toBe('SESSION_TOO_LARGE');
    const changes = await changesOf(key);
    expect(changes.map((c) => c.seq)).toEqual(changes.map((_, i) => i + 1));
    expect(changes.filter((c) => c.kind === 'block.updated')).toHaveLength(2);
  });

  /** Statements that carried more than one block create. */
  const sharedCreateBatches = async () => {
    const metrics = await scrape(api);
    return metrics.value('block_create_batch_size_count') - metrics.value('block_create_batch_size_bucket', { le: '1' });
  };
  const create = (key: string, body: Record<string, unknown>, options: { token?: string; idempotencyKey?: string } = {}) =>
    api.request('POST', `/api/sessions/${key}/blocks`, {
      body: { type: 'text', ...body },
      token: options.token ?? owner.token,
      headers: options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {},
    });

  it('gives each block create of a tick with winners and losers across sessions its own answer, and each session gap-free seqs', async () => {
    const good = await Promise.all([0, 1, 2, 3].map(() => newSession()));
    const taken = await addBlock(good[0], { n: 'taken' });
    const [full, nearlyFull, heavy, halfFull] = await Promise.all([0, 1, 2, 3].map(() => newSession()));
    for (let i = 0; i < 6; i++) await addBlock(full, { n: i });
    for (let i = 0; i < 5; i++) await addBlock(nearlyFull, { n: i });
    await addBlock(heavy, { text: 'h'.repeat(50_000) });
    await addBlock(halfFull, { text: 'f'.repeat(30_000) });
    const privateKey = await newSession({ visibility: 'private' });
    const readonlyKey = await newSession({ visibility: 'readonly' });
    const run = Date.now().toString(36);
    const before = await sharedCreateBatches();

    // Three creates per good session (the middle one keyed), plus creates refused for each
    // reason a create has, all in one tick: the sessions' first creates share a statement.
    const goodCreates = good.flatMap((key, s) =>
      [0, 1, 2].map((i) => ({ key, content: { s, i }, idempotencyKey: i === 1 ? `gc-${run}-${s}` : undefined })),
    );
    const answers = await Promise.all([
      ...goodCreates.map((c) => create(c.key, { content: c.content }, { idempotencyKey: c.idempotencyKey })),
      create(full, { content: { n: 'over' } }),
      create(nearlyFull, { content: { n: 'a' } }),
      create(nearlyFull, { content: { n: 'b' } }),
      create(heavy, { content: { text: 'x'.repeat(20_000) } }),
      create(privateKey, { content: {} }, { token: stranger.token }),
      create(halfFull, { content: { text: 'y'.repeat(20_000) } }),
      create(halfFull, { content: { text: 'z'.repeat(20_000) } }),
      create(readonlyKey, { content: {} }, { token: stranger.token }),
    ]);
    expect(await sharedCreateBatches()).toBeGreaterThan(before);

    const created = answers.slice(0, goodCreates.length);
    expect(created.map((a) => a.status)).toEqual(created.map(() => 201));
    expect(created.map((a) => a.body.content)).toEqual(goodCreates.map((c) => c.content));
    const [overFull, lastA, lastB, tooLarge, hidden, fitA, fitB, readOnly] = answers.slice(goodCreates.length);
    expect([overFull.status, overFull.body.code]).toEqual([409, 'BLOCK_LIMIT_REACHED']);
    // The last free place goes to one of the two; the other meets the limit.
    expect([lastA.status, lastB.status].sort()).toEqual([201, 409]);
    expect([lastA, lastB].find((a) => a.status === 409)!.body.code).toBe('BLOCK_LIMIT_REACHED');
    expect([tooLarge.status, tooLarge.body.code]).toEqual([413, 'SESSION_TOO_LARGE']);
    expect([hidden.status, hidden.body.code]).toEqual([404, 'SESSION_NOT_FOUND']);
    expect([readOnly.status, readOnly.body.code]).toEqual([403, 'READ_ONLY']);
    // Each of the two fits the budget, both together do not: one is stored, the other is 413.
    expect([fitA.status, fitB.status].sort()).toEqual([201, 413]);
    expect([fitA, fitB].find((a) => a.status === 413)!.body.code).toBe('SESSION_TOO_LARGE');

    // A second tick: a create with a taken id fails its statement, and the others of that
    // statement, applied one at a time, still get their own answers.
    const second = await Promise.all([
      create(good[1], { id: taken.id, content: { n: 'same id' } }),
      create(good[2], { content: { n: 'after' } }),
      create(good[3], { content: { n: 'after' } }, { idempotencyKey: `gc-${run}-after` }),
      create(full, { content: { n: 'over again' } }),
    ]);
    expect(second.map((a) => [a.status, a.body.code])).toEqual([
      [409, 'BLOCK_ID_TAKEN'],
      [201, undefined],
      [201, undefined],
      [409, 'BLOCK_LIMIT_REACHED'],
    ]);

    // A keyed create's outcome was recorded by its own statement: a retry gets the same block, and writes nothing.
    const replays = await Promise.all(
      goodCreates
        .map((c, i) => ({ c, answer: created[i] }))
        .filter(({ c }) => c.idempotencyKey)
        .map(async ({ c, answer }) => ({
          answer,
          replay: await create(c.key, { content: c.content }, { idempotencyKey: c.idempotencyKey }),
        })),
    );
    for (const { answer, replay } of replays) expect([replay.status, replay.body]).toEqual([201, answer.body]);

    const wins = new Map(
      [...created, ...second, lastA, lastB, fitA, fitB]
        .filter((a) => a.status === 201)
        .map((a) => [a.body.id as string, a.body.content as unknown]),
    );
    const counts: Array<[string, number]> = [
      [good[0], 4], // the taken block and three creates
      [good[1], 3], // three creates; the taken id was refused
      [good[2], 4],
      [good[3], 4],
      [full, 6],
      [nearlyFull, 6],
      [heavy, 1],
      [halfFull, 2],
    ];
    let found = 0;
    for (const [key, count] of counts) {
      const changes = await changesOf(key);
      expect(changes.map((c) => c.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      const stored = (await api.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).body.items as Array<{ id: string }>;
      expect(stored.map((b) => b.id).sort()).toEqual(changes.map((c) => c.block.id).sort());
      for (const change of changes.filter((c) => wins.has(c.block.id))) {
        expect(change.block.content).toEqual(wins.get(change.block.id));
        found++;
      }
    }
    expect(found).toBe(wins.size);
    for (const key of [privateKey, readonlyKey]) expect(await changesOf(key)).toEqual([]);
  });

  /** Statements that carried more than one session write of `kind`. */
  const sharedSessionBatches = async (kind: 'create' | 'save') => {
    const metrics = await scrape(api);
    return metrics.value('session_write_batch_size_count', { kind }) - metrics.value('session_write_batch_size_bucket', { kind, le: '1' });
  };
  const save = (key: string, body: Record<string, unknown>, token = owner.token) =>
    api.request('PATCH', `/api/sessions/${key}`, { body, token });

  it('gives each session save of a tick with winners and losers its own answer, and each session gap-free seqs', async () => {
    const sessions = await Promise.all([0, 1, 2, 3, 4].map(() => newSession()));
    const privateKey = await newSession({ visibility: 'private' });
    const readonlyKey = await newSession({ visibility: 'readonly' });
    const before = await sharedSessionBatches('save');

    // Per session: two saves on its version (one wins, the other gets 409 with the winner's
    // session), one on a stale version. Plus saves refused for other reasons in the same tick.
    const saves = sessions.flatMap((key) => [
      { key, body: { version: 1, state: { by: 'first', key } } },
      { key, body: { version: 1, state: { by: 'second', key }, title: 'second' } },
      { key, body: { version: 8, state: { by: 'stale' } } },
    ]);
    const answers = await Promise.all([
      ...saves.map((s) => save(s.key, s.body)),
      save(privateKey, { version: 1, state: { by: 'stranger' } }, stranger.token),
      save(readonlyKey, { version: 1, state: { by: 'stranger' } }, stranger.token),
      save(readonlyKey, { version: 1, visibility: 'private' }, stranger.token),
    ]);
    expect(await sharedSessionBatches('save')).toBeGreaterThan(before);

    const [hidden, readOnly, notOwner] = answers.slice(saves.length);
    expect([hidden.status, hidden.body.code]).toEqual([404, 'SESSION_NOT_FOUND']);
    expect([readOnly.status, readOnly.body.code]).toEqual([403, 'READ_ONLY']);
    expect([notOwner.status, notOwner.body.code]).toEqual([403, 'READ_ONLY']);

    for (const [i, key] of sessions.entries()) {
      const [first, second, stale] = answers.slice(i * 3, i * 3 + 3);
      const won = [first, second].filter((a) => a.status === 200);
      const lost = [first, second].filter((a) => a.status === 409);
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(won[0].body).toMatchObject({ key, version: 2, seq: 1 });
      expect(won[0].headers.get('etag')).toBe('"2"');
      expect(lost[0].body.code).toBe('VERSION_CONFLICT');
      expect(lost[0].body.current).toEqual(won[0].body);
      expect(stale.status).toBe(409);
      expect(stale.body.code).toBe('VERSION_CONFLICT');
      expect([1, 2]).toContain(stale.body.current.version);

      const changes = await changesOf(key);
      expect(changes.map((c) => [c.seq, c.kind])).toEqual([[1, 'session.updated']]);
      const stored = (await api.request('GET', `/api/sessions/${key}`, { token: owner.token })).body;
      expect(stored).toEqual({ ...won[0].body, blocks: [] });
    }
    for (const key of [privateKey, readonlyKey]) {
      const untouched = (await api.request('GET', `/api/sessions/${key}`, { token: owner.token })).body;
      expect(untouched).toMatchObject({ version: 1, seq: 0, state: {} });
    }
  });

  it('holds the saves of one tick each to its own budget: the one that would pass it is 413, the others win', async () => {
    const keys = await Promise.all([0, 1, 2].map(() => newSession()));
    const answers = await Promise.all([
      save(keys[0], { version: 1, state: { text: 'a'.repeat(70_000) } }),
      save(keys[1], { version: 1, state: { text: 'b'.repeat(20_000) } }),
      save(keys[2], { version: 1, title: 'small' }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([413, 200, 200]);
    expect(answers[0].body.code).toBe('SESSION_TOO_LARGE');
    expect(answers[1].body).toMatchObject({ version: 2, state: { text: 'b'.repeat(20_000) } });
    expect(answers[2].body).toMatchObject({ version: 2, title: 'small', state: {} });
  });

  it('creates 100 sessions at once: each its own key, all of them stored', async () => {
    const before = await sharedSessionBatches('create');
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        api.request('POST', '/api/sessions', { body: { typeSlug: 'checklist', state: { n: i } }, token: i % 2 ? owner.token : undefined }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
    const keys = answers.map((a) => a.body.key as string);
    expect(new Set(keys).size).toBe(100);
    expect(answers.map((a) => a.body.state)).toEqual(answers.map((_, i) => ({ n: i })));
    expect(await sharedSessionBatches('create')).toBeGreaterThan(before);
    const stored = await Promise.all(keys.map((key) => api.request('GET', `/api/sessions/${key}`, { token: owner.token })));
    expect(stored.map((s) => s.body.key)).toEqual(keys);
  });

  it("leaves a replayed keyed block create out of its tick: the tick's other creates still share one statement", async () => {
    const sessions = await Promise.all([0, 1, 2].map(() => newSession()));
    const run = Date.now().toString(36);
    const retried = { key: sessions[0], content: { n: 'retried' }, idempotencyKey: `gc-r-${run}` };
    const first = await create(retried.key, { content: retried.content }, { idempotencyKey: retried.idempotencyKey });
    expect(first.status).toBe(201);
    const fallbacks = async () => (await scrape(api)).value('block_create_batch_fallbacks_total');
    const [fallbacksBefore, sharedBefore] = [await fallbacks(), await sharedCreateBatches()];

    // One tick: the retry (its id drawn afresh, its key recorded) beside new creates, keyed and not.
    const answers = await Promise.all([
      create(retried.key, { content: retried.content }, { idempotencyKey: retried.idempotencyKey }),
      ...sessions.map((key, i) => create(key, { content: { i } })),
      ...sessions.map((key, i) => create(key, { content: { i, keyed: true } }, { idempotencyKey: `gc-r-${run}-${i}` })),
    ]);
    expect([answers[0].status, answers[0].body, answers[0].headers.get('idempotent-replayed')]).toEqual([201, first.body, 'true']);
    expect(answers.slice(1).map((a) => a.status)).toEqual(answers.slice(1).map(() => 201));
    expect(await sharedCreateBatches()).toBeGreaterThan(sharedBefore);
    expect(await fallbacks()).toBe(fallbacksBefore);

    // The same with a retry of a create that named its own id: its id is taken (by itself).
    const named = { id: randomUUID(), content: { n: 'named' } };
    const made = await create(sessions[1], named, { idempotencyKey: `gc-r-${run}-named` });
    expect(made.status).toBe(201);
    const again = await Promise.all([
      create(sessions[1], named, { idempotencyKey: `gc-r-${run}-named` }),
      ...sessions.map((key, i) => create(key, { content: { i, again: true } })),
    ]);
    expect([again[0].status, again[0].body]).toEqual([201, made.body]);
    expect(again.slice(1).map((a) => a.status)).toEqual(again.slice(1).map(() => 201));
    expect(await fallbacks()).toBe(fallbacksBefore);
    // Written once each: the first and the retry are one block.
    expect(await testDb().block.count({ where: { session: { key: sessions[0] } } })).toBe(4);
    expect(await testDb().block.count({ where: { session: { key: sessions[1] } } })).toBe(4);
  });

  it('inserts keyed session creates of one tick with their Idempotency-Keys bound in the same statement, and replays each key', async () => {
    const run = Date.now().toString(36);
    const post = (body: Record<string, unknown>, key?: string, token: string | undefined = owner.token) =>
      api.request('POST', '/api/sessions', { body, token, headers: key ? { 'idempotency-key': key } : {} });
    const before = await sharedSessionBatches('create');

    // One tick of keyed creates with distinct keys (one anonymous): they share statements.
    const keyed = Array.from({ length: 20 }, (_, i) => ({
      key: `gc-s-${run}-${i}`,
      body: { typeSlug: 'document', title: `k${i}-${run}` },
    }));
    const first = await Promise.all(keyed.map((k, i) => post(k.body, k.key, i === 0 ? undefined : owner.token)));
    expect(first.map((a) => a.status)).toEqual(first.map(() => 201));
    expect(first.map((a) => a.body.title)).toEqual(keyed.map((k) => k.body.title));
    expect(new Set(first.map((a) => a.body.key)).size).toBe(first.length);
    expect(await sharedSessionBatches('create')).toBeGreaterThan(before);

    // The next tick: every key again (a replay each), a key reused for another request, one
    // key sent five times at once, a new keyed create and an unkeyed one: each its own answer.
    const burstKey = `gc-s-${run}-burst`;
    const second = await Promise.all([
      ...keyed.map((k, i) => post(k.body, k.key, i === 0 ? undefined : owner.token)),
      post({ typeSlug: 'checklist' }, keyed[1].key),
      ...Array.from({ length: 5 }, () => post({ typeSlug: 'document', title: 'burst' }, burstKey)),
      post({ typeSlug: 'document', title: 'new' }, `gc-s-${run}-new`),
      post({ typeSlug: 'document', title: 'unkeyed' }),
    ]);
    const replays = second.slice(0, keyed.length);
    expect(replays.map((a) => [a.status, a.body.key])).toEqual(first.slice(0, keyed.length).map((a) => [200, a.body.key]));
    const [reused, ...rest] = second.slice(keyed.length);
    expect([reused.status, reused.body.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    const burst = rest.slice(0, 5);
    expect(burst.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(burst.map((a) => a.body.key)).size).toBe(1);
    expect(await testDb().session.count({ where: { title: 'burst', ownerId: owner.user.id } })).toBe(1);
    expect(rest.slice(5).map((a) => [a.status, a.body.title])).toEqual([
      [201, 'new'],
      [201, 'unkeyed'],
    ]);
    // Every keyed session exists once, bound to its key.
    const created = first.slice(0, keyed.length).map((a) => a.body.key as string);
    const stored = await testDb().session.findMany({
      where: { title: { in: keyed.map((k) => k.body.title) } },
      select: { id: true, key: true },
    });
    expect(stored.map((row) => row.key).sort()).toEqual([...created].sort());
    const bound = await testDb().idempotencyKey.findMany({
      where: { key: { in: keyed.map((k) => k.key) } },
      select: { key: true, sessionId: true },
    });
    const keyOf = new Map(stored.map((row) => [row.id, row.key]));
    expect(new Map(bound.map((b) => [b.key, keyOf.get(b.sessionId)]))).toEqual(new Map(keyed.map((k, i) => [k.key, created[i]])));
  });

  it('inserts the creates of one tick together: each gets its own session, and a PUT of a key taken in the same tick opens it', async () => {
    const key = `GC${Date.now().toString(36).toUpperCase()}`;
    const put = () => api.request('PUT', `/api/sessions/${key}`, { body: { typeSlug: 'document' }, token: owner.token });
    const answers = await Promise.all([
      put(),
      put(),
      ...Array.from({ length: 30 }, (_, i) =>
        api.request('POST', '/api/sessions', { body: { typeSlug: 'document', title: `t${i}` }, token: owner.token }),
      ),
    ]);
    expect(
      answers
        .slice(0, 2)
        .map((a) => a.status)
        .sort(),
    ).toEqual([200, 201]);
    expect(answers[0].body.id).toBe(answers[1].body.id);
    const created = answers.slice(2);
    expect(created.map((a) => a.status)).toEqual(created.map(() => 201));
    expect(new Set(created.map((a) => a.body.key)).size).toBe(30);
    expect(created.map((a) => a.body.title)).toEqual(created.map((_, i) => `t${i}`));
  });
});
