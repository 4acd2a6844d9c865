import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { checkResponses, type RecordedResponse } from '../helpers/contract-check.mjs';
import { problemResponse } from '../../src/common/openapi/problem-responses.js';

const SessionSchema = z.object({ key: z.string(), title: z.string(), version: z.int().min(1), createdAt: z.iso.datetime() });
const EXAMPLE_SESSION = { key: 'K7Q', title: 'Notes', version: 3, createdAt: '2026-05-04T09:30:00.000Z' };

/** A document of one operation, built the way Tessera's is: the success body from zod, errors from the catalog. */
const document = {
  openapi: '3.0.0',
  info: { title: 'check', version: '1' },
  paths: {
    '/api/sessions/{key}': {
      get: {
        operationId: 'getSession',
        parameters: [{ name: 'key', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          200: {
            description: 'The session.',
            content: { 'application/json': { schema: z.toJSONSchema(SessionSchema, { target: 'openapi-3.0' }) } },
          },
          404: problemResponse(404, ['SESSION_NOT_FOUND']),
        },
      },
    },
  },
};

const answer = (status: number, body: unknown, contentType = 'application/json; charset=utf-8'): RecordedResponse => ({
  method: 'GET',
  route: '/api/sessions/:key',
  status,
  contentType,
  body: JSON.stringify(body),
});
const problem = (status: number, code: string) => ({ type: 'about:blank', title: 'Not Found', status, detail: 'x', code });

describe('the OpenAPI contract check', () => {
  it('passes answers the document describes', async () => {
    const records = [
      answer(200, EXAMPLE_SESSION),
      answer(404, problem(404, 'SESSION_NOT_FOUND'), 'application/problem+json; charset=utf-8'),
    ];
    expect(await checkResponses(document, records)).toEqual([]);
  });

  it('names an undocumented status with its operation', async () => {
    const failures = await checkResponses(document, [answer(409, problem(409, 'VERSION_CONFLICT'), 'application/problem+json')]);
    expect(failures).toEqual(['GET /api/sessions/{key} (getSession) answered 409, which it does not document']);
  });

  it('names a body that does not match its schema, and where', async () => {
    const { version: _dropped, ...noVersion } = EXAMPLE_SESSION;
    const failures = await checkResponses(document, [
      answer(200, { ...EXAMPLE_SESSION, createdAt: 'yesterday' }),
      answer(200, noVersion),
      answer(404, problem(404, 'NOT_FOUND'), 'application/problem+json'),
    ]);
    expect(failures).toEqual([
      expect.stringMatching(
        /^GET \/api\/sessions\/\{key\} \(getSession\) 200 body does not match its schema: .*must have required property 'version'/,
      ),
      expect.stringMatching(/^GET \/api\/sessions\/\{key\} \(getSession\) 200 body does not match its schema: \/createdAt must match /),
      expect.stringMatching(
        /^GET \/api\/sessions\/\{key\} \(getSession\) 404 body does not match its schema: \/code must be equal to one of the allowed values/,
      ),
    ]);
  });

  it('names an operation the document lacks, and a content type it does not give', async () => {
    const failures = await checkResponses(document, [
      { method: 'DELETE', route: '/api/sessions/:key', status: 204, contentType: '' },
      answer(200, EXAMPLE_SESSION, 'text/html'),
    ]);
    expect(failures).toEqual([
      'DELETE /api/sessions/{key}: the operation is not in the OpenAPI document (document it with @ApiOperationDoc)',
      'GET /api/sessions/{key} (getSession) 200 answered text/html, documented: application/json',
    ]);
  });
});
