import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TesseraClient, TesseraError, type ChangeEvent } from '../../src/client/tessera-client.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { until } from '../helpers/sockets.js';
import { currentRun } from '../helpers/test-environment.js';

describe('the typed client', () => {
  let a: TestApp;
  let b: TestApp;
  let user: Awaited<ReturnType<typeof createUser>>;
  const clients: TesseraClient[] = [];

  beforeAll(async () => {
    const env = { REDIS_PREFIX: `${currentRun().redisPrefix}client-spec:` };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    user = await createUser({ displayName: 'Client' });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const client = async (app: TestApp) => {
    const c = new TesseraClient({ url: app.url, token: user.token });
    clients.push(c);
    return c.connect();
  };
  const newSession = async () =>
    (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: user.token })).body.key as string;
  const httpWrite = (key: string, n: number) =>
    a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: user.token });
  const seqsOf = (changes: ChangeEvent[]) => changes.map((c) => c.seq);
  const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it('delivers every change once, in seq order, to clients on both instances under concurrent writers', async () => {
    const key = await newSession();
    const [x, y] = await Promise.all([client(a), client(b)]);
    const [fx, fy] = await Promise.all([x.join(key), y.join(key)]);
    const seen = [fx, fy].map((feed) => {
      const changes: ChangeEvent[] = [];
      feed.on('change', (c) => changes.push(c));
      return changes;
    });
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => fx.create({ type: 'text', content: { from: 'x', i } })),
      ...Array.from({ length: 10 }, (_, i) => fy.create({ type: 'text', content: { from: 'y', i } })),
      ...Array.from({ length: 10 }, (_, i) => httpWrite(key, i)),
    ]);
    await until(() => seen.every((s) => s.length === 30));
    for (const s of seen) expect(seqsOf(s)).toEqual(oneTo(30));
    expect(fx.seq).toBe(30);
  });

  it('sends a write again with its key when the connection drops before the ack, and it is applied once', async () => {
    const key = await newSession();
    const c = await client(a);
    const feed = await c.join(key);
    const id = randomUUID();
    expect(await feed.create({ id, type: 'text', content: { n: 0 } })).toMatchObject({ id, version: 1 });
    for (let n = 1; n <= 3; n++) {
      const pending = feed.update(id, n, { content: { n } });
      // The write leaves, then the connection is cut: its ack is lost, and the client reconnects and sends it again.
      c.socket.io.engine.close();
      expect(await pending).toMatchObject({ id, version: n + 1, content: { n } });
    }
    const stored = await testDb().block.findUniqueOrThrow({ where: { id } });
    expect(stored).toMatchObject({ version: 4, content: { n: 3 } });
    expect(Number((await testDb().session.findUniqueOrThrow({ where: { key } })).seq)).toBe(4);
  });

  it('notices a gap that does not fill and fetches the missed changes', async () => {
    const key = await newSession();
    const c = await client(a);
    const feed = await c.join(key);
    const changes: ChangeEvent[] = [];
    feed.on('change', (change) => changes.push(change));
    await httpWrite(key, 1);
    await until(() => changes.length === 1);
    // Behind the feed's back: out of the room for two changes, then in again.
    await c.socket.emitWithAck('session.leave', { key });
    await httpWrite(key, 2);
    await httpWrite(key, 3);
    await c.socket.emitWithAck('session.join', { key });
    await httpWrite(key, 4);
    await until(() => changes.length === 4);
    expect(seqsOf(changes)).toEqual([1, 2, 3, 4]);
    expect(changes.map((x) => x.block?.content.n)).toEqual([1, 2, 3, 4]);
  });

  it('reconnects by itself after the connection drops and resumes from the last change it applied', async () => {
    const key = await newSession();
    const c = await client(b);
    const feed = await c.join(key);
    const changes: ChangeEvent[] = [];
    feed.on('change', (change) => changes.push(change));
    await httpWrite(key, 1);
    await until(() => changes.length === 1);
    const reconnected = new Promise((resolve) => c.socket.io.once('reconnect', resolve));
    c.socket.io.engine.close();
    await httpWrite(key, 2);
    await httpWrite(key, 3);
    await reconnected;
    await until(() => changes.length === 3);
    expect(seqsOf(changes)).toEqual([1, 2, 3]);
  });

  it('turns refusals into TesseraErrors with the server code and fields', async () => {
    const key = await newSession();
    const c = await client(a);
    const feed = await c.join(key);
    const block = await feed.create({ type: 'text', content: { v: 1 } });
    await feed.update(block.id, 1, { content: { v: 2 } });
    const stale = await feed.update(block.id, 1, { content: { v: 3 } }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(TesseraError);
    expect(stale).toMatchObject({ code: 'VERSION_CONFLICT', details: { current: { version: 2 } } });
    const old = new TesseraClient({ url: a.url, socket: { auth: { protocol: 0 }, reconnection: false } });
    clients.push(old);
    await expect(old.connect()).rejects.toMatchObject({ code: 'PROTOCOL_UNSUPPORTED' });
  });
});
