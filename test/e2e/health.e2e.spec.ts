import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

describe('health', () => {
  let api: TestApp;
  beforeAll(async () => {
    api = await startTestApp();
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

  it('serves the OpenAPI document', async () => {
    const res = await api.request('GET', '/api/docs/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api/sessions', '/api/sessions/{key}', '/api/auth/register']));
  });
});
