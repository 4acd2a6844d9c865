import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { currentRun } from '../helpers/test-environment.js';

interface Change {
  seq: number;
  kind: string;
  block?: { id: string; sessionKey: string; version: number; content: Record<string, unknown> };
}
interface Batch {
  key: string;
  changes: Change[];
}

const seqsFrom = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);
const ascending = (seqs: number[]) => seqs.every((seq, i) => i === 0 || seqs[i - 1] < seq);

describe('changes per session and tick (socket protocol 2), two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  const prefix = `${currentRun().redisPrefix}change-batches-spec:`;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // A wide group-commit window, so concurrent writes to one instance commit (and announce themselves) together.
    const env = { REDIS_PREFIX: prefix, GROUP_COMMIT_MAX_WAIT_MS: '100' };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    owner = await createUser({ displayName: 'Owner' });
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all([a?.close(), b?.close()]);
    await closeTestDb();
  });

  const open = async (app: TestApp, protocol: 1 | 2) => {
    const socket = await connect(app, { token: owner.token, protocol });
    sockets.push(socket);
    return socket;
  };
  /** A session with `count` blocks, made through `a`. */
  const sessionWithBlocks = async (count: number) => {
    const key = (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key as string;
    const ids: string[] = [];
    for (let n = 0; n < count; n++) {
      const res = await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: owner.token });
      ids.push(res.body.id as string);
    }
    return { key, ids };
  };
  const patch = (app: TestApp, key: string, id: string, version: number, n: number) =>
    app.request('PATCH', `/api/sessions/${key}/blocks/${id}`, { body: { version, content: { n } }, token: owner.token });

  it('gives a protocol 2 socket every seq once in `changes` batches, and a protocol 1 socket the same changes one `change` each', async () => {
    const { key, ids } = await sessionWithBlocks(12);
    const v2 = [await open(a, 2), await open(b, 2)];
    const v1 = [await open(a, 1), await open(b, 1)];
    const batches = v2.map((s) => record<Batch>(s, 'changes'));
    const singles = v1.map((s) => {
      const seen: Array<{ change: Change; key: string }> = [];
      s.on('change', (change: Change, room: { key: string }) => seen.push({ change, key: room.key }));
      return seen;
    });
    // Each protocol gets only its own event.
    const strays = [...v2.map((s) => record(s, 'change')), ...v1.map((s) => record(s, 'changes'))];
    for (const s of [...v2, ...v1]) expect((await ack(s, 'session.join', { key })).ok).toBe(true);

    // Concurrent writes through both instances (seq 13..24), then writes one after another through one (25..29).
    const written = await Promise.all(ids.map((id, i) => patch(i % 2 ? b : a, key, id, 1, 100 + i)));
    expect(written.map((r) => r.status)).toEqual(ids.map(() => 200));
    for (let n = 0; n < 5; n++) expect((await patch(a, key, ids[0], 2 + n, 200 + n)).status).toBe(200);

    const all = seqsFrom(13, 29);
    await until(() => batches.every((got) => got.flatMap((x) => x.changes).length >= all.length), 10_000);
    await until(() => singles.every((got) => got.length >= all.length), 10_000);
    await new Promise((r) => setTimeout(r, 100)); // nothing more (no duplicate) arrives
    for (const got of batches) {
      const seqs = got.flatMap((x) => x.changes.map((c) => c.seq));
      expect([...seqs].sort((x, y) => x - y)).toEqual(all);
      for (const batch of got) {
        expect(batch.key).toBe(key);
        expect(ascending(batch.changes.map((c) => c.seq))).toBe(true);
      }
      // Changes committed one after another arrive in seq order.
      expect(seqs.filter((seq) => seq >= 25)).toEqual(seqsFrom(25, 29));
      // Concurrent writes committed together travel together.
      expect(got.some((batch) => batch.changes.length > 1)).toBe(true);
    }
    const bySeq = new Map(batches[0].flatMap((x) => x.changes).map((c) => [c.seq, c]));
    for (const got of singles) {
      const seqs = got.map((x) => x.change.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(all);
      expect(seqs.filter((seq) => seq >= 25)).toEqual(seqsFrom(25, 29));
      for (const { change, key: roomKey } of got) {
        expect(roomKey).toBe(key);
        expect(change).toEqual(bySeq.get(change.seq));
      }
    }
    expect(bySeq.get(29)).toMatchObject({ kind: 'block.updated', block: { id: ids[0], version: 7, content: { n: 204 } } });
    expect(strays.flat()).toEqual([]);
  }, 60_000);

  it('sends the changes of one transaction (a batch of writes) as one adapter message and one `changes` event', async () => {
    const { key, ids } = await sessionWithBlocks(2);
    const reader = await open(b, 2);
    const received = record<Batch>(reader, 'changes');
    expect((await ack(reader, 'session.join', { key })).ok).toBe(true);
    const redis = new Redis(currentRun().redisUrl);
    try {
      const messages: unknown[] = [];
      redis.on('smessage', (_channel: string, message: string) => messages.push(message));
      await redis.ssubscribe(`${prefix}socket.io#/collab#s:${key}#`);
      const ops = [
        { op: 'update', id: ids[0], version: 1, content: { n: 'a' } },
        { op: 'update', id: ids[1], version: 1, content: { n: 'b' } },
        { op: 'create', type: 'text', content: { n: 'c' } },
        { op: 'create', type: 'text', content: { n: 'd' } },
        { op: 'delete', id: ids[0], version: 2 },
      ];
      const res = await a.request('POST', `/api/sessions/${key}/blocks/batch`, { body: { ops }, token: owner.token });
      expect(res.status).toBe(200);
      await until(() => received.flatMap((x) => x.changes).length >= ops.length, 10_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(messages).toHaveLength(1);
      expect(received).toHaveLength(1);
      expect(received[0].changes.map((c) => c.seq)).toEqual(seqsFrom(3, 7));
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it('publishes each session only its own changes, one adapter message for the changes of one tick', async () => {
    const sessions = [await sessionWithBlocks(4), await sessionWithBlocks(4)];
    const readers = [await open(b, 2), await open(b, 2)];
    const received = readers.map((s) => record<Batch>(s, 'changes'));
    for (const [i, s] of readers.entries()) expect((await ack(s, 'session.join', { key: sessions[i].key })).ok).toBe(true);

    const redis = new Redis(currentRun().redisUrl);
    try {
      const channelOf = (key: string) => `${prefix}socket.io#/collab#s:${key}#`;
      const messages = new Map<string, unknown[]>(sessions.map(({ key }) => [channelOf(key), []]));
      redis.on('smessage', (channel: string, message: string) => messages.get(channel)?.push(JSON.parse(message)));
      await redis.ssubscribe(...messages.keys());

      // Both sessions' writes at once through one instance: they commit in one group, in one tick.
      const writes = sessions.flatMap(({ key, ids }) => ids.map((id, i) => patch(a, key, id, 1, i)));
      expect((await Promise.all(writes)).map((r) => r.status)).toEqual(writes.map(() => 200));
      await until(() => received.every((got) => got.flatMap((x) => x.changes).length >= 4), 10_000);
      await new Promise((r) => setTimeout(r, 100));

      for (const [i, { key }] of sessions.entries()) {
        const batches = messages
          .get(channelOf(key))!
          .map((m) => (m as { data: { packet: { data: [string, { key: string; items: Array<{ change: Change }> }] } } }).data.packet.data);
        expect(batches.every(([event, batch]) => event === 'tessera:changes' && batch.key === key)).toBe(true);
        const changes = batches.flatMap(([, batch]) => batch.items.map((item) => item.change));
        expect(changes.map((c) => c.seq).sort((x, y) => x - y)).toEqual([5, 6, 7, 8]);
        expect(changes.every((c) => c.block?.sessionKey === key)).toBe(true);
        // Fewer messages than changes: the tick's changes of this session went together.
        expect(batches.length).toBeLessThan(changes.length);
        // The session's socket got its own changes, and no other session's.
        const got = received[i].flatMap((x) => x.changes);
        expect(received[i].every((x) => x.key === key)).toBe(true);
        expect(got.map((c) => c.seq).sort((x, y) => x - y)).toEqual([5, 6, 7, 8]);
        expect(got.every((c) => c.block?.sessionKey === key)).toBe(true);
      }
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
