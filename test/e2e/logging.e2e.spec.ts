import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { applyMigrations } from '../../src/database/migrator.js';
import { ensureBuilt, spawnTessera, whenReady, type TesseraProcess } from '../helpers/processes.js';
import { until } from '../helpers/sockets.js';
import { isolatedRedis } from '../helpers/test-app.js';
import { currentRun } from '../helpers/test-environment.js';

interface LogLine {
  level: number;
  msg: string;
  context?: string;
  req?: { id: string };
  res?: { statusCode: number };
}

const INFO = 30;
const DEBUG = 20;
const ERROR = 50;

const linesOf = (server: TesseraProcess): LogLine[] =>
  server.output.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);

/**
 * What `node dist/main.js` prints: a few lines of its own at start (no deprecation warning,
 * no route map unless LOG_LEVEL=debug), and each answer at the level it deserves.
 */
describe('what a process logs', () => {
  const run = currentRun();
  const name = `${run.databaseName}_logging`;
  const admin = new pg.Client({ connectionString: run.adminUrl });
  const url = new URL(run.databaseUrl);
  url.pathname = `/${name}`;
  let server: TesseraProcess | undefined;

  beforeAll(async () => {
    ensureBuilt();
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    await applyMigrations(url.toString());
  });
  afterAll(async () => {
    if (server?.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  });

  const start = async (env: Record<string, string>) => {
    server = await spawnTessera(
      'api',
      { ...isolatedRedis('logging'), DATABASE_URL: url.toString(), DB_CONNECTION_TIMEOUT: '1000', ...env },
      { captureOutput: true },
    );
    await whenReady(server, 30_000);
    return server;
  };

  it('starts with a few lines of its own and no warning, the route map at debug; logs a 4xx at info and a 5xx at error', async () => {
    // One process at LOG_LEVEL=debug: what LOG_LEVEL=info prints is its lines from info up.
    const api = await start({ LOG_LEVEL: 'debug', DRAIN_DELAY_MS: '0' });
    const startup = linesOf(api);
    expect(api.output.stderr).toBe('');
    const shown = startup.filter((line) => line.level >= INFO);
    expect(shown.length).toBeLessThanOrEqual(4);
    expect(shown.every((line) => line.context === 'Bootstrap')).toBe(true);
    expect(shown.map((line) => line.msg)).toContainEqual(
      expect.stringMatching(/^Tessera listening on http:\/\/localhost:\d+ \(test; docs at \/api\/docs\)$/),
    );
    expect(startup).toContainEqual(
      expect.objectContaining({ level: DEBUG, context: 'RouterExplorer', msg: expect.stringContaining('/api/sessions, POST') }),
    );

    const missing = await fetch(`${api.url}/api/no-such-route`);
    expect(missing.status).toBe(404);
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    let failing: Response;
    try {
      failing = await fetch(`${api.url}/api/sessions/ABC`);
    } finally {
      await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} ALLOW_CONNECTIONS true`);
    }
    expect(failing.status).toBe(503);

    const answerOf = (response: Response) => () =>
      linesOf(api).find((line) => line.req?.id === response.headers.get('x-request-id') && line.res !== undefined);
    await until(() => answerOf(missing)() !== undefined && answerOf(failing)() !== undefined);
    expect(answerOf(missing)()).toMatchObject({ level: INFO, res: { statusCode: 404 } });
    expect(answerOf(failing)()).toMatchObject({ level: ERROR, res: { statusCode: 503 } });

    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
  }, 60_000);
});
