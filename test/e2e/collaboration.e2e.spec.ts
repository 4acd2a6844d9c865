import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { Redis } from 'ioredis';
import { drainAndClose } from '../../src/bootstrap/shutdown.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js';
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
    for (const s of members) expect(await ack(s, 'session.join', { key })).toMatchObject({ ok: true, session: { key, seq: 0 } });

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

  it('subscribes only the instances that hold members of a session to its channel', async () => {
    const key = await newSession();
    const redis = new Redis(currentRun().redisUrl);
    try {
      const channel = `${currentRun().redisPrefix}collab-spec:socket.io#/collab#s:${key}#`;
      const subscribers = async () => ((await redis.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1];
      expect(await subscribers()).toBe(0);
      const onA = await open(a, { token: owner.token });
      await ack(onA, 'session.join', { key });
      expect(await subscribers()).toBe(1);
      const onB = await open(b, { token: owner.token });
      await ack(onB, 'session.join', { key });
      expect(await subscribers()).toBe(2);
      await ack(onA, 'session.leave', { key });
      await new Promise((r) => setTimeout(r, 50)); // the unsubscription is not awaited by the adapter
      expect(await subscribers()).toBe(1);
    } finally {
      redis.disconnect();
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

  it('keeps presence in Redis: every instance sees the same members, cursors and departures', async () => {
    const key = await newSession();
    const mine = await open(a, { token: owner.token });
    const theirs = await open(b, { token: other.token });
    const seenByMine = record(mine, 'presence');
    expect((await ack(mine, 'session.join', { key })).presence).toEqual([
      { userId: owner.user.id, displayName: 'Owner', color: expect.stringMatching(/^#[0-9a-f]{6}$/), status: 'active', socketCount: 1 },
    ]);
    const joined = await ack(theirs, 'session.join', { key });
    expect(joined.presence.map((m: any) => m.displayName).sort()).toEqual(['Other', 'Owner']);
    const secondTab = await open(b, { token: owner.token });
    await ack(secondTab, 'session.join', { key });
    const block = (await ack(mine, 'block.create', { key, type: 'text', content: {} })).block;
    expect(await ack(theirs, 'presence.update', { key, cursor: { blockId: block.id, offset: 3 }, status: 'typing' })).toEqual({ ok: true });
    await until(() => seenByMine.some((p) => p.members.some((m: any) => m.userId === other.user.id && m.cursor?.offset === 3)));
    const latest = seenByMine.at(-1)!.members;
    expect(latest.find((m: any) => m.userId === owner.user.id).socketCount).toBe(2);
    expect(latest.find((m: any) => m.userId === other.user.id)).toMatchObject({
      status: 'typing',
      cursor: { blockId: block.id, offset: 3 },
    });
    theirs.close();
    await until(() => seenByMine.at(-1)!.members.length === 1);
    expect(await ack(mine, 'presence.update', { key: 'ZZZZ', status: 'x' })).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
  });

  it('takes sockets out of a deleted session, and out of a session made private, on every instance', async () => {
    const key = await newSession();
    const ownerSocket = await open(a, { token: owner.token });
    const guest = await open(b, { token: other.token });
    const revokedGuest = record(guest, 'session.revoked');
    const revokedOwner = record(ownerSocket, 'session.revoked');
    const guestChanges = record(guest, 'change');
    for (const s of [ownerSocket, guest]) await ack(s, 'session.join', { key });
    await a.request('PATCH', `/api/sessions/${key}`, { body: { version: 1, visibility: 'private' }, token: owner.token });
    await until(() => revokedGuest.length === 1);
    expect(revokedGuest[0]).toEqual({ key, reason: 'access' });
    await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: owner.token });
    await new Promise((r) => setTimeout(r, 200));
    expect(guestChanges.map((c) => c.kind)).toEqual(['session.updated']);
    expect(await ack(guest, 'block.create', { key, type: 'text', content: {} })).toMatchObject({ ok: false, code: 'SESSION_NOT_FOUND' });
    expect(revokedOwner).toEqual([]);
    await b.request('DELETE', `/api/sessions/${key}`, { token: owner.token });
    await until(() => revokedOwner.length === 1);
    expect(revokedOwner[0]).toEqual({ key, reason: 'deleted' });
  });

  it('refuses a join past SESSION_MAX_MEMBERS with ROOM_FULL, counting a user once however many tabs, the owner never', async () => {
    const env = { REDIS_PREFIX: `${currentRun().redisPrefix}collab-spec:`, SESSION_MAX_MEMBERS: '2' };
    const [c, d] = await Promise.all([startTestApp(env), startTestApp(env)]);
    try {
      const key = await newSession();
      const [third, fourth] = await Promise.all([createUser(), createUser()]);
      const first = await connect(c, { token: other.token });
      const tab = await connect(d, { token: other.token });
      const second = await connect(d, { token: third.token });
      const late = await connect(c, { token: fourth.token });
      const ownerSocket = await connect(d, { token: owner.token });
      expect((await ack(first, 'session.join', { key })).ok).toBe(true);
      expect((await ack(tab, 'session.join', { key })).ok).toBe(true);
      expect((await ack(second, 'session.join', { key })).ok).toBe(true);
      expect(await ack(late, 'session.join', { key })).toMatchObject({ ok: false, code: 'ROOM_FULL' });
      expect((await ack(ownerSocket, 'session.join', { key })).ok).toBe(true);
      for (const s of [first, tab, second, late, ownerSocket]) s.close();
    } finally {
      await Promise.all([c.close(), d.close()]);
    }
  });

  it('reports local and cluster sockets, servers and rooms; a server that stops reporting drops out', async () => {
    const prefix = `${currentRun().redisPrefix}ws-stats:`;
    const [c, d] = await Promise.all([startTestApp({ REDIS_PREFIX: prefix }), startTestApp({ REDIS_PREFIX: prefix })]);
    const redis = new Redis(currentRun().redisUrl, { keyPrefix: prefix });
    try {
      const key = await newSession();
      const held = [await connect(c, { token: owner.token }), await connect(c), await connect(d, { token: other.token })];
      for (const s of held) await ack(s, 'session.join', { key });
      await d.request('GET', '/api/admin/ws/stats', { token: ADMIN_TOKEN }); // d reports now, not at its next heartbeat
      await redis.hset(
        'ws:servers',
        'crashed-pod',
        JSON.stringify({ serverId: 'crashed-pod', connections: 50, rooms: 3, startedAt: 0, seen: Date.now() - 60_000 }),
      );
      const stats = (await c.request('GET', '/api/admin/ws/stats', { token: ADMIN_TOKEN })).body;
      expect(stats).toMatchObject({ serverId: expect.any(String), localConnections: 2, servers: 2, rooms: 1, uptime: expect.any(Number) });
      expect(stats.clusterConnections).toBe(3);
      expect(stats.serverList.map((x: any) => x.serverId)).not.toContain('crashed-pod');
      expect(await redis.hexists('ws:servers', 'crashed-pod')).toBe(0);
      for (const s of held) s.close();
    } finally {
      redis.disconnect();
      await Promise.all([c.close(), d.close()]);
    }
  });

  it('accepts the WebSocket transport only, unless WS_POLLING is on, and tells a polling client so', async () => {
    const handshake = (app: TestApp) => fetch(`${app.url}/socket.io/?EIO=4&transport=polling`);
    const refused = await handshake(a);
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await refused.json()).toMatchObject({
      status: 400,
      code: 'WS_POLLING',
      detail: expect.stringContaining("transports: ['websocket']"),
    });
    // The websocket handshake goes on as before.
    const socket = await connect(a);
    expect(socket.connected).toBe(true);
    socket.close();
    const polling = await startTestApp({ REDIS_PREFIX: `${currentRun().redisPrefix}collab-spec:`, WS_POLLING: 'true' });
    try {
      expect((await handshake(polling)).status).toBe(200);
    } finally {
      await polling.close();
    }
  });

  it('drains on shutdown: readiness fails, new sockets are refused, members are told and then closed', async () => {
    const draining = await startTestApp({ REDIS_PREFIX: `${currentRun().redisPrefix}collab-spec:` });
    const key = await newSession();
    const member = await connect(draining, { token: owner.token });
    const told = record(member, 'server.draining');
    const closed = new Promise<string>((resolve) => member.once('disconnect', resolve));
    await ack(member, 'session.join', { key });
    const shutdown = drainAndClose(draining.app, 400);
    expect((await draining.request('GET', '/api/health/ready')).status).toBe(503);
    await expect(connect(draining)).rejects.toMatchObject({ data: { code: 'SERVER_DRAINING' } });
    expect(await ack(member, 'block.create', { key, type: 'text', content: {} })).toMatchObject({ ok: true });
    await shutdown;
    expect(told).toEqual([{ reconnect: true }]);
    expect(await closed).toBe('io server disconnect');
  });

  it('refuses old or unknown protocols and bad tokens at the handshake', async () => {
    for (const protocol of [0, 3, '1', 1.5]) {
      await expect(open(a, { protocol })).rejects.toMatchObject({ data: { code: 'PROTOCOL_UNSUPPORTED' } });
    }
    await expect(open(a, { token: 'not-a-token' })).rejects.toMatchObject({ data: { code: 'INVALID_TOKEN' } });
    for (const protocol of [1, 2]) expect((await open(a, { protocol })).connected).toBe(true);
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
