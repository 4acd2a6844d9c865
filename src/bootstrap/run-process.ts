import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { pino } from 'pino';
import type { ProcessRole } from '../app.module.js';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { applyMigrations } from '../database/migrator.js';
import { createApp } from '../http.setup.js';
import { flushTelemetry } from '../telemetry/telemetry.bootstrap.js';
import { prepareInfrastructure, type Infrastructure } from './local-infrastructure.js';
import { drainAndClose } from './shutdown.js';

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
/** A signal repeated within this window is the same stop (see `shutdown`). */
const REPEAT_WINDOW_MS = 1000;

/**
 * Boots one Tessera process: configuration, local infrastructure for what is not
 * configured, migrations when asked (`--migrate`) or on an embedded database, the
 * application, and the SIGTERM/SIGINT drain. Exits 1 with one line when it cannot start.
 */
export function runProcess(role: ProcessRole): void {
  const bootLogger = pino({
    // LOG_LEVEL is validated with the rest of the environment, after this logger exists.
    level: LOG_LEVELS.has(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL : 'info',
    base: { pid: process.pid, context: role === 'api' ? 'Bootstrap' : 'Worker' },
  });
  const log = (line: string) => bootLogger.info(line);
  let infra: Infrastructure | undefined;
  let app: NestFastifyApplication | undefined;
  let stopping = false;
  let stoppingSince = 0;

  /**
   * Readiness fails, the application drains and closes, and only then does the local
   * infrastructure (the embedded database last of all) stop. A second signal, a second or
   * more after the first, stops at once.
   */
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) {
      // One Ctrl-C under `npm start` arrives twice: from the terminal (to the whole process
      // group) and forwarded by npm a moment later. Only a signal sent again later stops at once.
      if (performance.now() - stoppingSince < REPEAT_WINDOW_MS) return;
      log(`${signal} received again: stopping now`);
      await infra?.stop();
      process.exit(128 + constants.signals[signal]);
    }
    stopping = true;
    stoppingSince = performance.now();
    if (app && infra) {
      const { config } = infra;
      const delayMs = signal === 'SIGTERM' ? config.DRAIN_DELAY_MS : 0;
      log(`${signal} received: draining for ${delayMs} ms, then shutting down`);
      const closed = await drainAndClose(app, delayMs, config.SHUTDOWN_TIMEOUT_MS).catch((error: Error) => {
        bootLogger.error(`shutdown: ${error.message}`);
        return false;
      });
      if (!closed) bootLogger.warn(`shutdown did not finish within SHUTDOWN_TIMEOUT_MS (${config.SHUTDOWN_TIMEOUT_MS} ms): exiting anyway`);
    }
    await infra?.stop();
    await flushTelemetry().catch(() => undefined);
    process.exit(0);
  };
  // From the start, so that a signal during boot still stops what was started.
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const start = async (): Promise<void> => {
    if (existsSync('.env')) process.loadEnvFile('.env');
    const initial = loadConfig();
    if (role === 'worker' && !initial.DATABASE_URL) {
      throw new ConfigError(
        'Invalid environment variable DATABASE_URL: a worker needs it (the embedded database is for `npm start`, which runs the workers itself)',
      );
    }
    infra = await prepareInfrastructure(initial, log);
    const { config } = infra;
    try {
      if (process.argv.includes('--migrate') || infra.embeddedDatabase) {
        const { applied } = await applyMigrations(config.DATABASE_URL!, (line) =>
          line.startsWith('warning') ? bootLogger.warn(line) : bootLogger.debug(line),
        );
        log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database schema up to date');
      }
      if (config.jwtSecretGenerated) log('JWT_SECRET is not set: tokens are signed with a per-process secret and end with it');
      app = await createApp(config, { role });
      await app.listen({ port: config.PORT, host: config.HOST });
      log(
        role === 'api'
          ? `Tessera listening on http://localhost:${config.PORT} (${config.NODE_ENV}; docs at /api/docs${config.RUN_WORKERS ? '; queue workers running' : ''})`
          : `Tessera worker running (${config.NODE_ENV}); health on http://localhost:${config.PORT}/api/health`,
      );
    } catch (error) {
      await infra.stop();
      throw error;
    }
  };

  start().catch((error: Error) => {
    // A signal during boot: the shutdown under way exits.
    if (stopping) return;
    console.error(error instanceof ConfigError ? error.message : `Tessera failed to start: ${error.stack ?? error.message}`);
    process.exit(1);
  });
}
