import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { jobSuiteResources, queuePrefix } from '../helpers/job-fixtures.js';
import { ensureBuilt, spawnTessera } from '../helpers/processes.js';
import { until } from '../helpers/sockets.js';
import { ensureMigrated } from '../helpers/test-environment.js';

/**
 * A `node dist/worker.js` killed (SIGKILL) while a webhook delivery is on the wire: nothing
 * is lost, the change in flight goes out again with the same webhook-id, and every change
 * reaches the receiver in seq order.
 */
describe('a worker process killed mid-delivery', () => {
  const { start, closeAll } = jobSuiteResources();
  let child: ChildProcess | undefined;
  let receiver: Server;
  const received: Array<{ seq: number; id: string; answered: boolean }> = [];
  let killAt: number | null = 3;

  beforeAll(async () => {
    ensureBuilt();
    await ensureMigrated();
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const seq = (JSON.parse(body) as { data: { seq: number } }).data.seq;
        const headers: IncomingHttpHeaders = req.headers;
        if (seq === killAt) {
          // The worker is waiting for this answer: kill it where it stands, and never answer.
          killAt = null;
          received.push({ seq, id: String(headers['webhook-id']), answered: false });
          child!.kill('SIGKILL');
          return;
        }
        received.push({ seq, id: String(headers['webhook-id']), answered: true });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
    await closeAll();
    await closeTestDb();
  });

  it('loses nothing: the change in flight is sent again with the same webhook-id, and all arrive in order', async () => {
    const prefix = queuePrefix('webhook-killed');
    const env = { QUEUE_PREFIX: prefix, WEBHOOK_ALLOW_PRIVATE: 'true', JOB_LOCK_MS: '1000', WEBHOOK_TIMEOUT_MS: '1000' };
    const worker = await spawnTessera('worker', env);
    child = worker.child;
    const api = await start(env);
    const owner = await createUser();
    const key = (await api.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key as string;
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    expect(
      (await api.request('POST', '/api/webhooks', { body: { url, events: ['change'], sessionKey: key }, token: owner.token })).status,
    ).toBe(201);
    for (let n = 1; n <= 10; n++) {
      await api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: owner.token });
    }
    await worker.exited;
    // Another worker takes over once the dead one's job lock and lane lease lapse.
    await start({ ...env, RUN_WORKERS: 'true' });
    await until(() => received.filter((r) => r.answered).length === 10, 40_000);
    const answered = received.filter((r) => r.answered);
    expect(answered.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Nothing after 3 went out before 3 was delivered, and 3 kept its id.
    expect(received.map((r) => r.seq)).toEqual([1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(received[2].id).toBe(received[3].id);
    expect(new Set(received.map((r) => r.id)).size).toBe(10);
  }, 90_000);
});
