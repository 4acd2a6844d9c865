import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ensureBuilt, freePort, spawnTessera, whenReady, type TesseraProcess } from '../helpers/processes.js';
import { connect, record } from '../helpers/sockets.js';
import { isolatedRedis } from '../helpers/test-app.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A session create whose body arrives in two halves: in flight from its first half until
 * `finish()` sends the rest. It needs the database once the body is complete.
 */
function slowCreate(url: string): { finish(): Promise<{ status: number; body: any }> } {
  const body = JSON.stringify({ typeSlug: 'document', title: 'Written while the server stops' });
  const half = Math.floor(body.length / 2);
  const req = request(`${url}/api/sessions`, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
  });
  req.flushHeaders();
  req.write(body.slice(0, half));
  return {
    finish() {
      req.end(body.slice(half));
      return answer;
    },
  };
}

/** Polls readiness until it answers something other than 200 (0: no answer at all). */
async function readinessAfter(url: string, timeoutMs: number): Promise<number> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    const status = await fetch(`${url}/api/health/ready`).then(
      (res) => res.arrayBuffer().then(() => res.status),
      () => 0,
    );
    if (status !== 200) return status;
    await sleep(25);
  }
  return 200;
}

/**
 * `node dist/main.js` with no DATABASE_URL runs its own embedded PostgreSQL. Stopped by
 * SIGTERM (Kubernetes) or SIGINT (Ctrl-C in a terminal), it drains as it does on an external database —
 * readiness fails first, the request in flight is answered, sockets are told and closed —
 * and stops the embedded PostgreSQL last, exiting 0.
 */
describe('a process on its embedded database, stopped by a signal', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-faults-embedded-'));
  let server: TesseraProcess | undefined;

  beforeAll(() => ensureBuilt());
  afterAll(async () => {
    if (server?.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const stops = [
    { how: 'SIGTERM', signal: 'SIGTERM', group: false },
    { how: 'SIGINT', signal: 'SIGINT', group: false },
    // A terminal's Ctrl-C signals its whole foreground process group, children included.
    { how: "Ctrl-C (SIGINT to the process's group)", signal: 'SIGINT', group: true },
    // Under `npm start` the same Ctrl-C also reaches npm, which forwards it: the process gets it twice.
    { how: 'Ctrl-C under npm start (SIGINT, then forwarded again 5 ms later)', signal: 'SIGINT', group: false, repeated: true },
  ] as const;
  for (const { how, signal, group, ...stop } of stops) {
    it(`on ${how}: 503 from readiness, the in-flight request and the socket answered, PostgreSQL stopped last, exit 0`, async () => {
      const drainDelayMs = 1000;
      const env = {
        ...isolatedRedis(`embedded-${signal}-${group ? 'g' : 'p'}${'repeated' in stop ? '2' : '1'}`),
        DATABASE_URL: undefined,
        DATA_DIR: dataDir,
        EMBEDDED_POSTGRES_PORT: String(await freePort()),
        DRAIN_DELAY_MS: String(drainDelayMs),
      };
      server = await spawnTessera('api', env, { detached: group });
      // The first start initialises the database folder and migrates it.
      await whenReady(server, 90_000);
      const socket = await connect(server);
      const told = record(socket, 'server.draining');
      const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      const upload = slowCreate(server.url);
      await sleep(500); // the server has the request's head and half its body

      const signalledAt = Date.now();
      process.kill(group ? -server.child.pid! : server.child.pid!, signal);
      if ('repeated' in stop) {
        await sleep(5);
        process.kill(server.child.pid!, signal);
      }
      expect(await readinessAfter(server.url, 5000)).toBe(503);
      // Past the drain delay (SIGTERM's; SIGINT has none): the application is closing and waits for the request.
      await sleep(Math.max(0, signalledAt + drainDelayMs + 500 - Date.now()));
      const created = await upload.finish();
      expect(created).toMatchObject({ status: 201, body: { key: expect.any(String) } });

      expect(await server.exited).toBe(0);
      expect(told).toEqual([{ reconnect: true }]);
      expect(await closed).toBe('io server disconnect');
      // PostgreSQL shut down cleanly (it removes its pid file last) before the process exited.
      expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    }, 120_000);
  }
});
