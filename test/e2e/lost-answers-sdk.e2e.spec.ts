import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TesseraClient } from '../../src/client/index.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { call, random } from '../helpers/lossy-proxy.js';
import { lossySocketProxy } from '../helpers/lossy-socket-proxy.js';
import { editThroughOutbox } from '../helpers/outbox-editing.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const DROP_RATE = 0.3;
const CLIENTS = 10;
const INCREMENTS = 8;
const CREATES = 3;
const COUNTERS = 2;

describe('SDK clients with outboxes, while the load balancer loses answers', () => {
  let a: TestApp;
  let b: TestApp;
  let proxy: Awaited<ReturnType<typeof lossySocketProxy>>;
  let token: string;
  const clients: TesseraClient[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestApp(), startTestApp()]);
    const drops = random(27);
    proxy = await lossySocketProxy([a.url, b.url], () => drops() < DROP_RATE);
    token = (await createUser()).token;
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await proxy.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  it('10 clients over two instances count exactly and create each block once, though 30% of the write acks are lost', async () => {
    const key = (await call(a.url, 'POST', '/api/sessions', token, { typeSlug: 'document' })).body.key as string;
    const counters: string[] = [];
    for (let i = 0; i < COUNTERS; i++)
      counters.push((await call(a.url, 'POST', `/api/sessions/${key}/blocks`, token, { type: 'text', content: { n: 0 } })).body.id);

    let conflicts = 0;
    const created = (
      await Promise.all(
        Array.from({ length: CLIENTS }, (_, index) =>
          editThroughOutbox({
            url: proxy.url,
            token,
            key,
            counters,
            increments: INCREMENTS,
            creates: CREATES,
            seed: 400 + index,
            by: index,
            clients,
            onConflict: () => conflicts++,
          }),
        ),
      )
    ).flat();

    // Answers were lost, and clients reconnected to both instances, or the test proves nothing.
    expect(proxy.dropped()).toBeGreaterThan(10);
    expect(proxy.connections()).toBeGreaterThan(CLIENTS + 10);
    const blocks = await testDb().block.findMany({ where: { session: { key } } });
    const total = blocks.filter((x) => counters.includes(x.id)).reduce((sum, x) => sum + (x.content as { n: number }).n, 0);
    expect(total).toBe(CLIENTS * INCREMENTS);
    expect(blocks).toHaveLength(COUNTERS + CLIENTS * CREATES);
    expect(new Set(created).size).toBe(CLIENTS * CREATES);
    expect(blocks.map((x) => x.id).sort()).toEqual([...counters, ...created].sort());
    // Nothing else was written: one change per create and per counted increment (a conflict writes nothing).
    const stored = await testDb().session.findUniqueOrThrow({ where: { key } });
    expect(Number(stored.seq)).toBe(COUNTERS + CLIENTS * CREATES + CLIENTS * INCREMENTS);
    expect(conflicts).toBeGreaterThan(0);
  }, 240_000);
});
