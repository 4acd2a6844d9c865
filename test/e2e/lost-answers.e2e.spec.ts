import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { call, lossyProxy, random, type Answer } from '../helpers/lossy-proxy.js';
import { connect } from '../helpers/sockets.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const DROP_RATE = 0.3;
const HTTP_CLIENTS = 5;
const SOCKET_CLIENTS = 5;
const INCREMENTS = 8;
const CREATES = 3;
const COUNTERS = 2;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('every write applied exactly once while answers are lost', () => {
  let a: TestApp;
  let b: TestApp;
  let proxy: Awaited<ReturnType<typeof lossyProxy>>;
  let token: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestApp(), startTestApp()]);
    const drops = random(18);
    proxy = await lossyProxy([a.url, b.url], () => drops() < DROP_RATE);
    token = (await createUser()).token;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await proxy.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  it('10 clients (HTTP through a proxy that drops 30% of answers, sockets that lose 30% of acks) count exactly and create each block once', async () => {
    const session = await call(a.url, 'POST', '/api/sessions', token, { typeSlug: 'document' });
    const key = session.body.key as string;
    const counters: string[] = [];
    for (let i = 0; i < COUNTERS; i++)
      counters.push((await call(a.url, 'POST', `/api/sessions/${key}/blocks`, token, { type: 'text', content: { n: 0 } })).body.id);

    /** Sends one write until an answer arrives, always with the same key (a lost answer may have applied). */
    const httpWrite = async (method: string, path: string, body: unknown, idem: string): Promise<Answer> => {
      for (;;) {
        const answer = await call(proxy.url, method, path, token, body, idem).catch(() => undefined);
        if (answer && !(answer.status === 409 && answer.body.code === 'IDEMPOTENCY_KEY_IN_USE') && answer.status < 500) return answer;
        await pause(answer ? 50 : 5);
      }
    };
    const read = async (id: string) =>
      (await call(proxy.url, 'GET', `/api/sessions/${key}/blocks`, token)).body.items.find((x: any) => x.id === id);

    const created: string[] = [];
    let acknowledged = 0;
    let lostAcks = 0;

    const httpClient = async (client: number) => {
      const pick = random(100 + client);
      for (let i = 0; i < INCREMENTS; i++) {
        const id = counters[Math.floor(pick() * COUNTERS)];
        for (;;) {
          const current = await read(id);
          const answer = await httpWrite(
            'PATCH',
            `/api/sessions/${key}/blocks/${id}`,
            { version: current.version, content: { n: current.content.n + 1 } },
            randomUUID(),
          );
          if (answer.status === 200) break;
          expect(answer.body.code).toBe('VERSION_CONFLICT');
        }
        acknowledged++;
      }
      for (let i = 0; i < CREATES; i++) {
        const id = randomUUID();
        const answer = await httpWrite('POST', `/api/sessions/${key}/blocks`, { id, type: 'text', content: { by: client } }, randomUUID());
        expect(answer).toMatchObject({ status: 201, body: { id } });
        created.push(id);
      }
    };

    const socketClient = async (client: number) => {
      const pick = random(200 + client);
      const drop = random(300 + client);
      let turn = client;
      let socket = await connect(turn++ % 2 ? a : b, { token });
      sockets.push(socket);
      /** Emits until an ack is kept: a lost ack means a reconnect (to the other instance) and the same payload again. */
      const emit = async (event: string, payload: Record<string, unknown>) => {
        for (;;) {
          const answer: any = await socket
            .timeout(10_000)
            .emitWithAck(event, payload)
            .catch(() => undefined);
          if (answer && drop() >= DROP_RATE && answer.code !== 'IDEMPOTENCY_KEY_IN_USE') return answer;
          if (answer) lostAcks++;
          socket.close();
          socket = await connect(turn++ % 2 ? a : b, { token });
          sockets.push(socket);
        }
      };
      for (let i = 0; i < INCREMENTS; i++) {
        const id = counters[Math.floor(pick() * COUNTERS)];
        for (;;) {
          const current = await read(id);
          const payload = { key, id, version: current.version, content: { n: current.content.n + 1 }, idempotencyKey: randomUUID() };
          const answer = await emit('block.update', payload);
          if (answer.ok) break;
          expect(answer.code).toBe('VERSION_CONFLICT');
        }
        acknowledged++;
      }
      for (let i = 0; i < CREATES; i++) {
        const id = randomUUID();
        const answer = await emit('block.create', { key, id, type: 'text', content: { by: client }, idempotencyKey: randomUUID() });
        expect(answer).toMatchObject({ ok: true, block: { id } });
        created.push(id);
      }
    };

    await Promise.all([
      ...Array.from({ length: HTTP_CLIENTS }, (_, i) => httpClient(i)),
      ...Array.from({ length: SOCKET_CLIENTS }, (_, i) => socketClient(i)),
    ]);

    const clients = HTTP_CLIENTS + SOCKET_CLIENTS;
    expect(acknowledged).toBe(clients * INCREMENTS);
    // Answers were lost on both paths, or the test proves nothing.
    expect(proxy.dropped()).toBeGreaterThan(5);
    expect(lostAcks).toBeGreaterThan(5);
    const blocks = await testDb().block.findMany({ where: { session: { key } } });
    const total = blocks.filter((x) => counters.includes(x.id)).reduce((sum, x) => sum + (x.content as { n: number }).n, 0);
    expect(total).toBe(clients * INCREMENTS);
    expect(blocks).toHaveLength(COUNTERS + clients * CREATES);
    expect(new Set(created).size).toBe(clients * CREATES);
    expect(blocks.map((x) => x.id).sort()).toEqual([...counters, ...created].sort());
    // Nothing else was written: one change per create and per counted increment.
    const stored = await testDb().session.findUniqueOrThrow({ where: { key } });
    expect(Number(stored.seq)).toBe(COUNTERS + clients * CREATES + clients * INCREMENTS);
  }, 240_000);
});
