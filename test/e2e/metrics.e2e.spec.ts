import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { Metrics } from '../../src/metrics/metrics.service.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { sessionWithBlocks, waitForJob } from '../helpers/jobs.js';
import { parsePrometheus, scrape } from '../helpers/prometheus.js';
import { ack, connect, until } from '../helpers/sockets.js';
import { isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

describe('/metrics (Prometheus)', () => {
  let app: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    app = await startTestApp({ ...isolatedRedis('metrics-spec'), RUN_WORKERS: 'true' });
    owner = await createUser();
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await app.close();
    await closeTestDb();
  });

  it('serves process metrics and every family the operations guide names', async () => {
    const metrics = await scrape(app);
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'active_connections',
      'queue_jobs',
      'queue_workers',
      'queue_oldest_waiting_seconds',
      'db_pool_connections',
      'db_pool_max',
      'webhook_deliveries_total',
      'webhook_delivery_duration_seconds_count',
      'webhook_delivery_lag_seconds_count',
      'webhook_oldest_pending_seconds',
      'webhook_oldest_failing_seconds',
      'webhooks_disabled_total',
      'webhook_parked_total',
      'change_feed_streams',
    ]) {
      expect([name, metrics.has(name)]).toEqual([name, true]);
    }
    expect(metrics.value('db_pool_max')).toBe(10);
    expect(
      metrics
        .matching('webhook_deliveries_total')
        .map((s) => s.labels.outcome)
        .sort(),
    ).toEqual(['delivered', 'http_error', 'no_answer']);
    expect(
      metrics
        .matching('webhook_oldest_pending_seconds')
        .map((s) => s.labels.state)
        .sort(),
    ).toEqual(['retrying', 'waiting']);
    expect(metrics.value('db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
    const queues = new Set(metrics.matching('queue_jobs', { state: 'waiting' }).map((s) => s.labels.queue));
    expect([...queues].sort()).toEqual(['ai-generation', 'collaboration', 'export', 'image-generation', 'thinking', 'webhooks']);
  });

  it('active_connections equals the sockets connected to the instance, as they come and go', async () => {
    expect((await scrape(app)).value('active_connections')).toBe(0);
    sockets.push(...(await Promise.all(Array.from({ length: 12 }, () => connect(app, { token: owner.token })))));
    expect((await scrape(app)).value('active_connections')).toBe(12);
    sockets.splice(0, 5).forEach((s) => s.close());
    let last = -1;
    for (const deadline = Date.now() + 5000; Date.now() < deadline && last !== 7;) {
      last = (await scrape(app)).value('active_connections');
    }
    expect(last).toBe(7);
  });

  it('times HTTP requests by route pattern and status, never by raw URL', async () => {
    const key = await sessionWithBlocks(app, owner.token, [{ type: 'text', content: { text: 'a' } }]);
    for (let i = 0; i < 3; i++) expect((await app.request('GET', `/api/sessions/${key}`, { token: owner.token })).status).toBe(200);
    expect((await app.request('GET', '/api/sessions/ZZZZZZZZZZZZ', { token: owner.token })).status).toBe(404);
    await app.request('GET', '/no/such/route');
    const metrics = await scrape(app);
    const byKey = { name: 'http_request_duration_seconds_count', route: '/api/sessions/:key', method: 'GET' };
    expect(metrics.value(byKey.name, { route: byKey.route, method: 'GET', status_code: '200' })).toBeGreaterThanOrEqual(3);
    expect(metrics.value(byKey.name, { route: byKey.route, method: 'GET', status_code: '404' })).toBe(1);
    expect(metrics.value(byKey.name, { route: 'unmatched', status_code: '404' })).toBe(1);
    expect(metrics.samples.some((s) => s.labels.route?.includes(key))).toBe(false);
    expect(metrics.value('http_request_duration_seconds_bucket', { route: byKey.route, status_code: '200', le: '+Inf' })).toBe(
      metrics.value(byKey.name, { route: byKey.route, status_code: '200' }),
    );
  });

  it('counts cache hits and misses, rate-limit decisions, and socket events in and out', async () => {
    const key = await sessionWithBlocks(app, owner.token, [{ type: 'text', content: { text: 'a' } }]);
    const before = await scrape(app);
    await app.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token });
    await app.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token });

    const [writer, watcher] = await Promise.all([connect(app, { token: owner.token }), connect(app, { token: owner.token })]);
    sockets.push(writer, watcher);
    await ack(writer, 'session.join', { key });
    await ack(watcher, 'session.join', { key });
    const changes: unknown[] = [];
    watcher.on('change', (c) => changes.push(c));
    const created = await ack(writer, 'block.create', { key, type: 'text', content: { text: 'b' } });
    expect(created.ok).toBe(true);
    writer.emit('no.such.event', {});
    await until(() => changes.length === 1);

    const after = await scrape(app);
    const delta = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(delta('cache_requests_total', { result: 'hit' })).toBeGreaterThanOrEqual(1);
    expect(delta('cache_requests_total', { result: 'miss' })).toBeGreaterThanOrEqual(1);
    expect(delta('rate_limit_decisions_total', { action: 'block-edits', outcome: 'allowed', source: 'redis' })).toBe(1);
    expect(delta('socket_events_received_total', { event: 'session.join' })).toBe(2);
    expect(delta('socket_events_received_total', { event: 'block.create' })).toBe(1);
    expect(delta('socket_events_received_total', { event: 'other' })).toBe(1);
    expect(delta('socket_events_sent_total', { event: 'ack' })).toBe(3);
    // The change reaches both members of the room (the writer too: its own seq stays gap-free).
    expect(delta('socket_events_sent_total', { event: 'change' })).toBe(2);
    expect(delta('socket_events_sent_total', { event: 'presence' })).toBeGreaterThanOrEqual(2);
  });

  it('reports queue depth and the duration of the jobs this process ran', async () => {
    const key = await sessionWithBlocks(app, owner.token, [{ type: 'text', content: { text: 'a' } }]);
    const res = await app.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format: 'json' } });
    expect(res.status).toBe(202);
    await waitForJob(app, res.body.jobId, owner.token);
    const metrics = await scrape(app);
    expect(metrics.value('job_duration_seconds_count', { queue: 'export', name: 'export.render', outcome: 'completed' })).toBe(1);
    expect(metrics.value('job_wait_seconds_count', { queue: 'export' })).toBe(1);
    expect(metrics.value('queue_jobs', { queue: 'export', state: 'completed' })).toBe(1);
    expect(metrics.value('queue_workers', { queue: 'export' })).toBeGreaterThanOrEqual(1);
  });

  it('counts jobs waiting for a worker', async () => {
    const producer = await startTestApp(isolatedRedis('metrics-spec-idle'));
    try {
      const key = await sessionWithBlocks(producer, owner.token, [{ type: 'text', content: { text: 'a' } }]);
      for (let i = 0; i < 3; i++) {
        await producer.request('POST', `/api/sessions/${key}/exports`, { token: owner.token, body: { format: 'json' } });
      }
      const metrics = await scrape(producer);
      expect(metrics.value('queue_jobs', { queue: 'export', state: 'waiting' })).toBe(3);
      expect(metrics.value('queue_workers', { queue: 'export' })).toBe(0);
    } finally {
      await producer.close();
    }
  });

  it('is behind METRICS_TOKEN when one is set; a worker process serves it too', async () => {
    const guarded = await startTestApp({ METRICS_TOKEN: 'scrape-token-0123456789' }, 'worker');
    try {
      const none = await guarded.request('GET', '/metrics');
      expect([none.status, none.body.code]).toEqual([401, 'METRICS_TOKEN_REQUIRED']);
      const wrong = await guarded.request('GET', '/metrics', { token: 'not-the-token' });
      expect([wrong.status, wrong.body.code]).toEqual([401, 'INVALID_TOKEN']);
      const metrics = await scrape(guarded, 'scrape-token-0123456789');
      expect(metrics.has('queue_workers')).toBe(true);
      expect(metrics.has('active_connections')).toBe(false);
    } finally {
      await guarded.close();
    }
  });

  it('a gauge whose reading fails keeps the scrape whole', async () => {
    const metrics = new Metrics();
    metrics.gauge({
      name: 'flaky',
      help: 'fails to read',
      collect() {
        throw new Error('dependency down');
      },
    });
    metrics.counter({ name: 'steady_total', help: 'counts' }).inc(2);
    const samples = parsePrometheus(await metrics.scrape());
    expect(samples.find((s) => s.name === 'steady_total')?.value).toBe(2);
    expect(samples.find((s) => s.name === 'flaky')?.value).toBe(0);
    expect(metrics.counter({ name: 'steady_total', help: 'counts' })).toBe(metrics.counter({ name: 'steady_total', help: 'counts' }));
  });
});
