import { existsSync } from 'node:fs';
import { pino } from 'pino';
import type { ProcessRole } from '../app.module.js';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { applyMigrations } from '../database/migrator.js';
import { createApp } from '../http.setup.js';
import { flushTelemetry } from '../telemetry/telemetry.bootstrap.js';
import { prepareInfrastructure } from './local-infrastructure.js';
import { drainAndClose } from './shutdown.js';

/**
 * Boots one Tessera process: configuration, local infrastructure for what is not
 * configured, migrations when asked (`--migrate`) or on an embedded database, the
 * application, and the SIGTERM drain. Exits 1 with one line when it cannot start.
 */
export function runProcess(role: ProcessRole): void {
  const bootLogger = pino({
    level: process.env.LOG_LEVEL === 'silent' ? 'silent' : 'info',
    base: { pid: process.pid, context: role === 'api' ? 'Bootstrap' : 'Worker' },
  });
  const log = (line: string) => bootLogger.info(line);

  const start = async (): Promise<void> => {
    if (existsSync('.env')) process.loadEnvFile('.env');
    const initial = loadConfig();
    if (role === 'worker' && !initial.DATABASE_URL) {
      throw new ConfigError(
        'Invalid environment variable DATABASE_URL: a worker needs it (the embedded database is for `npm start`, which runs the workers itself)',
      );
    }
    const infra = await prepareInfrastructure(initial, log);
    const { config } = infra;
    let stopping = false;
    try {
      if (process.argv.includes('--migrate') || infra.embeddedDatabase) {
        const { applied } = await applyMigrations(config.DATABASE_URL!, log);
        log(applied.length ? `applied ${applied.length} migration(s)` : 'database schema up to date');
      }
      if (config.jwtSecretGenerated) log('JWT_SECRET is not set: tokens are signed with a per-process secret and end with it');
      const app = await createApp(config, { role });
      const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log(`${signal} received: draining for ${config.DRAIN_DELAY_MS} ms, then shutting down`);
        const closed = await drainAndClose(app, signal === 'SIGTERM' ? config.DRAIN_DELAY_MS : 0, config.SHUTDOWN_TIMEOUT_MS).catch(
          (error: Error) => {
            bootLogger.error(`shutdown: ${error.message}`);
            return false;
          },
        );
        if (!closed)
          bootLogger.warn(`shutdown did not finish within SHUTDOWN_TIMEOUT_MS (${config.SHUTDOWN_TIMEOUT_MS} ms): exiting anyway`);
        await infra.stop();
        await flushTelemetry().catch(() => undefined);
        process.exit(0);
      };
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      process.once('SIGINT', () => void shutdown('SIGINT'));
      await app.listen({ port: config.PORT, host: config.HOST });
      log(
        role === 'api'
          ? `Tessera listening on http://localhost:${config.PORT} (docs at /api/docs)${config.RUN_WORKERS ? ', queue workers running' : ''}`
          : `Tessera worker running; health on http://localhost:${config.PORT}/api/health`,
      );
    } catch (error) {
      await infra.stop();
      throw error;
    }
  };

  start().catch((error: Error) => {
    console.error(error instanceof ConfigError ? error.message : `Tessera failed to start: ${error.stack ?? error.message}`);
    process.exit(1);
  });
}
