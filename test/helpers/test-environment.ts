import { applyMigrations } from '../../src/database/migrator.js';

/** The throwaway database and Redis prefix of one test run (made by global-setup.mjs). */
export interface TestRun {
  databaseUrl: string;
  databaseName: string;
  adminUrl: string;
  redisUrl: string;
  redisPrefix: string;
  artifactsDir: string;
}

export function currentRun(): TestRun {
  const raw = process.env.TESSERA_TEST_RUN;
  if (!raw) throw new Error('TESSERA_TEST_RUN is not set: run the suite with `npm test`');
  return JSON.parse(raw) as TestRun;
}

let migrated: Promise<unknown> | undefined;

/** Brings the run's database up to date once per worker; concurrent workers wait on the runner's lock. */
export function ensureMigrated(): Promise<unknown> {
  migrated ??= applyMigrations(currentRun().databaseUrl);
  return migrated;
}
