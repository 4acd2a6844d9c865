import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { CollabServer } from '../../src/collaboration/collab.server.js';
import { SocketEventsInFlight } from '../../src/collaboration/socket-ack.js';
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

  it('answers every event once and leaves the socket with the listeners it connected with, however many events it sent', async () => {
    const owner = await createUser({ displayName: 'Busy' });
    const key = (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key as string;
    const socket = await open(a, owner.token);
    const server = a.app.get(CollabServer).namespace.sockets.get(socket.id!)!;
    const listeners = () => Object.fromEntries(server.eventNames().map((name) => [String(name), server.listenerCount(name)]));
    const connected = listeners();
    // Every handled event has its own listener; the ones bound per event are gone once it is answered.
    expect(connected['session.join']).toBe(1);
    expect(connected['block.update']).toBe(1);

    expect((await ack(socket, 'session.join', { key })).ok).toBe(true);
    const created = await ack(socket, 'block.create', { key, type: 'text', content: { n: 0 } });
    // Concurrent writes (one succeeds, the others conflict), invalid payloads and a missing block, all at once.
    const answers = await Promise.all([
      ...Array.from({ length: 10 }, (_, n) => ack(socket, 'block.update', { key, id: created.block.id, version: 1, content: { n } })),
      ...Array.from({ length: 10 }, () => ack(socket, 'block.update', { key, id: created.block.id })),
      ack(socket, 'block.delete', { key, id: '00000000-0000-4000-8000-000000000000', version: 1 }),
      ack(socket, 'session.leave', { key }),
    ]);
    expect(answers.filter((answer) => answer.ok)).toHaveLength(2);
    expect(
      answers
        .slice(0, 10)
        .filter((answer) => !answer.ok)
        .map((answer) => answer.code),
    ).toEqual(Array(9).fill('VERSION_CONFLICT'));
    expect(new Set(answers.slice(10, 20).map((answer) => answer.code))).toEqual(new Set(['VALIDATION_FAILED']));
    expect(answers[20].ok).toBe(false);
    expect(listeners()).toEqual(connected);
    expect(a.app.get(SocketEventsInFlight).count).toBe(0);
  });
});
