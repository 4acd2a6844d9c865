import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { ADMIN_TOKEN, JWT_SECRET, RELAXED_LIMITS } from './test-app.js';
import { currentRun } from './test-environment.js';

export interface TesseraProcess {
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** What it wrote to stdout and stderr so far (with `captureOutput`). */
  output: { stdout: string; stderr: string };
}

export interface SpawnOptions {
  /** In a process group of its own, as a shell runs a command (signal it as `-pid`). */
  detached?: boolean;
  /** Keep what it writes, in `output` (else it goes nowhere). */
  captureOutput?: boolean;
}

/** Builds `dist/` (with the editor page) once if it is missing (CI builds before testing). */
export function ensureBuilt(): void {
  if (!['dist/main.js', 'dist/worker.js', 'dist/public/index.html', 'src/client/dist/index.js'].every((file) => existsSync(file))) {
    spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

/**
 * `node dist/main.js` (api) or `node dist/worker.js` (worker) as its own process on the
 * run's database and Redis: what Kubernetes runs, signals and exit code included. A
 * variable given as `undefined` is unset (`DATABASE_URL: undefined`: the embedded database).
 * TEST_SERVER_NODE_ARGS adds options to its `node` (e.g. `--cpu-prof --cpu-prof-dir=prof`
 * to profile the servers a suite starts).
 */
export async function spawnTessera(
  role: 'api' | 'worker',
  env: Record<string, string | undefined>,
  options: SpawnOptions = {},
): Promise<TesseraProcess> {
  const run = currentRun();
  const port = await freePort();
  const nodeArgs = process.env.TEST_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, role === 'api' ? 'dist/main.js' : 'dist/worker.js'], {
    env: withoutUnset({
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: run.databaseUrl,
      REDIS_URL: run.redisUrl,
      REDIS_PREFIX: run.redisPrefix,
      ARTIFACTS_DIR: run.artifactsDir,
      JWT_SECRET,
      ADMIN_TOKEN,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'silent',
      RATE_LIMIT_POLICIES: JSON.stringify(RELAXED_LIMITS),
      // As in startTestApp: the database-wide cleanup runs only in the suites that test it.
      ENABLE_ARTIFACT_CLEANUP: 'false',
      // The webhook sweep reads the whole database too, and would deliver other suites' lanes with this
      // process's settings (a 127.0.0.1 receiver refused, a lane backed off): off unless a suite turns it on.
      WEBHOOK_SWEEP_SECONDS: '0',
      ...env,
    }),
    stdio: options.captureOutput ? ['ignore', 'pipe', 'pipe'] : 'ignore',
    detached: options.detached,
  });
  const output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, url: `http://127.0.0.1:${port}`, exited, output };
}

function withoutUnset(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Resolves once the process answers its readiness probe with 200 (a boot takes a few seconds; under a loaded CI machine, two booting at once have taken over 20). */
export async function whenReady(process: TesseraProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await fetch(`${process.url}/api/health/ready`).then(
      async (res) => ({ status: res.status, body: await res.text() }),
      (error: Error) => ({ status: 0, body: error.message }),
    );
    if (status === 200) return;
    if (process.child.exitCode !== null) throw new Error(`process exited with ${process.child.exitCode} before it was ready`);
    if (Date.now() > deadline) throw new Error(`${process.url} was not ready in ${timeoutMs} ms (last answer: ${status} ${body})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface HealthTimes {
  /** Each /api/health answer's latency, in ms, in order. */
  latencies: number[];
  /** Answers other than 200, and requests that got none. */
  failures: unknown[];
}

/**
 * Polls `url`'s /api/health every `intervalMs` from a process of its own (test/helpers/health-probe.mjs),
 * so the latencies are the server's even while this process handles megabyte bodies; `stop` returns them.
 */
export async function probeHealth(url: string, intervalMs = 20): Promise<{ stop: () => Promise<HealthTimes> }> {
  const child = spawn(process.execPath, ['test/helpers/health-probe.mjs', url, String(intervalMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.setEncoding('utf8');
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.startsWith('ready\n')) resolve();
    });
    void exited.then((code) => reject(new Error(`the health probe exited with ${code} before it started`)));
  });
  return {
    async stop() {
      child.stdin.end();
      await exited;
      return JSON.parse(output.slice('ready\n'.length)) as HealthTimes;
    },
  };
}
