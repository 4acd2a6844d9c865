import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import type { ProcessRole } from '../../src/app.module.js';
import { createApp } from '../../src/http.setup.js';
import { recordResponses } from './contract-recorder.js';
import { currentRun, ensureMigrated } from './test-environment.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const JWT_SECRET = 'test-jwt-secret-0123456789-0123456789-abcdef';

/** Suites hammer the API from one IP: limits high enough never to refuse them; limit suites set their own. */
const HIGH = { limit: 1_000_000, windowSeconds: 60 };
export const RELAXED_LIMITS = {
  'block-edits': { FREE: HIGH },
  'session-creates': { anonymous: HIGH, FREE: HIGH },
  'session-saves': { anonymous: HIGH, FREE: HIGH },
  snapshots: { anonymous: HIGH, FREE: HIGH },
  registrations: { anonymous: HIGH },
  'login-failures': { anonymous: HIGH },
  'login-failures-account': { anonymous: HIGH },
  'member-changes': { anonymous: HIGH, FREE: HIGH },
  'webhook-changes': { FREE: HIGH },
  'time-travel': { anonymous: HIGH, FREE: HIGH, PRO: HIGH, ENTERPRISE: HIGH },
};

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (no JSON encoding), for malformed-input tests. */
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
  /** Give up (reject) after this long. */
  timeoutMs?: number;
}

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  url: string;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

/** Redis state of its own (queues, stats) under the run's prefix, so a suite's figures are its alone. */
export function isolatedRedis(name: string): Record<string, string> {
  const prefix = `${currentRun().redisPrefix}${name}:`;
  return { REDIS_PREFIX: prefix, QUEUE_PREFIX: `${prefix}bull` };
}

/** The real application on the run's database and Redis prefix, listening on a free port. */
export async function startTestApp(env: Record<string, string> = {}, role: ProcessRole = 'api'): Promise<TestApp> {
  const run = currentRun();
  await ensureMigrated();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: run.databaseUrl,
    REDIS_URL: run.redisUrl,
    REDIS_PREFIX: run.redisPrefix,
    QUEUE_PREFIX: `${run.redisPrefix}bull`,
    ARTIFACTS_DIR: run.artifactsDir,
    ADMIN_TOKEN,
    JWT_SECRET,
    PASSWORD_HASH_COST: '10',
    LOG_LEVEL: 'silent',
    DB_POOL_MAX: '10',
    // Suites hammer the API from one IP; the rate-limit suite sets real limits on its own Redis prefix.
    RATE_LIMIT_POLICIES: JSON.stringify(RELAXED_LIMITS),
    KEY_PROBE_LIMIT: '1000000',
    // The cleanup deletes due artifacts and abandoned sessions database-wide, and a worker on a
    // prefix of its own runs it at once: only the suites that test it turn it on.
    ENABLE_ARTIFACT_CLEANUP: 'false',
    // The webhook sweep reads the whole database too, and would deliver other suites' lanes with this
    // process's settings (a 127.0.0.1 receiver refused, a lane backed off): off unless a suite turns it on.
    WEBHOOK_SWEEP_SECONDS: '0',
    ...env,
  });
  const app = await createApp(config, { logger: false, role });
  // A worker serves its probes only: the document describes what API instances answer.
  const recorder = role === 'api' ? recordResponses(app) : undefined;
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await recorder?.saveDocument(url);
  return {
    app,
    config,
    url,
    request: (method, path, options) => request(url, method, path, options),
    close: async () => {
      await app.close();
      recorder?.flush();
    },
  };
}

export async function request<T = any>(base: string, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const signal = options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined;
  const response = await fetch(`${base}${path}`, { method, headers, body, signal });
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    // A change feed never ends by itself: its status and headers are the answer (test/helpers/sse.ts reads streams).
    await response.body?.cancel();
    return { status: response.status, headers: response.headers, body: undefined as T };
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

/** `request` through a dependency that may be gone: no answer (refused, reset, timed out) is status 0 with the error's message. */
export function requestOrNoAnswer(base: string, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
  return request(base, method, path, options).catch((error: Error) => ({
    status: 0,
    headers: new Headers(),
    body: { message: error.message },
  }));
}
