import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { prepareInfrastructure } from './bootstrap/local-infrastructure.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { applyMigrations } from './database/migrator.js';
import { drainAndClose } from './bootstrap/shutdown.js';
import { createApp } from './http.setup.js';

const bootLogger = pino({
  level: process.env.LOG_LEVEL === 'silent' ? 'silent' : 'info',
  base: { pid: process.pid, context: 'Bootstrap' },
});
const log = (line: string) => bootLogger.info(line);

/**
 * The API process: HTTP (and, with later features, Socket.IO and workers).
 * `--migrate` (used by `npm start`) applies pending migrations first; an embedded
 * database is always migrated.
 */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const infra = await prepareInfrastructure(loadConfig(), log);
  const { config } = infra;
  let stopping = false;
  try {
    if (process.argv.includes('--migrate') || infra.embeddedDatabase) {
      const { applied } = await applyMigrations(config.DATABASE_URL!, log);
      log(applied.length ? `applied ${applied.length} migration(s)` : 'database schema up to date');
    }
    if (config.jwtSecretGenerated) log('JWT_SECRET is not set: tokens are signed with a per-process secret and end with it');
    const app = await createApp(config);
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`${signal} received: draining for ${config.DRAIN_DELAY_MS} ms, then shutting down`);
      await drainAndClose(app, signal === 'SIGTERM' ? config.DRAIN_DELAY_MS : 0).catch((error: Error) =>
        bootLogger.error(`shutdown: ${error.message}`),
      );
      await infra.stop();
      process.exit(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
    await app.listen({ port: config.PORT, host: config.HOST });
    log(`Tessera listening on http://localhost:${config.PORT} (docs at /api/docs)`);
  } catch (error) {
    await infra.stop();
    throw error;
  }
}

main().catch((error: Error) => {
  console.error(error instanceof ConfigError ? error.message : `Tessera failed to start: ${error.stack ?? error.message}`);
  process.exit(1);
});
