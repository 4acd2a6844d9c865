import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import { CLIENT_EVENTS } from '../../src/collaboration/collab.protocol.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { connect } from '../helpers/sockets.js';
import { ADMIN_TOKEN, isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

interface Operation {
  method: string;
  path: string;
  params: string[];
  query: string[];
  fields: string[];
}

/** Any JSON value, awkward corners included (lone surrogates, NUL, huge numbers, nesting). */
const anyJson = fc.jsonValue({ maxDepth: 5, stringUnit: 'binary' });
const garbage = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '..', '%00', 'null', '-1', '1e309', '0x10', '[]', '{}', "'; DROP TABLE sessions; --", '\u202e', 'x'.repeat(300)),
  fc.integer().map(String),
);

/** Every route the OpenAPI document describes, with its path and query parameters and body fields. */
function operationsOf(document: {
  paths: Record<string, Record<string, any>>;
  components?: { schemas?: Record<string, any> };
}): Operation[] {
  const schemaFields = (schema: any): string[] => {
    if (!schema) return [];
    if (schema.$ref) return schemaFields(document.components?.schemas?.[schema.$ref.split('/').at(-1)]);
    const own = Object.keys(schema.properties ?? {});
    return [...own, ...(schema.oneOf ?? schema.anyOf ?? schema.allOf ?? []).flatMap(schemaFields)];
  };
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path,
      params: (operation.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name as string),
      query: (operation.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name as string),
      fields: [...new Set(schemaFields(operation.requestBody?.content?.['application/json']?.schema))],
    })),
  );
}

/**
 * Property-based hostile input over every HTTP route the API documents and every socket
 * event: malformed and hostile path parameters, queries, headers, tokens and bodies. The
 * server must answer each with a status under 500 (or an ack that is not a 5xx) and keep
 * serving. The route list comes from the OpenAPI document, so a new route is covered the
 * day it is added.
 */
describe('hostile input over every route and socket event', () => {
  let api: TestApp;
  let operations: Operation[];
  let key: string;
  let blockId: string;
  let userToken: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    api = await startTestApp(isolatedRedis('hostile-routes'));
    operations = operationsOf((await api.request('GET', '/api/docs/openapi.json')).body);
    await freshUser();
  });

  /** A user with a session and a block; the route fuzzing may delete all three (DELETE /api/auth/me is a route too). */
  async function freshUser(): Promise<void> {
    userToken = (await createUser()).token;
    key = (await api.request('POST', '/api/sessions', { token: userToken, body: { typeSlug: 'document' } })).body.key;
    blockId = (await api.request('POST', `/api/sessions/${key}/blocks`, { token: userToken, body: { type: 'text', content: {} } })).body.id;
  }
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await api.close();
    await closeTestDb();
  });

  it('the OpenAPI document lists the API’s routes', () => {
    const paths = new Set(operations.map((o) => `${o.method} ${o.path}`));
    for (const route of [
      'POST /api/sessions',
      'PATCH /api/sessions/{key}/blocks/{id}',
      'POST /api/sessions/{key}/exports',
      'GET /api/jobs/{id}',
    ]) {
      expect([route, paths.has(route)]).toEqual([route, true]);
    }
    expect(operations.length).toBeGreaterThan(40);
  });

  it('every documented route, with hostile parameters, queries, headers, tokens and bodies, answers under 500', async () => {
    const param = (name: string) =>
      name === 'key'
        ? fc.oneof(fc.constant(key), fc.stringMatching(/^[A-Z0-9]{3,12}$/), garbage)
        : fc.oneof(fc.constant(blockId), fc.uuid(), fc.constant('00000000-0000-0000-0000-000000000000'), garbage);
    const token = fc.constantFrom<string | undefined>(undefined, userToken, ADMIN_TOKEN, 'not-a-token', 'eyJhbGciOiJub25lIn0.e30.');
    const request = fc.nat(operations.length - 1).chain((index) => {
      const operation = operations[index];
      const body = fc.oneof(
        anyJson,
        fc.dictionary(operation.fields.length ? fc.constantFrom(...operation.fields, 'x', '__proto__') : fc.constant('x'), anyJson, {
          maxKeys: 6,
        }),
      );
      return fc.record({
        operation: fc.constant(operation),
        params: fc.tuple(...operation.params.map(param), fc.constant('')),
        query: fc.array(fc.tuple(fc.constantFrom(...operation.query, 'x', 'version', 'cursor'), garbage), { maxLength: 3 }),
        body: fc.option(body, { nil: undefined }),
        raw: fc.option(garbage, { nil: undefined }),
        token,
        headers: fc.record({ 'if-match': garbage, 'idempotency-key': garbage, 'x-request-id': garbage }, { requiredKeys: [] }),
      });
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ operation, params, query, body, raw, token, headers }) => {
        let path = operation.path;
        operation.params.forEach((name, i) => (path = path.replace(`{${name}}`, encodeURIComponent(params[i]))));
        const search = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        const printable = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace(/[^\x20-\x7e]/g, '')]));
        const bodiless = operation.method === 'GET' || operation.method === 'HEAD';
        const res = await api.request(operation.method, `${path}${search ? `?${search}` : ''}`, {
          token,
          headers: printable,
          ...(bodiless
            ? {}
            : raw !== undefined && body === undefined
              ? { rawBody: raw, headers: { ...printable, 'content-type': 'application/json' } }
              : { body }),
        });
        expect([operation.method, operation.path, res.status < 500 ? 'under 500' : res.body]).toEqual([
          operation.method,
          operation.path,
          'under 500',
        ]);
      }),
      { numRuns: 600 },
    );
    expect((await api.request('GET', '/api/health/ready')).status).toBe(200);
    // The change feed with a valid key and token streams for ever; a draw that lands on it answers 200 with its headers.
    await freshUser();
    expect((await api.request('GET', `/api/sessions/${key}/events`, { token: userToken })).status).toBe(200);
  }, 120_000);

  it('every socket event, with payloads of any shape, acks without a 5xx and keeps the connection', async () => {
    const events: string[] = Object.values(CLIENT_EVENTS);
    await freshUser();
    const socket = await connect(api, { token: userToken });
    sockets.push(socket);
    const shaped = fc.record(
      {
        key: fc.oneof(fc.constant(key), garbage),
        id: fc.oneof(fc.constant(blockId), fc.uuid(), garbage),
        version: fc.oneof(fc.integer(), garbage),
        since: fc.oneof(fc.integer(), garbage),
        type: fc.oneof(fc.constant('text'), garbage),
        content: anyJson,
        cursor: anyJson,
        afterId: fc.oneof(fc.uuid(), garbage),
        merge: fc.oneof(fc.constant('fields'), garbage),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom(...events), garbage), fc.oneof(shaped, anyJson), async (event, payload) => {
        if (!events.includes(event)) {
          socket.emit(event, payload);
          return;
        }
        const ack = (await socket.timeout(5000).emitWithAck(event, payload)) as { ok: boolean; status?: number };
        expect([event, ack.ok || (ack.status ?? 0) < 500 ? 'no 5xx' : ack]).toEqual([event, 'no 5xx']);
      }),
      { numRuns: 400 },
    );
    // Events without an ack callback, and binary payloads, must not hurt either.
    for (const event of events) {
      socket.emit(event, Buffer.from([0, 1, 2, 255]));
      socket.emit(event);
    }
    // The same socket still works (on a fresh session: the fuzzing above may have deleted the first).
    const fresh = (await api.request('POST', '/api/sessions', { token: userToken, body: { typeSlug: 'document' } })).body.key as string;
    const ack = (await socket.timeout(5000).emitWithAck('session.join', { key: fresh })) as { ok: boolean };
    expect(ack).toMatchObject({ ok: true });
    expect(socket.connected).toBe(true);
  }, 120_000);
});
