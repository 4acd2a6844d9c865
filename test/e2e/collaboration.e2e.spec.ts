import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { currentRun } from '../helpers/test-environment.js';

describe('collaboration over Socket.IO, two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  let other: Awaited<ReturnType<typeof createUser>>;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const env = { REDIS_PREFIX: `${currentRun().redisPrefix}collab-spec:` };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    owner = await createUser({ displayName: 'Owner' });
    other = await createUser({ displayName: 'Other' });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const open = async (app: TestApp, auth: { token?: string; protocol?: unknown } = {}) => {
    const socket = await connect(app, auth);
    sockets.push(socket);
    return socket;
  };
  const newSession = async (body: Record<string, unknown> = {}) =>
    (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document', ...body }, token: owner.token })).body.key as string;

  it('delivers every change, from HTTP and sockets on either instance, to every member in seq order without a gap', async () => {
    const key = await newSession();
    const members = await Promise.all([a, a, a, b, b, b].map((app) => open(app, { token: owner.token })));
    const received = members.map((s) => record(s, 'change'));
    for (const s of members)
      expect(await ack(s, 'session.join', { key })).toMatchObject({ ok: true, session: { key, seq: 0 }, presence: [] });

    const writer = members[4];
    const created = await ack(writer, 'block.create', { key, type: 'text', content: { n: 0 } });
    expect(created).toMatchObject({ ok: true, block: { version: 1, content: { n: 0 } } });
    const writes = [];
    for (let i = 1; i <= 10; i++) {
      writes.push(
        i % 2
          ? a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n: i } }, token: owner.token })
          : ack(members[i % 6], 'block.create', { key, type: 'text', content: { n: i } }),
      );
    }
    await Promise.all(writes);
    await until(() => received.every((r) => r.length === 11));
    for (const seen of received) {
      expect(seen.map((c) => c.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
      expect(seen[0]).toMatchObject({ kind: 'block.created', block: { sessionKey: key }, actor: { userId: owner.user.id } });
    }
  });

  it('resumes after a disconnect with exactly the missed changes', async () => {
    const key = await newSession();
    const first = await open(b, { token: owner.token });
    const seen = record(first, 'change');
    await ack(first, 'session.join', { key });
    await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n: 1 } }, token: owner.token });
    await until(() => seen.length === 1);
    first.close();
    for (let n = 2; n <= 4; n++)
      await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: owner.token });
    const again = await open(a, { token: owner.token });
    const resumed = await ack(again, 'session.join', { key, since: seen[0].seq });
    expect(resumed.session.seq).toBe(4);
    expect(resumed.missed.map((c: any) => [c.seq, c.block.content.n])).toEqual([
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
    const ahead = await ack(again, 'session.join', { key, since: 99 });
    expect(ahead).toMatchObject({ ok: true, code: 'CHANGES_EXPIRED' });
  });

  it('answers a refused write with the current block and tells the other members who raced', async () => {
    const key = await newSession();
    const [x, y, z] = await Promise.all([
      open(a, { token: owner.token }),
      open(b, { token: other.token }),
      open(b, { token: owner.token }),
    ]);
    const conflicts = [x, y, z].map((s) => record(s, 'block.conflict'));
    for (const s of [x, y, z]) await ack(s, 'session.join', { key });
    const block = (await ack(x, 'block.create', { key, type: 'text', content: { v: 'start' } })).block;
    const [fromX, fromY] = await Promise.all([
      ack(x, 'block.update', { key, id: block.id, version: 1, content: { v: 'x' } }),
      ack(y, 'block.update', { key, id: block.id, version: 1, content: { v: 'y' } }),
    ]);
    const [winner, loser, loserIndex] = fromX.ok ? [fromX, fromY, 1] : [fromY, fromX, 0];
    expect(winner.block.version).toBe(2);
    expect(loser).toMatchObject({ ok: false, code: 'VERSION_CONFLICT', current: { id: block.id, version: 2 } });
    await until(() => conflicts.filter((c) => c.length === 1).length === 2);
    expect(conflicts[loserIndex]).toEqual([]);
    expect(conflicts[2][0]).toMatchObject({
      blockId: block.id,
      attemptedVersion: 1,
      current: { version: 2 },
      actor: { displayName: expect.any(String) },
    });
  });

  it('checks permission on every event and answers bad payloads like HTTP does', async () => {
    const readonly = await newSession({ visibility: 'readonly' });
    const hidden = await newSession({ visibility: 'private' });
    const s = await open(b, { token: other.token });
    expect(await ack(s, 'session.join', { key: readonly })).toMatchObject({ ok: true });
    expect(await ack(s, 'block.create', { key: readonly, type: 'text', content: {} })).toMatchObject({ ok: false, code: 'READ_ONLY' });
    expect(await ack(s, 'session.join', { key: hidden })).toMatchObject({ ok: false, code: 'SESSION_NOT_FOUND' });
    expect(await ack(s, 'session.join', { key: 'no!' })).toMatchObject({ ok: false, code: 'INVALID_SESSION_KEY' });
    const invalid = await ack(s, 'block.create', { key: readonly, type: 'Bad Type', content: [], extra: 1 });
    expect(invalid).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
    expect(invalid.errors.map((e: any) => e.field).sort()).toEqual(['content', 'extra', 'type']);
    expect(await ack(s, 'block.update', { key: readonly, id: '00000000-0000-4000-8000-000000000000', content: {} })).toMatchObject({
      ok: false,
      code: 'PRECONDITION_REQUIRED',
    });
    expect(await ack(s, 'block.delete', 'not an object')).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
  });

  it('refuses old or unknown protocols and bad tokens at the handshake', async () => {
    for (const protocol of [0, 2, '1', 1.5]) {
      await expect(open(a, { protocol })).rejects.toMatchObject({ data: { code: 'PROTOCOL_UNSUPPORTED' } });
    }
    await expect(open(a, { token: 'not-a-token' })).rejects.toMatchObject({ data: { code: 'INVALID_TOKEN' } });
    const anonymous = await open(a, { protocol: 1 });
    expect(anonymous.connected).toBe(true);
  });

  it('refuses connections past WS_MAX_CONNECTIONS with SERVER_FULL', async () => {
    const small = await startTestApp({ REDIS_PREFIX: `${currentRun().redisPrefix}collab-spec:`, WS_MAX_CONNECTIONS: '2' });
    try {
      const held = [await connect(small), await connect(small)];
      await expect(connect(small)).rejects.toMatchObject({ data: { code: 'SERVER_FULL' } });
      held[0].close();
      await until(() => !held[0].connected);
      await new Promise((r) => setTimeout(r, 100));
      const again = await connect(small);
      again.close();
      held[1].close();
    } finally {
      await small.close();
    }
  });
});
