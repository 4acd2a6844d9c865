import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { offlineOpenApiDocument } from '../../src/openapi.document.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const PROBLEM = 'application/problem+json; charset=utf-8';

describe('bad input answers 4xx problem+json and changes nothing', () => {
  let api: TestApp;
  beforeAll(async () => {
    api = await startTestApp({ BODY_LIMIT: '4096' });
  });
  afterAll(() => api.close());

  const expectProblem = (res: { status: number; headers: Headers; body: any }, status: number, code: string) => {
    expect([res.status, res.body?.code]).toEqual([status, code]);
    expect(res.headers.get('content-type')).toBe(PROBLEM);
    expect(res.body).toEqual(
      expect.objectContaining({ type: 'about:blank', title: expect.any(String), status, detail: expect.any(String), code }),
    );
    expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|node_modules|\.ts:\d+/);
  };

  it('malformed JSON: 400 MALFORMED_JSON', async () => {
    for (const rawBody of ['{"typeSlug":', '{typeSlug: "document"}', 'null x', '[1,]']) {
      const res = await api.request('POST', '/api/sessions', { rawBody, headers: { 'content-type': 'application/json' } });
      expectProblem(res, 400, 'MALFORMED_JSON');
    }
  });

  it('bodies over BODY_LIMIT: 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document', state: { text: 'x'.repeat(5000) } } });
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('bodies that are not JSON: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await api.request('POST', '/api/sessions', { rawBody: 'typeSlug=document', headers: { 'content-type': type } });
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('an empty JSON body is no body: 400 on routes that need one, accepted where none is needed', async () => {
    const headers = { 'content-type': 'application/json' };
    const create = await api.request('POST', '/api/sessions', { rawBody: '', headers });
    expectProblem(create, 400, 'VALIDATION_FAILED');
    const session = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document' } });
    expect((await api.request('DELETE', `/api/sessions/${session.body.key}`, { rawBody: '', headers })).status).toBe(204);
  });

  it('prototype pollution attempts are refused', async () => {
    const res = await api.request('POST', '/api/sessions', {
      rawBody: '{"typeSlug":"document","__proto__":{"admin":true}}',
      headers: { 'content-type': 'application/json' },
    });
    expectProblem(res, 400, 'MALFORMED_JSON');
  });

  it('lone surrogates and infinite numbers: 400, never a database error', async () => {
    for (const rawBody of [
      '{"typeSlug":"document","state":{"t":"\\ud800"}}',
      '{"typeSlug":"document","state":{"\\udfff":1}}',
      '{"typeSlug":"document","title":"\\ud83d"}',
      '{"typeSlug":"document","state":{"n":1e400}}',
    ]) {
      const res = await api.request('POST', '/api/sessions', { rawBody, headers: { 'content-type': 'application/json' } });
      expectProblem(res, 400, 'VALIDATION_FAILED');
    }
  });

  it('URLs the router cannot decode, and over-long keys, get problem+json 400', async () => {
    const bad = await api.request('GET', '/api/sessions/%E0%A4%A');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe(PROBLEM);
    expect(bad.headers.get('x-request-id')).toBeTruthy();
    const long = await api.request('GET', `/api/sessions/${'A'.repeat(150)}`);
    expectProblem(long, 400, 'INVALID_SESSION_KEY');
  });

  it('deep nesting, NUL characters and long titles: 400 naming the field', async () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expectProblem(await api.request('POST', '/api/sessions', { body: { typeSlug: 'document', state: deep } }), 400, 'VALIDATION_FAILED');
    const nul = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document', title: 'a\u0000b' } });
    expectProblem(nul, 400, 'VALIDATION_FAILED');
    expect(nul.body.errors).toEqual([{ field: 'title', message: expect.stringMatching(/NUL/) }]);
    const long = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document', title: 't'.repeat(201) } });
    expect(long.body.errors).toEqual([{ field: 'title', message: 'must be at most 200 characters' }]);
  });

  it('unknown fields and wrong types are listed, never ignored', async () => {
    const res = await api.request('POST', '/api/sessions', { body: { typeSlug: 7, title: ['x'], colour: 'red', extra: 1 } });
    expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { field: 'typeSlug', message: expect.any(String) },
        { field: 'title', message: expect.any(String) },
        { field: 'colour', message: 'is not an accepted field' },
        { field: 'extra', message: 'is not an accepted field' },
      ]),
    );
    const notObject = await api.request('POST', '/api/sessions', { body: ['typeSlug'] });
    expectProblem(notObject, 400, 'VALIDATION_FAILED');
  });

  it('unknown routes: problem+json 404', async () => {
    expectProblem(await api.request('GET', '/api/nothing-here'), 404, 'NOT_FOUND');
    expectProblem(await api.request('DELETE', '/api/nothing-here/ABC'), 404, 'NOT_FOUND');
  });

  it('a known path asked with a method it does not take: 405 METHOD_NOT_ALLOWED naming the allowed ones', async () => {
    const post = await api.request('POST', '/api/health');
    expectProblem(post, 405, 'METHOD_NOT_ALLOWED');
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const put = await api.request('PUT', '/api/sessions/ABC/blocks/0b8f2c1e-4d3a-4e5f-8a6b-7c8d9e0f1a2b');
    expectProblem(put, 405, 'METHOD_NOT_ALLOWED');
    expect(put.headers.get('allow')).toBe('DELETE, PATCH');
    // fetch refuses TRACE: a raw request.
    const trace = await new Promise<{ status?: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = httpRequest(`${api.url}/api/health`, { method: 'TRACE' }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect([trace.status, trace.headers.allow, trace.headers['content-type']]).toEqual([405, 'GET, HEAD', PROBLEM]);
    expect(JSON.parse(trace.body)).toEqual(expect.objectContaining({ status: 405, code: 'METHOD_NOT_ALLOWED' }));
  });

  it('serves the OpenAPI document that npm run check lints and the unit tests read', async () => {
    const served = await api.request('GET', '/api/docs/openapi.json');
    expect(served.status).toBe(200);
    expect(served.body).toEqual(JSON.parse(JSON.stringify(await offlineOpenApiDocument())));
  });

  it('echoes a sane X-Request-Id and makes one otherwise', async () => {
    const echoed = await api.request('GET', '/api/health/live', { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-abc.123');
    const made = await api.request('GET', '/api/nothing-here', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
