import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { currentRun } from './test-environment.js';

/** Bodies larger than this are checked for their status only (the budgets suites send megabytes). */
const MAX_BODY_CHARS = 512 * 1024;

export interface RecordedResponse {
  method: string;
  /** The route pattern as the router knows it (`/api/sessions/:key`). */
  route: string;
  status: number;
  contentType: string;
  body?: string;
}

/**
 * Records every answer a test app gives to a route (method, route pattern, status, content type,
 * JSON body) in one file per worker under the run's directory; the global teardown checks them all
 * against the OpenAPI document the app serves (contract-check.mjs).
 */
export function recordResponses(app: NestFastifyApplication): { flush(): void; saveDocument(url: string): Promise<void> } {
  // contract-check.mjs reads them from here.
  const dir = join(dirname(currentRun().artifactsDir), 'contract');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `responses-${process.pid}.ndjson`);
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    appendFileSync(file, pending.join(''));
    pending = [];
  };
  process.once('exit', flush);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onSend', async (request, reply, payload) => {
      const route = request.routeOptions.url;
      if (route === undefined || request.is404) return payload;
      const contentType = String(reply.getHeader('content-type') ?? '');
      const record: RecordedResponse = { method: request.method, route, status: reply.statusCode, contentType };
      if (/json/.test(contentType) && typeof payload === 'string' && payload.length <= MAX_BODY_CHARS) record.body = payload;
      pending.push(`${JSON.stringify(record)}\n`);
      if (pending.length >= 200) flush();
      return payload;
    });
  return {
    flush,
    /** The document this app serves, kept once per run for the check. */
    async saveDocument(url: string) {
      const target = join(dir, 'openapi.json');
      if (existsSync(target)) return;
      const response = await fetch(`${url}/api/docs/openapi.json`);
      writeFileSync(target, await response.text());
    },
  };
}
