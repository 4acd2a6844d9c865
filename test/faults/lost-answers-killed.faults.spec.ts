import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TesseraClient } from '../../src/client/index.js';
import { ApiFleet } from '../helpers/api-fleet.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { call, lossyProxy, random, type Answer } from '../helpers/lossy-proxy.js';
import { lossySocketProxy } from '../helpers/lossy-socket-proxy.js';
import { editThroughOutbox } from '../helpers/outbox-editing.js';

/** Half the clients write over HTTP, half over sockets (the SDK's outbox clients). */
const HTTP_CLIENTS = 5;
const SOCKET_CLIENTS = 5;
const CLIENTS = HTTP_CLIENTS + SOCKET_CLIENTS;
const INCREMENTS = 8;
const CREATES = 3;
const COUNTERS = 2;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Two API processes; HTTP clients reach them through the balancer behind a proxy that drops
 * 30% of the write answers, socket clients through a balancer that cuts the connection
 * instead of passing on 30% of the write acks. One process is killed with SIGKILL mid-run,
 * with clients of both kinds connected to it. HTTP clients retry every write with its key
 * until they get an answer; socket clients queue each edit in the SDK's outbox, which sends
 * it again with its key after every reconnect: each increment and each create is applied
 * exactly once.
 */
describe('every write applied once, over HTTP and sockets, when answers are lost and an instance is killed', () => {
  let fleet: ApiFleet;
  let proxy: Awaited<ReturnType<typeof lossyProxy>>;
  let socketProxy: Awaited<ReturnType<typeof lossySocketProxy>>;
  const sdkClients: TesseraClient[] = [];

  beforeAll(async () => {
    fleet = await ApiFleet.start('faults-lost-answers');
    await Promise.all([fleet.add(), fleet.add()]);
    const drops = random(1818);
    proxy = await lossyProxy([fleet.url], () => drops() < 0.3);
    const ackDrops = random(2727);
    socketProxy = await lossySocketProxy(
      fleet.processes.map((p) => p.url),
      () => ackDrops() < 0.3,
    );
  });
  afterAll(async () => {
    for (const client of sdkClients) client.close();
    await socketProxy?.close();
    await proxy?.close();
    await fleet.close();
    await closeTestDb();
  });

  it('5 HTTP and 5 socket clients count exactly and create each block once across a kill -9', async () => {
    const { token } = await createUser();
    const key = (await call(fleet.url, 'POST', '/api/sessions', token, { typeSlug: 'document' })).body.key as string;
    const counters: string[] = [];
    for (let i = 0; i < COUNTERS; i++)
      counters.push((await call(fleet.url, 'POST', `/api/sessions/${key}/blocks`, token, { type: 'text', content: { n: 0 } })).body.id);

    /** Until an answer that is not "retry": a lost answer, a dead instance (502), 503 and IN_USE are retried with the same key. */
    const write = async (method: string, path: string, body: unknown, idem: string): Promise<Answer> => {
      for (;;) {
        const answer = await call(proxy.url, method, path, token, body, idem).catch(() => undefined);
        const retry = !answer || answer.status >= 500 || answer.body?.code === 'IDEMPOTENCY_KEY_IN_USE';
        if (!retry) return answer;
        await pause(answer?.status === 409 ? 200 : 20);
      }
    };
    const read = async (id: string) => {
      for (;;) {
        const answer = await call(proxy.url, 'GET', `/api/sessions/${key}/blocks`, token).catch(() => undefined);
        if (answer?.status === 200) return answer.body.items.find((x: { id: string }) => x.id === id);
        await pause(20);
      }
    };
    const created: string[] = [];
    let acknowledged = 0;
    const client = async (n: number) => {
      const pick = random(500 + n);
      for (let i = 0; i < INCREMENTS; i++) {
        const id = counters[Math.floor(pick() * COUNTERS)];
        for (;;) {
          const current = await read(id);
          const body = { version: current.version, content: { n: current.content.n + 1 } };
          const answer = await write('PATCH', `/api/sessions/${key}/blocks/${id}`, body, randomUUID());
          if (answer.status === 200) break;
          expect(answer.body.code).toBe('VERSION_CONFLICT');
        }
        acknowledged++;
      }
      for (let i = 0; i < CREATES; i++) {
        const id = randomUUID();
        const answer = await write('POST', `/api/sessions/${key}/blocks`, { id, type: 'text', content: { by: n } }, randomUUID());
        expect(answer).toMatchObject({ status: 201, body: { id } });
        created.push(id);
      }
    };

    /** The same work over a socket: edits queued in an outbox, applied, merged or refused with the current block. */
    const socketClient = async (n: number) => {
      const ids = await editThroughOutbox({
        url: socketProxy.url,
        token,
        key,
        counters,
        increments: INCREMENTS,
        creates: CREATES,
        seed: 700 + n,
        by: n,
        clients: sdkClients,
        onIncrement: () => acknowledged++,
      });
      created.push(...ids);
    };

    const run = Promise.all([
      ...Array.from({ length: HTTP_CLIENTS }, (_, n) => client(n)),
      ...Array.from({ length: SOCKET_CLIENTS }, (_, n) => socketClient(HTTP_CLIENTS + n)),
    ]);
    // Killed once a quarter of the increments are acknowledged: most of the run comes after it.
    while (acknowledged < (CLIENTS * INCREMENTS) / 4) await pause(5);
    const atKill = acknowledged;
    const [victim] = fleet.processes;
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBeNull();
    await run;

    expect(acknowledged).toBe(CLIENTS * INCREMENTS);
    expect(atKill).toBeLessThan((CLIENTS * INCREMENTS) / 2);
    expect(proxy.dropped()).toBeGreaterThan(3);
    // Socket acks were lost too, and socket clients reconnected (some away from the killed process).
    expect(socketProxy.dropped()).toBeGreaterThan(3);
    expect(socketProxy.connections()).toBeGreaterThan(SOCKET_CLIENTS + 5);
    const blocks = await testDb().block.findMany({ where: { session: { key } } });
    const total = blocks.filter((x) => counters.includes(x.id)).reduce((sum, x) => sum + (x.content as { n: number }).n, 0);
    expect(total).toBe(CLIENTS * INCREMENTS);
    expect(blocks.map((x) => x.id).sort()).toEqual([...counters, ...created].sort());
    const stored = await testDb().session.findUniqueOrThrow({ where: { key } });
    expect(Number(stored.seq)).toBe(COUNTERS + CLIENTS * CREATES + CLIENTS * INCREMENTS);
  }, 180_000);
});
