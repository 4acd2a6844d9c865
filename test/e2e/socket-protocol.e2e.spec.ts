import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ack, connect, record, until } from '../helpers/sockets.js';
import { currentRun } from '../helpers/test-environment.js';

describe('the socket protocol, two instances', () => {
  let a: TestApp;
  let b: TestApp;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const env = { REDIS_PREFIX: `${currentRun().redisPrefix}socket-protocol-spec:` };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const open = async (app: TestApp, token?: string) => {
    const socket = await connect(app, token ? { token } : {});
    sockets.push(socket);
    return socket;
  };

  it('acks each write with the seq of its change, so a client knows its own change when it arrives', async () => {
    const owner = await createUser({ displayName: 'Writer' });
    const key = (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key as string;
    const writer = await open(a, owner.token);
    const follower = await open(b, owner.token);
    const changes = record<{ seq: number; kind: string; block?: { id: string; version: number } }>(follower, 'change');
    await ack(writer, 'session.join', { key });
    await ack(follower, 'session.join', { key });

    const created = await ack(writer, 'block.create', { key, type: 'text', content: { n: 0 } });
    const updated = await ack(writer, 'block.update', { key, id: created.block.id, version: 1, content: { n: 1 } });
    const moved = await ack(writer, 'block.move', { key, id: created.block.id, version: 2 });
    const deleted = await ack(writer, 'block.delete', { key, id: created.block.id, version: 3 });
    const acks = [created, updated, moved, deleted];
    expect(acks.map((x) => x.ok)).toEqual([true, true, true, true]);
    expect(acks.map((x) => x.seq)).toEqual([1, 2, 3, 4]);
    expect(deleted.deleted).toBe(created.block.id);

    await until(() => changes.length === 4);
    expect(changes.map((c) => [c.seq, c.kind])).toEqual([
      [created.seq, 'block.created'],
      [updated.seq, 'block.updated'],
      [moved.seq, 'block.moved'],
      [deleted.seq, 'block.deleted'],
    ]);
  });

  it('gives the members of one session different colours while the palette lasts, and one colour to all of a member’s sockets', async () => {
    const owner = await createUser({ displayName: 'Owner' });
    const key = (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key as string;
    const users = await Promise.all(Array.from({ length: 8 }, (_, i) => createUser({ displayName: `Member ${i}` })));
    // Two sockets for the first user, on different instances; then one each, joining one after the other.
    const first = await open(a, users[0].token);
    const firstAgain = await open(b, users[0].token);
    await ack(first, 'session.join', { key });
    await ack(firstAgain, 'session.join', { key });
    for (const [i, user] of users.slice(1).entries()) {
      const socket = await open(i % 2 === 0 ? a : b, user.token);
      expect((await ack(socket, 'session.join', { key })).ok).toBe(true);
    }
    const watcher = await open(a, owner.token);
    const { presence } = await ack<{ presence: Array<{ userId: string; color: string; socketCount: number }> }>(watcher, 'session.join', {
      key,
    });
    const members = presence.filter((m) => users.some((u) => u.user.id === m.userId));
    expect(members).toHaveLength(8);
    expect(members.find((m) => m.userId === users[0].user.id)?.socketCount).toBe(2);
    const colours = presence.map((m) => m.color);
    // Nine people (eight members and the owner) and ten colours: nobody shares one.
    expect(new Set(colours).size).toBe(presence.length);
    for (const colour of colours) expect(colour).toMatch(/^#[0-9a-f]{6}$/);
  });
});
