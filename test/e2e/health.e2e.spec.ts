import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LifecycleState } from '../../src/health/lifecycle.state.js';
import { isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

describe('health', () => {
  let api: TestApp;
  beforeAll(async () => {
    // Its own queues: a job another suite left waiting in the run's shared queues would show here as a stuck queue.
    api = await startTestApp(isolatedRedis('health'));
  });
  afterAll(() => api.close());

  it.each(['/health', '/api/health'])('%s reports both dependencies up', async (path) => {
    const res = await api.request('GET', path);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', checks: { database: { status: 'up' }, redis: { status: 'up' } } });
    expect(new Date(res.body.timestamp).toString()).not.toBe('Invalid Date');
  });

  it('liveness and readiness answer 200 while dependencies are up', async () => {
    expect((await api.request('GET', '/api/health/live')).status).toBe(200);
    expect((await api.request('GET', '/api/health/ready')).status).toBe(200);
  });

  it('readiness fails at once when the instance starts draining, while it keeps serving', async () => {
    const draining = await startTestApp();
    try {
      draining.app.get(LifecycleState).startDraining();
      const ready = await draining.request('GET', '/api/health/ready');
      expect([ready.status, ready.body.code, ready.body.draining]).toEqual([503, 'NOT_READY', true]);
      expect(ready.body.requestId).toBe(ready.headers.get('x-request-id'));
      expect((await draining.request('GET', '/api/health/live')).status).toBe(200);
      expect((await draining.request('POST', '/api/sessions', { body: { typeSlug: 'document' } })).status).toBe(201);
    } finally {
      await draining.close();
    }
  });

  it('takes the client IP from X-Forwarded-For only with TRUST_PROXY, and only a real IP', async () => {
    const proxied = await startTestApp({ TRUST_PROXY: 'true' });
    try {
      const idem = (ip: string, key: string) =>
        proxied.request('POST', '/api/sessions', {
          body: { typeSlug: 'document' },
          headers: { 'x-forwarded-for': ip, 'idempotency-key': key },
        });
      const key = `xff-${Date.now()}`;
      const a = await idem('203.0.113.7', key);
      const b = await idem('203.0.113.8', key);
      expect([a.status, b.status]).toEqual([201, 201]);
      const junk = await idem('x'.repeat(300), `${key}-junk`);
      expect(junk.status).toBe(201);
    } finally {
      await proxied.close();
    }
    // Without TRUST_PROXY the header is ignored: both requests come from the same socket address.
    const key = `direct-${Date.now()}`;
    const first = await api.request('POST', '/api/sessions', {
      body: { typeSlug: 'document' },
      headers: { 'x-forwarded-for': '198.51.100.1', 'idempotency-key': key },
    });
    const second = await api.request('POST', '/api/sessions', {
      body: { typeSlug: 'document' },
      headers: { 'x-forwarded-for': '198.51.100.2', 'idempotency-key': key },
    });
    expect([first.status, second.status, second.body.key]).toEqual([201, 200, first.body.key]);
  });

  it('serves the OpenAPI document', async () => {
    const res = await api.request('GET', '/api/docs/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api/sessions', '/api/sessions/{key}', '/api/auth/register']));
  });
});
