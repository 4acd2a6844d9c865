import { existsSync } from 'node:fs';
import { tracing } from './tracing.state.js';

export type TracedProcess = 'api' | 'worker';

/** Traces are exported when an OTLP endpoint is set (and the SDK is not disabled), else nothing is loaded. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Runs first in `main.ts` and `worker.ts`, before any module of the application is imported:
 * instrumentations patch `pg`, `ioredis` and `http` as they load, so the SDK has to be there first.
 * Reads `.env` itself, since the OTEL_* settings may come from it.
 */
export async function startTelemetry(role: TracedProcess): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  if (!tracingRequested()) return;
  const { startTracing } = await import('./tracing.js');
  startTracing(role === 'api' ? 'tessera-api' : 'tessera-worker');
}

/** Sends the spans still buffered and stops tracing; the last thing before the process exits. */
export async function flushTelemetry(): Promise<void> {
  await tracing.stop?.();
}
