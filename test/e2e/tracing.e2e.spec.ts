import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { startOtlpReceiver, SPAN_KIND, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { ensureBuilt, spawnTessera, whenReady, type TesseraProcess } from '../helpers/processes.js';
import { ack, connected, socketFrom, until } from '../helpers/sockets.js';
import { isolatedRedis } from '../helpers/test-app.js';
import { currentRun, ensureMigrated } from '../helpers/test-environment.js';

/** A marker written into payloads: no span attribute may ever carry it. */
const SECRET_TEXT = 'payload-text-that-must-not-reach-a-span';

async function call(server: TesseraProcess, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, requestId: res.headers.get('x-request-id')!, body: (await res.json()) as any };
}

async function exercise(server: TesseraProcess, token: string) {
  const session = await call(server, 'POST', '/api/sessions', token, { typeSlug: 'document', title: 'Traced' });
  expect(session.status).toBe(201);
  const key = session.body.key as string;
  const block = await call(server, 'POST', `/api/sessions/${key}/blocks`, token, { type: 'text', content: { text: SECRET_TEXT } });
  expect(block.status).toBe(201);
  const socket = await connected(socketFrom(server, '198.51.100.20', token));
  try {
    expect(await ack(socket, 'session.join', { key })).toMatchObject({ ok: true });
    expect(await ack(socket, 'block.create', { key, type: 'text', content: { text: SECRET_TEXT } })).toMatchObject({ ok: true });
  } finally {
    socket.close();
  }
  const exported = await call(server, 'POST', `/api/sessions/${key}/exports`, token, { format: 'json' });
  expect(exported.status).toBe(202);
  const jobId = exported.body.jobId as string;
  for (const deadline = Date.now() + 30_000; ;) {
    const job = await call(server, 'GET', `/api/jobs/${jobId}`, token);
    if (job.body.state === 'completed') break;
    if (job.body.state === 'failed' || Date.now() > deadline) throw new Error(`export job: ${JSON.stringify(job.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { key, session, block, exported, jobId };
}

describe('traces (OpenTelemetry, exported over OTLP/HTTP)', () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let traced: TesseraProcess;
  let untraced: TesseraProcess;
  let token: string;
  const moduleLog = join(mkdtempSync(join(tmpdir(), 'tessera-modules-')), 'modules.log');

  beforeAll(async () => {
    ensureBuilt();
    await ensureMigrated();
    receiver = await startOtlpReceiver();
    const prefix = `${currentRun().redisPrefix}tracing:`;
    [traced, untraced] = await Promise.all([
      spawnTessera('api', {
        ...isolatedRedis('tracing'),
        RUN_WORKERS: 'true',
        // On a prefix of its own the cleanup's first run would come at once, deleting other suites' due artifacts.
        ENABLE_ARTIFACT_CLEANUP: 'false',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      }),
      spawnTessera('api', {
        REDIS_PREFIX: `${prefix}untraced:`,
        QUEUE_PREFIX: `${prefix}untraced:bull`,
        RUN_WORKERS: 'true',
        ENABLE_ARTIFACT_CLEANUP: 'false',
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=./test/helpers/module-log.mjs`,
        TESSERA_MODULE_LOG: moduleLog,
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      }),
    ]);
    await Promise.all([whenReady(traced, 60_000), whenReady(untraced, 60_000)]);
    token = (await createUser({ displayName: 'Tracer' })).token;
  }, 120_000);
  afterAll(async () => {
    for (const server of [traced, untraced]) server?.child.kill('SIGTERM');
    await Promise.all([traced?.exited, untraced?.exited]);
    await receiver?.close();
    await closeTestDb();
  });

  it('traces a request with its request id and route, its SQL and Redis, socket events, and the job it queued', async () => {
    const { key, session, exported, jobId } = await exercise(traced, token);
    const spans = receiver.spans;
    const serverSpanOf = (requestId: string) =>
      spans.find((s) => s.kind === SPAN_KIND.SERVER && s.attributes['tessera.request_id'] === requestId);
    const jobSpan = () =>
      spans.find((s) => s.kind === SPAN_KIND.CONSUMER && s.name === 'process export' && s.attributes['bullmq.job.id'] === jobId);
    await until(() => Boolean(serverSpanOf(session.requestId) && serverSpanOf(exported.requestId) && jobSpan()), 15_000);

    const create = serverSpanOf(session.requestId)!;
    expect(create).toMatchObject({ service: 'tessera-api', name: 'POST /api/sessions', scope: '@opentelemetry/instrumentation-http' });
    expect(create.attributes['http.route']).toBe('/api/sessions');
    expect(create.resource['deployment.environment.name']).toBe('test');
    const inTrace = (span: ReceivedSpan) => spans.filter((s) => s.traceId === span.traceId && s.spanId !== span.spanId);
    expect(inTrace(create).some((s) => s.scope === '@opentelemetry/instrumentation-pg' && s.kind === SPAN_KIND.CLIENT)).toBe(true);
    expect(inTrace(create).some((s) => s.scope === '@opentelemetry/instrumentation-ioredis' && s.kind === SPAN_KIND.CLIENT)).toBe(true);

    // The socket's write is a trace of its own, named after the event, about the session.
    await until(() => spans.some((s) => s.name === 'block.create'), 10_000);
    const socketSpan = spans.find((s) => s.name === 'block.create')!;
    expect(socketSpan.attributes['tessera.session_key']).toBe(key);
    expect(socketSpan.parentSpanId).toBeUndefined();
    expect(spans.some((s) => s.name === 'session.join' && s.attributes['tessera.session_key'] === key)).toBe(true);

    // The export job's attempt continues the trace of the request that queued it.
    const request = serverSpanOf(exported.requestId)!;
    expect(request.name).toBe('POST /api/sessions/:key/exports');
    const job = jobSpan()!;
    expect(job.traceId === request.traceId || job.links.some((link) => link.traceId === request.traceId)).toBe(true);
    expect(inTrace(request).some((s) => s.kind === SPAN_KIND.PRODUCER && s.name.startsWith('add export'))).toBe(true);
    expect(spans.some((s) => s.traceId === job.traceId && s.parentSpanId === job.spanId && s.scope.includes('instrumentation-pg'))).toBe(
      true,
    );

    // Probes are not traffic, and no span carries what a client wrote.
    expect(
      spans.some((s) => s.attributes['http.route'] === '/api/health/ready' || String(s.attributes['url.path']).includes('health')),
    ).toBe(false);
    expect(JSON.stringify(spans)).not.toContain(SECRET_TEXT);
  });

  it('without an OTLP endpoint loads none of the SDK, so nothing can export a span', async () => {
    await exercise(untraced, token);
    const modules = readFileSync(moduleLog, 'utf8').split('\n').filter(Boolean);
    // The log is real: it saw the application and its dependencies load.
    expect(modules.some((url) => url.endsWith('/dist/http.setup.js'))).toBe(true);
    expect(modules.some((url) => url.includes('/node_modules/bullmq/'))).toBe(true);
    const sdk = modules.filter((url) =>
      /\/node_modules\/(@opentelemetry\/(sdk-|exporter-|instrumentation|resources|otlp-)|bullmq-otel\/|import-in-the-middle\/)/.test(url),
    );
    expect(sdk).toEqual([]);
    expect(modules.some((url) => url.endsWith('/dist/telemetry/tracing.js'))).toBe(false);
  });
});
