import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface LocalRedis {
  url: string;
  stop(): Promise<void>;
}

function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * With no REDIS_URL: use the Redis on 127.0.0.1:6379, or start `redis-server` there
 * (nothing kept on disk) and stop it on exit. Neither possible: a one-line error.
 */
export async function ensureLocalRedis(log: (line: string) => void): Promise<LocalRedis> {
  const none: LocalRedis = { url: DEFAULT_REDIS_URL, stop: () => Promise.resolve() };
  if (await isListening('127.0.0.1', 6379)) return none;
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      'Redis is not running on 127.0.0.1:6379 and redis-server is not installed: install Redis (e.g. `apt-get install redis-server`) or set REDIS_URL.',
    );
  }
  const child: ChildProcess = spawn('redis-server', ['--port', '6379', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 50; i++) {
    if (await isListening('127.0.0.1', 6379)) {
      log('started a local redis-server on 127.0.0.1:6379');
      return {
        url: DEFAULT_REDIS_URL,
        stop: () => {
          child.kill('SIGTERM');
          return Promise.resolve();
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start on 127.0.0.1:6379; set REDIS_URL to a running Redis.');
}
