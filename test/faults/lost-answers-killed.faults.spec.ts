import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiFleet } from '../helpers/api-fleet.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { call, lossyProxy, random, type Answer } from '../helpers/lossy-proxy.js';

const CLIENTS = 10;
const INCREMENTS = 8;
const CREATES = 3;
const COUNTERS = 2;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Two API processes behind the balancer, and in front of it a proxy that drops 30% of the
 * write answers; one process is killed with SIGKILL mid-run. Clients retry every write with
 * its key until they get an answer: each increment and each create is applied exactly once.
 */
describe('every write applied once when answers are lost and an instance is killed', () => {
  let fleet: ApiFleet;
  let proxy: Awaited<ReturnType<typeof lossyProxy>>;

  beforeAll(async () => {
    fleet = await ApiFleet.start('faults-lost-answers');
    await Promise.all([fleet.add(), fleet.add()]);
    const drops = random(1818);
    proxy = await lossyProxy([fleet.url], () => drops() < 0.3);
  });
  afterAll(async () => {
    await proxy?.close();
    await fleet.close();
    await closeTestDb();
  });

  it('counts exactly and creates each block once across a kill -9', async () => {
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

    const run = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
    // Killed once a quarter of the increments are acknowledged: most of the run comes after it.
    while (acknowledged < (CLIENTS * INCREMENTS) / 4) await pause(5);
    const atKill = acknowledged;
    const [victim] = fleet.processes;
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBeNull();
    await run;

    expect(acknowledged).toBe(CLIENTS * INCREMENTS);
    expect(atKill).toBeLessThan((CLIENTS * INCREMENTS) / 2);
    expect(proxy.dropped()).toBeGreaterThan(5);
    const blocks = await testDb().block.findMany({ where: { session: { key } } });
    const total = blocks.filter((x) => counters.includes(x.id)).reduce((sum, x) => sum + (x.content as { n: number }).n, 0);
    expect(total).toBe(CLIENTS * INCREMENTS);
    expect(blocks.map((x) => x.id).sort()).toEqual([...counters, ...created].sort());
    const stored = await testDb().session.findUniqueOrThrow({ where: { key } });
    expect(Number(stored.seq)).toBe(COUNTERS + CLIENTS * CREATES + CLIENTS * INCREMENTS);
  }, 180_000);
});
