import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TesseraClient, type ChangeEvent } from '../../src/client/tessera-client.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { waitForJob } from '../helpers/jobs.js';
import { ack, connect, until } from '../helpers/sockets.js';
import { ensureBuilt, probeHealth, spawnTessera, whenReady, type HealthTimes, type TesseraProcess } from '../helpers/processes.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { currentRun, ensureMigrated } from '../helpers/test-environment.js';

const MAX_BYTES = 64 * 1024;
const METADATA_MAX = 1024;
const PAGE_BYTES = 64 * 1024;
const text = (bytes: number) => ({ t: 'x'.repeat(bytes) });

/** What the session stores, counted afresh from its rows, beside the maintained figure. */
async function sizes(key: string): Promise<{ stored: number; measured: number; blocks: number; seq: number; version: number }> {
  const [row] = await testDb().$queryRaw<Array<Record<string, bigint | number>>>`
    SELECT s.stored_bytes AS stored, s.block_count AS blocks, s.seq, s.version,
           octet_length(s.title) + octet_length(s.state::text) + octet_length(s.metadata::text)
             + COALESCE((SELECT sum(octet_length(b.content::text)) FROM blocks b WHERE b.session_id = s.id), 0) AS measured
    FROM sessions s WHERE s.key = ${key}`;
  return {
    stored: Number(row.stored),
    measured: Number(row.measured),
    blocks: Number(row.blocks),
    seq: Number(row.seq),
    version: Number(row.version),
  };
}

describe('size budgets and a change log of changes', () => {
  let api: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    api = await startTestApp({
      REDIS_PREFIX: `${currentRun().redisPrefix}budgets-spec:`,
      QUEUE_PREFIX: `${currentRun().redisPrefix}budgets-spec:bull`,
      RUN_WORKERS: 'true',
      SESSION_MAX_BYTES: String(MAX_BYTES),
      SESSION_METADATA_MAX_BYTES: String(METADATA_MAX),
      CHANGES_MAX_PAGE_BYTES: String(PAGE_BYTES),
      BLOCK_MAX_BYTES: '16384',
    });
    owner = await createUser({ displayName: 'Owner' });
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
  const add = (key: string, content: Record<string, unknown>) =>
    api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content }, token: owner.token });
  /** Adds blocks of `bytes` until the budget refuses one; returns the blocks written. */
  const fill = async (key: string, bytes: number) => {
    const written: any[] = [];
    for (;;) {
      const res = await add(key, text(bytes));
      if (res.status === 413) {
        expect(res.body.code).toBe('SESSION_TOO_LARGE');
        return written;
      }
      expect(res.status).toBe(201);
      written.push(res.body);
    }
  };

  it('refuses the block create, update and batch that would pass SESSION_MAX_BYTES, and writes nothing', async () => {
    const key = await newSession();
    const blocks = await fill(key, 15_000);
    expect(blocks.length).toBe(4);
    await fill(key, 1000);
    const full = await sizes(key);
    expect(full.stored).toBe(full.measured);
    expect(full.stored).toBeLessThanOrEqual(MAX_BYTES);

    const refused = await add(key, text(15_000));
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({ status: 413, code: 'SESSION_TOO_LARGE' });
    const grow = await api.request('PATCH', `/api/sessions/${key}/blocks/${blocks[0].id}`, {
      body: { version: 1, content: text(16_000) },
      token: owner.token,
    });
    expect(grow.status).toBe(413);
    expect(grow.body.code).toBe('SESSION_TOO_LARGE');
    const batch = await api.request('POST', `/api/sessions/${key}/blocks/batch`, {
      body: {
        ops: [
          { op: 'delete', id: blocks[3].id, version: 1 },
          { op: 'create', type: 'text', content: text(15_000) },
          { op: 'create', type: 'text', content: text(15_000) },
        ],
      },
      token: owner.token,
    });
    expect(batch.status).toBe(413);
    expect(batch.body).toMatchObject({ code: 'SESSION_TOO_LARGE', opIndex: 2 });
    expect(await sizes(key)).toEqual(full);

    // Writes that do not grow it still pass, and keep the figure exact.
    const shrink = await api.request('PATCH', `/api/sessions/${key}/blocks/${blocks[0].id}`, {
      body: { version: 1, content: { t: 'small' } },
      token: owner.token,
    });
    expect(shrink.status).toBe(200);
    const moved = await api.request('POST', `/api/sessions/${key}/blocks/${blocks[1].id}/move`, {
      body: { version: 1, beforeId: blocks[0].id },
      token: owner.token,
    });
    expect(moved.status).toBe(200);
    expect((await api.request('DELETE', `/api/sessions/${key}/blocks/${blocks[2].id}?version=1`, { token: owner.token })).status).toBe(204);
    const after = await sizes(key);
    expect(after.stored).toBe(after.measured);
    expect(after.stored).toBeLessThan(full.stored - 29_000);

    // A full session stays readable, snapshottable and exportable for everyone.
    expect((await api.request('GET', `/api/sessions/${key}`, { token: owner.token })).status).toBe(200);
    expect((await api.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token })).status).toBe(200);
    expect((await api.request('POST', `/api/sessions/${key}/snapshots`, { body: {}, token: owner.token })).status).toBe(201);
  });

  it('refuses a session save whose state would pass the budget, and creates no session that would', async () => {
    const key = await newSession();
    await fill(key, 15_000);
    const before = await sizes(key);
    const save = await api.request('PATCH', `/api/sessions/${key}`, {
      body: { version: 1, state: text(16_000) },
      token: owner.token,
    });
    expect(save.status).toBe(413);
    expect(save.body.code).toBe('SESSION_TOO_LARGE');
    expect(await sizes(key)).toEqual(before);
    // A stale version is still a conflict, not a size answer.
    const stale = await api.request('PATCH', `/api/sessions/${key}`, { body: { version: 9, title: 'x' }, token: owner.token });
    expect(stale.status).toBe(409);

    // The owner's sessions only: other suites create sessions in the same database meanwhile.
    const count = () => testDb().session.count({ where: { ownerId: owner.user.id } });
    const sessions = await count();
    const big = { typeSlug: 'document', state: { a: text(40_000), b: text(40_000) } };
    const created = await api.request('POST', '/api/sessions', { body: big, token: owner.token });
    expect(created.status).toBe(413);
    expect(created.body.code).toBe('SESSION_TOO_LARGE');
    const put = await api.request('PUT', '/api/sessions/BIG9', { body: big, token: owner.token });
    expect(put.status).toBe(413);
    expect(await count()).toBe(sessions);
    expect((await api.request('GET', '/api/sessions/BIG9', { token: owner.token })).status).toBe(404);
  });

  it('keeps merged metadata within SESSION_METADATA_MAX_BYTES: the PATCH that would pass it is 413 METADATA_TOO_LARGE', async () => {
    const key = await newSession();
    let version = 1;
    let refused: any;
    for (let i = 0; i < 8 && !refused; i++) {
      const res = await api.request('PATCH', `/api/sessions/${key}`, {
        body: { version, metadata: { [`k${i}`]: 'm'.repeat(300) } },
        token: owner.token,
      });
      if (res.status === 200) version = res.body.version;
      else refused = res;
    }
    expect(refused.status).toBe(413);
    expect(refused.body.code).toBe('METADATA_TOO_LARGE');
    const [row] = await testDb().$queryRaw<Array<{ bytes: number }>>`
      SELECT octet_length(metadata::text) AS bytes FROM sessions WHERE key = ${key}`;
    expect(row.bytes).toBeLessThanOrEqual(METADATA_MAX);
    expect((await sizes(key)).version).toBe(version);
    const session = await api.request('GET', `/api/sessions/${key}`, { token: owner.token });
    expect(Object.keys(session.body.metadata).filter((k) => k.startsWith('k')).length).toBe(version - 1);
  });

  it('restores a snapshot whose end state fits by shrinking first, and refuses generated blocks that do not fit', async () => {
    const key = await newSession();
    const filler = await fill(key, 15_000);
    for (const block of filler.slice(3)) {
      await api.request('DELETE', `/api/sessions/${key}/blocks/${block.id}?version=1`, { token: owner.token });
    }
    const a = (await add(key, text(15_000))).body;
    const b = (await add(key, { t: 'b' })).body;
    const snapshot = (await api.request('POST', `/api/sessions/${key}/snapshots`, { body: {}, token: owner.token })).body;
    // Swap the sizes: restoring A before B would pass the budget on the way.
    await api.request('PATCH', `/api/sessions/${key}/blocks/${a.id}`, { body: { version: 1, content: { t: 'a' } }, token: owner.token });
    await api.request('PATCH', `/api/sessions/${key}/blocks/${b.id}`, { body: { version: 1, content: text(15_000) }, token: owner.token });
    const restored = await api.request('POST', `/api/sessions/${key}/snapshots/${snapshot.id}/restore`, { body: {}, token: owner.token });
    expect(restored.status).toBe(200);
    const byId = new Map(restored.body.blocks.map((x: any) => [x.id, x.content]));
    expect(byId.get(a.id)).toEqual(text(15_000));
    expect(byId.get(b.id)).toEqual({ t: 'b' });
    const now = await sizes(key);
    expect(now.stored).toBe(now.measured);

    // Fill what is left, down to a few bytes, then ask for generated blocks.
    await fill(key, 1000);
    await fill(key, 20);
    const before = await sizes(key);
    const job = await api.request('POST', `/api/sessions/${key}/generate`, {
      body: { prompt: 'a plan for the launch', mode: 'blocks' },
      token: owner.token,
    });
    expect(job.status).toBe(202);
    const done = await waitForJob(api, job.body.jobId, owner.token);
    expect(done.state).toBe('failed');
    expect(JSON.stringify(done.error)).toContain('SESSION_TOO_LARGE');
    const after = await sizes(key);
    expect({ ...after, seq: 0 }).toEqual({ ...before, seq: 0 });
    expect((await api.request('GET', `/api/sessions/${key}`, { token: owner.token })).status).toBe(200);
  });

  it('stores and broadcasts a session.updated change as what changed: no blocks, no copy of the session', async () => {
    const key = await newSession({ state: { big: text(30_000) } });
    await add(key, text(15_000));
    const socket = await connect(api, { token: owner.token });
    const live: Array<{ change: ChangeEvent; room: unknown }> = [];
    socket.on('change', (change: ChangeEvent, room: unknown) => live.push({ change, room }));
    await ack(socket, 'session.join', { key });
    for (let version = 1; version <= 10; version++) {
      const res = await api.request('PATCH', `/api/sessions/${key}`, { body: { version, title: `Title ${version}` }, token: owner.token });
      expect(res.status).toBe(200);
    }
    await until(() => live.length === 10);
    socket.close();
    expect(live[0].room).toEqual({ key });
    for (const [i, { change }] of live.entries()) {
      expect(change.kind).toBe('session.updated');
      expect(change.session).toEqual({ version: i + 2, title: `Title ${i + 1}`, metadata: { lastModified: expect.any(String) } });
    }
    const page = await api.request('GET', `/api/sessions/${key}/changes?since=1`, { token: owner.token });
    expect(page.body.items.map((c: ChangeEvent) => c.session)).toEqual(live.map((l) => l.change.session));
    const [stored] = await testDb().$queryRaw<Array<{ bytes: number }>>`
      SELECT sum(octet_length(c.payload::text))::int AS bytes FROM changes c JOIN sessions s ON s.id = c.session_id
      WHERE s.key = ${key} AND c.kind = 'session.updated'`;
    expect(stored.bytes).toBeLessThan(10 * 200);

    const state = await api.request('PATCH', `/api/sessions/${key}`, { body: { version: 11, state: { n: 1 } }, token: owner.token });
    expect(state.status).toBe(200);
    const last = await api.request('GET', `/api/sessions/${key}/changes?since=11`, { token: owner.token });
    expect(last.body.items[0].session).toEqual({ version: 12, state: { n: 1 }, metadata: { lastModified: expect.any(String) } });
  });

  it('ends a /changes page at CHANGES_MAX_PAGE_BYTES; the client asks again from the last seq until it reaches seq', async () => {
    const key = await newSession();
    const block = (await add(key, text(15_000))).body;
    for (let version = 1; version <= 12; version++) {
      const res = await api.request('PATCH', `/api/sessions/${key}/blocks/${block.id}`, {
        body: { version, content: text(15_000 - version) },
        token: owner.token,
      });
      expect(res.status).toBe(200);
    }
    const seqs: number[] = [];
    let since = 0;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(20);
      const page = await api.request('GET', `/api/sessions/${key}/changes?since=${since}`, { token: owner.token });
      expect(page.status).toBe(200);
      expect(page.body.seq).toBe(13);
      expect(page.body.items.length).toBeGreaterThan(0);
      expect(page.body.items.length).toBeLessThanOrEqual(4);
      expect(Buffer.byteLength(JSON.stringify(page.body.items))).toBeLessThan(PAGE_BYTES + 4096);
      seqs.push(...page.body.items.map((c: ChangeEvent) => c.seq));
      since = page.body.items.at(-1).seq;
      if (since === page.body.seq) break;
    }
    expect(seqs).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    const limited = await api.request('GET', `/api/sessions/${key}/changes?since=0&limit=2`, { token: owner.token });
    expect(limited.body.items.map((c: ChangeEvent) => c.seq)).toEqual([1, 2]);

    // The socket join reads the same bounded pages; the typed client asks again until it has them all.
    const socket = await connect(api, { token: owner.token });
    const joined = await ack(socket, 'session.join', { key, since: 0 });
    socket.close();
    expect(joined.ok).toBe(true);
    expect(joined.missed.length).toBeLessThanOrEqual(4);
    expect(joined.missed.at(-1).seq).toBeLessThan(joined.session.seq);
    const client = await new TesseraClient({ url: api.url, token: owner.token }).connect();
    try {
      const feed = await client.join(key, 0);
      expect(feed.seq).toBe(13);
    } finally {
      client.close();
    }
  });
});

describe('a session at the default 8 MiB budget (its own process, as deployed)', () => {
  let server: TesseraProcess;
  /** A second process on the same machine, database and Redis that serves nothing else: its health times are the machine's. */
  let bystander: TesseraProcess;
  let owner: Awaited<ReturnType<typeof createUser>>;

  /** Bodies are kept as bytes: nothing here parses 8 MiB (health is timed by a process of its own, see probeHealth). */
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${owner.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
  };
  const json = async (method: string, path: string, body?: unknown) => {
    const res = await call(method, path, body);
    return { status: res.status, body: JSON.parse(res.bytes.toString()) };
  };

  beforeAll(async () => {
    ensureBuilt();
    await ensureMigrated();
    const prefix = `${currentRun().redisPrefix}budgets-default:`;
    [server, bystander] = await Promise.all([
      spawnTessera('api', { REDIS_PREFIX: prefix, QUEUE_PREFIX: `${prefix}bull`, RUN_WORKERS: 'true' }),
      spawnTessera('api', { REDIS_PREFIX: `${prefix}bystander:`, QUEUE_PREFIX: `${prefix}bystander:bull` }),
    ]);
    // Two boots at once, while other suites run: more than one boot's time.
    await Promise.all([whenReady(server, 60_000), whenReady(bystander, 60_000)]);
    owner = await createUser({ displayName: 'Owner' });
  }, 120_000);
  afterAll(async () => {
    for (const process of [server, bystander]) process?.child.kill('SIGTERM');
    await Promise.all([server?.exited, bystander?.exited]);
    await closeTestDb();
  });

  it('fills close to SESSION_MAX_BYTES, and is then read, snapshot and exported while /api/health answers within 200 ms', async () => {
    const key = (await json('POST', '/api/sessions', { typeSlug: 'document' })).body.key;
    const ops = Array.from({ length: 14 }, () => ({ op: 'create', type: 'text', content: text(65_000) }));
    for (;;) {
      const res = await call('POST', `/api/sessions/${key}/blocks/batch`, { ops });
      if (res.status === 413) break;
      expect(res.status).toBe(200);
    }
    for (;;) {
      const res = await json('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: text(65_000) });
      if (res.status === 413) {
        expect(res.body.code).toBe('SESSION_TOO_LARGE');
        break;
      }
      expect(res.status).toBe(201);
    }
    const full = await sizes(key);
    expect(full.stored).toBe(full.measured);
    expect(full.stored).toBeGreaterThan(8 * 1024 * 1024 - 66_000);
    expect(full.stored).toBeLessThanOrEqual(8 * 1024 * 1024);

    // Every request at once, while processes of their own time /api/health of the server and
    // of the bystander: the worst answer of each.
    const round = async (): Promise<{ worst: number; machine: number }> => {
      const [probe, reference] = await Promise.all([probeHealth(server.url), probeHealth(bystander.url)]);
      let exported: { status: number; body: any } | undefined;
      let health: HealthTimes;
      let machine: HealthTimes;
      try {
        const [session, blocks, snapshot, started] = await Promise.all([
          call('GET', `/api/sessions/${key}`),
          call('GET', `/api/sessions/${key}/blocks`),
          json('POST', `/api/sessions/${key}/snapshots`, {}),
          json('POST', `/api/sessions/${key}/exports`, { format: 'json' }),
        ]);
        expect(session.status).toBe(200);
        expect(session.bytes.length).toBeGreaterThan(full.stored);
        expect(blocks.status).toBe(200);
        expect(blocks.bytes.length).toBeGreaterThan(full.stored);
        expect(snapshot.status).toBe(201);
        expect(started.status).toBe(202);
        for (const deadline = Date.now() + 60_000; ;) {
          exported = await json('GET', `/api/jobs/${started.body.jobId}`);
          if (['completed', 'failed'].includes(exported.body.state) || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        [health, machine] = await Promise.all([probe.stop(), reference.stop()]);
      }
      expect(exported?.body.state).toBe('completed');
      expect(health.failures).toEqual([]);
      expect(health.latencies.length).toBeGreaterThan(3);
      return { worst: Math.max(...health.latencies), machine: Math.max(...machine.latencies) };
    };

    // Reading a session within its budget never stalls the process: every health answer within
    // 200 ms. On this shared two-core machine other processes can hold the cores too, which
    // delays any process's answer, this server's or one that serves nothing: the bystander's
    // worst answer over the same seconds is that delay, and is the margin allowed on top of the
    // 200 ms. A stall of the server's own comes back every round (the work is the same each
    // time: a document this size is never cached), the machine's may not: up to three rounds.
    const rounds: Array<{ worst: number; machine: number }> = [];
    const kept = () => rounds.some((r) => r.worst < 200 + r.machine);
    while (rounds.length < 3 && !kept()) rounds.push(await round());
    console.log(
      `/api/health while the 8 MiB session is read, snapshot and exported: worst answer ` +
        rounds.map((r) => `${r.worst.toFixed(0)} ms (a process serving nothing meanwhile: ${r.machine.toFixed(0)} ms)`).join(', then '),
    );
    expect(kept()).toBe(true);
  }, 180_000);
});
