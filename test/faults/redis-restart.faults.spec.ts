import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { editThroughOutage } from '../helpers/outage-load.js';
import { freePort } from '../helpers/processes.js';
import { isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

/** A Redis of the test's own, so killing it touches nothing else. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${port}`).then(
      () => true,
      (error: Error & { cause?: { code?: string } }) => error.cause?.code !== 'ECONNREFUSED',
    );
    if (up) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('redis-server did not start');
}

/**
 * Redis killed (SIGKILL) and restarted while clients write and read continuously. Every
 * request answers (no hang), with success or a clear 503, never another 5xx; service is
 * back within 15 s of Redis; no acknowledged write is lost.
 */
describe('Redis restarted mid-load', () => {
  let port: number;
  let redis: ChildProcess;
  let app: TestApp;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    app = await startTestApp({ REDIS_URL: `redis://127.0.0.1:${port}`, ...isolatedRedis('faults-redis') });
  });
  afterAll(async () => {
    await app?.close();
    redis?.kill('SIGKILL');
    await closeTestDb();
  });

  it('answers every request with success or 503, recovers within 15 s, and loses no acknowledged write', async () => {
    const { token } = await createUser();
    await editThroughOutage(app, token, async () => {
      redis.kill('SIGKILL');
      await once(redis, 'exit');
      await new Promise((resolve) => setTimeout(resolve, 3000));
      redis = await startRedis(port);
    });
  });
});
